"""The trainer session: a ``SnapshotSource`` that runs Trainers off the UI thread.

The trainer loop (``serve``) is the same code in a child process (the default for the dashboard: the UI then
cannot slow training, see the README's figures) and in a thread (tests, one-core machines). The two ends talk only
through a ``multiprocessing`` Connection, which works between processes and between threads alike, in the typed
messages of ``gradtui.source``: commands in, ``Snapshots`` and ``Problem`` out.

Flow control is by credit: the loop sends snapshots only when the UI has taken the previous ones (the UI's
``poll`` acknowledges them), so at most one batch is ever in flight, nothing queues up behind a slow UI, and
measuring happens only when someone will look at it. Within that, the Pacer caps the rate and keeps measuring
under its time budget. The decision boundary crosses the pipe only when it changed.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .engine import Config, ConfigError, Snapshot
from .engine.config import LIVE_FIELDS
from .engine.lockstep import step_together
from .engine.pacing import Pacer
from .engine.trainer import BaseTrainer, apply_change, make_trainer
from .source import (
    ApplyChange,
    Capabilities,
    Command,
    Pause,
    Problem,
    Restart,
    SetRate,
    SetRuns,
    SetSpeedCap,
    SourceState,
    StepOnce,
    Update,
    refuse,
)

__all__ = ["Session", "serve"]

POLL_EVERY = 0.005  # seconds between looks at the command pipe while training
RUN_NAMES = "ABCD"


# ---- the pipe's own messages ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ack:
    """The UI took the last snapshots: the loop may send the next."""


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Snapshots:
    """The newest snapshot of every run. ``same_boundary[i]``: run i's boundary is the object it sent last (the
    trainer keeps it while a recomputation comes out the same), so it was left out (``boundary=None``) and the
    session puts the last one back. Never true for a snapshot without a boundary, nor for a run's first."""

    snapshots: tuple[Snapshot, ...]
    same_boundary: tuple[bool, ...]


class _Rate:
    """Steps per second over the last ~2 seconds."""

    def __init__(self) -> None:
        self.marks: deque[tuple[float, int]] = deque()

    def __call__(self, now: float, steps: int) -> float:
        self.marks.append((now, steps))
        while len(self.marks) > 2 and now - self.marks[0][0] > 2.0:
            self.marks.popleft()
        t0, s0 = self.marks[0]
        return (steps - s0) / (now - t0) if now > t0 else math.nan


