"""Compare mode's own panels: the loss curves of every run overlaid (each with its run's letter as marker, so they
differ without colour), and a per-entry difference table."""

from __future__ import annotations

import math

from rich.text import Text

from ...engine import Snapshot
from ...fmt import num, pct, sci
from ..draw import Part, axis_noun, choose_rows, fit, shown_note
from ..history import History
from ..palette import RUN_MARKERS
from ..plot import Series, all_positive, line_chart
from .base import Panel, PanelView

RUN_NAMES = "ABCD"


def run_label(i: int, snap: Snapshot | None) -> str:
    return f"{RUN_NAMES[i]}: {snap.summary}" if snap else RUN_NAMES[i]


def run_name(s: Snapshot) -> str:
    """What tells twins apart: the MLP's activation, a recurrent run's cell (a vanilla RNN's with its activation
    when not tanh), the model for a source without settings."""
    c = s.config
    if c is None:
        return s.meta.model
    if not c.recurrent:
        return c.activation
    return f"rnn {c.activation}" if c.model == "rnn" and c.activation != "tanh" else c.model


class CompareLoss(Panel):
    TITLES = ("Training loss, all runs", "Loss, all runs", "Loss")
    HELP = "Training loss of every run on one chart (log scale), each drawn with its run's letter; | = a change."
    MAX_HZ = 2.0

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.snaps: tuple[Snapshot, ...] = ()
        self.histories: list[History] = []

    def show_runs(self, view: PanelView, snaps: tuple[Snapshot, ...], histories: list[History]) -> None:
        self.snaps, self.histories = snaps, histories
        self.show(view)

    def data_key(self):
        return tuple(h.version for h in self.histories)

    def draw(self, width: int, height: int) -> Text:
        v = self.view
        assert v is not None
        pal = v.palette
        series = []
        for i, h in enumerate(self.histories):
            xs, ys = h.series("loss")
            color = pal.runs[i % 4] if pal.color else None
            series.append(Series(f"{RUN_NAMES[i]} train", xs, ys, color, RUN_MARKERS[i]))
        if sum(len(s.xs) for s in series) < 2:
            return Text("collecting points…", style="dim")
        title: list[Part] = []
        for i, s in enumerate(self.snaps):
            acc = f" acc {pct(s.accuracy)}" if s.accuracy is not None else ""
            title.append((f"{RUN_NAMES[i]} {num(s.loss)}{acc}  ", pal.runs[i % 4] if pal.color else "bold", i + 1))
        positive = all_positive(*(s.ys for s in series))
        markers = sorted({m for h in self.histories for m in h.change_steps()})
        chart = line_chart(width, height - 1, series, markers=markers, ylog=positive, no_color=not pal.color)
        return Text("\n").join([fit(title, width), chart])


class CompareDiff(Panel):
    """Per entry, how much gradient each run gets relative to run A: "L1: B gets 4.1e4× the gradient of A"."""

    TITLES = ("Per-layer difference (gradient ‖∂L/∂W‖ vs run A)", "Per-layer difference", "Difference")
    HELP = "For each layer (time step), each run's step gradient magnitude divided by run A's."
    LISTS_ENTRIES = True

    def titles(self) -> tuple[str, ...]:
        if self.snaps and all(s.axis == "time" for s in self.snaps):
            return ("Per-step difference (gradient reaching t, vs run A)", "Per-step difference", "Difference")
        return self.TITLES

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.snaps: tuple[Snapshot, ...] = ()

    def show_runs(self, view: PanelView, snaps: tuple[Snapshot, ...]) -> None:
        self.snaps = snaps
        self.show(view)

    def data_key(self):
        return tuple(id(s) for s in self.snaps)

    def capacity(self, height: int) -> int:
        return max(1, height - 2)

    def _depth(self) -> int:
        return min((len(s.entries) for s in self.snaps), default=0)

    def rows(self, height: int) -> list[int]:
        v = self.view
        depth = self._depth()
        if v is not None and v.rows is not None:
            return [i for i in v.rows if i < depth]
        sel = v.selected if v is not None else 0
        return choose_rows(depth, self.capacity(height), [0, depth - 1, sel])

    def title_note(self) -> str:
        return (
            shown_note(len(self.rows(self.content_size.height)), self._depth(), axis_noun(self.snaps[0].axis))
            if self.snaps
            else ""
        )

    def draw(self, width: int, height: int) -> Text:
        v = self.view
        assert v is not None
        snaps, pal = self.snaps, v.palette
        out = Text(no_wrap=True, overflow="crop")
        if not snaps:
            return out
        a = snaps[0]
        depth = self._depth()
        col = 12
        head: list[Part] = [("step   " if a.axis == "time" else "layer  ", "bold", 0)]
        for i, s in enumerate(snaps):
            name = run_name(s)
            head.append((f"{RUN_NAMES[i]}:{name[: col - 3]:<{col - 2}}", "bold", i + 1))
        out.append_text(fit(head, width))
        for li in reversed(self.rows(height)):
            out.append("\n")
            ga = a.flow(a.entries[li])
            parts: list[Part] = [
                (f"{a.entries[li].name:<7}", "bold" if li == v.selected else "", 0),
                (f"{sci(ga):<{col}}", "", 1),
            ]
            for k, s in enumerate(snaps[1:], 1):
                gb = s.flow(s.entries[li])
                ratio = gb / ga if ga > 0 and math.isfinite(gb) else math.nan
                style = pal.style("good") if ratio > 10 else pal.style("bad") if ratio < 0.1 else ""
                parts.append((f"{'×' + sci(ratio):<{col}}", style, k + 1))
            out.append_text(fit(parts, width))
        if len(snaps) >= 2 and depth:
            ga, gb = a.flow(a.entries[0]), snaps[1].flow(snaps[1].entries[0])
            out.append("\n")
            if ga > 0 and gb > 0 and math.isfinite(ga) and math.isfinite(gb):
                bi, si, times = (1, 0, gb / ga) if gb >= ga else (0, 1, ga / gb)
                line = f"{a.entries[0].name}: {RUN_NAMES[bi]} gets {sci(times)}× the gradient of {RUN_NAMES[si]}"
                out.append_text(fit([(line, "bold", 1)], width))
        return out
