"""What every mode's screen shares: the chrome (status line, views line, alerts, key bar), the layouts for the
terminal's size, the selected entry and the one choice of rows that every panel shows, and the routing of a
source's updates. A mode is a subclass: LiveScreen, CompareScreen, ReplayScreen."""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Static

from ...doctor import Alert, Doctor
from ...engine import Config, Snapshot
from ...source import Capabilities, Command, Problem, SourceState, Update, why_not
from ..draw import RowWindow, axis_noun, choose_rows
from ..history import History
from ..keys import Key, action_needs, every_key
from ..widgets.activations import ActivationStrips, LayerHistogram
from ..widgets.base import Panel, PanelView
from ..widgets.boundary import BoundaryPanel
from ..widgets.flow import GradientFlow
from ..widgets.gates import GatesPanel
from ..widgets.heatmap import GradientHeatmap
from ..widgets.losschart import LossChart
from ..widgets.status import AlertsLine, KeyBar, StatusBar, StatusView
from ..widgets.units import UnitsPanel

if TYPE_CHECKING:
    from ..app import GradTUI

VIEWS = ["flow", "heatmap", "activations", "units", "loss", "boundary"]
VIEW_NAMES = ["Flow", "History", "Activations", "Units", "Loss", "Boundary"]
TIME_VIEWS = [*VIEWS[:5], "gates"]  # a recurrent run: the gates in the decision boundary's place
TIME_VIEW_NAMES = [*VIEW_NAMES[:5], "Gates"]
COMPACT_W, COMPACT_H = 110, 34  # below either, one panel at a time
MIN_W, MIN_H = 60, 16  # below either, only a message
PAIR_H = 30  # compact, but this high: the first view shows the flow and its history
MIN_BOTTOM = 10  # the loss chart and the boundary keep this many lines when the rows above grow to list every entry
# the grid rows that list entries, by their panels: the flow and its history; the activation strips and the units
ENTRY_ROWS = (("flow", "heatmap"), ("strips", "units"))


VIEW_SHORT = {"History": "Hist", "Activations": "Acts", "Boundary": "Bound"}  # the views line's short names


def views_line(time: bool, current: int | None, width: int) -> Text:
    """The views line: `` 1 Flow  2 History …`` with the current view reversed. Where it does not fit it shortens
    by rule, never by cropping: first every name to its short form (History → Hist), then the names of the
    other views go (their numbers stay), then the current view's name too."""
    names = TIME_VIEW_NAMES if time else VIEW_NAMES
    short = [VIEW_SHORT.get(n, n) for n in names]
    stages = [
        names,
        short,
        [n if k == current else "" for k, n in enumerate(short)],
        [""] * len(names),
    ]
    for labels in stages:
        parts = [f" {k + 1} {n} " if n else f" {k + 1} " for k, n in enumerate(labels)]
        if sum(map(len, parts)) <= width or labels is stages[-1]:
            break
    out = Text(no_wrap=True, overflow="crop")
    for k, part in enumerate(parts):
        out.append(part, style="reverse" if k == current else "")
    return out


class Refused(Exception):
    """An action that cannot be done here; its message says why (shown in the alerts line, with a bell)."""


def guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """An entry point into gradtui's code from Textual (an action, a timer, a message): an exception in it is a
    crash, reported in one line with a crash log (GradTUI.crash), never a traceback over the dashboard."""

    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def awrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                _gate(self, method.__name__)
                return await method(self, *args, **kwargs)
            except Refused as e:
                self.action_unavailable(str(e))
                return None
            except Exception as e:  # noqa: BLE001 - the whole point
                self.app.crash(e, traceback.format_exc())
                return None

        return awrapper

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            _gate(self, method.__name__)
            return method(self, *args, **kwargs)
        except Refused as e:
            self.action_unavailable(str(e))
            return None
        except Exception as e:  # noqa: BLE001 - the whole point
            self.app.crash(e, traceback.format_exc())
            return None

    return wrapper


