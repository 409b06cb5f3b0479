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


def window_rows(n: int, rows: int, top: int, must: Iterable[int] = ()) -> tuple[list[int], int, int]:
    """A contiguous window of n entries (0..n-1) in ``rows`` rows, starting at ``top`` (moved in range), plus the
    ``must`` ones outside it (pinned: the selected one, those an alert names, the first, the last; in that order
    of precedence when even they do not fit): each pinned row outside the window takes one of its rows. Returns
    (the rows, ascending; the window's first entry; its length)."""
    if n <= 0 or rows <= 0:
        return [], 0, 0
    if n <= rows:
        return list(range(n)), 0, n
    pins: list[int] = []
    for i in must:
        if 0 <= i < n and i not in pins:
            pins.append(i)
    for w in range(rows, 0, -1):
        t = max(0, min(top, n - w))
        outside = [i for i in pins if not t <= i < t + w]
        if w + len(outside) <= rows:
            return sorted({*range(t, t + w), *outside}), t, w
    return sorted(pins[:rows]), max(0, min(top, n - 1)), 0


class RowWindow:
    """A screen's window over its entries (``window_rows``): where it starts, kept around the selected entry (it
    scrolls the least that shows it) and moved a page at a time (PageUp/PageDown)."""

    def __init__(self) -> None:
        self.top = 0
        self.length = 0  # the window's length at the last choice (0: not chosen yet, or every entry fits)
        self.total = 0

    def choose(self, n: int, rows: int, selected: int, must: Iterable[int] = ()) -> list[int]:
        """The rows to show: a contiguous window holding ``selected`` (when the window has room) and the ``must``
        ones pinned outside it."""
        pins = [selected, *must]
        chosen, top, length = window_rows(n, rows, self.top, pins)
        for _ in range(2):  # scroll so that the selected entry is inside the window (its length may change)
            if length <= 0 or top <= selected < top + length:
                break
            self.top = selected - length + 1 if selected >= top + length else selected
            chosen, top, length = window_rows(n, rows, self.top, pins)
        self.top, self.length, self.total = top, (length if length < n else n), n
        return chosen

    def page(self, selected: int, delta: int) -> int:
        """PageUp (+1, towards the last entry: up the screen) or PageDown (-1): the window and the selected entry
        move by the window's length; returns the new selected entry."""
        if self.total <= 0:
            return selected
        step = max(1, self.length)
        self.top = max(0, min(self.total - step, self.top + delta * step))
        return max(0, min(self.total - 1, selected + delta * step))


def window_note(top: int, length: int, total: int, noun: str = "layers") -> str:
    """ "rows 21–40 of 60 modules" when not all fit, else ""."""
    if length >= total or total <= 0:
        return ""
    if length <= 0:
        return f"of {total} {noun}"
    return f"rows {top + 1}–{top + length} of {total} {noun}"


def distinct_names(names: Sequence[str], width: int) -> list[str]:
    """``names`` in at most ``width`` cells each (``short_name``), and telling apart what the names do: a cut label
    that another of ``names`` would fit too ("…mlp.fc2" five times; "…0.mlp.fc2" beside "…40.mlp.fc2") keeps the
    path segment that tells its row from the others (``…3.mlp.fc2``, ``…s.0.mlp.fc2``, ``…41…fc2``), where one fits.
    A label fits a name when its pieces between the "…" occur in it in order, the last one at its end."""
    out = [short_name(n, width) for n in names]
    uniq = list(dict.fromkeys(names))
    for k, name in enumerate(names):
        if not any(other != name and label_fits(out[k], other) for other in uniq):
            continue
        rivals = [o for o in uniq if o != name]
        for cand in _candidates(name, rivals, width):
            if len(cand) <= width and not any(label_fits(cand, o) for o in rivals):
                out[k] = cand
                break
    return out


def label_width(names: Sequence[str], width: int, most: int) -> int:
    """The label width for ``names``: ``width``, or more (up to ``most``) where at ``width`` some cut labels would
    not tell their rows apart (``distinct_names``)."""
    w = max(1, width)
    while w < most:
        labels = distinct_names(names, w)
        if all(not any(o != n and label_fits(lb, o) for o in names) for lb, n in zip(labels, names)):
            break
        w += 1
    return w


def label_fits(label: str, name: str) -> bool:
    """Could ``label`` (a name cut with "…") stand for ``name``?"""
    if "…" not in label:
        return label == name
    pieces = [p for p in label.split("…") if p]
    if not pieces:
        return True
    if not label.startswith("…") and not name.startswith(pieces[0]):
        return False
    last = pieces[-1]
    if not label.endswith("…"):
        if not name.endswith(last):
            return False
        name, pieces = name[: len(name) - len(last)], pieces[:-1]
    pos = 0
    for p in pieces:
        at = name.find(p, pos)
        if at < 0:
            return False
        pos = at + len(p)
    return True


def _candidates(name: str, rivals: Sequence[str], width: int) -> Iterable[str]:
    """Labels of ``name`` to try, best first: around each path segment that differs from the rivals' at the same
    place from the end (the rightmost first): the rest of the path from it, the last letter of
    the segment before (``s.0``: a whole segment ``0``, not the end of ``40``), it and the last segment, it with the
    dot after it (``4.``: not the start of ``40``); last, the plain cut."""
    segs = name.split(".")
    rsegs = [r.split(".") for r in rivals]
    for k in range(len(segs) - 1, -1, -1):
        back = len(segs) - k
        if all(len(r) >= back and r[-back] == segs[k] for r in rsegs):
            continue  # every rival has this segment here: it tells nothing
        before = segs[k - 1][-1:] + "." if k > 0 else ""
        rest = ".".join(segs[k:])
        yield "…" + rest
        if before:
            yield "…" + before + rest
        if k < len(segs) - 1:
            for mid in (segs[k], before + segs[k], segs[k] + ".", before + segs[k] + "."):  # "4." is not in "40."
                if mid:
                    yield "…" + mid + "…" + segs[-1]
    yield name if len(name) <= width else "…" + name[len(name) - (width - 1) :] if width > 1 else "…"


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
    "EIGHTHS", "LEVELS", "MISSING", "Part", "RowWindow", "append_runs", "axis_noun", "choose_rows", "decade_range",
    "distinct_names", "fit", "hbar", "label_fits", "label_width", "log10", "missing", "resample", "short_name",
    "shorten", "shown_note", "spark", "window_note", "window_rows",
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
