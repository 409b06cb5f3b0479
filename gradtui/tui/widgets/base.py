"""The base of every panel: draws from one ``PanelView`` (a snapshot and what the screen decided about it), and
sends the terminal only the cells that changed (``damage.py``)."""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from ...engine import Config, Snapshot
from ...engine.config import LIVE_FIELDS
from ..damage import LineKey, changed_regions, line_keys, split_lines
from ..draw import axis_noun, choose_rows, shorten, shown_note, window_note
from ..history import History
from ..palette import Palette, palette_for
from ..strips import LineStrips, line_strip

STAGGER = 0.04  # seconds between the busy panels due at the same redraw (``Panel.show``)


@dataclass(frozen=True, eq=False)
class PanelView:
    """What a panel draws: the snapshot, the history, and the screen's choices for every panel alike."""

    snap: Snapshot
    history: History
    selected: int = 0  # the selected entry (0-based)
    rows: tuple[int, ...] | None = None  # the entries every panel shows (None: the panel chooses, all that fit)
    scale: tuple[float, float] | None = None  # a log10 range shared with other panels (compare mode)
    palette: Palette = field(default_factory=lambda: palette_for("truecolor"))
    marks: frozenset[int] = frozenset()  # entries an alert names
    window: tuple[int, int] | None = None  # the rows' contiguous window (first entry, length), when they are one


class Panel(Widget):
    """Subclasses implement ``draw(width, height) -> Text`` from ``self.view`` and, if they draw less than the
    whole snapshot, ``data_key()`` (what they draw depends on), so that unchanged panels are not re-drawn; and
    ``capacity(height)``, the entry rows that fit, when they list entries.

    Textual gets the drawing line by line (``render_line``, its line API): a refresh of a few cells converts only
    the lines they are on (``strips.py``); ``render()`` gives the whole drawing as Text (tests, text selection),
    and while text is selected with the mouse Textual's own conversion draws the panel, with the selection."""

    TITLES: ClassVar[tuple[str, ...]] = ("",)  # the border title, longest first: the longest that fits is shown
    HELP = ""  # one line for the help screen and the panel's tooltip
    MAX_HZ: float | None = None  # redraw at most this often while training (bandwidth over SSH); None: always
    LISTS_ENTRIES = False  # one row per entry: takes part in the screen's one choice of rows

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.view: PanelView | None = None
        self._key: Any = None
        self._drawn: tuple[tuple[int, int], Any, Text, list[LineKey]] | None = None  # size, key, drawing, line keys
        self._strips = LineStrips()  # the drawing's lines as Textual wants them
        self._drawn_at = -1e9
        self._drawn_net: Any = None  # the network the last drawing showed (``_network``)
        self._timer: Any = None
        self._title_width = -1

    @property
    def snap(self) -> Snapshot | None:
        return self.view.snap if self.view is not None else None

    def on_mount(self) -> None:
        self._set_title()
        if self.HELP:
            self.tooltip = self.HELP

    def on_resize(self) -> None:
        self._set_title()

    def titles(self) -> tuple[str, ...]:
        """The border title, longest first (the longest that fits is shown)."""
        return self.TITLES

    def title_note(self) -> str:
        """A short note after the title (``8 of 10 layers``, ``from step 1,200``); subclasses add theirs."""
        return ""

    def short_note(self) -> str:
        """The title note where even ``title_note`` alone does not fit ("" for none)."""
        return ""

    def _set_title(self) -> None:
        room = max(0, self.size.width - 4)
        note = self.title_note()
        short = self.short_note()
        choices = [f"{t}  {note}" if note else t for t in self.titles()] + [n for n in (note, short) if n]
        title = shorten(choices, room) if room else ""
        if len(title) > room:
            title = ""
        if title != self.border_title:
            self.border_title = title

    def data_key(self) -> Any:
        return id(self.snap)

    def capacity(self, height: int) -> int:
        """How many entry rows fit in ``height`` content rows."""
        return height

    def view_key(self, view: PanelView) -> Any:
        return (self.data_key(), view.selected, view.rows, view.scale, view.palette.mode, view.marks)

    def show(self, view: PanelView, queued: int = 0) -> int:
        """Take a new view. The panel is redrawn only if what it draws changed: first its ``data_key`` (cheap),
        then the drawn text itself, line by line -- the terminal is sent only the lines that look different --
        and, for the busy panels (``MAX_HZ``), at most that often while training; the newest is always drawn.

        ``queued``: how many busy panels before this one took their turn in this redraw. A busy panel that is due
        is drawn now only if it is the first; else ``queued * STAGGER`` seconds later, in a turn of the event loop
        of its own, so that the busy panels' drawings do not add up into one long stretch that a key pressed
        meanwhile has to wait for (and stay apart after that). Returns 1 if this panel took a turn (drawn now or
        queued), else 0."""
        self.view = view
        key = self.view_key(view)
        if key == self._key:
            return 0
        snap = view.snap
        rebuilt = _network(snap) != self._drawn_net  # a new network (a rebuild, a new run): drawn at once
        throttled = bool(self.MAX_HZ) and self.is_mounted and not (snap.paused or snap.diverged is not None or rebuilt)
        if throttled:
            assert self.MAX_HZ is not None
            wait = self._drawn_at + 1.0 / self.MAX_HZ - time.monotonic()
            if wait > 0 or queued:
                if self._timer is None:
                    self._timer = self.set_timer(wait if wait > 0 else queued * STAGGER, self._deferred)
                return 0 if wait > 0 else 1
        self._key = key
        self._drawn_at = time.monotonic()
        self._drawn_net = _network(snap)
        self._set_title()
        size = (self.content_size.width, self.content_size.height)
        if not self.is_mounted or size[0] < 4 or size[1] < 1:
            self.refresh()
            return 0
        old = self._drawn
        lines = self._keep(size, key, self.draw(*size))
        if old is None or old[0] != size:
            self.refresh()
        else:
            regions = changed_regions(old[3], lines, *size)
            if regions:  # none: it looks the same, nothing to send
                self.refresh(*regions)
        return int(throttled)

    def _keep(self, size: tuple[int, int], key: Any, drawn: Text) -> list[LineKey]:
        """Make ``drawn`` the current drawing (of ``size``, for the view key ``key``); returns its line keys."""
        lines = split_lines(drawn)
        keys = line_keys(lines)
        self._drawn = (size, key, drawn, keys)
        self._strips.update(lines, keys, size[0])
        return keys

    def _deferred(self) -> None:
        self._timer = None
        if self.view is not None:
            self.show(self.view)

    def render(self) -> RenderableType:
        w, h = self.content_size.width, self.content_size.height
        if self.view is None:
            return Text("waiting for the first snapshot…", style="dim")
        if w < 4 or h < 1:
            return Text("")
        return self._current(w, h)

    def _current(self, w: int, h: int) -> Text:
        """The drawing for a content area of w x h cells: the one kept, or a new one for a new size (or for newer
        data than the last, throttled, drawing)."""
        assert self.view is not None
        key = self.view_key(self.view)
        if self._drawn is not None and self._drawn[:2] == ((w, h), key):
            return self._drawn[2]
        drawn = self.draw(w, h)
        self._keep((w, h), key, drawn)
        return drawn

    def render_line(self, y: int) -> Strip:
        """Content line ``y``, for Textual (its line API): made from the drawing's line, or kept from before."""
        w, h = self.content_size.width, self.content_size.height
        base = self.visual_style.rich_style
        if self.view is None or w < 4 or h < 1:  # one line of words at most
            text = self.render()
            assert isinstance(text, Text)
            return line_strip(text, w, self.app.console, base) if y == 0 else Strip.blank(w, base)
        if self.text_selection is not None:  # text selected with the mouse: Textual's conversion draws it
            return super().render_line(y)
        drawn = self._drawn
        if drawn is None or drawn[:2] != ((w, h), self.view_key(self.view)):
            # a new size, or newer data than the drawing (waiting for the throttle) when Textual paints on its own
            # (the first paint, an overlay gone): the newest is drawn, and then every line, so that none on the
            # screen is left from the older drawing
            self._current(w, h)
            self._key = self._drawn[1] if self._drawn is not None else None
            if drawn is not None and drawn[0] == (w, h):
                self.refresh()
        return self._strips.strip(y, self.app.console, base)

    def draw(self, width: int, height: int) -> Text:
        raise NotImplementedError