def _gate(screen: Any, method: str) -> None:
    """Before a key's action: refuse it (Refused, in words) if the source lacks the capability it needs."""
    if method.startswith("action_") and isinstance(screen, DashboardScreen):
        why = screen.why_not_now(method.removeprefix("action_"))
        if why:
            raise Refused(why)


class PanelsGrid(Container):
    """The six views of one run: gradient flow, history, activations (strips + selected layer), units, loss,
    decision boundary -- or, for a recurrent run (axis "time"), the gates in its place."""

    def compose(self) -> ComposeResult:
        yield GradientFlow(id="flow").add_class("panel", "view")
        yield GradientHeatmap(id="heatmap").add_class("panel", "view")
        with Container(id="activations", classes="view"):
            yield ActivationStrips(id="strips").add_class("panel")
            yield LayerHistogram(id="layerhist").add_class("panel")
        yield UnitsPanel(id="units").add_class("panel", "view")
        yield LossChart(id="loss").add_class("panel", "view")
        yield BoundaryPanel(id="boundary").add_class("panel", "view")
        gates = GatesPanel(id="gates").add_class("panel", "view")
        gates.display = False  # until a recurrent run's snapshot comes (DashboardScreen.show_axis)
        yield gates


class DashboardScreen(Screen):
    """The base of the modes. Subclasses set MODE, KEYS and BINDINGS, compose ``main()``, and handle snapshots."""

    MODE: ClassVar[str] = "live"
    KEYS: ClassVar[list[Key]] = []

    def __init__(self) -> None:
        super().__init__()
        self.selected = 0
        self.rows_window = RowWindow()  # the contiguous window of rows the panels show (see windowed)
        self.rows_paged = False  # has the user paged through the layers (then they see a window, not a spread)?
        self.view: int | None = None  # zoomed panel (large terminals)
        self.compact_view = 0  # the panel shown (compact terminals)
        self._term = (0, 0)
        self.compact = False
        self.snap: Snapshot | None = None
        self.alerts: list[Alert] = []

    @property
    def gapp(self) -> GradTUI:
        return self.app  # type: ignore[return-value]

    # ---- composition ---------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="views")
        yield from self.main()
        yield Static(id="too-small")
        yield AlertsLine(id="alerts")
        yield KeyBar(id="keybar")

    def main(self) -> ComposeResult:
        yield PanelsGrid(id="panels")

    @property
    def panels(self) -> list[Panel]:
        """The panels of this mode (not the one the sixth view hides: the boundary or the gates)."""
        return [p for p in self.query(Panel) if p.display]

    def on_mount(self) -> None:
        self._layout_for(self.app.size.width, self.app.size.height)
        self.refresh_chrome()

    def on_resize(self, event: Any) -> None:
        self._layout_for(event.size.width, event.size.height)
        if self.snap is not None:
            self.redraw()
            # and again once the layout has the new size: what fits (SingleRunScreen.fit_grid) is read off the panels,
            # which may not have been laid out yet when the screen hears of the resize
            self.call_after_refresh(self.redraw)

    def _layout_for(self, width: int, height: int) -> None:
        self._term = (width, height)
        tiny = width < MIN_W or height < MIN_H
        compact = not tiny and (width < COMPACT_W or height < COMPACT_H)
        self.compact = compact
        self.set_class(tiny, "-tiny")
        self.set_class(compact, "-compact")
        self.query_one("#too-small", Static).update(
            f"The terminal is too small ({width}×{height}).\nThe dashboard needs at least {MIN_W}×{MIN_H}."
        )
        self.show_view()

    def show_view(self) -> None:
        compact = self.has_class("-compact")
        current = self.compact_view if compact else self.view
        self.set_class(not compact and self.view is not None, "-zoom")
        pair = compact and current == 0 and self._term[1] >= PAIR_H
        self.set_class(pair, "-pair")
        time = self.has_class("-time")
        for k, name in enumerate(TIME_VIEWS if time else VIEWS):
            for w in self.query(f"#{name}"):
                w.set_class(k == current or (pair and k == 1), "-zoomed")
        self.query_one("#views", Static).update(views_line(time, current, self._term[0]))

    def show_axis(self, snap: Snapshot) -> None:
        """A recurrent run's sixth view is its gates, an MLP's its decision boundary: the other one is hidden (an
        inline style), the shown one left to the stylesheet's rules for the layouts."""
        time = snap.axis == "time"
        if time == self.has_class("-time"):
            return
        self.set_class(time, "-time")
        shown, hidden = (GatesPanel, BoundaryPanel) if time else (BoundaryPanel, GatesPanel)
        for panel in self.query(hidden):
            panel.display = False
        for panel in self.query(shown):
            panel.styles.clear_rule("display")
        self.show_view()

    # ---- what every panel shows ---------------------------------------------------------------------------------
    def choose_rows(self, n: int, marks: frozenset[int]) -> tuple[int, ...] | None:
        """One choice of entries for every visible panel that lists them: as many as fit in the smallest of them;
        the first, the last, the selected one and those an alert names always among them."""
        capacities = [
            p.capacity(p.content_size.height)
            for p in self.panels
            if p.LISTS_ENTRIES and p.display and p.region.width > 0 and p.content_size.height > 0
        ]
        if not capacities:
            return None
        must = [self.selected, *sorted(marks), 0, n - 1]
        if self.windowed(self.snap):  # a window around the selection, the others pinned
            return tuple(self.rows_window.choose(n, min(capacities), self.selected, must[1:]))
        snap, prefer = self.snap, None
        if snap is not None and snap.axis == "time" and len(snap.entries) == n:
            prefer = [i for i, e in enumerate(snap.entries) if e.hist is not None]  # steps with histograms first
        return tuple(choose_rows(n, min(capacities), must, prefer=prefer))

    def windowed(self, snap: Snapshot | None) -> bool:
        """Do the panels show a contiguous window of rows (scrolled by PgUp/PgDn) rather than a spread? For named
        modules, whose neighbours belong together (a block's fc1, fc2, norm); for layers only once the user pages:
        a spread over the depth shows the gradient's decay from the last layer to the first at a glance."""
        return snap is not None and (snap.axis == "module" or (snap.axis == "layer" and self.rows_paged))

    def panel_view(self, snap: Snapshot, history: History, **kw: Any) -> PanelView:
        # the doctor's index is 1-based along the axis; the panels' rows are 0-based
        marks = frozenset(a.index - 1 for a in self.alerts if a.index is not None and 0 < a.index <= len(snap.entries))
        return PanelView(
            snap=snap,
            history=history,
            selected=min(self.selected, len(snap.entries) - 1),
            rows=(rows := self.choose_rows(len(snap.entries), marks)),
            window=(self.rows_window.top, self.rows_window.length) if rows and self.windowed(snap) else None,
            palette=self.gapp.palette,
            marks=marks,
            **kw,
        )

    def redraw(self) -> None:
        """Draw the current snapshot again (after a resize, a new selection)."""

    # ---- updates from the source ---------------------------------------------------------------------------------
    @guarded
    def take_update(self, update: Update) -> None:
        for p in update.problems:
            self.problem(p)
        self.take(update)
        self.refresh_chrome()

    def take(self, update: Update) -> None:
        """Show the update's snapshots (subclasses)."""

    def problem(self, p: Problem) -> None:
        self.query_one(AlertsLine).say(p.text, p.level)

    def say(self, text: str, level: str = "warning") -> None:
        self.query_one(AlertsLine).say(text, level)

    def refresh_chrome(self) -> None:
        self.query_one(StatusBar).show(self.status_view())
        self.query_one(KeyBar).show(self.bar_keys())

    def status_view(self) -> StatusView:
        return StatusView(
            self.desired_config(), self.snap, self.source_state(), self.mode_name, self.status_note(), self.caps
        )

    @property
    def caps(self) -> Capabilities:
        """What the source can do: every key's refusal, the key bar and the status line follow from it."""
        return self.gapp.source.capabilities

    @property
    def mode_name(self) -> str:
        """The mode, in a word, for the status line and the help screen."""
        return self.MODE

    def desired_config(self) -> Config | None:
        return self.snap.config if self.snap is not None else None

    def source_state(self) -> SourceState:
        return self.gapp.source.state()

    def status_note(self) -> str:
        return ""

    def bar_keys(self) -> list[Key]:
        return [k for k in self.KEYS + _common() if not why_not(self.caps, k.need) and self.applies(k)]

    def why_not_now(self, action: str) -> str:
        """Why the key action ``action`` (a method name) cannot be done now, in words; "" if it can. From the
        source's capabilities: a key that changes the run needs a source that can change, and so on."""
        need = _action_needs().get(action, "")
        why = why_not(self.caps, need) if need else ""
        if why or need not in ("change", "fork") or action == "reset":
            return why
        state = self.source_state()
        if self.caps.can_change and not state.alive:  # a trainer that died: ctrl+r starts a new one
            return "the trainer is not running: ctrl+r starts a new one"
        return ""

    def other_mode(self, key: Key) -> str:
        """Why ``key``, a key of another mode, does nothing in this one (subclasses say it for their mode)."""
        return f"{key.shown} does nothing in {self.mode_name} mode (? lists this mode's keys)"

    @guarded
    def action_why_not(self, action: str) -> None:
        """A key of another mode: say why it does nothing here."""
        key = next((k for k in every_key() if k.action == action), None)
        if key is None:
            self.action_unavailable("that key does nothing here")
            return
        self.action_unavailable(why_not(self.caps, key.need) or self.other_mode(key))

    def applies(self, key: Key) -> bool:
        """Does ``key`` do something now (for the key bar)?"""
        return True

    def send(self, command: Command) -> None:
        self.gapp.source.send(command)

    # ---- actions every mode has ------------------------------------------------------------------------------
    @guarded
    def action_select(self, delta: int) -> None:
        s = self.snap
        n = len(s.entries) if s is not None else 1
        if s is not None and s.axis == "time":  # through time: from one step with histograms to the next
            kept = [i for i, e in enumerate(s.entries) if e.hist is not None]
            ahead = [i for i in kept if (i - self.selected) * delta > 0]
            if ahead:
                self.selected = min(ahead) if delta > 0 else max(ahead)
                self.redraw()
                return
        self.selected = max(0, min(n - 1, self.selected + delta))
        self.redraw()

    @guarded
    def action_page(self, delta: int) -> None:
        """PageUp/PageDown: the window of rows, and the selected entry with it, one window's length up or down."""
        s = self.snap
        if s is None or not s.entries:
            raise Refused("nothing to scroll yet")
        if s.axis == "time":
            raise Refused("a recurrent run's rows are spread over time: ↑/↓ move between its steps, / finds one")
        if self.rows_window.length >= len(s.entries) and self.windowed(s):
            raise Refused(f"all {len(s.entries)} {axis_noun(s.axis)} fit: nothing to scroll")
        if not self.windowed(s):  # the first page: from the spread to a window around the selection
            self.rows_paged = True
            if self.choose_rows(len(s.entries), frozenset()) is None or self.rows_window.length >= len(s.entries):
                self.rows_paged = False
                raise Refused(f"all {len(s.entries)} {axis_noun(s.axis)} fit: nothing to scroll")
        self.selected = self.rows_window.page(self.selected, delta)
        self.redraw()

    @guarded
    def action_find(self) -> None:
        """/: select an entry by (part of) its name."""
        from .find import FindScreen

        s = self.snap
        if s is None or not s.entries:
            raise Refused("nothing to select yet: no snapshot")

        def chosen(name: str | None) -> None:
            now = self.snap
            if name is None or now is None:
                return
            names = [e.name for e in now.entries]
            if name not in names:
                self.say(f"{name} is no longer an entry of this run")
                return
            self.selected = names.index(name)
            e = now.entries[self.selected]
            if now.axis == "time" and e.hist is None:
                self.say(f"{name} selected: no histograms were kept at this step (↑/↓: the steps that have one)")
            self.redraw()

        self.app.push_screen(FindScreen([e.name for e in s.entries], axis_noun(s.axis)), chosen)

    @guarded
    def action_view(self, k: int) -> None:
        if self.has_class("-compact"):
            self.compact_view = k
        else:
            self.view = None if self.view == k else k
        self.show_view()
        self.call_after_refresh(self.redraw)  # the panels' sizes change: choose their rows again

    def action_save_svg(self) -> None:
        self.gapp.action_save_svg()

    def action_help(self) -> None:
        from .modals import HelpScreen

        self.app.push_screen(HelpScreen(self.MODE))

    def action_quit(self) -> None:
        self.app.exit()

    def action_unavailable(self, why: str) -> None:
        """A key that does nothing in this mode says why."""
        self.app.bell()
        self.say(why, "warning")

    def action_command_palette(self) -> None:
        self.app.action_command_palette()


