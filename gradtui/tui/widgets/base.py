"""The base of every panel: keeps the latest Snapshot and redraws only when what it draws has changed."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

from ...engine import Snapshot
from ..history import History


class Panel(Widget):
    """Subclasses implement ``draw(width, height) -> RenderableType`` and, if they draw less than the whole
    snapshot, ``data_key()`` (what they draw depends on), so that unchanged panels are not re-sent to the terminal."""

    TITLE = ""
    HELP = ""  # one line for the help screen and the panel's tooltip

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.snap: Snapshot | None = None
        self.history: History | None = None
        self.selected = 0  # the selected layer (0-based), shared by the panels that show one layer
        self._key: Any = None
        self._drawn: tuple[tuple[int, int], RenderableType] | None = None  # (size, what was drawn for it)

    def on_mount(self) -> None:
        self.border_title = self.TITLE
        if self.HELP:
            self.tooltip = self.HELP

    def data_key(self) -> Any:
        return id(self.snap)

    def show(self, snap: Snapshot, history: History, selected: int) -> None:
        """Take a new snapshot. The panel is redrawn only if what it draws changed: first its ``data_key`` (cheap),
        then the drawn text itself -- a terminal is sent only the panels that really look different."""
        self.snap, self.history, self.selected = snap, history, selected
        key = (self.data_key(), self.selected)
        if key == self._key:
            return
        self._key = key
        size = (self.content_size.width, self.content_size.height)
        if not self.is_mounted or size[0] < 4 or size[1] < 1:
            self.refresh()
            return
        drawn = self.draw(*size)
        old = self._drawn
        if old is not None and old[0] == size and _same_text(old[1], drawn):
            return
        self._drawn = (size, drawn)
        self.refresh()

    def render(self) -> RenderableType:
        w, h = self.content_size.width, self.content_size.height
        if self.snap is None:
            return Text("waiting for the first snapshot…", style="dim")
        if w < 4 or h < 1:
            return Text("")
        if self._drawn is not None and self._drawn[0] == (w, h):
            return self._drawn[1]
        drawn = self.draw(w, h)
        self._drawn = ((w, h), drawn)
        return drawn

    def draw(self, width: int, height: int) -> RenderableType:
        raise NotImplementedError


def _same_text(a: RenderableType, b: RenderableType) -> bool:
    return isinstance(a, Text) and isinstance(b, Text) and a.plain == b.plain and a.spans == b.spans
