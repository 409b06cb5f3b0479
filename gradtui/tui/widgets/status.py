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

from ...doctor import Alert, shorter
from ...engine import Config, Snapshot
from ...fmt import count, num, safe_text, setting
from ...source import Capabilities, SourceState
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
    mode: str  # the mode's name, for the eye: "live", "compare", "replay", "watch"
    note: str = ""  # "keys change run B", "● REC 12"
    caps: Capabilities | None = None  # what the source can do (what the line says follows from it); None: the mode's

    def __post_init__(self) -> None:
        if self.caps is None:
            object.__setattr__(self, "caps", MODE_CAPS.get(self.mode, Capabilities()))


# the capabilities of each mode's usual source (a StatusView made without them)
MODE_CAPS = {
    "live": Capabilities(can_change=True, can_fork=True, live=True),
    "compare": Capabilities(can_change=True, can_fork=True, live=True),
    "replay": Capabilities(can_seek=True),
    "watch": Capabilities(can_seek=True, live=True),
}


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
    figures = None if s is None else (s.seq, s.step, s.paused, s.steps_per_sec)
    return (v.config, v.source, v.mode, v.note, v.caps, figures)


def status_fields(v: StatusView) -> list[Field]:
    s, c, src = v.snap, v.config, v.source
    f: list[Field] = [Field((" gradtui ", ""), "bold reverse", 9)]
    caps = v.caps or Capabilities()
    replay = caps.can_seek  # a recording: a cursor, its position and speed; no steps/s of its own
    watch = caps.can_seek and caps.live  # a recording another process is still writing
    if not src.alive and caps.can_change:
        f.append(Field((" ✖ trainer stopped ", " ✖ stopped "), "bold white on red", 0))
    elif s is not None and s.diverged is not None:
        f.append(Field((" ✖ DIVERGED ", " ✖ "), "bold white on red", 0))
    elif not src.alive and caps.live and not replay:  # a live run gradtui does not train (the probe) that ended
        f.append(Field((" ■ stopped ", " ■ "), "bold black on yellow", 0))
    elif watch:
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
        f.append(Field((f"{src.position} ×{setting(src.speed)} ", f"{src.position} ", ""), "", 2))
    if s is not None and not replay and not s.paused and math.isfinite(s.steps_per_sec) and src.alive:
        sps = s.steps_per_sec
        f.append(Field((f"{sps:,.0f} steps/s ", f"{_short(sps)}/s ", ""), "dim", 4))
    if not replay and src.speed_cap is not None:
        f.append(Field((f"≤ {setting(src.speed_cap)} steps/s ", f"≤{setting(src.speed_cap)}/s ", ""), "bold", 3))
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
        f.append(Field((f"{c.optimizer} lr {setting(c.lr)} ", f"lr {setting(c.lr)} "), "", 3))
        if c.clip:
            f.append(Field((f"clip {setting(c.clip)} ", ""), "bold green", 6))
        f.append(Field((f"{c.dataset} ", ""), "italic", 7))
    elif s is not None:
        f.append(Field((f" {safe_text(s.summary, 80)} ", f" {safe_text(s.meta.model, 20)} ", ""), "bold", 5))
    mode = v.mode + (f": {v.note}" if v.note else "")
    if v.mode != "live" or v.note:
        f.append(Field((f" {mode} ", f" {v.note or v.mode} ", ""), "bold reverse", 4))
    if src.note and src.note not in ("following", "watching") and watch:
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
        f.append(Field((f"forget bias {setting(c.forget_bias)} ", f"fb {setting(c.forget_bias)} ", ""),
                       "bold green" if c.forget_bias >= 1 else "bold yellow", 5))  # fmt: skip
    f.append(Field((f"clip {setting(c.clip)} " if c.clip else "clip off ", "clip " if c.clip else "", ""),
                   "bold green" if c.clip else "dim", 5))  # fmt: skip
    f.append(Field((f"{c.optimizer} lr {setting(c.lr)} ", f"lr {setting(c.lr)} "), "", 3))
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
        out = []
        if self.message:
            level, text = self.message
            out.append((level, tuple(dict.fromkeys((text, shorter(text))))))
        return out + [(a.level, a.forms) for a in self.alerts]

    def render(self) -> Text:
        """Two lines at most: each the preferred form of its sentence that fits (``Alert.forms``: evidence, cause
        and fix; evidence and fix; ... the short evidence), cut after a whole word only if even that does not."""
        t = Text(overflow="crop", no_wrap=True)
        room = max(1, self.size.width - ALERT_MARGIN)
        for i, (level, forms) in enumerate(self._forms()[:2]):
            if i:
                t.append("\n")
            t.append(f" {LEVEL_ICON.get(level, '•')} ", style=LEVEL_STYLE.get(level, "bold"))
            t.append(" " + fit_sentence(tuple(safe_text(f) for f in forms), room))
        return t


ALERT_MARGIN = 4  # the icon's three cells and the space after it


def fit_sentence(forms: Sequence[str], room: int) -> str:
    """The first of ``forms`` that fits ``room`` columns; else the last, cut after its last whole word that fits
    with an ellipsis (a number is one word: never cut inside it), an unclosed parenthesis and a dangling dash or
    colon dropped with the cut."""
    for form in forms:
        if len(form) <= room:
            return form
    text = forms[-1] if forms else ""
    if len(text) <= room:
        return text
    if room < 2:
        return "…"[:room]
    cut = text[: room - 1]
    if text[room - 1] != " ":  # the cut falls inside a word: back to the word's start
        cut = cut[: cut.rfind(" ")] if " " in cut else ""
    while True:
        cut = cut.rstrip(" —–-;:,(")
        if cut.count("(") > cut.count(")"):
            cut = cut[: cut.rfind("(")]
        elif cut[-1:].isdigit() and len(cut) + 2 > room:  # no room for the space after the number: it goes too
            cut = cut[: cut.rfind(" ")] if " " in cut else ""
        else:  # a whole number then "…" would look cut: a space between them
            return cut + (" …" if cut[-1:].isdigit() else "…")


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
