"""Replay: a recording played back through the same dashboard, with a step cursor shared by all panels.

``ReplaySession`` has the Session's interface (``poll``, ``pause``, ...), so the app draws a recording exactly as it
drew the live run; the transport keys move a cursor instead of training.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .engine import Change, Snapshot
from .session import Problem

SPEEDS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]


class ReplaySession:
    mode = "replay"

    def __init__(
        self, snapshots: list[Snapshot], *, rate: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not snapshots:
            raise ValueError("nothing to replay")
        self.snapshots = snapshots
        self.config = snapshots[0].config
        self.configs = [self.config]
        self.cursor = 0
        self.playing = False
        self.speed = 1.0
        self.rate = rate  # snapshots per second at speed 1
        self.clock = clock
        self._last_tick = clock()
        self._shown = -1
        self._from = 0
        self.seeked = True  # the cursor went back: the app rebuilds its history up to the cursor
        self._problems: list[Problem] = []

    # --- the Session interface ---
    def start(self) -> ReplaySession:
        return self

    @property
    def alive(self) -> bool:
        return False

    def poll_all(self) -> tuple[tuple[Snapshot, ...] | None, list[Problem]]:
        snap, problems = self.poll()
        return ((snap,) if snap is not None else None), problems

    def poll(self) -> tuple[Snapshot | None, list[Problem]]:
        now = self.clock()
        if self.playing:
            advance = int((now - self._last_tick) * self.rate * self.speed)
            if advance > 0:
                self._last_tick = now
                self.cursor = min(len(self.snapshots) - 1, self.cursor + advance)
                if self.cursor == len(self.snapshots) - 1:
                    self.playing = False
        else:
            self._last_tick = now
        problems, self._problems = self._problems, []
        if self.cursor != self._shown:
            if self.cursor < self._shown:
                self.seeked = True
            self._from = 0 if self.seeked else self._shown + 1
            self._shown = self.cursor
            return self.current, problems
        return None, problems

    def history_update(self) -> tuple[bool, list[Snapshot]]:
        """What the app's History needs after ``poll`` returned a snapshot: (rebuild from scratch?, snapshots to
        add) -- every snapshot the cursor passed, so a replay's charts match the live run's point for point."""
        rebuild, self.seeked = self.seeked, False
        return rebuild, self.snapshots[self._from : self.cursor + 1]

    def apply(self, change: Change, run: int | None = None) -> None:
        self._problems.append(Problem("this is a replay: a recording cannot be changed (run it live to change it)"))

    def pause(self, paused: bool, run: int | None = None) -> None:
        self.playing = not paused
        self._last_tick = self.clock()

    def step_once(self, run: int | None = None) -> None:
        self.seek(self.cursor + 1)

    def set_hz(self, hz: float) -> None:
        pass

    def set_runs(self, configs) -> None:
        self._problems.append(Problem("this is a replay: it cannot be forked"))

    def close(self, timeout: float = 1.0) -> None:
        self.playing = False

    # --- the transport ---
    @property
    def current(self) -> Snapshot:
        return self.snapshots[self.cursor]

    def seek(self, index: int) -> None:
        """Move the cursor; moving forward keeps the charts' points in between, moving back rebuilds them."""
        self.cursor = max(0, min(len(self.snapshots) - 1, index))

    def seek_event(self, direction: int) -> None:
        """To the first snapshot that shows the next (or previous) event: a change, a reset, a divergence."""

        def last_seq(i: int) -> int:
            ev = self.snapshots[i].events
            return ev[-1].seq if ev else 0

        n = len(self.snapshots)
        if direction > 0:
            # the next snapshot whose newest event is newer than the cursor's (and not the start)
            here = last_seq(self.cursor)
            target = next((i for i in range(self.cursor + 1, n) if last_seq(i) > here), n - 1)
        else:
            # back to the snapshot where the cursor's newest event first appeared, or the one before that
            here = last_seq(self.cursor)
            first = next(i for i in range(n) if last_seq(i) >= here)
            if first < self.cursor:
                target = first
            else:
                prev = last_seq(first - 1) if first > 0 else 0
                target = next((i for i in range(n) if last_seq(i) >= prev), 0) if prev > 1 else 0
        self.seek(target)

    def faster(self, direction: int) -> float:
        i = SPEEDS.index(self.speed) if self.speed in SPEEDS else 2
        self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, i + direction))]
        return self.speed

    def describe(self) -> str:
        state = "▶" if self.playing else "⏸"
        return f"replay {state} {self.cursor + 1}/{len(self.snapshots)} ×{self.speed:g}"
