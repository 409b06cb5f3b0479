"""The real ``gradtui`` in a pseudo-terminal, as a person runs it (after benchmarks/bench_tui.py): its own session
with the pty as controlling terminal, a thread that reads everything it writes, keys written to it, signals sent
to it. Linux (pty, /proc)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAIT = 30.0  # seconds: a bug fails a test instead of hanging it
# what a terminal-mode exit writes: DEC private modes set back (?Nl/?Nh) and the kitty keyboard protocol popped
RESTORE = re.compile(rb"(?:\x1b\[\?\d+[hl]|\x1b\[<u)+")
READY = re.compile(rb"step [\d,]+ ")  # a snapshot is on the status line


def _controlling_tty() -> None:  # in the child, after setsid: the pty becomes its controlling terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Term:
    """``argv`` on a pty of ``cols`` x ``rows``; ``output`` is everything it wrote (stdout and stderr: Textual draws
    on stderr, one-line messages go there after the terminal is restored)."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path, cols: int = 120, rows: int = 40) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.buf = bytearray()
        self.cond = threading.Condition()
        self.eof = False
        env = {"TERM": "xterm-256color", "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", **env}
        env.pop("COLORTERM", None)
        try:
            self.proc = subprocess.Popen(
                argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True,
                preexec_fn=_controlling_tty, close_fds=True,
            )  # fmt: skip
        finally:
            os.close(slave)
        self.pgid = self.proc.pid
        self.thread = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                try:
                    data = os.read(self.master, 1 << 16)
                except OSError:  # EIO: every holder of the slave side has gone
                    break
                if not data:
                    break
                with self.cond:
                    self.buf += data
                    self.cond.notify_all()
        finally:
            with self.cond:
                self.eof = True
                self.cond.notify_all()

    @property
    def output(self) -> bytes:
        with self.cond:
            return bytes(self.buf)

    def wait_for(self, pattern: re.Pattern[bytes], timeout: float = WAIT, start: int = 0) -> re.Match[bytes]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = pattern.search(self.buf, start)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError(f"{pattern.pattern!r} never came; the last output: {bytes(self.buf[-600:])!r}")
                self.cond.wait(min(left, 0.2))

    def ready(self) -> None:
        """Until the dashboard has drawn a snapshot (and its signal handlers are in place: they come before)."""
        self.wait_for(READY)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float = WAIT) -> int:
        """The exit status, once the process has exited and everything it wrote is read."""
        rc = self.proc.wait(timeout)
        self.thread.join(timeout)
        return rc

    def group_alive(self) -> list[int]:
        """The processes of its group (the app's: the trainer, multiprocessing's helpers) still running."""
        alive = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...
            if int(fields[2]) == self.pgid and fields[0] != "Z":
                alive.append(int(entry.name))
        return alive

    def wait_group_gone(self, timeout: float = 10.0) -> list[int]:
        deadline = time.monotonic() + timeout
        while (alive := self.group_alive()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return alive

    def close(self) -> None:
        """Whatever happened: no process of its group is left behind."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        os.close(self.master)


def restore_block(output: bytes) -> bytes:
    """The bytes that gave the terminal back: the run of mode resets that leaves the alternate screen."""
    blocks = [m.group(0) for m in RESTORE.finditer(output) if b"\x1b[?1049l" in m.group(0)]
    assert blocks, f"the alternate screen was never left: {output[-400:]!r}"
    return blocks[-1]


def after_restore(output: bytes) -> str:
    """What was written after the terminal was given back (the one-line messages)."""
    blocks = [m for m in RESTORE.finditer(output) if b"\x1b[?1049l" in m.group(0)]
    return output[blocks[-1].end() :].decode("utf-8", "replace") if blocks else ""


def gradtui_argv(*args: str, script: str | None = None) -> list[str]:
    """``python -m gradtui ARGS``, or ``python SCRIPT ARGS`` for a script that starts it its own way."""
    return [sys.executable, script, *args] if script else [sys.executable, "-m", "gradtui", *args]
