"""Panel 2, gradient history: entries x time, colour and shade = log10 of the flow figure; one column per
snapshot, newest at the right, scrolling; ▼ marks a change the user made. Vanishing shows as dark bottom rows."""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text

from ..draw import short_name
from ..palette import SHADES
from .base import ListingPanel


def visible_range(pts) -> tuple[int, int]:
    """Whole decades covering the finite log-magnitudes of ``pts``, at least 4 wide."""
    vals = np.concatenate([p.log_flow[np.isfinite(p.log_flow)] for p in pts]) if pts else np.array([])
    lo = math.floor(vals.min()) if vals.size else -4
    hi = math.ceil(vals.max()) if vals.size else 0
    return (min(lo, hi - 4), hi)


class GradientHeatmap(ListingPanel):
    TITLES = ("Gradient history  layer × time", "Gradient history", "History")
    MAX_HZ = 2.0  # it scrolls: every cell changes at every redraw, the largest share of the bytes sent
    HELP = "Each column a snapshot, each row a layer (input at the bottom); brighter = larger gradient; ▼ = change."

    def titles(self) -> tuple[str, ...]:
        v = self.view
        if v is not None and v.snap.axis == "time":
            return ("Gradient history  time step × training", "Gradient history", "History")
        return self.TITLES

    def data_key(self):
        v = self.view
        return v.history.version if v is not None else None

    def capacity(self, height: int) -> int:
        return max(1, height - 2)  # the marker row and the legend

    def draw(self, width: int, height: int) -> Text:
        v = self.view
        assert v is not None
        entries = v.snap.entries
        rows = self.rows(height)
        label_w = min(max((len(entries[i].name) for i in rows), default=2) + 1, max(3, width // 4))
        cols = max(1, width - label_w)
        pts = v.history.points[-cols:]
        out = Text(no_wrap=True, overflow="crop")
        if not pts:
            return out
        lo, hi = v.scale or visible_range(pts)
        n = len(v.palette.cell_styles)
        styles = v.palette.cell_styles
        # marker row: a column gets ▼ when its snapshot knows of a change the previous column did not
        marks = Text(" " * label_w, no_wrap=True)
        prev = None
        for p in pts:
            hit = prev is not None and p.change_seq > prev
            marks.append("▼" if hit else " ", style=v.palette.style("accent", bold=True) if hit else "")
            prev = p.change_seq
        out.append_text(marks)
        for i in reversed(rows):
            name = short_name(entries[i].name, label_w - 1)
            out.append("\n")
            out.append(f"{name:<{label_w}}", style="bold" if i == v.selected else "dim")
            run_level, run_len = -2, 0
            for p in pts:
                x = p.log_flow[i] if i < len(p.log_flow) else math.nan
                if math.isnan(x):
                    level = -1
                elif x == -math.inf:
                    level = 0
                elif x == math.inf:
                    level = n - 1
                else:
                    level = min(n - 1, max(0, int((x - lo) / (hi - lo) * n)))
                if level == run_level:
                    run_len += 1
                    continue
                _flush(out, run_level, run_len, styles)
                run_level, run_len = level, 1
            _flush(out, run_level, run_len, styles)
        out.append("\n")
        legend = Text(" " * label_w + f"1e{int(lo)} ", style="dim", no_wrap=True)
        for k in range(n):
            legend.append(SHADES[k], style=styles[k])
        tail = f" 1e{int(hi)}   step {pts[0].step:,}…{pts[-1].step:,}"
        legend.append(tail if legend.cell_len + len(tail) <= width else f" 1e{int(hi)}", style="dim")
        out.append_text(legend)
        return out


def _flush(out: Text, level: int, length: int, styles) -> None:
    if length <= 0:
        return
    if level < 0:
        out.append(" " * length)
    else:
        out.append(SHADES[level] * length, style=styles[level])
