"""The chrome: the status line (the run's state, step, speed and settings), the alerts line (the doctor, in
words), and the key bar (the keys that apply, ``?`` help and ``q`` quit always among them).

All three shorten by rule when the terminal is narrow: each field has shorter forms and a priority, and the least
important fields shorten first, then go; nothing is cut in the middle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from ...doctor import Alert
from ...engine import Config, Snapshot
from ...fmt import count, num, safe_text
from ...source import SourceState
from ..damage import LineKey, changed_regions, line_keys
from ..keys import Key


@dataclass(frozen=True)
class Field:
    forms: tuple[str, ...]  # longest first; "" as the last form lets the field disappear
    style: str | Style = ""
    priority: int = 5  # 0: kept (in its shortest form); higher: shortened and dropped first


def fit_fields(fields: Sequence[Field], width: int) -> Text:
    """The fields in their longest forms that fit ``width``: the highest priority numbers shorten first, one step
    at a time, then the next; a field is never cut."""
    form = [0] * len(fields)

    def total() -> int:
        return sum(len(f.forms[k]) for f, k in zip(fields, form))

    order = sorted(range(len(fields)), key=lambda i: (-fields[i].priority, -i))
    while total() > width:
        for i in order:
            f = fields[i]
            last = len(f.forms) - 1 if f.priority > 0 or f.forms[-1] else len(f.forms) - 1
            if form[i] < last and not (f.priority == 0 and f.forms[form[i] + 1] == ""):
                form[i] += 1
                break
        else:
            break  # nothing more can go: the Text is cropped at the end
    out = Text(no_wrap=True, overflow="crop")
    for f, k in zip(fields, form):
        if f.forms[k]:
            out.append(f.forms[k], style=f.style)
    return out


@dataclass(frozen=True)
class StatusView:
    config: Config | None  # the settings as the user asked for them (ahead of the trainer, while it rebuilds)
    snap: Snapshot | None
    source: SourceState
    mode: str  # "live", "compare", "replay", "watch"
    note: str = ""  # "keys change run B", "● REC 12"


class StatusBar(Widget):
    """Shows the *desired* config at once (keys update it before the trainer has rebuilt), and the run's state."""

    DEFAULT_CSS = "StatusBar { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.view: StatusView | None = None
        self._drawn: tuple[int, Text, list[LineKey]] | None = None  # width, drawing, its line

    def show(self, view: StatusView) -> None:
        old = self.view
        self.view = view
        if old is not None and _status_key(old) == _status_key(view):
            return
        width = self.size.width
        before = self._drawn
        text = fit_fields(status_fields(view), width)
        self._drawn = (width, text, line_keys(text))
        if before is None or before[0] != width or not self.is_mounted:
            self.refresh()
        else:  # the step and the speed change at every snapshot: only their cells are sent
            regions = changed_regions(before[2], self._drawn[2], width, 1)
            if regions:
                self.refresh(*regions)

    def render(self) -> Text:
        v = self.view
        if v is None:
            return Text("starting…")
        width = self.size.width
        if self._drawn is None or self._drawn[0] != width:
            text = fit_fields(status_fields(v), width)
            self._drawn = (width, text, line_keys(text))
        return self._drawn[1]


def _status_key(v: StatusView) -> tuple:
    s = v.snap
    return (v.config, v.source, v.mode, v.note, None if s is None else (s.seq, s.step, s.paused, s.steps_per_sec))


