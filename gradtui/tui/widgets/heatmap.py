"""Panel 2, gradient history: layers x time, colour and shade = log10 step gradient magnitude; one column per
snapshot, newest at the right, scrolling; ▼ marks a change the user made. Vanishing shows as dark bottom rows."""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from ..fmt import RAMP, SHADES, pick_rows
from .base import Panel

# a cell: the ramp's colour as background, the shade glyph (which orders the levels without colour) a little lighter
CELL_STYLES = [Style(color=RAMP[min(k + 2, len(RAMP) - 1)], bgcolor=RAMP[k]) for k in range(len(RAMP))]


def visible_range(pts) -> tuple[int, int]:
    """Whole decades covering the finite log-magnitudes of ``pts``, at least 4 wide."""
    vals = np.concatenate([p.log_grads[np.isfinite(p.log_grads)] for p in pts]) if pts else np.array([])
    lo = math.floor(vals.min()) if vals.size else -4
    hi = math.ceil(vals.max()) if vals.size else 0
    return (min(lo, hi - 4), hi)


class GradientHeatmap(Panel):
    TITLE = "Gradient history  layer × time"
    MAX_HZ = 2.0  # it scrolls: every cell changes at every redraw, the largest share of the bytes sent
    HELP = "Each column a snapshot, each row a layer (input at the bottom); brighter = larger gradient; ▼ = change."

    def data_key(self):
        return self.history.version if self.history else None

    def draw(self, width: int, height: int) -> Text:
        assert self.snap is not None and self.history is not None
        pts = list(self.history.points)
        depth = len(self.snap.layers)
        label_w = len(str(depth)) + 2
        cols = max(1, width - label_w)
        pts = pts[-cols:]
        rows = pick_rows(depth, max(1, height - 2))
        out = Text(no_wrap=True, overflow="crop")
        if not pts:
            return out
        # colour scale over what is visible, whole decades, at least 4
        lo, hi = self.scale or visible_range(pts)
        n = len(RAMP)
        # marker row: a column gets ▼ when its snapshot knows of a change the previous column did not
        marks = Text(" " * label_w, no_wrap=True)
        prev = None
        for p in pts:
            hit = prev is not None and p.change_seq > prev
            marks.append("▼" if hit else " ", style="bold cyan" if hit else "")
            prev = p.change_seq
        out.append_text(marks)
        for i in reversed(rows):
            out.append("\n")
            out.append(f"L{i + 1:<{label_w - 1}}", style="bold" if i == self.selected else "dim")
            run_level, run_len = -2, 0
            for p in pts:
                v = p.log_grads[i] if i < len(p.log_grads) else math.nan
                if math.isnan(v):
                    level = -1
                elif v == -math.inf:
                    level = 0
                elif v == math.inf:
                    level = n - 1
                else:
                    level = min(n - 1, max(0, int((v - lo) / (hi - lo) * n)))
                if level == run_level:
                    run_len += 1
                    continue
                self._flush(out, run_level, run_len)
                run_level, run_len = level, 1
            self._flush(out, run_level, run_len)
        out.append("\n")
        legend = Text(" " * label_w + f"1e{lo} ", style="dim", no_wrap=True)
        for k in range(n):
            legend.append(SHADES[k], style=CELL_STYLES[k])
        legend.append(f" 1e{hi}   step {pts[0].step}…{pts[-1].step}", style="dim")
        out.append_text(legend)
        return out

    @staticmethod
    def _flush(out: Text, level: int, length: int) -> None:
        if length <= 0:
            return
        if level < 0:
            out.append(" " * length)
        else:
            out.append(SHADES[level] * length, style=CELL_STYLES[level])