class _Bucket:
    """The speed cap as a token bucket: ``cap`` steps per second, bursts of at most a tenth of a second's worth
    (or one step). ``cap`` None: no limit."""

    def __init__(self, cap: float | None) -> None:
        self.cap = cap
        self.burst = max(1.0, (cap or 0) / 10)
        self.tokens = 1.0
        self.last = time.perf_counter()

    def _fill(self, now: float) -> None:
        if self.cap is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.cap)
        self.last = now

    def take(self, now: float) -> bool:
        """May one step (of every active run) be taken now? Takes its token if so."""
        if self.cap is None:
            return True
        self._fill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds until the next step may be taken."""
        if self.cap is None:
            return 0.0
        self._fill(now)
        return max(0.0, (1.0 - self.tokens) / self.cap)


class _Run:
    """One trainer in the loop, with its own pause switch and pacer."""

    def __init__(self, config: Config, hz: float, name: str) -> None:
        self.trainer: BaseTrainer = make_trainer(config, run=name)
        self.pacer = Pacer(hz=hz)
        self.paused = False
        self.sent_boundary: Any = None  # the boundary object last sent

    @property
    def active(self) -> bool:
        return not self.paused and self.trainer.diverged is None


def _names(n: int) -> list[str]:
    return [""] if n == 1 else list(RUN_NAMES[:n])


def serve(
    conn: Connection,
    configs: Config | list[Config],
    hz: float = 10.0,
    cap: float | None = None,
    threads: int | None = None,
    seq: int = 0,
) -> None:
    """The trainer loop, for one run or 2-4 twins stepped in lockstep (the same step counter while all run).

    In: the commands of gradtui.source that a trainer can do (ApplyChange, Pause, StepOnce, SetRuns, SetRate,
    SetSpeedCap), Ack and Stop. Out: Snapshots and Problem. ``cap``: at most this many steps per second.
    ``threads``: BLAS threads, or None to choose them by measurement after each rebuild (gradtui/blas.py).
    ``seq``: the last Snapshot.seq the session has seen (a restarted trainer goes on from it).
    """
    from .blas import ThreadChooser

    configs = [configs] if isinstance(configs, Config) else list(configs)
    chooser = ThreadChooser(threads)

    def build(cfgs: list[Config], after: tuple[_Run, ...] | list[_Run] = ()) -> list[_Run]:
        made = [_Run(c, hz, name) for c, name in zip(cfgs, _names(len(cfgs)))]
        # Snapshot.seq never goes back within the session: new runs (a fork, an unfork, new twins) go on from the
        # largest number the runs before them reached (at the start: the session's, for a restarted trainer)
        last = max((r.trainer.snapshot_seq for r in after), default=seq)
        for r in made:
            r.trainer.snapshot_seq = last
        chooser.rebuilt(max(r.trainer.config.width for r in made))
        return made

    try:
        runs = build(configs)
    except Exception as e:  # a config the engine cannot build: say so, and wait for stop
        conn.send(Problem(f"could not start the trainer: {e}", fatal=True))
        while not isinstance(conn.recv(), Stop):
            pass
        return
    rate = _Rate()
    credit = True  # may we send snapshots?
    force = True  # snapshots are wanted now (start, after a change), whatever the pacers say
    steps_total = 0
    sps = math.nan
    bucket = _Bucket(cap)

    def pick(i: int | None) -> list[_Run]:
        return runs if i is None else runs[i : i + 1]

    def send_snapshots(full: bool) -> None:
        nonlocal credit, force
        snaps, same = [], []
        for r in runs:
            s = r.pacer.take(r.trainer, force_probe=full, paused=not r.active, steps_per_sec=sps, speed_cap=cap)
            # left out only when it is the very object sent last time: a run without a boundary (a new run, a
            # recurrent one) sends None, so that the UI never puts back another run's boundary
            unchanged = s.boundary is not None and s.boundary is r.sent_boundary
            r.sent_boundary = s.boundary
            snaps.append(s.replace(boundary=None) if unchanged else s)
            same.append(unchanged)
        conn.send(Snapshots(tuple(snaps), tuple(same)))
        credit, force = False, False

    while True:
        # 1. commands (while capped or idle, the wait for one is the loop's sleep)
        any_active = any(r.active for r in runs)
        timeout = 0.0 if any_active or (force and credit) else 0.1
        if any_active:
            timeout = min(0.1, bucket.wait(time.perf_counter()))
        while conn.poll(timeout):
            timeout = 0.0
            msg = conn.recv()
            try:
                if isinstance(msg, Stop):
                    return
                if isinstance(msg, Ack):
                    credit = True
                    continue
                force = True
                if isinstance(msg, Pause):
                    for r in pick(msg.run):
                        r.paused = msg.paused
                elif isinstance(msg, SetRate):
                    hz = msg.hz
                    for r in runs:
                        r.pacer = Pacer(hz=hz)
                elif isinstance(msg, SetSpeedCap):
                    cap = msg.steps_per_sec
                    bucket = _Bucket(cap)
                elif isinstance(msg, StepOnce):
                    for r in pick(msg.run):
                        steps_total += r.trainer.step(measure=True)
                elif isinstance(msg, SetRuns):
                    runs = build(list(msg.configs), runs)
                elif isinstance(msg, ApplyChange):
                    for r in pick(msg.run):
                        r.trainer = apply_change(r.trainer, msg.change)  # a new one when it crosses MLP/recurrent
                        if msg.change.field not in LIVE_FIELDS:  # a rebuild: measure everything again at once
                            r.pacer.reset()
                    if msg.change.field not in LIVE_FIELDS:
                        chooser.rebuilt(max(r.trainer.config.width for r in runs))
            except ConfigError as e:
                conn.send(Problem(str(e), level="warning"))
            except Exception as e:
                conn.send(Problem(_describe(e)))
        # 2. training, in slices of POLL_EVERY seconds between looks at the pipe
        try:
            if any(r.active for r in runs):
                end = time.perf_counter() + POLL_EVERY
                while bucket.take(time.perf_counter()):
                    due = credit and runs[0].pacer.due()
                    stepped, diverged = step_together(
                        [r.trainer for r in runs], [r.active for r in runs], due, step=chooser.step
                    )
                    force |= diverged  # report a divergence at once (when the UI has taken its last snapshots)
                    steps_total += stepped
                    if due:
                        sps = rate(time.perf_counter(), steps_total) / max(1, len(runs))
                        send_snapshots(full=False)
                        break
                    if force or time.perf_counter() >= end:
                        break
            if force and credit:
                send_snapshots(full=True)
        except Exception as e:  # an engine error: report it, pause, keep serving (the user may reset)
            for r in runs:
                r.paused = True
            force = True
            conn.send(Problem(_describe(e)))


def _describe(e: BaseException) -> str:
    frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    where = f" ({os.path.basename(frame.filename)}:{frame.lineno})" if frame else ""
    return f"engine error: {type(e).__name__}: {e}{where} - training paused"


def _process_main(
    conn: Connection,
    config: list[Config],
    hz: float,
    cap: float | None,
    log_path: str,
    threads: int | None,
    seq: int = 0,
) -> None:
    """Child process entry: send our own prints and warnings to a log file, never to the dashboard's screen.

    Its life hangs on the pipe, not on the terminal: a hangup is ignored here (the dashboard gets one too, and stops
    this process; if the dashboard is gone, the pipe's end stops it), so that it always ends through the code that
    cleans up."""
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)  # noqa: SIM115
    # EOF, a broken pipe or a reset connection (the pipe is a socket pair): the dashboard has gone
    with contextlib.suppress(EOFError, ConnectionError, KeyboardInterrupt):
        serve(conn, config, hz, cap, threads, seq)
    # Ended without an error of its own (an error's traceback is written after this, and must stay): an empty log
    # goes now, so that not even a dashboard killed outright (SIGKILL) leaves one behind. The dashboard removes it
    # as well when it closes the session normally.
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        if log_path != os.devnull and os.fstat(fd).st_size == 0:
            os.remove(log_path)


class Session:
    """The UI's handle on a running trainer: a SnapshotSource that can change, fork and is live.
    Not thread-safe: use it from one thread (the UI's)."""

    capabilities = Capabilities(can_change=True, can_seek=False, can_fork=True, live=True)

    def __init__(
        self,
        config: Config | list[Config],
        *,
        mode: str = "process",
        hz: float = 10.0,
        speed_cap: float | None = None,
        log_dir: str | None = None,
        threads: int | None = None,
    ):
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', not {mode!r}")
        self._configs = [config] if isinstance(config, Config) else list(config)
        self.mode = mode
        self.hz = hz
        self.speed_cap = speed_cap
        self.threads = threads  # BLAS threads in the trainer; None: chosen by measurement
        self.log_dir = log_dir  # None: the temp folder
        self.log_path: str | None = None
        self._conn: Connection | None = None
        self._worker: Any = None
        self._died = False
        self._problems: list[Problem] = []
        self._boundaries: dict[int, Any] = {}  # the last boundary received, per run
        self.seq = 0  # the largest Snapshot.seq received: a restarted trainer goes on from it

    @property
    def configs(self) -> list[Config | None]:
        return list(self._configs)

    def start(self) -> Session:
        """Start the trainer. In process mode, call this before the Textual app runs (see style.md)."""
        ours, theirs = mp.Pipe()
        if self.mode == "process":
            if not (self.log_path and _has_content(self.log_path)):  # a restart appends to a log that was kept
                self.log_path = _new_log(self.log_dir)
            ctx = mp.get_context("spawn")
            self._worker = ctx.Process(
                target=_process_main,
                args=(
                    theirs,
                    self._configs,
                    self.hz,
                    self.speed_cap,
                    self.log_path or os.devnull,
                    self.threads,
                    self.seq,
                ),
                daemon=True,
            )
        else:
            self._worker = threading.Thread(
                target=serve,
                args=(theirs, self._configs, self.hz, self.speed_cap, self.threads, self.seq),
                daemon=True,
            )
        self._worker.start()
        self._conn = ours
        self._died = False
        self._boundaries = {}
        return self

    @property
    def alive(self) -> bool:
        return self._worker is not None and self._worker.is_alive() and not self._died

    def _send(self, msg: Any) -> None:
        if self._conn is None:
            return
        try:
            self._conn.send(msg)
        except (BrokenPipeError, OSError):
            self._lost()

    def send(self, command: Command) -> None:
        problem = refuse(command, self.capabilities)
        if problem is not None:
            self._problems.append(problem)
            return
        if isinstance(command, Restart):
            if self.alive:
                self._problems.append(Problem("the trainer is running: ctrl+r resets it", level="info"))
                return
            self.close()
            try:
                self.start()
            except OSError as e:  # no more processes, no memory: say so; ctrl+r may be tried again
                self._worker = None
                self._problems.append(Problem(f"could not start a new trainer: {e.strerror or e}", fatal=True))
            return
        if isinstance(command, SetRate):
            self.hz = command.hz
        elif isinstance(command, SetSpeedCap):
            self.speed_cap = command.steps_per_sec  # (kept while the trainer is dead: a restart takes it)
        if not self.alive:
            # a change or new runs are not recorded: what a restart starts is what ran, what the dashboard shows
            self._problems.append(Problem("the trainer is not running: ctrl+r starts a new one", level="warning"))
            return
        if isinstance(command, SetRuns):
            self._configs = list(command.configs)
            self._boundaries = {}  # new runs: no boundary of the old ones may be put back into theirs
        elif isinstance(command, ApplyChange):
            self._track(command)
        self._send(command)

    def _track(self, command: ApplyChange) -> None:
        """Keep the session's configs as the user changed them, so that a restart after the trainer died starts
        what the dashboard shows, not the settings it had at the start. (The trainer validates the same way; a
        change it refuses is left out here too.)"""
        change = command.change
        if change.field == "reset":
            return
        runs = range(len(self._configs)) if command.run is None else [command.run]
        for i in runs:
            if 0 <= i < len(self._configs):
                with contextlib.suppress(ConfigError):
                    self._configs[i] = self._configs[i].replace(**{change.field: change.value})

    def _lost(self) -> None:
        if not self._died:
            self._died = True
            where = f" (its log: {self.log_path})" if self.log_path and _has_content(self.log_path) else ""
            self._problems.append(
                Problem(f"the trainer stopped unexpectedly{where} — ctrl+r starts a new one", fatal=True)
            )

    def poll(self) -> Update:
        """Everything that arrived since the last poll: the newest snapshots (one per run; older ones dropped)
        and the problems."""
        snaps: tuple[Snapshot, ...] | None = None
        conn = self._conn
        if conn is not None:
            try:
                while conn.poll(0):
                    msg = conn.recv()
                    if isinstance(msg, Snapshots):
                        snaps = self._restore_boundaries(msg)
                        self.seq = max([self.seq, *(s.seq for s in snaps)])
                    elif isinstance(msg, Problem):
                        self._problems.append(msg)
            except (EOFError, OSError):
                self._lost()
            if not self._died and self._worker is not None and not self._worker.is_alive():
                self._lost()
        if snaps is not None:
            self._send(Ack())
        problems, self._problems = tuple(self._problems), []
        return Update(snaps, problems)

    def _restore_boundaries(self, msg: Snapshots) -> tuple[Snapshot, ...]:
        out = []
        for i, (s, same) in enumerate(zip(msg.snapshots, msg.same_boundary)):
            if same:
                s = s.replace(boundary=self._boundaries.get(i))
            else:
                self._boundaries[i] = s.boundary
            out.append(s)
        return tuple(out)

    def state(self) -> SourceState:
        note = ""
        if not self.alive and self._worker is not None:
            note = "trainer stopped"
        return SourceState(alive=self.alive, speed_cap=self.speed_cap, note=note)

    def close(self, timeout: float = 1.0) -> None:
        """Stop the trainer; quick, whatever state it is in. Its log file is removed unless it holds something."""
        self._send(Stop())
        w = self._worker
        if w is not None:
            w.join(timeout)
            if self.mode == "process" and w.is_alive():
                w.terminate()
                w.join(0.5)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._worker = None
        if self.log_path is not None and not _has_content(self.log_path):
            with contextlib.suppress(OSError):
                os.remove(self.log_path)

    @property
    def kept_log(self) -> str | None:
        """The trainer's log file, if it was kept (it holds something)."""
        return self.log_path if self.log_path and _has_content(self.log_path) else None


def _new_log(folder: str | None) -> str | None:
    """A new, empty log file for the trainer in ``folder``; None if it cannot be made (the trainer then writes to
    the null device: its messages are lost, the dashboard still runs)."""
    try:
        fd, path = tempfile.mkstemp(prefix="gradtui-trainer-", suffix=".log", dir=folder)
    except OSError:
        return None
    os.close(fd)
    return path


def _has_content(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False
