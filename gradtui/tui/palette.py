"""The colours of every panel, per colour mode: truecolor, 256, 16, none.

Nothing is told apart by colour alone (bars have lengths and numbers, the heatmap shade glyphs, the decision
boundary class glyphs, the chart series their own markers and labels), so every mode is readable; the 16-colour
palette uses the terminal's named colours, which keep the green/yellow/red order and distinct classes, and
``none`` uses no colour at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from rich.style import Style

__all__ = ["MODES", "Palette", "mode_from_environment", "palette_for"]

MODES = ("truecolor", "256", "16", "none")

# a perceptually ordered ramp (dark -> bright) for log-magnitudes; shade glyphs carry the same order without colour
RAMP_HEX = [
    "#1b0c41",
    "#3b0f70",
    "#641a80",
    "#8c2981",
    "#b73779",
    "#de4968",
    "#f7705c",
    "#fe9f6d",
    "#fecf92",
    "#fcfdbf",
]
RAMP_16 = ["black", "blue", "blue", "magenta", "magenta", "red", "red", "yellow", "bright_yellow", "bright_white"]
CLASS_HEX = [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]
CLASS_16 = ["blue", "yellow", "green", "red", "magenta", "cyan", "bright_white", "bright_red", "bright_blue", "white"]
SHADES = " ·░░▒▒▓▓██"  # one per ramp level
CLASS_GLYPHS = "·░▒▓█+x*=o"  # a class's region without colour
POINT_GLYPHS = "o+x*#@%&=$"  # a class's training points without colour
# chart series: (label, plotext marker, colour); the markers differ, so the series differ without colour
SERIES = {
    "train": ("braille", "cyan"),
    "test": ("•", "magenta"),
    "acc": ("braille", "green"),
    "test acc": ("•", "yellow"),
}
RUN_MARKERS = "ABCD"  # compare mode: each run's loss curve is drawn with its own letter


@dataclass(frozen=True)
class Palette:
    mode: str
    good: str = "green"
    warn: str = "yellow"
    bad: str = "red"
    ramp: tuple[str, ...] = tuple(RAMP_HEX)
    classes: tuple[str, ...] = tuple(CLASS_HEX)
    runs: tuple[str, ...] = ("cyan", "magenta", "green", "yellow")
    accent: str = "cyan"
    hist: str = "magenta"
    deriv: str = "yellow"
    dead: str = "red"
    sat: str = "yellow"
    cell_styles: tuple[Style, ...] = field(default=())

    @property
    def color(self) -> bool:
        return self.mode != "none"

    @property
    def blends(self) -> bool:
        """Can a colour be faded towards the background (the boundary's confidence)? Not with 16 or none."""
        return self.mode in ("truecolor", "256")

    def style(self, name: str, *, bold: bool = False) -> Style:
        """A style of one of the palette's colours (none: bold or plain only)."""
        if not self.color:
            return Style(bold=bold)
        return Style(color=getattr(self, name), bold=bold)

    def severity(self, ratio: float) -> str:
        """good/warn/bad for a layer's gradient relative to the largest (>= 0.1, >= 1e-3, below)."""
        if ratio != ratio or ratio < 1e-3:  # NaN too
            return self.bad
        return self.good if ratio >= 1e-1 else self.warn


def _cells(ramp: tuple[str, ...], color: bool) -> tuple[Style, ...]:
    if not color:
        return tuple(Style() for _ in ramp)
    return tuple(Style(color=ramp[min(k + 2, len(ramp) - 1)], bgcolor=ramp[k]) for k in range(len(ramp)))


def palette_for(mode: str) -> Palette:
    if mode not in MODES:
        raise ValueError(f"unknown colour mode {mode!r}")
    if mode == "16":
        ramp = tuple(RAMP_16)
        return Palette(mode, ramp=ramp, classes=tuple(CLASS_16), cell_styles=_cells(ramp, True))
    if mode == "none":
        return Palette(mode, cell_styles=_cells(tuple(RAMP_HEX), False))
    return Palette(mode, cell_styles=_cells(tuple(RAMP_HEX), True))


def mode_from_environment(detected: str | None, environ: dict[str, str] | None = None) -> str:
    """The mode the terminal is in: NO_COLOR (any value) is none; else Rich's detected colour system
    ("truecolor", "256", "standard", "windows", None)."""
    env = os.environ if environ is None else environ
    if "NO_COLOR" in env:
        return "none"
    return {"truecolor": "truecolor", "256": "256", "standard": "16", "windows": "16"}.get(detected or "", "none")
