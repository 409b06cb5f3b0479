"""Drawing helpers shared by the panels (Rich only): bars, sparklines, one choice of rows, text that fits.

Numbers are written by gradtui.fmt (one spelling per quantity on every screen); colours come from
gradtui.tui.palette.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rich.style import Style
from rich.text import Text

from ..fmt import MISSING

EIGHTHS = " ▏▎▍▌▋▊▉█"  # horizontal bar ends
LEVELS = " ▁▂▃▄▅▆▇█"  # vertical bar tops


def log10(x: float | None) -> float:
    """log10 for magnitudes: nan (and None) stays nan, 0 becomes -inf."""
    if x is None or math.isnan(x):
        return math.nan
    return math.log10(x) if x > 0 else -math.inf


def decade_range(values: Iterable[float], span: int = 4) -> tuple[float, float]:
    """Whole decades covering the finite log-values, at least ``span`` wide."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return (-float(span), 0.0)
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


def choose_rows(n: int, rows: int, must: Iterable[int] = (), prefer: Sequence[int] | None = None) -> list[int]:
    """Which of n entries (0..n-1) to show in ``rows`` rows: all if they fit; else the ``must`` ones (the first,
    the last, the selected one, those an alert names: in that order of precedence when even they do not fit)
    and the rest spread evenly between -- spread over ``prefer`` first, when given (a recurrent run's time steps
    that carry histograms), then over the others. Ascending."""
    if n <= 0 or rows <= 0:
        return []
    if n <= rows:
        return list(range(n))
    chosen: list[int] = []
    for i in must:
        if 0 <= i < n and i not in chosen and len(chosen) < rows:
            chosen.append(i)
    if prefer:
        pool = [i for i in prefer if 0 <= i < n and i not in chosen]
        free = rows - len(chosen)
        if free > 0 and pool:
            for k in range(min(free, len(pool))):
                i = pool[round(k * (len(pool) - 1) / max(1, min(free, len(pool)) - 1))]
                if i not in chosen:
                    chosen.append(i)
    free = rows - len(chosen)
    if free > 0:
        # evenly spaced over the whole range, skipping those already in
        candidates = [round(k * (n - 1) / max(1, rows - 1)) for k in range(rows)] if rows > 1 else [n - 1]
        for i in candidates:
            if free == 0:
                break
            if i not in chosen:
                chosen.append(i)
                free -= 1
        for i in range(n):  # rounding collisions: fill from the rest
            if free == 0:
                break
            if i not in chosen:
                chosen.append(i)
                free -= 1
    return sorted(chosen)


def short_name(name: str, width: int) -> str:
    """An entry's name in at most ``width`` cells, cut from the *left*: the end of a module path says which module
    it is (``encoder.layers.2.mlp.fc1`` -> ``…layers.2.mlp.fc1``), at a dot where that loses little."""
    if len(name) <= width:
        return name
    if width <= 1:
        return "…"[: max(0, width)]
    tail = name[len(name) - (width - 1) :]
    dot = tail.find(".")
    if name[len(name) - width] != "." and 0 <= dot < len(tail) // 2:
        tail = tail[dot + 1 :]  # start at a whole path segment
    return "…" + tail


def shown_note(shown: int, total: int, noun: str = "layers") -> str:
    """ "8 of 10 layers" when not all fit, else ""."""
    return f"{shown} of {total} {noun}" if shown < total else ""


def axis_noun(axis: str) -> str:
    """What the entries of a snapshot's axis are called: layers, (time) steps, modules."""
    return {"layer": "layers", "time": "steps", "module": "modules"}.get(axis, "entries")


Part = tuple[str, "str | Style", int]  # (text, style, priority) of a line that must fit


def fit(parts: Sequence[Part], width: int) -> Text:
    """The parts (text, style, priority) that fit in ``width`` cells, in their order: the highest priority numbers
    are dropped first (the last of equals first), a part is never cut (a number is shown whole or not at all).
    Priority 0 parts are always kept (if they alone overflow, the Text is cropped at the end). The same rule as
    the status line's fields."""
    keep = list(range(len(parts)))
    total = sum(len(parts[i][0]) for i in keep)
    for i in sorted(keep, key=lambda i: (-parts[i][2], -i)):
        if total <= width:
            break
        if parts[i][2] > 0:
            keep.remove(i)
            total -= len(parts[i][0])
    out = Text(no_wrap=True, overflow="crop")
    for i in keep:
        out.append(parts[i][0], style=parts[i][1])
    return out


def shorten(choices: Sequence[str], width: int) -> str:
    """The first (longest) of ``choices`` that fits in ``width`` cells; the last one otherwise."""
    for c in choices:
        if len(c) <= width:
            return c
    return choices[-1] if choices else ""


def missing(x: float) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


__all__ = [
    "EIGHTHS", "LEVELS", "MISSING", "Part", "append_runs", "axis_noun", "choose_rows", "decade_range", "fit", "hbar",
    "log10", "missing", "resample", "short_name", "shorten", "shown_note", "spark",
]  # fmt: skip


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
