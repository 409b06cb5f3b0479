"""The dashboard: composition, bindings and routing only. Panel logic lives in the panels (widgets/)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..engine import ACTIVATIONS, Change, Config, ConfigError, Snapshot
from ..engine.data import available_datasets
from ..engine.optim import OPTIMISERS
from ..session import Session
from .history import History
from .screens import ActivationPicker, HelpScreen
from .widgets.activations import ActivationStrips, LayerHistogram
from .widgets.base import Panel
from .widgets.boundary import BoundaryPanel
from .widgets.flow import GradientFlow
from .widgets.heatmap import GradientHeatmap
from .widgets.losschart import LossChart
from .widgets.status import AlertsLine, StatusBar
from .widgets.units import UnitsPanel

DEPTHS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100]
LRS = [k * 10.0**e for e in range(-5, 3) for k in (1, 2, 5)]
INITS = ["he", "he_uniform", "xavier", "xavier_uniform", "lecun", "orthogonal", "normal:1.0", "normal:0.01"]
VIEWS = ["flow", "heatmap", "activations", "units", "loss", "boundary"]
VIEW_NAMES = ["Flow", "History", "Activations", "Units", "Loss", "Boundary"]
COMPACT_W, COMPACT_H = 110, 34  # below either, one panel at a time
MIN_W, MIN_H = 60, 16  # below either, only a message


def _step_through(values: list, current, direction: int):
    """The next value of ``values`` above (direction > 0) or below ``current``; ``current`` need not be in it."""
    if direction > 0:
        return next((v for v in values if v > current * (1 + 1e-9)), None)
    return next((v for v in reversed(values) if v < current * (1 - 1e-9)), None)


def _cycle(values: list, current, direction: int):
    i = values.index(current) if current in values else -1
    return values[(i + direction) % len(values)]


class GradTUI(App):
    CSS_PATH = "gradtui.tcss"
    TITLE = "gradtui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "activation(1)", "Activation", tooltip="Next activation function"),
        Binding("A", "activation(-1)", "Prev act.", show=False),
        Binding("p", "pick", "Pick act.", show=False, tooltip="Choose an activation from the list"),
        Binding("plus,equals_sign", "depth(1)", "Deeper", key_display="+"),
        Binding("minus", "depth(-1)", "Shallower", key_display="-"),
        Binding("right_square_bracket", "width(1)", "Wider", key_display="]"),
        Binding("left_square_bracket", "width(-1)", "Narrower", key_display="["),
        Binding("i", "init(1)", "Init"),
        Binding("I", "init(-1)", "Prev init", show=False),
        Binding("b", "toggle('batchnorm')", "BatchNorm"),
        Binding("r", "toggle('residual')", "Residual"),
        Binding("o", "optimizer", "Optimizer"),
        Binding("l", "lr(1)", "LR up"),
        Binding("L", "lr(-1)", "LR down"),
        Binding("d", "dataset", "Dataset"),
        Binding("space", "pause", "Pause"),
        Binding("n", "step", "Step", show=False),
        Binding("ctrl+r", "reset", "Reset", show=False),
        Binding("up", "select(1)", "Layer up", show=False),
        Binding("down", "select(-1)", "Layer down", show=False),
        *[Binding(str(k + 1), f"view({k})", VIEW_NAMES[k], show=False) for k in range(len(VIEWS))],
        Binding("s", "save_svg", "Screenshot", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, session: Session, *, fps: float = 10.0, config: Config | None = None) -> None:
        super().__init__()
        self.session = session
        self.fps = fps
        self.config = config if config is not None else session.config  # what the user asked for
        self.snap: Snapshot | None = None
        self.history = History()
        self.selected = 0
        self.view: int | None = None  # zoomed panel (large terminals), or the panel shown (compact)
        self.compact_view = 0
        self.paused = False
        self._waiters: list[tuple[Callable[[Snapshot], bool], asyncio.Future]] = []

    # ---- composition ---------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="views")
        with Container(id="panels"):
            yield GradientFlow(id="flow").add_class("panel", "view")
            yield GradientHeatmap(id="heatmap").add_class("panel", "view")
            with Container(id="activations", classes="view"):
                yield ActivationStrips(id="strips").add_class("panel")
                yield LayerHistogram(id="layerhist").add_class("panel")
            yield UnitsPanel(id="units").add_class("panel", "view")
            yield LossChart(id="loss").add_class("panel", "view")
            yield BoundaryPanel(id="boundary").add_class("panel", "view")
        yield Static(id="too-small")
        yield AlertsLine(id="alerts")
        yield Footer()

    @property
    def panels(self) -> list[Panel]:
        return list(self.query(Panel))

    def on_mount(self) -> None:
        self._layout_for(self.size.width, self.size.height)
        self.query_one(StatusBar).show(self.config, None)
        self.set_interval(1.0 / self.fps, self.poll)
        self.session.set_hz(self.fps)

    def on_resize(self, event) -> None:
        self._layout_for(event.size.width, event.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        screen = self.screen
        tiny = width < MIN_W or height < MIN_H
        compact = not tiny and (width < COMPACT_W or height < COMPACT_H)
        screen.set_class(tiny, "-tiny")
        screen.set_class(compact, "-compact")
        self.query_one("#too-small", Static).update(
            f"The terminal is too small ({width}×{height}).\nThe dashboard needs at least {MIN_W}×{MIN_H}."
        )
        self._show_view()

    def _show_view(self) -> None:
        compact = self.screen.has_class("-compact")
        current = self.compact_view if compact else self.view
        self.screen.set_class(not compact and self.view is not None, "-zoom")
        for k, name in enumerate(VIEWS):
            self.query_one(f"#{name}").set_class(k == current, "-zoomed")
        views = self.query_one("#views", Static)
        parts = [f"[reverse] {k + 1} {n} [/]" if k == current else f" {k + 1} {n} " for k, n in enumerate(VIEW_NAMES)]
        views.update("".join(parts))

    # ---- snapshots in --------------------------------------------------------------------------------------------
    def poll(self) -> None:
        snap, problems = self.session.poll()
        for p in problems:
            self.query_one(AlertsLine).say(p.text, "error")
            if self.snap is not None:
                self.config = self.snap.config  # a refused change: show what is really running
        if snap is not None:
            self.show_snapshot(snap)

    def show_snapshot(self, snap: Snapshot) -> None:
        """Route one snapshot to every panel (each redraws only if what it draws changed)."""
        first = self.snap is None
        prev = self.snap
        self.snap = snap
        if prev is not None and prev.config != snap.config and snap.config == self.config:
            self.query_one(AlertsLine).say("")  # the change went through: clear an old message
        if first:
            self.config = snap.config
        self.paused = snap.paused and snap.diverged is None and self.paused
        self.selected = min(self.selected, len(snap.layers) - 1)
        self.history.add(snap)
        with self.batch_update():
            for panel in self.panels:
                panel.show(snap, self.history, self.selected)
            self.query_one(StatusBar).show(self.config, snap)
            self.query_one(AlertsLine).show(snap)
        for pred, fut in list(self._waiters):
            if not fut.done() and pred(snap):
                fut.set_result(snap)
                self._waiters.remove((pred, fut))

    async def wait_for_snapshot(self, predicate: Callable[[Snapshot], bool] = lambda s: True) -> Snapshot:
        """Resolve when a snapshot satisfying ``predicate`` has been shown (for tests and scripts)."""
        if self.snap is not None and predicate(self.snap):
            return self.snap
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, fut))
        return await fut

    # ---- changes out ---------------------------------------------------------------------------------------------
    def change(self, field: str, value: Any) -> None:
        """Validate locally (instant feedback, one-line errors), show the desired config, send it to the trainer."""
        try:
            self.config = self.config.replace(**{field: value})
        except ConfigError as e:
            self.query_one(AlertsLine).say(str(e), "warning")
            return
        self.session.apply(Change(field, value))
        self.query_one(StatusBar).show(self.config, self.snap)

    def action_activation(self, direction: int) -> None:
        self.change("activation", _cycle(list(ACTIVATIONS), self.config.activation, direction))

    def action_pick(self) -> None:
        def chosen(name: str | None) -> None:
            if name:
                self.change("activation", name)

        self.push_screen(ActivationPicker(self.config.activation), chosen)

    def action_depth(self, direction: int) -> None:
        value = _step_through(DEPTHS, self.config.depth, direction)
        if value is not None:
            self.change("depth", value)

    def action_width(self, direction: int) -> None:
        value = self.config.width * 2 if direction > 0 else self.config.width // 2
        if 1 <= value <= 1024:
            self.change("width", value)

    def action_init(self, direction: int) -> None:
        self.change("init", _cycle(INITS, self.config.init, direction))

    def action_toggle(self, field: str) -> None:
        self.change(field, not getattr(self.config, field))

    def action_optimizer(self) -> None:
        self.change("optimizer", _cycle(list(OPTIMISERS), self.config.optimizer, 1))

    def action_lr(self, direction: int) -> None:
        value = _step_through(LRS, self.config.lr, direction)
        if value is not None:
            self.change("lr", float(f"{value:.3g}"))

    def action_dataset(self) -> None:
        self.change("dataset", _cycle(available_datasets(), self.config.dataset, 1))

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.session.pause(self.paused)

    def action_step(self) -> None:
        if not self.paused:
            self.paused = True
            self.session.pause(True)
        self.session.step_once()

    def action_reset(self) -> None:
        self.session.apply(Change("reset"))

    def action_select(self, delta: int) -> None:
        depth = len(self.snap.layers) if self.snap else self.config.depth
        self.selected = max(0, min(depth - 1, self.selected + delta))
        if self.snap is not None:
            for panel in self.panels:
                panel.show(self.snap, self.history, self.selected)

    def action_view(self, k: int) -> None:
        if self.screen.has_class("-compact"):
            self.compact_view = k
        else:
            self.view = None if self.view == k else k
        self._show_view()

    def action_save_svg(self) -> None:
        step = self.snap.step if self.snap else 0
        path = self.save_screenshot(f"gradtui-step{step}.svg")
        self.notify(f"saved {path}", title="Screenshot")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        for b in self.BINDINGS:
            if isinstance(b, Binding) and b.action not in ("quit",):
                title = b.tooltip or b.description
                yield SystemCommand(title, f"key: {b.key_display or b.key}", lambda a=b.action: self.run_action(a))

    def on_unmount(self) -> None:
        self.session.close()


def run_app(config: Config, *, fps: float = 10.0, color: str = "auto", mode: str = "process") -> int:
    """Start the trainer (a process, before Textual starts: see shared/style.md), then the dashboard."""
    session = Session(config, mode=mode, hz=min(fps, 10.0) if math.isfinite(fps) else 10.0).start()
    try:
        GradTUI(session, fps=fps, config=config).run()
    finally:
        session.close()
    return 0
