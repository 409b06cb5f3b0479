"""UI test helpers: a fake SnapshotSource, the real dashboard on a real trainer, and ways to read the screen.

The live app runs its trainer in a thread with a speed cap: Pilot's ``press`` ends by waiting for the *process* to
go idle, which an uncapped trainer thread in the same process never does; capped, it sleeps between steps, and
every key is answered as fast as the app draws. No private API of Textual is touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from conftest import make_snapshot
from textual.geometry import Region
from textual.widget import Widget

from gradtui.engine import Config, Snapshot
from gradtui.session import Session
from gradtui.source import Capabilities, Command, Problem, SourceState, Update
from gradtui.tui.app import GradTUI

WAIT = 20.0  # seconds: a bug fails a test instead of hanging it
LIVE = dict(depth=4, width=16, samples=400, probe_size=128, seed=0)  # a small real run: fast rebuilds
CAP = 300.0  # steps/s of the live test trainer


@dataclass
class FakeSource:
    """A SnapshotSource without a trainer: ``poll`` hands out what a test queued with ``feed``; the commands sent
    are recorded. Tests usually show snapshots directly with ``show(app, snap)`` instead."""

    config: Config = field(default_factory=lambda: make_snapshot().config)
    runs: list[Config] | None = None  # twins: the compare screen
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(can_change=True, can_fork=True, live=True))
    queue: list[Update] = field(default_factory=list)
    sent: list[Command] = field(default_factory=list)
    closed: bool = False
    alive: bool = True
    speed_cap: float | None = None

    @property
    def configs(self) -> list[Config | None]:
        return list(self.runs) if self.runs else [self.config]

    def start(self) -> FakeSource:
        return self

    def feed(self, snap: Snapshot | tuple[Snapshot, ...] | None = None, problems: list[Problem] | None = None) -> None:
        snaps = None if snap is None else snap if isinstance(snap, tuple) else (snap,)
        self.queue.append(Update(snaps, tuple(problems or ())))

    def poll(self) -> Update:
        return self.queue.pop(0) if self.queue else Update()

    def send(self, command: Command) -> None:
        self.sent.append(command)

    def state(self) -> SourceState:
        return SourceState(alive=self.alive, speed_cap=self.speed_cap)

    def close(self) -> None:
        self.closed = True

    def of(self, kind: type) -> list[Any]:
        return [c for c in self.sent if isinstance(c, kind)]


def show(app: GradTUI, *snaps: Snapshot, problems: tuple[Problem, ...] = ()) -> None:
    """Hand snapshots to the dashboard at once, as a poll would."""
    app.dashboard.take_update(Update(tuple(snaps), problems))


# ---- reading the screen -------------------------------------------------------------------------------------------
def rendered(widget: Widget) -> str:
    """The plain text a widget would draw now (calls its render(); panels draw from their latest view)."""
    r = widget.render()
    return r.plain if hasattr(r, "plain") else str(r)


def painted(widget: Widget) -> str:
    """The plain text of the lines the widget has actually painted (its line cache: what is on the screen)."""
    w, h = widget.outer_size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, w, h)))


async def wait_for(app: GradTUI, predicate: Callable[[Snapshot], bool], timeout: float = WAIT) -> Snapshot:
    """The first snapshot shown by ``app`` (or the current one) that satisfies ``predicate``; fails after timeout."""
    return await asyncio.wait_for(app.wait_for_snapshot(predicate), timeout=timeout)


async def settle(pilot: Any, condition: Callable[[], bool], turns: int = 50) -> None:
    """Until ``condition()`` holds, one pilot pause (the app's pending messages and a refresh) at a time: for what
    takes a chain of refreshes (a resize, then a layout, then a redraw). Fails after ``turns`` pauses."""
    for _ in range(turns):
        if condition():
            return
        await pilot.pause()
    assert condition(), f"not so after {turns} pauses"


# ---- the real app ---------------------------------------------------------------------------------------------------
async def ready(pilot: Any) -> None:
    """Until the app shows its mode's screen (it is pushed when the app mounts)."""
    from gradtui.tui.screens.dashboard import DashboardScreen

    for _ in range(200):
        if isinstance(pilot.app.screen, DashboardScreen) and pilot.app.screen.is_mounted:
            return
        await pilot.pause()
    raise AssertionError("the dashboard's screen never appeared")


@asynccontextmanager
async def live_app(
    size: tuple[int, int] = (120, 40), cap: float | None = CAP, configs: list[Config] | None = None, **config: Any
) -> AsyncIterator[tuple[GradTUI, Any]]:
    """The dashboard on a real trainer in its own process, as the CLI runs it (capped at ``cap`` steps/s), after its
    first snapshot. The session is closed on the way out whatever happens (the app closes it too; closing twice is
    harmless). Not thread mode: a trainer thread's CPU keeps the test process from ever looking idle, and Textual's
    Pilot then waits its full second of ``wait_for_idle`` on every press and pause (these tests took 178 s instead
    of 80; the session tests cover thread mode)."""
    cfgs = configs if configs is not None else [Config(**{**LIVE, **config})]
    session = Session(cfgs if len(cfgs) > 1 else cfgs[0], mode="process", speed_cap=cap).start()
    try:
        app = GradTUI(session, fps=20)
        async with app.run_test(size=size) as pilot:
            await ready(pilot)
            await wait_for(app, lambda s: True)
            yield app, pilot
    finally:
        session.close()


@asynccontextmanager
async def fake_app(
    size: tuple[int, int] = (120, 40), snap: Snapshot | None = None, color: str = "truecolor", source: Any = None
) -> AsyncIterator[tuple[GradTUI, Any, FakeSource]]:
    """The dashboard on a FakeSource (no trainer); ``snap`` (if given) is shown before the test body runs."""
    if source is None:
        source = FakeSource(config=snap.config) if snap is not None and snap.config is not None else FakeSource()
    app = GradTUI(source, fps=20, color=color)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        if snap is not None:
            show(app, snap)
            await pilot.pause()
        yield app, pilot, source
