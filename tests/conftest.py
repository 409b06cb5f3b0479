"""Shared test helpers: hand-made Snapshots (no trainer needed), a fake Session, and ways to read what the
dashboard shows. Plain functions, importable from any test (``from conftest import make_snapshot``)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import numpy as np
import textual._wait
from textual.geometry import Region
from textual.widget import Widget

from gradtui.engine import Boundary, Change, Config, Divergence, Event, LayerStats, Snapshot
from gradtui.session import Session
from gradtui.tui.app import GradTUI

# the JSON-lines keys the README documents (gradtui run --jsonl, recordings)
TOP_KEYS = {
    "schema", "step", "run_step", "loss", "accuracy", "test_loss", "test_accuracy", "config", "events",
    "vanishing_ratio", "diverged", "steps_per_sec", "layers",
}  # fmt: skip
LAYER_KEYS = {
    "index", "units", "grad_norm", "bias_grad_norm", "signal_norm", "update_ratio", "dead", "dead_fraction",
    "saturation", "mean", "std", "hist", "pre_hist", "deriv", "dead_since",
}  # fmt: skip

WAIT = 20.0  # seconds: a bug fails a test instead of hanging it
LIVE = dict(depth=4, width=16, samples=400, probe_size=128, seed=0)  # a small real run: fast rebuilds


# ---- hand-made snapshots ----------------------------------------------------------------------------------------
def make_layer(
    index: int,
    units: int = 16,
    *,
    grad_norm: float = 1e-2,
    bias_grad_norm: float | None = None,
    signal_norm: float | None = None,
    update_ratio: float = 1e-3,
    dead: int = 0,
    saturation: float = 0.1,
    mean: float = 0.2,
    std: float = 0.5,
    bins: int = 16,
    dead_step: int = 50,
) -> LayerStats:
    """A valid LayerStats: a bell-shaped histogram of h on [-1, 1], of z on [-3, 3], the derivative of tanh at the
    bins' centres, and the first ``dead`` units dead since ``dead_step``."""
    if not 0 <= dead <= units:
        raise ValueError("dead must be between 0 and units")
    centres = np.linspace(-1, 1, bins)
    bell = np.round(1000 * np.exp(-4 * centres**2)).astype(np.int64)
    pre_edges = np.linspace(-3.0, 3.0, bins + 1)
    pre_centres = (pre_edges[:-1] + pre_edges[1:]) / 2
    dead_since = np.full(units, -1, dtype=np.int64)
    dead_since[:dead] = dead_step
    return LayerStats(
        index=index,
        units=units,
        grad_norm=grad_norm,
        bias_grad_norm=grad_norm / 10 if bias_grad_norm is None else bias_grad_norm,
        signal_norm=grad_norm / 2 if signal_norm is None else signal_norm,
        update_ratio=update_ratio,
        dead=dead,
        saturation=saturation,
        mean=mean,
        std=std,
        hist_edges=np.linspace(-1.0, 1.0, bins + 1),
        hist_counts=bell,
        pre_edges=pre_edges,
        pre_counts=bell.copy(),
        deriv=1.0 - np.tanh(pre_centres) ** 2,
        dead_since=dead_since,
    )


def make_boundary(classes: int = 2, grid: tuple[int, int] = (24, 12)) -> Boundary:
    """A fixed decision boundary over [-1, 1]²: class by angle, confidence growing with the radius."""
    gw, gh = grid
    xs = np.linspace(-1, 1, gw)
    ys = np.linspace(1, -1, gh)  # row 0 at the top
    gx, gy = np.meshgrid(xs, ys)
    angle = (np.arctan2(gy, gx) + math.pi) / (2 * math.pi)
    cls = np.minimum((angle * classes).astype(np.int64), classes - 1)
    conf = np.clip(0.5 + 0.5 * np.hypot(gx, gy) / math.sqrt(2), 0, 1)
    pts = np.array([[-0.5, 0.5], [0.5, -0.5], [0.6, 0.6], [-0.7, -0.2]])
    labels = np.array([0, 1, 1, 0]) % classes
    return Boundary(extent=(-1.0, 1.0, -1.0, 1.0), classes=cls, confidence=conf, points=pts, labels=labels)


def make_snapshot(
    *,
    depth: int = 4,
    width: int = 16,
    step: int = 100,
    run_step: int | None = None,
    loss: float = 0.5,
    accuracy: float | None = 0.75,
    test_loss: float | None = None,
    test_accuracy: float | None = 0.7,
    config: Config | None = None,
    layers: tuple[LayerStats, ...] | None = None,
    layer_overrides: dict[int, dict[str, Any]] | None = None,
    events: tuple[Event, ...] | None = None,
    vanishing_ratio: float = 0.5,
    diverged: Divergence | None = None,
    paused: bool = True,
    steps_per_sec: float = math.nan,
    boundary: Boundary | None = None,
    **fields: Any,
) -> Snapshot:
    """A valid Snapshot built by hand. ``layer_overrides`` maps a 1-based layer index to make_layer keywords;
    ``fields`` sets any other Snapshot field. The default is paused with no steps/s: nothing depends on the clock."""
    if config is None:
        config = Config(depth=depth, width=width, samples=400, probe_size=128, seed=0, activation="relu", init="he")
    depth, width = config.depth, config.width
    if layers is None:
        over = layer_overrides or {}
        layers = tuple(
            make_layer(i, width, **{"grad_norm": 10.0 ** (-1 - 0.5 * (depth - i)), **over.get(i, {})})
            for i in range(1, depth + 1)
        )
    if events is None:
        events = (Event(1, 0, "start", f"start: {config.summary()}"),)
    values: dict[str, Any] = dict(
        step=step,
        run_step=step if run_step is None else run_step,
        loss=loss,
        accuracy=accuracy,
        test_loss=loss * 1.1 if test_loss is None else test_loss,
        test_accuracy=test_accuracy,
        config=config,
        layers=layers,
        events=events,
        vanishing_ratio=vanishing_ratio,
        diverged=diverged,
        paused=paused,
        steps_per_sec=steps_per_sec,
        boundary=boundary,
        output_grad_norm=0.1,
        probe_step=step,
    )
    values.update(fields)
    return Snapshot(**values)


