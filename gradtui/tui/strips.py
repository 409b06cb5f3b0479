"""A drawing's lines as Textual Strips, made straight from the Rich Text (Textual's line API), one line at a time and
only when Textual asks for it: a line that did not change keeps its Strip from the drawing before.

Why: a widget whose ``render()`` returns Text is converted whole by Textual (Text -> Content -> Strips) whenever any
part of it is refreshed. For the decision boundary (56 x 11 cells, ~360 styles) that took ~10 ms of the event loop
at every redraw, against ~2.7 ms for Rich's own ``Text.render`` of its lines (``benchmarks/bench_tui.py`` and
the note of 2026-12-04); and a key pressed meanwhile waits. Here the refreshed lines alone are converted.

The widget's own style (its CSS colour and background: ``visual_style``) is the base of every segment, as in
Textual's conversion; Textual's line filters (ANSI to truecolor, dim, no colour) apply to these Strips as to any.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from .damage import LineKey


class LineStrips:
    """The Strips of the current drawing's lines, each made on first use, kept for the next drawing where its line
    is the same (same characters and styles, same width and base style)."""

    def __init__(self) -> None:
        self._lines: Sequence[Text] = ()
        self._keys: Sequence[LineKey] = ()
        self._strips: list[Strip | None] = []
        self._width = -1
        self._base: Style | None = None

    def update(self, lines: Sequence[Text], keys: Sequence[LineKey], width: int) -> None:
        """A new drawing of ``width`` cells: its lines and their keys (``damage.line_keys``)."""
        old_keys, old = self._keys, self._strips
        if width != self._width:
            old_keys, old = (), []
        self._strips = [old[y] if y < len(old_keys) and old_keys[y] == key else None for y, key in enumerate(keys)]
        self._lines, self._keys, self._width = lines, keys, width

    def strip(self, y: int, console: Console, base: Style) -> Strip:
        """Line ``y`` of the drawing (a blank Strip past its end), on ``base``, exactly ``width`` cells."""
        if base != self._base:  # another CSS colour or background (a theme change): every line again
            self._base = base
            self._strips = [None] * len(self._strips)
        if not 0 <= y < len(self._strips):
            return Strip.blank(max(self._width, 0), base)
        made = self._strips[y]
        if made is None:
            made = self._strips[y] = line_strip(self._lines[y], self._width, console, base)
        return made


def line_strip(line: Text, width: int, console: Console, base: Style) -> Strip:
    """One line of Text as a Strip of exactly ``width`` cells on ``base`` (cropped or padded with it)."""
    segments: list[Any] = list(Segment.apply_style(line.render(console, ""), base))
    return Strip(segments).adjust_cell_length(width, base)
