"""Runs a Trainer off the UI thread: commands in through a pipe, the latest Snapshot out.

The trainer loop (``serve``) is the same code in a child process (the default for the dashboard: the UI then
cannot slow training, see the README's figures) and in a thread (tests, one-core machines). The two ends talk only
through a ``multiprocessing`` Connection, which works between processes and between threads alike.

Flow control is by credit: the loop sends a snapshot only when the UI has taken the previous one (the UI's
``poll`` acknowledges it), so at most one snapshot is ever in flight, nothing queues up behind a slow UI, and
measuring happens only when someone will look at it. Within that, the Pacer caps the rate (``hz``) and keeps
measuring under 5 % of the time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .engine import Change, Config, ConfigError, Snapshot, Trainer
from .engine.config import LIVE_FIELDS
from .engine.pacing import Pacer

__all__ = ["Session", "serve"]

POLL_EVERY = 0.005  # seconds between looks at the command pipe while training
_SAME_BOUNDARY = "_same_boundary"  # marks a snapshot sent without its (unchanged) boundary


@dataclass(frozen=True)
class Problem:
    """Something the loop could not do, for the UI to say in words."""

    text: str
    fatal: bool = False


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


class _Run:
    """One trainer in the loop, with its own pause switch and pacer."""

    def __init__(self, config: Config, hz: float) -> None:
        self.trainer = Trainer(config)
        self.pacer = Pacer(hz=hz)
        self.paused = False

    @property
    def active(self) -> bool:
        return not self.paused and self.trainer.diverged is None


def serve(conn: Connection, configs: Config | list[Config], hz: float = 10.0) -> None:
    """The trainer loop, for one run or 2-4 twins stepped in lockstep (the same step counter while all run).

    Messages in: ("change", run, Change), ("pause", run, bool), ("step", run), ("runs", [Config]) (replace all
    runs: fresh from their seeds), ("hz", float), ("ack",), ("stop",); ``run`` is an index or None for all runs.
    Out: ("snapshots", tuple[Snapshot, ...]) one per run, and ("problem", Problem).
    """
    from .blas import set_blas_threads

    configs = [configs] if isinstance(configs, Config) else list(configs)

    def build(cfgs: list[Config]) -> list[_Run]:
        made = [_Run(c, hz) for c in cfgs]
        set_blas_threads(max(r.trainer.config.width for r in made))
        return made

    try:
        runs = build(configs)
    except Exception as e:  # a config the engine cannot build: say so, and wait for stop
        conn.send(("problem", Problem(f"could not start the trainer: {e}", fatal=True)))
        while conn.recv()[0] != "stop":
            pass
        return
    rate = _Rate()
    credit = True  # may we send snapshots?
    force = True  # snapshots are wanted now (start, after a change), whatever the pacers say
    steps_total = 0
    sps = math.nan

    def pick(i: int | None) -> list[_Run]:
        return runs if i is None else runs[i : i + 1]

    def send_snapshots(full: bool) -> None:
        nonlocal credit, force
        snaps = tuple(r.pacer.take(r.trainer, force_probe=full, paused=not r.active, steps_per_sec=sps) for r in runs)
        conn.send(("snapshots", snaps))
        credit, force = False, False

    while True:
        # 1. commands
        any_active = any(r.active for r in runs)
        timeout = 0.0 if any_active or (force and credit) else 0.1
        while conn.poll(timeout):
            timeout = 0.0
            msg = conn.recv()
            kind = msg[0]
            try:
                if kind == "stop":
                    return
                if kind == "ack":
                    credit = True
                    continue
                force = True
                if kind == "pause":
                    for r in pick(msg[1]):
                        r.paused = bool(msg[2])
                elif kind == "hz":
                    hz = msg[1]
                    for r in runs:
                        r.pacer = Pacer(hz=hz)
                elif kind == "step":
                    for r in pick(msg[1]):
                        steps_total += r.trainer.step(measure=True)
                elif kind == "runs":
                    runs = build(msg[1])
                elif kind == "change":
                    for r in pick(msg[1]):
                        r.trainer.apply(msg[2])
                        if msg[2].field not in LIVE_FIELDS:  # a rebuild: measure everything again at once
                            r.pacer.reset()
                    set_blas_threads(max(r.trainer.config.width for r in runs))
            except ConfigError as e:
                conn.send(("problem", Problem(str(e))))
            except Exception as e:
                conn.send(("problem", Problem(_describe(e))))
        # 2. training, in slices of POLL_EVERY seconds between looks at the pipe
        try:
            if any(r.active for r in runs):
                end = time.perf_counter() + POLL_EVERY
                while True:
                    due = credit and runs[0].pacer.due()
                    stepped = 0
                    for r in runs:
                        if r.active:
                            ok = r.trainer.step(measure=due)
                            stepped += ok
                            if not ok:  # diverged: report it at once (when the UI has taken its last snapshots)
                                force = True
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
            conn.send(("problem", Problem(_describe(e))))


def _describe(e: BaseException) -> str:
    frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    where = f" ({os.path.basename(frame.filename)}:{frame.lineno})" if frame else ""
    return f"engine error: {type(e).__name__}: {e}{where} - training paused"


def _process_main(conn: Connection, config: Config | list[Config], hz: float, log_path: str) -> None:
    """Child process entry: send our own prints and warnings to a log file, never to the dashboard's screen."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)  # noqa: SIM115
    with contextlib.suppress(EOFError, BrokenPipeError, KeyboardInterrupt):
        serve(conn, config, hz)


