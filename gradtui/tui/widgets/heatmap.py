"""Panel 2, gradient history: entries x time, colour and shade = log10 of the flow figure; ▼ marks a change the
user made. Vanishing shows as dark bottom rows.

The whole run fits: one column per snapshot while they fit, then one column per stretch of 2^k training steps (the
mean of log10 over the snapshots in it; a stretch with none holds the column before). The columns stay where they
are as the run goes on, so only the newest column changes between redraws -- a scrolling heatmap re-sends every
cell of the panel at every redraw, the largest share of the bytes over a slow link -- and a change you made stays
in view with what came before it. When the run outgrows the width, the stretch doubles (every column is redrawn,
a few times an hour).
"""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text

from ..draw import distinct_names, label_width
from ..palette import SHADES
from .base import ListingPanel


def visible_range(flow: np.ndarray) -> tuple[int, int]:
    """Whole decades covering the finite log-magnitudes in ``flow``, at least 4 wide."""
    vals = flow[np.isfinite(flow)]
    lo = math.floor(vals.min()) if vals.size else -4
    hi = math.ceil(vals.max()) if vals.size else 0
    return (min(lo, hi - 4), hi)


class GradientHeatmap(ListingPanel):
    TITLES = ("Gradient history  layer × time", "Gradient history", "History")
    MAX_HZ = 2.0
    HELP = "The whole run, left to right; a row per layer (input at the bottom); brighter = larger gradient; ▼ change."

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
        row_names = [entries[i].name for i in rows]
        label_w = 1 + label_width(row_names, label_w - 1, min(max(map(len, row_names), default=1), width // 3))
        cols = max(1, width - label_w)
        h = v.history
        out = Text(no_wrap=True, overflow="crop")
        if not len(h):
            return out
        steps, flow = h.steps[: h.n], h.flows(len(entries))
        grid, marks_at = columns(steps, flow, h.change_seq[: h.n], cols)
        lo, hi = v.scale or visible_range(flow)
        n = len(v.palette.cell_styles)
        styles = v.palette.cell_styles
        levels = _levels(grid, lo, hi, n)
        marks = Text(" " * label_w, no_wrap=True)
        for hit in marks_at:
            marks.append("▼" if hit else " ", style=v.palette.style("accent", bold=True) if hit else "")
        out.append_text(marks)
        labels = dict(zip(rows, distinct_names([entries[i].name for i in rows], label_w - 1)))
        for i in reversed(rows):
            name = labels[i]
            out.append("\n")
            out.append(f"{name:<{label_w}}", style="bold" if i == v.selected else "dim")
            run_level, run_len = -2, 0
            for level in levels[:, i].tolist():
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
        tail = f" 1e{int(hi)}   step {int(steps[0]):,}…{int(steps[-1]):,}"
        legend.append(tail if legend.cell_len + len(tail) <= width else f" 1e{int(hi)}", style="dim")
        out.append_text(legend)
        return out


def columns(steps: np.ndarray, m: np.ndarray, seq: np.ndarray, cols: int) -> tuple[np.ndarray, list[bool]]:
    """The heatmap's columns, at most ``cols``, for the rows (``steps``, log10 flow ``m``: rows x entries, change
    sequence numbers ``seq``): (log10 flow, columns x entries; NaN where nothing was measured) and, per column,
    whether a change the user made first shows in it.

    One column per row while they fit; then one per stretch of 2^k steps from the first row's step, the smallest
    k that fits: the mean of the finite log10 values of the rows in it (+inf if one is infinite, -inf if all are
    exact zeros), a stretch with no row holding the column before."""
    new_change = np.concatenate(([False], seq[1:] > seq[:-1]))
    if len(steps) <= cols:
        return m, new_change.tolist()
    span = int(steps[-1] - steps[0]) + 1
    stretch = 1 << max(0, math.ceil(math.log2(span / cols)))
    while -(-span // stretch) > cols:  # (float rounding at the edge)
        stretch *= 2
    col = (steps - steps[0]) // stretch
    starts = np.flatnonzero(np.concatenate(([True], col[1:] != col[:-1])))
    finite = np.isfinite(m)
    total = np.add.reduceat(np.where(finite, m, 0.0), starts, axis=0)
    count = np.add.reduceat(finite, starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    mean[np.logical_or.reduceat(m == np.inf, starts, axis=0)] = np.inf
    zeros = (count == 0) & np.logical_or.reduceat(m == -np.inf, starts, axis=0)
    mean[zeros & ~np.isinf(mean)] = -np.inf
    width = int(col[-1]) + 1
    grid = np.full((width, m.shape[1]), np.nan)
    grid[col[starts]] = mean
    filled = np.zeros(width, dtype=bool)
    filled[col[starts]] = True
    held = np.maximum.accumulate(np.where(filled, np.arange(width), 0))  # the last filled column at or before
    grid = grid[held]
    marks = np.zeros(width, dtype=bool)
    marks[col[starts]] = np.logical_or.reduceat(new_change, starts)
    return grid, marks.tolist()


def _levels(grid: np.ndarray, lo: float, hi: float, n: int) -> np.ndarray:
    """Each cell's shade level 0..n-1 (-1: nothing measured): its place in [lo, hi]; -inf the darkest, +inf the
    brightest."""
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.floor((grid - lo) / (hi - lo) * n)
    levels = np.clip(np.nan_to_num(scaled, nan=-1.0, posinf=n - 1, neginf=0), 0, n - 1).astype(np.int64)
    levels[np.isnan(grid)] = -1
    return levels


def _flush(out: Text, level: int, length: int, styles) -> None:
    if length <= 0:
        return
    if level < 0:
        out.append(" " * length)
    else:
        out.append(SHADES[level] * length, style=styles[level])
