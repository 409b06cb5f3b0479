"""Compare mode's own panels: the loss curves of every run overlaid, and a per-layer difference table."""

from __future__ import annotations

import math
import time

from rich.text import Text

from ...engine import Snapshot
from ..fmt import pick_rows, sci
from ..history import History
from ..plot import line_chart
from .base import Panel

RUN_COLORS = ["cyan", "magenta", "green", "yellow"]
RUN_NAMES = "ABCD"


def run_label(i: int, snap: Snapshot | None) -> str:
    return f"{RUN_NAMES[i]}: {snap.config.summary()}" if snap else RUN_NAMES[i]


class CompareLoss(Panel):
    TITLE = "Training loss, all runs"
    HELP = "Training loss of every run on one chart (log scale); | = a change."

    def __init__(self, *, id=None):
        super().__init__(id=id)
        self.snaps: tuple[Snapshot, ...] = ()
        self.histories: list[History] = []
        self._drawn_at = 0.0

    def show_runs(self, snaps: tuple[Snapshot, ...], histories: list[History]) -> None:
        self.snaps, self.histories = snaps, histories
        now = time.monotonic()
        if now - self._drawn_at >= 0.5 or any(s.paused for s in snaps):
            self._drawn_at = now
            self.show(snaps[0], histories[0], self.selected)

    def data_key(self):
        return tuple(h.version for h in self.histories)

    def draw(self, width: int, height: int) -> Text:
        series = []
        for i, h in enumerate(self.histories):
            xs, ys = h.series("loss")
            series.append((f"{RUN_NAMES[i]} train", xs, ys, RUN_COLORS[i % 4]))
        if sum(len(s[1]) for s in series) < 2:
            return Text("collecting points…", style="dim")
        title = Text(no_wrap=True)
        for i, s in enumerate(self.snaps):
            acc = f" acc {s.accuracy:.0%}" if s.accuracy is not None else ""
            title.append(f"{RUN_NAMES[i]} {s.loss:.3g}{acc}  ", style=RUN_COLORS[i % 4])
        positive = all(v > 0 for _, _, ys, _ in series for v in ys)
        markers = sorted({m for h in self.histories for m in h.change_steps()})
        chart = line_chart(width, height - 1, series, markers=markers, ylog=positive, no_color=self.app.no_color)
        return Text("\n").join([title, chart])


class CompareDiff(Panel):
    """Per layer, how much gradient each run gets relative to run A: "layer 1: B gets 4.1e4x the gradient of A"."""

    TITLE = "Per-layer difference (gradient ‖∂L/∂W‖ vs run A)"
    HELP = "For each layer, each run's step gradient magnitude divided by run A's."

    def __init__(self, *, id=None):
        super().__init__(id=id)
        self.snaps: tuple[Snapshot, ...] = ()

    def show_runs(self, snaps: tuple[Snapshot, ...]) -> None:
        self.snaps = snaps
        self.show(snaps[0], self.history, self.selected)  # redrawn only if the table's text changed

    def data_key(self):
        return tuple(id(s) for s in self.snaps)

    def draw(self, width: int, height: int) -> Text:
        snaps = self.snaps
        out = Text(no_wrap=True, overflow="crop")
        a = snaps[0]
        depth = min(len(s.layers) for s in snaps)
        names = [s.config.activation for s in snaps]
        out.append("layer  " + "".join(f"{RUN_NAMES[i]}:{names[i]:<10}" for i in range(len(snaps))), style="bold")
        for li in reversed(pick_rows(depth, max(1, height - 2))):
            out.append("\n")
            out.append(f"L{li + 1:<5} ")
            ga = a.layers[li].grad_norm
            out.append(f"{sci(ga):<12}")
            for s in snaps[1:]:
                gb = s.layers[li].grad_norm
                ratio = gb / ga if ga > 0 and math.isfinite(gb) else math.nan
                style = "green" if ratio > 10 else "red" if ratio < 0.1 else ""
                out.append(f"{'×' + sci(ratio, 1):<12}", style=style)
        if len(snaps) >= 2 and depth:
            ga, gb = a.layers[0].grad_norm, snaps[1].layers[0].grad_norm
            out.append("\n")
            if ga > 0 and gb > 0:
                big, small, k = (snaps[1], a, gb / ga) if gb >= ga else (a, snaps[1], ga / gb)
                out.append(
                    f"layer 1: {big.config.activation} gets {sci(k, 1)}× the gradient of {small.config.activation}",
                    style="bold",
                )
        return out