def status_fields(v: StatusView) -> list[Field]:
    s, c, src = v.snap, v.config, v.source
    f: list[Field] = [Field((" gradtui ", ""), "bold reverse", 9)]
    replay = v.mode in ("replay", "watch")
    if not src.alive and v.mode in ("live", "compare"):
        f.append(Field((" ✖ trainer stopped ", " ✖ stopped "), "bold white on red", 0))
    elif s is not None and s.diverged is not None:
        f.append(Field((" ✖ DIVERGED ", " ✖ "), "bold white on red", 0))
    elif v.mode == "watch":
        if not src.alive:
            f.append(Field((" ■ writer stopped ", " ■ "), "bold black on yellow", 0))
        elif src.playing:
            f.append(Field((" ▶ playing ", " ▶ "), "bold black on green", 0))
        else:
            word = " ● following " if src.note == "following" else " ⏸ watching "
            f.append(Field((word, word[:3] + " "), "bold black on green" if src.note == "following" else
                           "bold black on yellow", 0))  # fmt: skip
    elif replay:
        f.append(Field((" ▶ playing ", " ▶ ") if src.playing else (" ⏸ replay ", " ⏸ "),
                       "bold black on green" if src.playing else "bold black on yellow", 0))  # fmt: skip
    elif s is not None:
        if s.paused:
            f.append(Field((" ⏸ paused ", " ⏸ "), "bold black on yellow", 0))
        else:
            f.append(Field((" ▶ training ", " ▶ "), "bold black on green", 0))
    if s is not None:
        f.append(Field((f" step {count(s.step)} ", f" {count(s.step)} "), "", 1))
    if replay and src.position:
        f.append(Field((f"{src.position} ×{src.speed:g} ", f"{src.position} ", ""), "", 2))
    if s is not None and not replay and not s.paused and math.isfinite(s.steps_per_sec) and src.alive:
        sps = s.steps_per_sec
        f.append(Field((f"{sps:,.0f} steps/s ", f"{_short(sps)}/s ", ""), "dim", 4))
    if not replay and src.speed_cap is not None:
        f.append(Field((f"≤ {src.speed_cap:g} steps/s ", f"≤{src.speed_cap:g}/s ", ""), "bold", 3))
    if c is not None and s is not None and s.config is not None and s.config != c and not replay:
        f.append(Field(("rebuilding… ", ""), "italic dim", 5))
    f.append(Field(("│", ""), "dim", 8))
    if c is not None and c.recurrent:
        f.extend(recurrent_fields(c))
    elif c is not None:
        f.append(Field((f" {c.activation} ",), "bold", 2))
        f.append(Field((f"{c.depth}×{c.width} ",), "bold", 3))
        f.append(Field((f"init {c.init} ", f"{c.init} ", ""), "", 6))
        f.append(Field(("BN on " if c.batchnorm else "BN off ", "BN " if c.batchnorm else "", ""),
                       "bold green" if c.batchnorm else "dim", 6))  # fmt: skip
        f.append(Field(("res on " if c.residual else "res off ", "res " if c.residual else "", ""),
                       "bold green" if c.residual else "dim", 6))  # fmt: skip
        f.append(Field((f"{c.optimizer} lr {c.lr:g} ", f"lr {c.lr:g} "), "", 3))
        if c.clip:
            f.append(Field((f"clip {c.clip:g} ", ""), "bold green", 6))
        f.append(Field((f"{c.dataset} ", ""), "italic", 7))
    elif s is not None:
        f.append(Field((f" {safe_text(s.summary, 80)} ", f" {safe_text(s.meta.model, 20)} ", ""), "bold", 5))
    mode = v.mode + (f": {v.note}" if v.note else "")
    if v.mode != "live" or v.note:
        f.append(Field((f" {mode} ", f" {v.note or v.mode} ", ""), "bold reverse", 4))
    if src.note and src.note not in ("following", "watching") and v.mode == "watch":
        f.append(Field((f" {src.note} ", ""), "italic", 5))
    return f


def recurrent_fields(c: Config) -> list[Field]:
    """A recurrent run's settings: the cell (a vanilla RNN's with its activation), its hidden size, the task and T,
    the recurrent initialiser, the LSTM's forget-gate bias, clipping, the optimiser and the lr."""
    f = [Field((f" {c.model} " + (f"{c.activation} " if c.model == "rnn" else ""), f" {c.model} "), "bold", 2)]
    f.append(Field((f"h{c.width} ",), "bold", 3))
    f.append(Field((f"{c.task} T={c.seq_len} ", f"T={c.seq_len} "), "bold", 3))
    f.append(Field((f"init {c.recurrent_init} ", f"{c.recurrent_init} ", ""), "", 6))
    if c.model == "lstm":
        f.append(Field((f"forget bias {c.forget_bias:g} ", f"fb {c.forget_bias:g} ", ""),
                       "bold green" if c.forget_bias >= 1 else "bold yellow", 5))  # fmt: skip
    f.append(Field((f"clip {c.clip:g} " if c.clip else "clip off ", "clip " if c.clip else "", ""),
                   "bold green" if c.clip else "dim", 5))  # fmt: skip
    f.append(Field((f"{c.optimizer} lr {c.lr:g} ", f"lr {c.lr:g} "), "", 3))
    return f


