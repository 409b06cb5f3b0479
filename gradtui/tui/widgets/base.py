"""The base of every panel: keeps the latest Snapshot and redraws only when what it draws has changed."""

from __future__ import annotations

import time
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
    MAX_HZ: float | None = None  # redraw at most this often while training (bandwidth over SSH); None: always

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.snap: Snapshot | None = None
        self.history: History | None = None
        self.selected = 0  # the selected layer (0-based), shared by the panels that show one layer
        self._key: Any = None
        self._drawn: tuple[tuple[int, int], Any, RenderableType] | None = None  # (size, data key, drawing)
        self._drawn_at = -1e9
        self._timer: Any = None
        self.scale: tuple[float, float] | None = None  # a log10 range shared with other panels (compare mode)

    def on_mount(self) -> None:
        self.border_title = self.TITLE
        if self.HELP:
            self.tooltip = self.HELP

    def data_key(self) -> Any:
        return id(self.snap)

    def show(self, snap: Snapshot, history: History, selected: int) -> None:
        """Take a new snapshot. The panel is redrawn only if what it draws changed: first its ``data_key`` (cheap),
        then the drawn text itself -- a terminal is sent only the panels that really look different -- and, for
        the costly or busy panels (``MAX_HZ``), at most that often while training; the newest is always drawn."""
        self.snap, self.history, self.selected = snap, history, selected
        key = (self.data_key(), self.selected, self.scale)
        if key == self._key:
            return
        if self.MAX_HZ and self.is_mounted and not (snap.paused or snap.diverged is not None):
            wait = self._drawn_at + 1.0 / self.MAX_HZ - time.monotonic()
            if wait > 0:
                if self._timer is None:
                    self._timer = self.set_timer(wait, self._deferred)
                return
        self._key = key
        self._drawn_at = time.monotonic()
        size = (self.content_size.width, self.content_size.height)
        if not self.is_mounted or size[0] < 4 or size[1] < 1:
            self.refresh()
            return
        drawn = self.draw(*size)
        old = self._drawn
        self._drawn = (size, key, drawn)
        if old is not None and old[0] == size and _same_text(old[2], drawn):
            return  # looks the same: nothing to send
        self.refresh()

    def _deferred(self) -> None:
        self._timer = None
        if self.snap is not None and self.history is not None:
            self.show(self.snap, self.history, self.selected)

    def render(self) -> RenderableType:
        w, h = self.content_size.width, self.content_size.height
        if self.snap is None:
            return Text("waiting for the first snapshot…", style="dim")
        if w < 4 or h < 1:
            return Text("")
        key = (self.data_key(), self.selected, self.scale)
        if self._drawn is not None and self._drawn[:2] == ((w, h), key):
            return self._drawn[2]
        drawn = self.draw(w, h)  # a new size, or newer data than the last (throttled) draw
        self._drawn = ((w, h), key, drawn)
        return drawn

    def draw(self, width: int, height: int) -> RenderableType:
        raise NotImplementedError


class ProbePanel(Panel):
    """A panel of the probe-set figures (histograms, dead units, saturation): they change only when measured, and
    are redrawn at most twice a second (a distribution does not need more; a whole panel is re-sent each time)."""

    MAX_HZ = 2.0

    def data_key(self) -> Any:
        s = self.snap
        return (s.probe_step, s.config) if s else None


def _same_text(a: RenderableType, b: RenderableType) -> bool:
    return isinstance(a, Text) and isinstance(b, Text) and a.plain == b.plain and a.spans == b.spans
