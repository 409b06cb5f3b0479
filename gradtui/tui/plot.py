"""The one place that talks to plotext (5.x: 6 renamed its modules and changed build()). UI thread only."""

from __future__ import annotations

import math

import plotext as plt
from rich.text import Text


def line_chart(
    width: int,
    height: int,
    series: list[tuple[str, list[float], list[float], str]],
    markers: list[float] = (),
    ylog: bool = False,
    no_color: bool = False,
) -> Text:
    """A line chart as Rich Text. ``series``: (label, xs, ys, colour); ``markers``: x positions of vertical lines
    (the user's changes)."""
    plt.clear_figure()
    plt.plot_size(max(10, width), max(5, height))
    plt.theme("clear")
    plt.frame(False)
    if ylog:
        plt.yscale("log")
    lo_x, hi_x = math.inf, -math.inf
    for label, xs, ys, color in series:
        if xs:
            plt.plot(xs, ys, label=label, color=None if no_color else color, marker="braille")
            lo_x, hi_x = min(lo_x, xs[0]), max(hi_x, xs[-1])
    for m in markers:
        if lo_x <= m <= hi_x:
            plt.vertical_line(m, color=None if no_color else "gray")
    return Text.from_ansi(plt.build(), no_wrap=True, overflow="crop")