def _network(snap: Snapshot) -> tuple[Any, ...]:
    """Which network a snapshot describes: its run, the step it was built at and the settings that build it. The
    figures of another network are never left on the screen beside it, not even for the throttle's half second. A
    setting applied live (learning rate, optimiser, clipping: ``LIVE_FIELDS``) trains the same network on: the busy
    panels keep their pace (else each press of ``l`` redrew every panel at once, in one long frame)."""
    return (snap.run, snap.build_step, _built_by(snap.config))


@functools.lru_cache(maxsize=64)
def _built_by(config: Config | None) -> tuple[Any, ...] | None:
    """The settings of ``config`` that a change of rebuilds the network for (all but the live ones)."""
    if config is None:
        return None
    return tuple((f.name, getattr(config, f.name)) for f in dataclasses.fields(config) if f.name not in LIVE_FIELDS)


class ListingPanel(Panel):
    """A panel with one row per entry: it shows the rows the screen chose for every such panel (or, alone, all
    that fit, the first, the last and the selected one among them), and says "rows 3–10 of 40 layers" (a window) or
    "8 of 10 layers" (a sample) when not all fit."""

    LISTS_ENTRIES = True

    def rows(self, height: int) -> list[int]:
        v = self.view
        assert v is not None
        n = len(v.snap.entries)
        return list(v.rows) if v.rows is not None else choose_rows(n, self.capacity(height), [0, n - 1, v.selected])

    def title_note(self) -> str:
        v = self.view
        if v is None:
            return ""
        total, noun = len(v.snap.entries), axis_noun(v.snap.axis)
        if v.rows is not None and v.window is not None:
            shown = window_note(*v.window, total, noun)
        else:
            shown = shown_note(len(self.rows(self.content_size.height)), total, noun)
        return "  ".join(n for n in (shown, super().title_note()) if n)

    def short_note(self) -> str:
        v = self.view
        if v is None or v.rows is None or v.window is None or v.window[1] >= len(v.snap.entries):
            return ""
        top, length = v.window
        return f"{top + 1}–{top + length}/{len(v.snap.entries)}" if length > 0 else ""


class ProbePanel(Panel):
    """A panel of the probe-set figures (histograms, dead units, saturation): they change only when measured, and
    are redrawn at most twice a second (a distribution does not need more; every changed line is re-sent)."""

    MAX_HZ = 2.0

    def data_key(self) -> Any:
        s = self.snap
        return (s.probe_step, s.build_step, s.config) if s else None

    def title_note(self) -> str:
        s = self.snap
        if s is None or not s.stale(s.probe_step):
            return ""
        return f"from step {s.probe_step:,}"  # measured on the network before the last rebuild
