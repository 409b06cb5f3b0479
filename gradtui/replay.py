"""Replay and watch: a recording as a ``SnapshotSource`` with a cursor shared by every panel.

``RecordingSource(recording)`` replays a finished recording (``gradtui replay``); with ``follow=True`` it tails a
recording another process is still writing (``gradtui watch``): new lines are indexed as they arrive, the cursor
follows the newest snapshot until the user moves it back (``End`` follows again), a half-written last line is
left for later, and the state says when the writer has stopped (its end marker; its process gone, when it runs
on this machine; or no new line for a while).
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable

from .engine import Config, Snapshot
from .record import Recording, RecordingError
from .source import (
    Capabilities,
    Command,
    Play,
    PlaySpeed,
    Problem,
    Seek,
    SeekBy,
    SeekEvent,
    SetRate,
    SourceState,
    Update,
    refuse,
)

__all__ = ["RecordingSource", "SPEEDS"]

SPEEDS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
HISTORY_POINTS = 1000  # a jump over more snapshots than this passes an evenly spaced sample to the charts
REFRESH_EVERY = 0.25  # seconds between looks at a followed file
QUIET_AFTER = 10.0  # seconds without a new line (and at least 20 intervals) before a writer counts as stopped


class RecordingSource:
    """A recording (one run of it) with a cursor. See the module docstring."""

    def __init__(
        self,
        recording: Recording,
        *,
        run: str | None = None,
        follow: bool = False,
        rate: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recording = recording
        self.run = run if run is not None else (recording.run_names()[0] if recording.run_names() else None)
        self.follow = follow
        self.capabilities = Capabilities(can_change=False, can_seek=True, can_fork=False, live=follow)
        self.rate = rate  # snapshots per second at speed 1
        self.clock = clock
        self.cursor = 0
        self.playing = False
        self.speed = 1.0
        self.following = follow  # the cursor stays on the newest snapshot
        self._shown = -1
        self._rebuild = True
        self._last_tick = clock()
        self._last_look = -math.inf
        self._last_growth = clock()
        self._intervals: list[float] = []
        self._problems: list[Problem] = []
        self._current: Snapshot | None = None
        self._stopped_note = ""
        self._warned = len(recording.warnings)  # the warnings so far are the app's to show (replay_app)
        self._gone = False  # the writer's process was found gone
        if self.following and self.length:
            self.cursor = self.length - 1

    # --- the SnapshotSource protocol ---
    @property
    def configs(self) -> list[Config | None]:
        snap = self._current or self._try(0)
        return [snap.config if snap is not None else None]

    def start(self) -> RecordingSource:
        return self

    @property
    def length(self) -> int:
        if self.run is None or self.run not in self.recording.runs:
            return 0
        return self.recording.length(self.run)

    def _try(self, i: int, quiet: bool = False) -> Snapshot | None:
        if not 0 <= i < self.length:
            return None
        try:
            return self.recording.snapshot(i, self.run)
        except RecordingError as e:
            if not quiet:
                self._problems.append(Problem(str(e)))
            return None

    def _view(self) -> tuple[Snapshot, tuple[Snapshot, ...], bool] | None:
        """The snapshot at the cursor, the ones the cursor passed since the last shown (oldest first, the
        current one last; an even sample after a long jump) and whether the charts start again; None when the
        cursor's line cannot be decoded."""
        rebuild = self._rebuild or self.cursor < self._shown
        first = 0 if rebuild else self._shown + 1
        indices = list(range(first, self.cursor + 1))
        if len(indices) > HISTORY_POINTS:  # a long jump: an even sample for the charts, ending at the cursor
            rebuild = True
            k = len(indices) / HISTORY_POINTS
            indices = sorted({indices[-1 - int(j * k)] for j in range(HISTORY_POINTS)})
        got = [s for s in (self._try(i) for i in indices) if s is not None]
        current = self._try(self.cursor)  # decoded just above: from the cache
        if current is None:
            return None
        return current, tuple(got), rebuild

    def _look(self, now: float, *, force: bool = False) -> None:
        """Follow the file: index what was appended (at most every REFRESH_EVERY seconds, unless ``force``)."""
        if not self.follow or (now - self._last_look < REFRESH_EVERY and not force):
            return
        self._last_look = now
        try:
            added = self.recording.refresh()
        except RecordingError as e:
            self._problems.append(Problem(str(e)))
            self.follow = False
            self.capabilities = Capabilities(can_seek=True)
            return
        for w in self.recording.warnings[self._warned :]:  # a damaged line: nothing after it is read
            self._problems.append(Problem(w, level="warning"))
        self._warned = len(self.recording.warnings)
        if self.run is None and self.recording.run_names():
            self.run = self.recording.run_names()[0]
        if added:
            if self._last_growth is not None:
                self._intervals = [*self._intervals[-19:], (now - self._last_growth) / added]
            self._last_growth = now
            self._stopped_note = ""
        if self.following and self.length:
            self.cursor = self.length - 1

    def poll(self) -> Update:
        now = self.clock()
        self._look(now)
        n = self.length
        if self.playing and n:
            advance = int((now - self._last_tick) * self.rate * self.speed)
            if advance > 0:
                self._last_tick = now
                self.cursor = min(n - 1, self.cursor + advance)
                if self.cursor == n - 1:
                    self.playing = False
                    self.following = self.follow
        else:
            self._last_tick = now
        snaps: tuple[Snapshot, ...] | None = None
        passed: tuple[Snapshot, ...] = ()
        rebuild = False
        if n and self.cursor != self._shown:
            view = self._view()
            if view is None:  # a damaged line: the nearest good snapshot before it (the problem names the line)
                self.playing = self.following = False
                back = range(self.cursor - 1, max(-1, self.cursor - 100), -1)
                good = next((j for j in back if self._try(j, quiet=True) is not None), None)
                self.cursor = good if good is not None else max(0, self._shown)
                view = self._view() if self.cursor != self._shown else None
            if view is not None:
                current, passed, rebuild = view
                self._current = current
                self._shown = self.cursor
                self._rebuild = False
                snaps = (current,)
        problems, self._problems = tuple(dict.fromkeys(self._problems)), []  # each once
        return Update(snaps, problems, rebuild=rebuild, passed=passed)

    def send(self, command: Command) -> None:
        problem = refuse(command, self.capabilities)
        if problem is not None:
            self._problems.append(problem)
            return
        n = self.length
        if isinstance(command, Play):
            self.playing = command.playing and n > 0
            if self.playing and self.cursor >= n - 1:  # play from the start again
                self.cursor = 0
            self.following = False
            self._last_tick = self.clock()
        elif isinstance(command, PlaySpeed):
            i = SPEEDS.index(self.speed) if self.speed in SPEEDS else 2
            self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, i + command.direction))]
        elif isinstance(command, Seek):
            target = command.index if command.index >= 0 else n + command.index
            self._seek(target)
        elif isinstance(command, SeekBy):
            self._seek(self.cursor + command.delta)
        elif isinstance(command, SeekEvent):
            self._seek(self._event_target(command.direction))
        elif isinstance(command, SetRate):
            self.rate = command.hz

    def _seek(self, index: int) -> None:
        n = self.length
        self.cursor = max(0, min(n - 1, index)) if n else 0
        self.following = self.follow and self.cursor == n - 1

    def _event_target(self, direction: int) -> int:
        """The first snapshot that shows the next (or previous) event: a change, a reset, a divergence."""
        marks = [i for i in self.recording.event_indices(self.run) if i > 0] if self.run is not None else []
        if direction > 0:
            return next((i for i in marks if i > self.cursor), self.length - 1)
        return next((i for i in reversed(marks) if i < self.cursor), 0)

    def state(self) -> SourceState:
        note = ""
        alive = True
        if self.follow:
            note, alive = self._writer_state()
        return SourceState(
            alive=alive, cursor=self.cursor if self.length else None, length=self.length, playing=self.playing,
            speed=self.speed, note=note,
        )  # fmt: skip

    def _writer_state(self) -> tuple[str, bool]:
        if not self.length:  # nothing to show yet: wait for the writer, however long it takes to start
            if not self.recording.exists:
                return "waiting for the file to appear", True
            return "waiting for the first snapshot", True
        if self.run is not None and self.run in self.recording.runs and self.recording.ended(self.run):
            return "the writer finished", False
        writer = self.recording.writer(self.run) if self.run is not None else None
        pid = writer.get("pid") if writer is not None else None
        here = writer is not None and writer.get("host") == socket.gethostname()
        if here and isinstance(pid, int) and not isinstance(pid, bool) and not _pid_alive(pid):
            if not self._gone:  # its last lines, its end marker among them, may not be read yet: once more
                self._gone = True
                self._look(self.clock(), force=True)
            if self.run in self.recording.runs and self.recording.ended(self.run):
                return "the writer finished", False
            return f"the writer (pid {pid}) has stopped", False
        quiet = self.clock() - self._last_growth
        typical = sorted(self._intervals)[len(self._intervals) // 2] if self._intervals else 0.0
        if quiet > max(QUIET_AFTER, 20 * typical):
            return f"no new snapshot for {quiet:.0f} s: the writer may have stopped", False
        return ("following" if self.following else "watching"), True

    def close(self) -> None:
        self.playing = False


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or no process could have this number
        return False
    except OSError:  # it exists, and belongs to someone else
        return True
    return True
