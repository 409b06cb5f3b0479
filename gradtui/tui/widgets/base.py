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

    def on_mount(self) -> None:
        self.border_title = self.TITLE
        if self.HELP:
            self.tooltip = self.HELP

    def data_key(self) -> Any:
        return id(self.snap)

    def show(self, snap: Snapshot, history: History, selected: int) -> None:
        self.snap, self.history, self.selected = snap, history, selected
        key = (self.data_key(), self.selected)
        if key != self._key:
            self._key = key
            self.refresh()

    def render(self) -> RenderableType:
        w, h = self.content_size.width, self.content_size.height
        if self.snap is None:
            return Text("waiting for the first snapshot…", style="dim")
        if w < 4 or h < 1:
            return Text("")
        return self.draw(w, h)

    def draw(self, width: int, height: int) -> RenderableType:
        raise NotImplementedError
