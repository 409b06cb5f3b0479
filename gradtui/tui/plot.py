"""The one place that talks to plotext (5.x: 6 renamed its modules and changed build()). UI thread only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotext as plt
from rich.text import Text

MAX_Y = 1e300  # larger values are drawn at this value (a diverging loss of 1e308 still draws)


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float] | np.ndarray
    ys: Sequence[float] | np.ndarray
    color: str | None  # None: the terminal's own colour
    marker: str = "braille"  # plotext's marker: "braille", or one character (series differ without colour)


def decimate(
    xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray, lo: float, hi: float, buckets: int
) -> tuple[list[float], list[float]]:
    """At most two points per bucket of x over [lo, hi] -- the lowest and the highest, in their order -- so that
    the chart costs the same whatever the length of the history, and still shows every spike and dip: a column of
    the chart can show no more than its lowest and highest value. ``xs`` ascending."""
    if len(xs) <= 2 * buckets or not hi > lo:
        return np.asarray(xs, dtype=np.float64).tolist(), np.asarray(ys, dtype=np.float64).tolist()
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    b = np.minimum(((x - lo) / (hi - lo) * buckets).astype(np.int64), buckets - 1)
    starts = np.flatnonzero(np.concatenate(([True], b[1:] != b[:-1])))
    ends = np.append(starts[1:], len(x))
    keep = np.zeros(len(x), dtype=bool)
    for a, e in zip(starts.tolist(), ends.tolist()):  # (at most 2 * width buckets)
        seg = y[a:e]
        keep[a + int(np.argmin(seg))] = keep[a + int(np.argmax(seg))] = True
    return x[keep].tolist(), y[keep].tolist()


def all_positive(*series: Sequence[float] | np.ndarray) -> bool:
    """Is every value of every series above 0 (so that a log scale can show them)?"""
    return all(len(ys) == 0 or float(np.min(ys)) > 0 for ys in series)


def line_chart(
    width: int,
    height: int,
    series: Sequence[Series],
    markers: Sequence[float] = (),
    ylog: bool = False,
    no_color: bool = False,
) -> Text:
    """A line chart as Rich Text. ``markers``: x positions of vertical lines (the user's changes)."""
    plt.clear_figure()
    plt.plot_size(max(10, width), max(5, height))
    plt.theme("clear")
    plt.frame(False)
    if ylog:
        plt.yscale("log")
    lo_x = min((float(s.xs[0]) for s in series if len(s.xs)), default=math.inf)
    hi_x = max((float(s.xs[-1]) for s in series if len(s.xs)), default=-math.inf)
    buckets = 2 * max(10, width)  # a braille cell is 2 dots wide
    for s in series:
        if len(s.xs):
            xs, ys = decimate(s.xs, s.ys, lo_x, hi_x, buckets)
            ys = np.clip(ys, -MAX_Y, MAX_Y).tolist()  # plotext's ranges overflow past ~1e307
            plt.plot(xs, ys, label=s.label, color=None if no_color else s.color, marker=s.marker)
    for m in markers:
        if lo_x <= m <= hi_x:
            plt.vertical_line(m, color=None if no_color else "gray")
    return Text.from_ansi(plt.build(), no_wrap=True, overflow="crop")