class SingleRunScreen(DashboardScreen):
    """A mode that shows one run in the six views (live, replay, watch): its history and doctor, and one redraw."""

    def __init__(self) -> None:
        super().__init__()
        self.history = History()
        self.doctor = new_doctor()
        self._grid_rows: str | None = None  # the grid's rows when fitted to the entries (None: the stylesheet's)

    def fit_grid(self, n: int) -> None:
        """The top two grid rows, where a third of the grid cannot list all ``n`` entries, as tall as their panels need
        for them, if the bottom row keeps MIN_BOTTOM lines (a 10-layer network at 140x44: every layer instead of 9 of
        10); otherwise, and in the zoomed and compact layouts, the stylesheet's equal thirds. When that changes, the
        rows are chosen again after the new layout (``choose_rows`` reads the panels' sizes)."""
        grids = self.query(PanelsGrid)
        if not grids:
            return
        grid = grids.first()
        rows = None
        height = grid.content_size.height
        if not any(self.has_class(c) for c in ("-compact", "-zoom", "-tiny")) and height > 0:
            need = []
            for ids in ENTRY_ROWS:  # a row grows past its third only; a shallow network keeps the thirds
                tallest = height // 3
                for name in ids:
                    p = self.query_one(f"#{name}", Panel)
                    chrome = p.outer_size.height - p.content_size.height  # border and padding
                    content = next((h for h in range(n, n + 16) if p.capacity(h) >= n), n + 16)
                    tallest = max(tallest, content + chrome)
                need.append(tallest)
            if max(need) > height // 3 and sum(need) + MIN_BOTTOM <= height:
                rows = " ".join(str(h) for h in need) + " 1fr"
        if rows == self._grid_rows:
            return
        self._grid_rows = rows
        if rows is None:
            grid.styles.clear_rule("grid_rows")
        else:
            grid.styles.grid_rows = rows
        grid.styles.refresh(layout=True, children=True)  # what setting the rule does; clearing it does not
        self.call_after_refresh(self.redraw)

    def redraw(self) -> None:
        snap = self.snap
        if snap is None:
            return
        self.fit_grid(len(snap.entries))
        view = self.panel_view(snap, self.history)
        with self.app.batch_update():
            queued = 0  # busy panels due now: the first is drawn, the others follow one by one (Panel.show)
            for panel in self.panels:
                queued += panel.show(view, queued)
            self.query_one(AlertsLine).show(self.alerts)
            self.refresh_chrome()


@functools.cache
def _action_needs() -> dict[str, str]:
    return action_needs()


def _common() -> list[Key]:
    from ..keys import COMMON

    return COMMON


def new_doctor() -> Doctor:
    return Doctor()
