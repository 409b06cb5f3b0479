"""What every mode's screen shares: the chrome (status line, views line, alerts, key bar), the layouts for the
terminal's size, the selected entry and the one choice of rows that every panel shows, and the routing of a
source's updates. A mode is a subclass: LiveScreen, CompareScreen, ReplayScreen."""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Static

from ...doctor import Alert, Doctor
from ...engine import Config, Snapshot
from ...source import Command, Problem, SourceState, Update
from ..draw import choose_rows
from ..history import History
from ..keys import Key
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


class Refused(Exception):
    """An action that cannot be done here; its message says why (shown in the alerts line, with a bell)."""


def guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """An entry point into gradtui's code from Textual (an action, a timer, a message): an exception in it is a
    crash, reported in one line with a crash log (GradTUI.crash), never a traceback over the dashboard."""

    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def awrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
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
            return method(self, *args, **kwargs)
        except Refused as e:
            self.action_unavailable(str(e))
            return None
        except Exception as e:  # noqa: BLE001 - the whole point
            self.app.crash(e, traceback.format_exc())
            return None

    return wrapper


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
        names = TIME_VIEW_NAMES if time else VIEW_NAMES
        parts = [f"[reverse] {k + 1} {n} [/]" if k == current else f" {k + 1} {n} " for k, n in enumerate(names)]
        self.query_one("#views", Static).update("".join(parts))

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
        snap = self.snap
        prefer = None
        if snap is not None and snap.axis == "time" and len(snap.entries) == n:
            prefer = [i for i, e in enumerate(snap.entries) if e.hist is not None]  # steps with histograms first
        return tuple(choose_rows(n, min(capacities), must, prefer=prefer))

    def panel_view(self, snap: Snapshot, history: History, **kw: Any) -> PanelView:
        # the doctor's index is 1-based along the axis; the panels' rows are 0-based
        marks = frozenset(a.index - 1 for a in self.alerts if a.index is not None and 0 < a.index <= len(snap.entries))
        return PanelView(
            snap=snap,
            history=history,
            selected=min(self.selected, len(snap.entries) - 1),
            rows=self.choose_rows(len(snap.entries), marks),
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
        return StatusView(self.desired_config(), self.snap, self.source_state(), self.MODE, self.status_note())

    def desired_config(self) -> Config | None:
        return self.snap.config if self.snap is not None else None

    def source_state(self) -> SourceState:
        return self.gapp.source.state()

    def status_note(self) -> str:
        return ""

    def bar_keys(self) -> list[Key]:
        return [k for k in self.KEYS + _common() if self.applies(k)]

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

        self.app.push_screen(HelpScreen(self.MODE if self.MODE != "watch" else "replay"))

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

    def redraw(self) -> None:
        snap = self.snap
        if snap is None:
            return
        view = self.panel_view(snap, self.history)
        with self.app.batch_update():
            for panel in self.panels:
                panel.show(view)
            self.query_one(AlertsLine).show(self.alerts)
            self.refresh_chrome()


def _common() -> list[Key]:
    from ..keys import COMMON

    return COMMON


def new_doctor() -> Doctor:
    return Doctor()
