"""Number formats, scales and palettes shared by the panels (Rich only)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from rich.style import Style
from rich.text import Text

# A perceptually ordered ramp (dark -> bright) for log-magnitudes; shade glyphs carry the same order without colour.
RAMP = ["#1b0c41", "#3b0f70", "#641a80", "#8c2981", "#b73779", "#de4968", "#f7705c", "#fe9f6d", "#fecf92", "#fcfdbf"]
SHADES = " ·░░▒▒▓▓██"
RAMP_STYLES = [Style(color=c) for c in RAMP]
EIGHTHS = " ▏▎▍▌▋▊▉█"  # horizontal bar ends
LEVELS = " ▁▂▃▄▅▆▇█"  # vertical bar tops
CLASS_COLORS = [
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
CLASS_GLYPHS = "·░▒▓█+x*=o"


def sci(x: float | None, digits: int = 1) -> str:
    """3.0e-07 style; an exact 0 is "0" (not 0.0e+00), a missing value "—"."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if x == 0:
        return "0"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}e}"


def pct(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "—"
    return f"{100 * x:.0f}%" if x == 0 or x >= 0.01 else "<1%"


def num(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}g}"


def log10(x: float) -> float:
    """log10 for magnitudes: nan stays nan, 0 becomes -inf."""
    if x is None or math.isnan(x):
        return math.nan
    return math.log10(x) if x > 0 else -math.inf


def decade_range(values: list[float], span: int = 4) -> tuple[float, float]:
    """Whole decades covering the finite log-values, at least ``span`` wide."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return (-span, 0.0)
    lo, hi = math.floor(min(finite)), math.ceil(max(finite))
    if hi - lo < span:
        lo = hi - span
    return float(lo), float(hi)


def hbar(frac: float, width: int) -> str:
    """A horizontal bar of ``width`` cells filled to ``frac`` with eighth-cell precision."""
    frac = min(max(frac, 0.0), 1.0)
    eighths = int(round(frac * width * 8))
    full, part = divmod(eighths, 8)
    s = "█" * full + (EIGHTHS[part] if part else "")
    return s.ljust(width)


def resample(counts, width: int) -> list[float]:
    """Sum ``counts`` into ``width`` buckets (or spread them, if fewer counts than buckets)."""
    n = len(counts)
    if n == 0 or width <= 0:
        return []
    out = [0.0] * width
    for i, c in enumerate(counts):
        out[min(width - 1, i * width // n)] += float(c)
    if n < width:  # fill the gaps by repeating
        last = 0.0
        for j in range(width):
            if out[j] == 0 and j * n // width == (j - 1) * n // width and j > 0:
                out[j] = last
            last = out[j]
    return out


def spark(counts, width: int) -> str:
    vals = resample(counts, width)
    top = max(vals) if vals else 0
    if top <= 0:
        return " " * width
    return "".join(LEVELS[min(8, int(math.ceil(v / top * 8)))] if v > 0 else " " for v in vals)


def pick_rows(n: int, rows: int) -> list[int]:
    """Which of n items (0..n-1) to show in ``rows`` rows: all if they fit, else evenly spread incl. both ends."""
    if n <= rows:
        return list(range(n))
    if rows <= 1:
        return [n - 1]
    return sorted({round(i * (n - 1) / (rows - 1)) for i in range(rows)})


def append_runs(out: Text, cells: Iterable[tuple[str, str | Style]]) -> None:
    """Append (character, style) cells to ``out``, one span per run of equal style (fewer, longer segments: less
    to compute and less to send to the terminal)."""
    run, run_style = "", None
    for ch, style in cells:
        if style != run_style and run:
            out.append(run, style=run_style)
            run = ""
        run_style = style
        run += ch
    if run:
        out.append(run, style=run_style)