def _short(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.1f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return num(x, 2)


LEVEL_STYLE = {"error": "bold white on red", "warning": "bold black on yellow", "info": "bold black on green"}
LEVEL_ICON = {"error": "✖", "warning": "⚠", "info": "✓"}


class AlertsLine(Widget):
    """What is wrong, in words (the doctor), most severe first; or a message from the app (engine errors)."""

    DEFAULT_CSS = "AlertsLine { height: auto; max-height: 2; }"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.alerts: list[Alert] = []
        self.message: tuple[str, str] | None = None  # (level, text)

    def show(self, alerts: list[Alert]) -> None:
        if [a.text for a in alerts] != [a.text for a in self.alerts]:
            self._update(self.message, alerts)

    def say(self, text: str, level: str = "error") -> None:
        """A message from the app itself (an engine error, a refused change); stays until the next one or clear."""
        message = (level, safe_text(text)) if text else None
        if message != self.message:
            self._update(message, self.alerts)

    def _update(self, message: tuple[str, str] | None, alerts: list[Alert]) -> None:
        lines_before = len(self.shown[:2])
        self.message, self.alerts = message, alerts
        self.refresh(layout=len(self.shown[:2]) != lines_before)  # a layout pass only when the height changes

    @property
    def shown(self) -> list[tuple[str, str]]:
        return ([self.message] if self.message else []) + [(a.level, a.text) for a in self.alerts]

    def _forms(self) -> list[tuple[str, tuple[str, ...]]]:
        out = [(self.message[0], (self.message[1],))] if self.message else []
        return out + [(a.level, a.forms) for a in self.alerts]

    def render(self) -> Text:
        """Two lines at most: each the longest form of its sentence that fits (evidence, cause and fix; evidence
        and fix; the evidence), cut with an ellipsis only if even the evidence does not fit."""
        t = Text(overflow="ellipsis", no_wrap=True)
        room = max(1, self.size.width - 5)
        for i, (level, forms) in enumerate(self._forms()[:2]):
            if i:
                t.append("\n")
            t.append(f" {LEVEL_ICON.get(level, '•')} ", style=LEVEL_STYLE.get(level, "bold"))
            text = next((f for f in forms if len(f) <= room), forms[-1])
            t.append(" " + safe_text(text))
        return t


class KeyBar(Widget):
    """The keys that apply now, the most important first, as many as fit; ``?`` help and ``q`` quit always."""

    DEFAULT_CSS = "KeyBar { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.keys: list[Key] = []

    def show(self, keys: list[Key]) -> None:
        keys = sorted((k for k in keys if k.bar is not None), key=lambda k: k.bar or 0)
        if [k.action for k in keys] != [k.action for k in self.keys]:
            self.keys = keys
            self.refresh()

    def render(self) -> Text:
        fields = []
        for k in self.keys:
            style = Style(bold=True, reverse=True)
            fields.append((f" {k.shown} ", f"{k.label} ", k.bar or 0))
        width = self.size.width
        always = [f for f in fields if f[2] == 0]
        rest = [f for f in fields if f[2] != 0]
        used = sum(len(a) + len(b) for a, b, _ in always)
        keep = []
        for f in rest:
            if used + len(f[0]) + len(f[1]) <= width:
                keep.append(f)
                used += len(f[0]) + len(f[1])
        t = Text(no_wrap=True, overflow="crop")
        for key, label, _ in [*keep, *always]:
            t.append(key, style=style)
            t.append(label)
        return t