def snapshot_series(n: int = 12, **kw: Any) -> list[Snapshot]:
    """``n`` snapshots at steps 10, 20, ... with a falling loss and a rising accuracy (for the time-based panels)."""
    return [
        make_snapshot(step=10 * (k + 1), loss=1.0 / (1 + 0.3 * k), accuracy=min(0.99, 0.5 + 0.04 * k), **kw)
        for k in range(n)
    ]


# ---- a fake session -----------------------------------------------------------------------------------------------
@dataclass
class FakeSession:
    """Stands in for gradtui.session.Session without a trainer: ``poll``/``poll_all`` hand out what a test queued
    with ``feed``; the commands are recorded. Tests usually call ``app.show_snapshot`` directly instead."""

    config: Config = field(default_factory=lambda: make_snapshot().config)
    queue: list[tuple[Snapshot | None, list]] = field(default_factory=list)
    applied: list[Change] = field(default_factory=list)
    pauses: list[bool] = field(default_factory=list)
    steps: int = 0
    hz: list[float] = field(default_factory=list)
    closed: bool = False
    mode: str = "fake"

    @property
    def configs(self) -> list[Config]:
        return [self.config]

    def start(self) -> FakeSession:
        return self

    def feed(self, snap: Snapshot | None = None, problems: list | None = None) -> None:
        self.queue.append((snap, list(problems or [])))

    def poll(self) -> tuple[Snapshot | None, list]:
        return self.queue.pop(0) if self.queue else (None, [])

    def poll_all(self) -> tuple[tuple[Snapshot, ...] | None, list]:
        snap, problems = self.poll()
        return ((snap,) if snap is not None else None), problems

    def apply(self, change: Change, run: int | None = None) -> None:
        self.applied.append(change)

    def pause(self, paused: bool, run: int | None = None) -> None:
        self.pauses.append(paused)

    def step_once(self, run: int | None = None) -> None:
        self.steps += 1

    def set_hz(self, hz: float) -> None:
        self.hz.append(hz)

    def set_runs(self, configs: list[Config]) -> None:
        pass

    def close(self, timeout: float = 1.0) -> None:
        self.closed = True

    @property
    def alive(self) -> bool:
        return not self.closed


# ---- reading the screen -------------------------------------------------------------------------------------------
def rendered(widget: Widget) -> str:
    """The plain text a widget would draw now (calls its render(); panels draw from their latest snapshot)."""
    r = widget.render()
    return r.plain if hasattr(r, "plain") else str(r)


def painted(widget: Widget) -> str:
    """The plain text of the lines the widget has actually painted (its line cache: what is on the screen)."""
    w, h = widget.outer_size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, w, h)))


async def wait_for(app, predicate: Callable[[Snapshot], bool], timeout: float = WAIT) -> Snapshot:
    """The first snapshot shown by ``app`` (or the current one) that satisfies ``predicate``; fails after timeout."""
    return await asyncio.wait_for(app.wait_for_snapshot(predicate), timeout=timeout)


# ---- the real app ---------------------------------------------------------------------------------------------------
_wait_for_idle = textual._wait.wait_for_idle


async def _short_wait_for_idle(min_sleep: float = 0.0, max_sleep: float = 1.0) -> None:
    await _wait_for_idle(min_sleep, min(max_sleep, 0.02))


@asynccontextmanager
async def live_app(size: tuple[int, int] = (120, 40), **config: Any) -> AsyncIterator[tuple[GradTUI, Any]]:
    """The dashboard on a real trainer (thread mode), after its first snapshot. The session is closed on the way
    out whatever happens (the app's on_unmount closes it too; closing twice is harmless).

    Pilot's ``press`` and ``pause`` end with Textual's ``wait_for_idle``, which waits (up to 1 s) for the *process*
    to stop using CPU; a trainer thread in the same process never does, so every key would cost 2 s. Here it is
    capped at 20 ms: ``press``/``pause`` still wait for every pending message first (``_wait_for_screen``), which
    is what the tests rely on; the snapshots are awaited explicitly."""
    session = Session(Config(**{**LIVE, **config}), mode="thread").start()
    try:
        with ExitStack() as patches:
            for where in ("textual.pilot.wait_for_idle", "textual.app.wait_for_idle"):
                patches.enter_context(mock.patch(where, _short_wait_for_idle))
            app = GradTUI(session, fps=20)
            async with app.run_test(size=size) as pilot:
                await wait_for(app, lambda s: True)
                yield app, pilot
    finally:
        session.close()


@asynccontextmanager
async def fake_app(
    size: tuple[int, int] = (120, 40), snap: Snapshot | None = None
) -> AsyncIterator[tuple[GradTUI, Any, FakeSession]]:
    """The dashboard on a FakeSession (no trainer); ``snap`` (if given) is shown before the test body runs."""
    session = FakeSession(config=snap.config) if snap is not None else FakeSession()
    app = GradTUI(session, fps=20)
    async with app.run_test(size=size) as pilot:
        if snap is not None:
            app.show_snapshot(snap)
            await pilot.pause()
        yield app, pilot, session
