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
from .engine.pacing import Pacer

__all__ = ["Session", "serve"]

POLL_EVERY = 0.005  # seconds between looks at the command pipe while training


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


def serve(conn: Connection, config: Config, hz: float = 10.0) -> None:
    """The trainer loop. Messages in: ("change", Change), ("pause", bool), ("step",), ("hz", float), ("ack",),
    ("stop",). Out: ("snapshot", Snapshot), ("problem", Problem)."""
    from .blas import set_blas_threads

    try:
        trainer = Trainer(config)
    except Exception as e:  # a config the engine cannot build: say so, and wait for stop
        conn.send(("problem", Problem(f"could not start the trainer: {e}", fatal=True)))
        while conn.recv()[0] != "stop":
            pass
        return
    set_blas_threads(trainer.config.width)
    pacer = Pacer(hz=hz)
    rate = _Rate()
    paused = False
    credit = True  # may we send a snapshot?
    force = True  # a snapshot is wanted now (start, after a change), whatever the pacer says
    steps_total = 0
    sps = math.nan

    def send_snapshot(full: bool) -> None:
        nonlocal credit, force
        snap = pacer.take(trainer, force_probe=full, paused=paused or trainer.diverged is not None, steps_per_sec=sps)
        conn.send(("snapshot", snap))
        credit, force = False, False

    while True:
        # 1. commands
        timeout = 0.0 if (not paused and trainer.diverged is None) or (force and credit) else 0.1
        while conn.poll(timeout):
            timeout = 0.0
            msg = conn.recv()
            kind = msg[0]
            if kind == "stop":
                return
            if kind == "ack":
                credit = True
            elif kind == "pause":
                paused = bool(msg[1])
                force = True
            elif kind == "hz":
                pacer = Pacer(hz=msg[1])
            elif kind == "step":
                try:
                    trainer.step(measure=True)
                    steps_total += 1
                except Exception as e:
                    conn.send(("problem", Problem(_describe(e))))
                force = True
            elif kind == "change":
                try:
                    before = trainer.config
                    trainer.apply(msg[1])
                    if trainer.config.width != before.width:
                        set_blas_threads(trainer.config.width)
                    pacer.reset()
                except ConfigError as e:
                    conn.send(("problem", Problem(str(e))))
                except Exception as e:
                    conn.send(("problem", Problem(_describe(e))))
                force = True
        # 2. training, in slices of POLL_EVERY seconds between looks at the pipe
        try:
            if not paused and trainer.diverged is None:
                end = time.perf_counter() + POLL_EVERY
                while True:
                    due = credit and pacer.due()
                    ok = trainer.step(measure=due)
                    steps_total += ok
                    if not ok:  # diverged: report it at once (below, when the UI has taken its last snapshot)
                        force = True
                        break
                    if due:
                        sps = rate(time.perf_counter(), steps_total)
                        send_snapshot(full=False)
                        break
                    if time.perf_counter() >= end:
                        break
            elif force and credit:
                sps = math.nan if paused else sps
                send_snapshot(full=True)
        except Exception as e:  # an engine error: report it, pause, keep serving (the user may reset)
            paused = True
            force = True
            conn.send(("problem", Problem(_describe(e))))


def _describe(e: BaseException) -> str:
    frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    where = f" ({os.path.basename(frame.filename)}:{frame.lineno})" if frame else ""
    return f"engine error: {type(e).__name__}: {e}{where} - training paused"


def _process_main(conn: Connection, config: Config, hz: float, log_path: str) -> None:
    """Child process entry: send our own prints and warnings to a log file, never to the dashboard's screen."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)  # noqa: SIM115
    try:
        serve(conn, config, hz)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass


class Session:
    """The UI's handle on a running trainer. Not thread-safe: use it from one thread (the UI's)."""

    def __init__(self, config: Config, *, mode: str = "process", hz: float = 10.0, log_path: str | None = None):
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', not {mode!r}")
        self.config = config
        self.mode = mode
        self.hz = hz
        self.log_path = log_path or os.path.join(tempfile.gettempdir(), f"gradtui-trainer-{os.getpid()}.log")
        self._conn: Connection | None = None
        self._worker: Any = None

    def start(self) -> Session:
        """Start the trainer. In process mode, call this before the Textual app runs (see style.md)."""
        ours, theirs = mp.Pipe()
        if self.mode == "process":
            ctx = mp.get_context("spawn")
            self._worker = ctx.Process(
                target=_process_main, args=(theirs, self.config, self.hz, self.log_path), daemon=True
            )
        else:
            self._worker = threading.Thread(target=serve, args=(theirs, self.config, self.hz), daemon=True)
        self._worker.start()
        self._conn = ours
        return self

    @property
    def alive(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def _send(self, *msg: Any) -> None:
        if self._conn is None:
            return
        try:
            self._conn.send(msg)
        except (BrokenPipeError, OSError):
            pass

    def apply(self, change: Change) -> None:
        self._send("change", change)

    def pause(self, paused: bool) -> None:
        self._send("pause", paused)

    def step_once(self) -> None:
        self._send("step")

    def set_hz(self, hz: float) -> None:
        self._send("hz", hz)

    def poll(self) -> tuple[Snapshot | None, list[Problem]]:
        """Everything that arrived since the last poll: the newest snapshot (older ones dropped) and problems."""
        snap, problems = None, []
        conn = self._conn
        if conn is None:
            return None, []
        try:
            while conn.poll(0):
                kind, payload = conn.recv()
                if kind == "snapshot":
                    snap = payload
                else:
                    problems.append(payload)
        except (EOFError, OSError):
            if not getattr(self, "_reported_exit", False):
                self._reported_exit = True
                problems.append(Problem(f"the trainer stopped unexpectedly (log: {self.log_path})", fatal=True))
        if snap is not None:
            self._send("ack")
        return snap, problems

    def wait(self, timeout: float = 10.0) -> tuple[Snapshot | None, list[Problem]]:
        """Block until something arrives (for scripts and the headless benchmarks, not for the UI)."""
        if self._conn is not None and self._conn.poll(timeout):
            return self.poll()
        return None, []

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