class Session:
    """The UI's handle on a running trainer. Not thread-safe: use it from one thread (the UI's)."""

    def __init__(
        self,
        config: Config | list[Config],
        *,
        mode: str = "process",
        hz: float = 10.0,
        log_path: str | None = None,
    ):
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', not {mode!r}")
        self.configs = [config] if isinstance(config, Config) else list(config)
        self.config = self.configs[0]
        self.mode = mode
        self.hz = hz
        self.log_path = log_path or os.path.join(tempfile.gettempdir(), f"gradtui-trainer-{os.getpid()}.log")
        self._conn: Connection | None = None
        self._worker: Any = None
        self._reported_exit = False
        self._boundaries: dict[int, Any] = {}  # the last boundary received, per run

    def start(self) -> Session:
        """Start the trainer. In process mode, call this before the Textual app runs (see style.md)."""
        ours, theirs = mp.Pipe()
        if self.mode == "process":
            ctx = mp.get_context("spawn")
            self._worker = ctx.Process(
                target=_process_main, args=(theirs, self.configs, self.hz, self.log_path), daemon=True
            )
        else:
            self._worker = threading.Thread(target=serve, args=(theirs, self.configs, self.hz), daemon=True)
        self._worker.start()
        self._conn = ours
        return self

    @property
    def alive(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def _send(self, *msg: Any) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(msg)

    def apply(self, change: Change, run: int | None = None) -> None:
        """Apply ``change`` to run ``run`` (an index), or to every run."""
        self._send("change", run, change)

    def pause(self, paused: bool, run: int | None = None) -> None:
        self._send("pause", run, paused)

    def step_once(self, run: int | None = None) -> None:
        self._send("step", run)

    def set_runs(self, configs: list[Config]) -> None:
        """Replace the runs by fresh ones (twins in lockstep: the same seed, data and batch order)."""
        self.configs = list(configs)
        self._send("runs", self.configs)

    def set_hz(self, hz: float) -> None:
        self._send("hz", hz)

    def poll_all(self) -> tuple[tuple[Snapshot, ...] | None, list[Problem]]:
        """Everything that arrived since the last poll: the newest snapshots (one per run; older ones dropped)
        and the problems."""
        snaps, problems = None, []
        conn = self._conn
        if conn is None:
            return None, []
        try:
            while conn.poll(0):
                kind, payload = conn.recv()
                if kind == "snapshots":
                    snaps = payload
                else:
                    problems.append(payload)
        except (EOFError, OSError):
            if not self._reported_exit:
                self._reported_exit = True
                problems.append(Problem(f"the trainer stopped unexpectedly (log: {self.log_path})", fatal=True))
        if snaps is not None:
            self._send("ack")
            snaps = tuple(self._restore_boundary(i, s) for i, s in enumerate(snaps))
        return snaps, problems

    def _restore_boundary(self, i: int, snap: Snapshot) -> Snapshot:
        if snap.extra.get(_SAME_BOUNDARY):
            extra = {k: v for k, v in snap.extra.items() if k != _SAME_BOUNDARY}
            return dataclasses.replace(snap, boundary=self._boundaries.get(i), extra=extra)
        self._boundaries[i] = snap.boundary
        return snap

    def poll(self) -> tuple[Snapshot | None, list[Problem]]:
        """Like ``poll_all``, for the first run only."""
        snaps, problems = self.poll_all()
        return (snaps[0] if snaps else None), problems

    def close(self, timeout: float = 1.0) -> None:
        """Stop the trainer; quick, whatever state it is in."""
        self._send("stop")
        w = self._worker
        if w is not None:
            w.join(timeout)
            if self.mode == "process" and w.is_alive():
                w.terminate()
                w.join(0.5)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
