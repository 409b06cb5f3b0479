"""The one place that talks to plotext (5.x: 6 renamed its modules and changed build()). UI thread only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import plotext as plt
from rich.text import Text

MAX_Y = 1e300  # larger values are drawn at this value (a diverging loss of 1e308 still draws)


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str | None  # None: the terminal's own colour
    marker: str = "braille"  # plotext's marker: "braille", or one character (series differ without colour)


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
    lo_x, hi_x = math.inf, -math.inf
    for s in series:
        if s.xs:
            ys = [min(MAX_Y, max(-MAX_Y, y)) for y in s.ys]  # plotext's ranges overflow past ~1e307
            plt.plot(list(s.xs), ys, label=s.label, color=None if no_color else s.color, marker=s.marker)
            lo_x, hi_x = min(lo_x, s.xs[0]), max(hi_x, s.xs[-1])
    for m in markers:
        if lo_x <= m <= hi_x:
            plt.vertical_line(m, color=None if no_color else "gray")
    return Text.from_ansi(plt.build(), no_wrap=True, overflow="crop")
