"""What changed between two drawings of a widget, as the smallest regions to refresh.

Textual re-sends every cell of a region it repaints. A panel that refreshes itself whole at every snapshot re-sends
lines that are already on the screen; one that refreshes whole lines re-sends the unchanged cells around a changed
number. Here each line of the new drawing is compared with the old one, cell by cell (character and style), and
only the runs of changed cells are refreshed: ``step 12,340`` -> ``step 12,350`` sends two
cells, not the status line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text
from textual.geometry import Region

LineKey = tuple[str, Any, tuple[Any, ...]]  # a line's characters, its base style and its spans (start, end, style)


def line_keys(text: Text | Sequence[Text]) -> list[LineKey]:
    """The lines of a drawing (or the drawing's lines: ``split_lines``), in a form that compares by value."""
    lines = split_lines(text) if isinstance(text, Text) else text
    return [(line.plain, line.style, tuple(line.spans)) for line in lines]


def split_lines(text: Text) -> list[Text]:
    """A drawing's lines (a blank line between two newlines is a line)."""
    return list(text.split("\n", allow_blank=True))


def _cells(key: LineKey, n: int) -> list[tuple[str, tuple[Any, ...]]]:
    """Each cell of a line: its character (``""`` for the right half of a wide one) and the styles on it, padded
    with unstyled blanks to ``n`` cells (a blank past the end of a line looks like an unstyled blank)."""
    plain, _, spans = key
    styles: list[tuple[Any, ...]] = [()] * len(plain)
    for s in spans:
        for k in range(s.start, min(s.end, len(plain))):
            styles[k] = (*styles[k], s.style)
    if plain.isascii():
        out = list(zip(plain, styles))
    else:
        out = []
        for c, st in zip(plain, styles):
            w = get_character_cell_size(c)
            if w:
                out.append((c, st))
                if w == 2:
                    out.append(("", st))
            elif out:  # a combining mark: part of the cell before
                out[-1] = (out[-1][0] + c, out[-1][1])
    return out + [(" ", ())] * (n - len(out))


GAP = 10**6  # unchanged cells between two changes worth a new run: Textual starts each with a cursor move and
# the whole style again (~30 bytes), measured (bench_tui.py) to cost more than re-sending the cells between


def changed_spans(old: LineKey | None, new: LineKey | None, width: int) -> list[tuple[int, int]]:
    """The runs of cells ``[x0, x1)`` of a line that differ between two drawings of it (none if it looks the
    same); runs less than ``GAP`` cells apart are one run."""
    if old == new:
        return []
    if old is None or new is None or old[1] != new[1]:
        return [(0, width)]
    n = max(cell_len(old[0]), cell_len(new[0]))
    a, b = _cells(old, n), _cells(new, n)
    runs: list[list[int]] = []  # cells [x0, x1)
    for k in range(min(n, width)):
        if a[k] != b[k]:
            if runs and k - runs[-1][1] < GAP:
                runs[-1][1] = k + 1
            else:
                runs.append([k, k + 1])
    return [(x0, x1) for x0, x1 in runs]


def changed_regions(old: Sequence[LineKey], new: Sequence[LineKey], width: int, height: int) -> list[Region]:
    """The regions (in content coordinates) to refresh so that the screen shows ``new`` where it showed ``old``."""
    return [
        Region(x0, y, x1 - x0, 1)
        for y in range(height)
        for x0, x1 in changed_spans(old[y] if y < len(old) else None, new[y] if y < len(new) else None, width)
    ]
