"""The dashboard: composition, bindings and routing only. Panel logic lives in the panels (widgets/)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..engine import ACTIVATIONS, Change, Config, ConfigError, Snapshot
from ..engine.data import available_datasets
from ..engine.optim import OPTIMISERS
from ..record import Recorder
from ..replay import ReplaySession
from ..session import Session
from .fmt import decade_range, log10
from .history import History
from .screens import ActivationPicker, HelpScreen
from .widgets.activations import ActivationStrips, LayerHistogram
from .widgets.base import Panel
from .widgets.boundary import BoundaryPanel
from .widgets.compare import RUN_NAMES, CompareDiff, CompareLoss, run_label
from .widgets.flow import GradientFlow
from .widgets.heatmap import GradientHeatmap, visible_range
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
PAIR_H = 30  # compact, but this high: the first view shows the flow and its history


def shared_scale(snaps: tuple[Snapshot, ...], histories: list[History]) -> tuple[float, float]:
    """The log10 range (whole decades) covering every run's gradients, now and in the visible history."""
    ranges = [visible_range(list(h.points)[-400:]) for h in histories if h.points]
    now = [log10(layer.grad_norm) for s in snaps for layer in s.layers]
    lo_now, hi_now = decade_range(now)
    lo = min([lo_now, *(r[0] for r in ranges)])
    hi = max([hi_now, *(r[1] for r in ranges)])
    return float(lo), float(hi)


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
        Binding("A", "activation(-1)", "Prev act.", show=False, tooltip="Previous activation function"),
        Binding("p", "pick", "Pick act.", show=False, tooltip="Choose an activation from the list"),
        Binding("plus,equals_sign", "depth(1)", "Deeper", key_display="+"),
        Binding("minus", "depth(-1)", "Shallower", key_display="-"),
        Binding("right_square_bracket", "width(1)", "Wider", key_display="]"),
        Binding("left_square_bracket", "width(-1)", "Narrower", key_display="["),
        Binding("i", "init(1)", "Init", tooltip="Next weight initialiser"),
        Binding("I", "init(-1)", "Prev init", show=False, tooltip="Previous weight initialiser"),
        Binding("b", "toggle('batchnorm')", "BatchNorm"),
        Binding("r", "toggle('residual')", "Residual"),
        Binding("o", "optimizer", "Optimizer"),
        Binding("l", "lr(1)", "LR up", tooltip="Learning rate up (1-2-5 steps)"),
        Binding("L", "lr(-1)", "LR down", tooltip="Learning rate down (1-2-5 steps)"),
        Binding("d", "dataset", "Dataset"),
        Binding("space", "pause", "Pause"),
        Binding("n", "step", "Step", show=False),
        Binding("ctrl+r", "reset", "Reset", show=False, tooltip="Reset: rebuild the network from the seed"),
        Binding("up", "select(1)", "Layer up", show=False),
        Binding("down", "select(-1)", "Layer down", show=False),
        *[Binding(str(k + 1), f"view({k})", VIEW_NAMES[k], show=False) for k in range(len(VIEWS))],
        Binding("f", "fork", "Fork twin", tooltip="Fork the run into a twin (compare side by side)"),
        Binding("F", "unfork", "Unfork", show=False, tooltip="Back to one run (the selected twin)"),
        Binding("t", "target", "Next twin", show=False, tooltip="Select which twin the keys change"),
        Binding("P", "pause_all", "Pause all", show=False),
        Binding("R", "record", "Record", show=False, tooltip="Start/stop recording the snapshots to a .jsonl file"),
        Binding("right", "seek(1)", "Step →", show=False),
        Binding("left", "seek(-1)", "← Step", show=False),
        Binding("home", "seek_to(0)", "Start", show=False),
        Binding("end", "seek_to(-1)", "End", show=False),
        Binding("e", "event(1)", "Next event", show=False),
        Binding("E", "event(-1)", "Prev event", show=False),
        Binding("greater_than_sign", "speed(1)", "Faster", show=False, key_display=">"),
        Binding("less_than_sign", "speed(-1)", "Slower", show=False, key_display="<"),
        Binding("s", "save_svg", "Screenshot", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, session: Session | ReplaySession, *, fps: float = 10.0, config: Config | None = None) -> None:
        super().__init__()
        self.session = session
        self.fps = fps
        self.replay = session if isinstance(session, ReplaySession) else None
        self.run_configs: list[Config] = list(session.configs)  # what the user asked for, per run
        if config is not None:
            self.run_configs[0] = config
        self.target = 0  # the run that keys change (compare mode)
        self.snap: Snapshot | None = None
        self.snaps: tuple[Snapshot, ...] = ()
        self.history = History()
        self.histories = [History() for _ in self.run_configs]
        self.selected = 0
        self.view: int | None = None  # zoomed panel (large terminals), or the panel shown (compact)
        self.compact_view = 0
        self._term_height = 0
        self.paused = False
        self.recorder: Recorder | None = None
        self._waiters: list[tuple[Callable[[Snapshot], bool], asyncio.Future]] = []

    @property
    def compare(self) -> bool:
        return len(self.run_configs) > 1

    @property
    def config(self) -> Config:
        return self.run_configs[self.target]

    @config.setter
    def config(self, value: Config) -> None:
        self.run_configs[self.target] = value

    # ---- composition ---------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="views")
        if self.compare:
            with Horizontal(id="runs"):
                for i in range(len(self.run_configs)):
                    with Vertical(classes="run" + (" -target" if i == self.target else ""), id=f"run-{i}"):
                        yield Static(run_label(i, None), classes="run-title")
                        yield GradientFlow(id=f"flow-{i}").add_class("panel")
                        yield GradientHeatmap(id=f"heatmap-{i}").add_class("panel")
            with Horizontal(id="compare-bottom"):
                yield CompareLoss(id="compare-loss").add_class("panel")
                yield CompareDiff(id="compare-diff").add_class("panel")
        else:
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
        self._term_height = height  # (self.size may not have caught up yet during a resize)
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
        if self.compare:  # twins in a small terminal: each run's flow, and the difference table
            cramped = self.screen.has_class("-compact")
            self.screen.set_class(False, "-zoom")
            self.screen.set_class(False, "-compact")
            self.screen.set_class(cramped, "-cramped")
            return
        self.screen.set_class(False, "-cramped")
        compact = self.screen.has_class("-compact")
        current = self.compact_view if compact else self.view
        self.screen.set_class(not compact and self.view is not None, "-zoom")
        # a compact terminal with some height shows the gradient flow and its history together
        pair = compact and current == 0 and self._term_height >= PAIR_H
        self.screen.set_class(pair, "-pair")
        for k, name in enumerate(VIEWS):
            self.query_one(f"#{name}").set_class(k == current or (pair and k == 1), "-zoomed")
        views = self.query_one("#views", Static)
        parts = [f"[reverse] {k + 1} {n} [/]" if k == current else f" {k + 1} {n} " for k, n in enumerate(VIEW_NAMES)]
        views.update("".join(parts))

    # ---- snapshots in --------------------------------------------------------------------------------------------
    def poll(self) -> None:
        if not self.is_running or self._exit:  # quitting: nothing to draw any more
            return
        snaps, problems = self.session.poll_all()
        for p in problems:
            self.query_one(AlertsLine).say(p.text, "error")
            if self.snaps:
                self.run_configs = [s.config for s in self.snaps]  # a refused change: show what really runs
        if snaps is None or len(snaps) != len(self.run_configs):
            return  # none, or from before a fork/unfork that the trainer has not seen yet
        if self.compare:
            self.show_runs(snaps)
        else:
            self.show_snapshot(snaps[0])

    def _status_mode(self) -> str:
        if self.replay is not None:
            return self.replay.describe()
        parts = []
        if self.compare:
            parts.append(f"compare: keys change run {RUN_NAMES[self.target]}")
        if self.recorder is not None:
            parts.append(f"● REC {self.recorder.lines}")
        return "  ".join(parts) or "live"

    def show_snapshot(self, snap: Snapshot) -> None:
        """Route one snapshot to every panel (each redraws only if what it draws changed)."""
        prev = self.snap
        self.snap = snap
        self.snaps = (snap,)
        if prev is not None and prev.config != snap.config and snap.config == self.config:
            self.query_one(AlertsLine).say("")  # the change went through: clear an old message
        if prev is None or self.replay is not None:
            self.config = snap.config
        if self.replay is None and (prev is None or snap.paused != prev.paused):
            self.paused = snap.paused  # the trainer may pause itself (an engine error): follow what it says
        self.selected = min(self.selected, len(snap.layers) - 1)
        if self.replay is not None:
            rebuild, passed = self.replay.history_update()
            if rebuild:
                self.history.clear()
            for s in passed:
                self.history.add(s)
        else:
            self.history.add(snap)
        if self.recorder is not None:
            self.recorder.write(snap)
        with self.batch_update():
            for panel in self.panels:
                panel.show(snap, self.history, self.selected)
            self.query_one(StatusBar).show(self.config, snap, self._status_mode())
            self.query_one(AlertsLine).show(snap)
        self._resolve(snap)

    def show_runs(self, snaps: tuple[Snapshot, ...]) -> None:
        """Compare mode: each run's column draws its own snapshot; the bottom panels draw them all."""
        first = not self.snaps
        self.snaps = snaps
        self.snap = snaps[self.target] if self.target < len(snaps) else snaps[0]
        if first:
            self.run_configs = [s.config for s in snaps]
        for i, s in enumerate(snaps[: len(self.histories)]):
            self.histories[i].add(s)
        # one log scale for every run, so that equal bars and colours mean equal gradients
        scale = shared_scale(snaps, self.histories)
        with self.batch_update():
            for i, s in enumerate(snaps):
                if i >= len(self.histories):
                    break
                try:
                    title = self.query_one(f"#run-{i} .run-title", Static)
                    text = ("▶ " if i == self.target else "  ") + run_label(i, s) + ("  ⏸" if s.paused else "")
                    if str(title.render()) != text:
                        title.update(text)
                    for panel in (self.query_one(f"#flow-{i}", Panel), self.query_one(f"#heatmap-{i}", Panel)):
                        panel.scale = scale
                        panel.show(s, self.histories[i], self.selected)
                except Exception:  # the layout is being rebuilt (fork/unfork): the next snapshot will do
                    return
            self.query_one(CompareLoss).show_runs(snaps, self.histories)
            self.query_one(CompareDiff).show_runs(snaps)
            self.query_one(StatusBar).show(self.config, self.snap, self._status_mode())
            self.query_one(AlertsLine).show(self.snap)
        self._resolve(self.snap)

    def _resolve(self, snap: Snapshot) -> None:
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
        if self.replay is not None:
            self.query_one(AlertsLine).say("this is a replay: a recording cannot be changed", "warning")
            return
        try:
            self.config = self.config.replace(**{field: value})
        except ConfigError as e:
            self.query_one(AlertsLine).say(str(e), "warning")
            return
        self.session.apply(Change(field, value), run=self.target if self.compare else None)
        self.query_one(StatusBar).show(self.config, self.snap, self._status_mode())

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
        if self.replay is not None:
            self.replay.pause(self.replay.playing)
            self._refresh_status()
            return
        if self.compare:
            paused = not (self.snaps[self.target].paused if self.target < len(self.snaps) else False)
            self.session.pause(paused, run=self.target)
            return
        self.paused = not self.paused
        self.session.pause(self.paused)

    def action_pause_all(self) -> None:
        self.paused = not self.paused
        self.session.pause(self.paused)

    def action_step(self) -> None:
        if self.replay is not None:
            self.action_seek(1)
            return
        if not self.paused and not self.compare:
            self.paused = True
            self.session.pause(True)
        self.session.step_once(run=self.target if self.compare else None)

    def action_reset(self) -> None:
        if self.replay is None:
            self.session.apply(Change("reset"), run=self.target if self.compare else None)

    # ---- compare mode ----
    async def action_fork(self) -> None:
        """Fork the run into a twin (up to 4 runs): all restart from the same seed, in lockstep; the keys then
        change the new twin, so that it differs from the others in what you change."""
        if self.replay is not None or len(self.run_configs) >= 4:
            self.query_one(AlertsLine).say(
                "at most 4 twins" if self.replay is None else "replays cannot fork", "warning"
            )
            return
        self.run_configs = [*self.run_configs, self.config]
        await self._set_runs(len(self.run_configs) - 1)

    async def action_unfork(self) -> None:
        if self.compare:
            config = self.config
            self.target = 0
            self.run_configs = [config]
            await self._set_runs(0)

    async def _set_runs(self, target: int) -> None:
        self.target = target
        self.histories = [History() for _ in self.run_configs]
        self.history = History()
        self.snaps, self.snap = (), None
        self.session.set_runs(self.run_configs)
        await self.recompose()
        self._layout_for(self.size.width, self.size.height)
        self.query_one(StatusBar).show(self.config, None, self._status_mode())

    def action_target(self) -> None:
        if self.compare:
            self.target = (self.target + 1) % len(self.run_configs)
            for i in range(len(self.run_configs)):
                self.query_one(f"#run-{i}").set_class(i == self.target, "-target")
            if self.snaps:
                self.show_runs(self.snaps)

    # ---- recording and replay ----
    def action_record(self) -> None:
        if self.replay is not None or self.compare:
            self.query_one(AlertsLine).say("record a single live run (compare: gradtui compare --jsonl)", "warning")
            return
        if self.recorder is None:
            step = self.snap.step if self.snap else 0
            path = f"gradtui-step{step}.jsonl"
            try:
                self.recorder = Recorder(path)
            except OSError as e:
                self.query_one(AlertsLine).say(f"cannot record to {path}: {e.strerror}", "error")
                return
            self.notify(f"recording to {path} (R stops)", title="Record")
        else:
            self.recorder.close()
            self.notify(f"{self.recorder.lines} snapshots recorded", title="Record")
            self.recorder = None
        self._refresh_status()

    def action_seek(self, delta: int) -> None:
        if self.replay is not None:
            self.replay.seek(self.replay.cursor + delta)
            self.poll()

    def action_seek_to(self, index: int) -> None:
        if self.replay is not None:
            self.replay.seek(index if index >= 0 else len(self.replay.snapshots) - 1)
            self.poll()

    def action_event(self, direction: int) -> None:
        if self.replay is not None:
            self.replay.seek_event(direction)
            self.poll()

    def action_speed(self, direction: int) -> None:
        if self.replay is not None:
            self.replay.faster(direction)
            self._refresh_status()

    def _refresh_status(self) -> None:
        self.query_one(StatusBar).show(self.config, self.snap, self._status_mode())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Transport keys only in a replay; compare keys only with twins (hidden from the footer otherwise)."""
        if action in ("seek", "seek_to", "event", "speed"):
            return self.replay is not None
        if action in ("target", "unfork", "pause_all"):
            return self.compare
        return True

    def action_select(self, delta: int) -> None:
        depth = len(self.snap.layers) if self.snap else self.config.depth
        self.selected = max(0, min(depth - 1, self.selected + delta))
        if self.compare and self.snaps:
            self.show_runs(self.snaps)
        elif self.snap is not None:
            for panel in self.panels:
                panel.show(self.snap, self.history, self.selected)

    def action_view(self, k: int) -> None:
        if self.compare:
            return
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
        for b in self.BINDINGS:  # every key's action, as the footer shows it, with its key; only those that apply now
            if not isinstance(b, Binding) or b.action in ("quit", "save_svg"):
                continue
            name, _, args = b.action.partition("(")
            if self.check_action(name, ()) is False:
                continue
            title = b.tooltip or b.description
            yield SystemCommand(title, f"key: {b.key_display or b.key}", lambda a=b.action: self.run_action(a))

    def on_unmount(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        self.session.close()


def run_app(config: Config | list[Config], *, fps: float = 10.0, color: str = "auto", mode: str = "process") -> int:
    """Start the trainer (a process, before Textual starts: see shared/style.md), then the dashboard.
    A list of 2-4 configs opens compare mode."""
    session = Session(config, mode=mode, hz=min(fps, 10.0) if math.isfinite(fps) else 10.0).start()
    try:
        GradTUI(session, fps=fps).run()
    finally:
        session.close()
    return 0


def replay_app(snapshots: list[Snapshot], *, fps: float = 10.0, warnings: list[str] = ()) -> int:
    """The dashboard on a recording."""
    app = GradTUI(ReplaySession(snapshots), fps=fps)
    if warnings:
        app.call_later(lambda: app.query_one(AlertsLine).say(" ".join(warnings), "warning"))
    app.run()
    return 0
