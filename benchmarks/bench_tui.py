"""The dashboard in a real terminal: output bytes/s, frames/s, key-to-screen latency, training steps/s and CPU.

    python benchmarks/bench_tui.py [--seconds 10] [--warmup 3] [--sizes 80x24,120x40,160x50] [--fps 10] [--quick]

For each config (the default deep sigmoid net, and a fast one: --activation relu --init he --depth 4) and each
terminal size, the real CLI (``python -m gradtui --fps F --color C [config flags]``) runs in a pseudo-terminal of
that size (os.openpty + TIOCSWINSZ, TERM=xterm-256color, no COLORTERM: the usual SSH case, 256 colours) while a
thread reads everything it writes, as a terminal would. After the first snapshot is on screen and --warmup seconds
more, it measures over --seconds:

  KB/s, frames/s  bytes the app wrote to the terminal, and frames. This script answers Textual's DECRQM query
    KB/frame      (ESC[?2026$p) with "supported" (ESC[?2026;2$y), as xterm-class terminals do, so Textual wraps
                  each frame in ESC[?2026h ... ESC[?2026l: a frame is one such pair. With --no-sync it does not
                  answer, and frames are counted as bursts of output separated by more than 5 ms of silence.
  resent          the share of the bytes that re-sent screen cells with what they already showed. The script keeps
                  a model of the screen (a grid of cells: character and the SGR attributes it was written with),
                  fed by the reader thread. Output is cut into write segments, each from one cursor move to the
                  next; a segment's bytes count as resent in proportion to the cells it wrote that were already
                  exactly so (same character, same attributes). This is output that a finer-grained refresh would
                  have saved. --panels breaks the bytes down by screen region: the panel box (found from its
                  rounded corners on the screen at the end of the window, labelled by its title) that holds the
                  segment's cursor move, else "row N" (the status line is row 1, then the alert lines, the key bar);
                  bytes that wrote no cell (cursor parking, the frame markers) are shown apart.
  UI CPU, trainer of the UI process and of its trainer child (utime+stime from /proc/PID/stat over the window;
                  100 % = one core); ms/frm = the UI's CPU time per frame (the least load-dependent figure here).
  steps/s         the status line's "N steps/s" (the trainer's own rate over ~2 s), read from row 1 of the screen
                  model each time that row changes: the median of the values shown in the window. "by step" is the
                  slope of the status line's step counter over the window.
  dash/bare       steps/s over the engine's bare speed, measured first in a child process of its own (the same
                  config and BLAS threads, Trainer.step() in a loop, median of 1-second runs; printed above each
                  table with the rate when taking 10 snapshots a second as the dashboard's trainer does).
                  design.md section 4 wants >= 95 %.
  key p50/p95/max then it presses `l` and `L` in turn (learning rate 0.1 <-> 0.2), --keys times, 150-250 ms
                  apart (random, so as not to lock to the refresh rate), and times each write to the arrival of
                  the output that made the screen's status line show "lr 0.2 " (or "lr 0.1 "), in ms. Default 80
                  keys: with 30, p95 is the second-largest sample, and one slow moment moved it by 20-40 ms.
  start s, quit s from launch to the first snapshot on screen (the status line shows "step N", or the screen
                  "vanishing ratio"); from pressing `q` to the exit of the app.

Whatever happens, the app's process group (the app, its trainer, multiprocessing's helpers) is killed at the end
of each run; the pty is the app's controlling terminal, so it gets SIGHUP even if this script is killed outright.
The exit status is 1 if a run failed (no snapshot on screen, the app died, `q` did not quit within 5 s), else 0.

The reader thread stands in for the terminal emulator; its own CPU is printed at the end (it should be small).
--dump DIR saves each raw output stream; --selftest checks the screen model on a few hand-written byte strings
and exits. Linux only (/proc, pty).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import fcntl
import math
import operator
import os
import random
import re
import shlex
import signal
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNC_QUERY = b"\x1b[?2026$p"
SYNC_REPLY = b"\x1b[?2026;2$y"
SYNC_START = b"\x1b[?2026h"
SYNC_END = b"\x1b[?2026l"
BURST_GAP = 0.005  # seconds of silence that end a burst (frames without synchronized output)
CONFIGS = [("default", []), ("relu", ["--activation", "relu", "--init", "he", "--depth", "4"])]
RE_SPS = re.compile(r"([\d,]+) steps/s")  # these four read the text of the screen model's rows
RE_STEP = re.compile(r"\bstep ([\d,]+) ")
RE_LR = re.compile(r"\blr ([0-9.e+-]+) ")
NEXT_KEY = {"0.1": (b"l", "0.2"), "0.2": (b"L", "0.1")}  # lr shown -> key to press, lr to expect
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- the screen ----------------------------------------------------------------------------------------------------
# one token of terminal output: a CSI sequence (1: parameters, 2: final byte), an OSC string or another escape
# (no group), a C0 control (3) or a run of printable text (4); a byte that fits none (a stray ESC) is skipped
RE_TOKEN = re.compile(
    rb"\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[^\[\]]"
    rb"|([\x00-\x1a\x1c-\x1f])|([^\x00-\x1f\x1b]+)"
)
RE_ESC_DONE = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[^\[\]])")
RE_OSC_DONE = re.compile(rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
CURSOR_MOVES = frozenset(b"HfABCDGd")  # CSI finals that move the cursor: each starts a new write segment
_WIDTHS: dict[str, int] = {}


def cell_width(ch: str) -> int:
    """Cells a character takes: 2 for East Asian wide and full-width, 0 for combining marks, else 1."""
    w = _WIDTHS.get(ch)
    if w is None:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            w = 0
        else:
            w = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        _WIDTHS[ch] = w
    return w


def _complete(buf: bytes) -> int:
    """How much of ``buf`` can be parsed now: all but an unfinished escape sequence or UTF-8 character at its end."""
    q = buf.rfind(b"\x1b]")
    if q >= 0 and not RE_OSC_DONE.match(buf, q) and len(buf) - q < 4096:
        return q  # an OSC string still open (it may hold an ESC: its terminator ESC \ cut in two)
    p = buf.rfind(b"\x1b", max(0, len(buf) - 64))
    if p >= 0 and not RE_ESC_DONE.match(buf, p):
        return p
    for i in range(1, min(3, len(buf)) + 1):
        c = buf[-i]
        if c & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for the lead byte
        if c >= 0xC0 and (2 if c < 0xE0 else 3 if c < 0xF0 else 4) > i:
            return len(buf) - i
        break
    return len(buf)


class Screen:
    """A terminal screen of ``cols`` x ``rows`` cells, each a character and the SGR state it was written in (the SGR
    parameters since the last reset, joined: enough to tell a colour change), fed the output bytes as they come.

    It follows what Textual sends: cursor moves (CUP ``ESC[r;cH``, and CUU/CUD/CUF/CUB/CHA/VPA), ``\\r``, ``\\n``
    (scrolling at the bottom), backspace, tab and SGR; it ignores other CSI sequences (modes, queries, the
    synchronized-output markers, whose start it counts as a frame), OSC strings and other escapes. Text clips at the
    right edge (Textual turns autowrap off). Chunks may end anywhere: an unfinished escape sequence or UTF-8
    character waits for the next feed.

    Output is cut into write segments, each from one cursor move to the next. For each, it counts the cells written
    and those that were already exactly so (character and SGR), and adds to ``stats[(row, col)]`` (1-based, where
    the segment's cursor move went; None for segments that wrote no cell) [bytes, resent bytes (the segment's bytes
    in proportion of its unchanged cells), set of frame numbers]. ``resent`` is the total of those; ``text_resent``
    the bytes of the printed characters themselves that re-wrote a cell as it was. ``status`` lists (arrival time,
    text) of row 1 each time a feed changed it."""

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.chars = [[" "] * cols for _ in range(rows)]
        self.sgrs = [[b""] * cols for _ in range(rows)]
        self.row = self.col = 0
        self.sgr = b""
        self.pending = b""
        self.offset = 0  # bytes parsed so far (the pending tail is not)
        self.frame = 0  # ESC[?2026h seen (or bursts, counted by the caller)
        self.status: list[tuple[float, str]] = []
        self._status_dirty = False
        self._seg_key: tuple[int, int] = (1, 1)  # where the segment under way started
        self.reset_stats()

    def reset_stats(self) -> None:
        """Start counting afresh from here (the segment under way counts from here too)."""
        self.stats: dict[tuple[int, int] | None, list] = {}
        self.resent = 0.0
        self.text_resent = 0
        self.printed = 0  # bytes of printed characters
        self._seg_start, self._seg_frame = self.offset, self.frame
        self._cells = self._same = 0
        self._last: tuple | None = None  # (row, col, char and sgr before, same?) of the last cell printed

    def text(self, row: int) -> str:
        """Row ``row`` (0-based) as text."""
        return "".join(self.chars[row])

    def feed(self, data: bytes, now: float = 0.0) -> None:
        buf = self.pending + data if self.pending else data
        cut = _complete(buf)
        self.pending = buf[cut:]
        base = self.offset
        for m in RE_TOKEN.finditer(buf, 0, cut):
            kind = m.lastindex
            if kind == 4:
                self._print(m.group(4))
            elif kind == 2:
                final = m.group(2)[0]
                if final == 0x6D:  # m
                    params = m.group(1)
                    if params in (b"", b"0"):
                        self.sgr = b""
                    elif params.startswith(b"0;"):
                        self.sgr = params[2:]
                    else:
                        self.sgr = self.sgr + b";" + params if self.sgr else params
                elif final in CURSOR_MOVES:
                    self._move(final, m.group(1), base + m.start())
                elif final == 0x68 and m.group(1) == b"?2026":  # h: a frame starts
                    self.frame += 1
            elif kind == 3:
                c = m.group(3)
                if c == b"\n":
                    if self.row + 1 < self.rows:
                        self.row += 1
                    else:  # scroll up
                        self.chars.append(self.chars.pop(0))
                        self.sgrs.append(self.sgrs.pop(0))
                        self.chars[-1][:] = [" "] * self.cols
                        self.sgrs[-1][:] = [b""] * self.cols
                        self._status_dirty = True
                elif c == b"\r":
                    self.col = 0
                elif c == b"\b":
                    self.col = max(0, min(self.col, self.cols - 1) - 1)
                elif c == b"\t":
                    self.col = min(self.cols - 1, (self.col // 8 + 1) * 8)
        self.offset = base + cut
        if self._status_dirty:
            self._status_dirty = False
            text = self.text(0)
            if not self.status or self.status[-1][1] != text:
                self.status.append((now, text))

    def _move(self, final: int, params: bytes, at: int) -> None:
        self._end_segment(at)
        args = [int(v) if v.isdigit() else 0 for v in params.split(b";")] if params else []
        n = max(1, args[0]) if args else 1
        if final in (0x48, 0x66):  # H, f: row;col, 1-based
            self.row = min(self.rows, n) - 1
            self.col = min(self.cols, max(1, args[1]) if len(args) > 1 else 1) - 1
        elif final == 0x41:  # A: up
            self.row = max(0, self.row - n)
        elif final == 0x42:  # B: down
            self.row = min(self.rows - 1, self.row + n)
        elif final == 0x43:  # C: right
            self.col = min(self.cols - 1, self.col + n)
        elif final == 0x44:  # D: left
            self.col = max(0, min(self.col, self.cols - 1) - n)
        elif final == 0x47:  # G: column
            self.col = min(self.cols, n) - 1
        else:  # d: row
            self.row = min(self.rows, n) - 1
        self._seg_key = (self.row + 1, self.col + 1)

    def _end_segment(self, at: int) -> None:
        nbytes, cells, same = at - self._seg_start, self._cells, self._same
        if nbytes > 0 or cells:
            key = self._seg_key if cells else None
            entry = self.stats.get(key)
            if entry is None:
                entry = self.stats[key] = [0, 0.0, set()]
            entry[0] += nbytes
            if cells:
                resent = nbytes * same / cells
                entry[1] += resent
                entry[2].add(self._seg_frame)
                self.resent += resent
        self._seg_start, self._seg_frame = at, self.frame
        self._cells = self._same = 0
        self._last = None

    def _print(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace")
        chars, sgrs, col, sgr = self.chars[self.row], self.sgrs[self.row], self.col, self.sgr
        if text.isascii() or all(cell_width(ch) == 1 for ch in set(text)):
            k = min(len(text), self.cols - col)
            if k <= 0:
                return
            new = text[:k]
            old_c, old_s = chars[col : col + k], sgrs[col : col + k]
            if old_s.count(sgr) == k:
                same = sum(map(operator.eq, old_c, new))
            else:
                same = sum(map(operator.and_, map(operator.eq, old_c, new), map(operator.eq, old_s, repeat(sgr))))
            nbytes = len(raw) if k == len(text) else len(new.encode())
            if same == k:
                resent = nbytes
            elif same == 0:
                resent = 0
            else:
                resent = len("".join(c for c, o, s in zip(new, old_c, old_s) if c == o and s == sgr).encode())
            self._last = (self.row, col + k - 1, old_c[-1], old_s[-1], old_c[-1] == new[-1] and old_s[-1] == sgr)
            chars[col : col + k] = new
            sgrs[col : col + k] = [sgr] * k
            self.col = col + k
        else:  # wide characters or combining marks: one at a time
            k = same = nbytes = resent = 0
            i, n = 0, len(text)
            while i < n:
                ch = text[i]
                i += 1
                w = cell_width(ch)
                if w == 0:  # a mark with no character before it in this run: onto the cell before
                    if 0 < col <= self.cols:
                        chars[col - 1] += ch
                        nbytes += len(ch.encode())
                        last = self._last
                        if last is not None and last[:2] == (self.row, col - 1):  # that cell: compare again
                            now = last[2] == chars[col - 1] and last[3] == sgrs[col - 1]
                            same += now - last[4]
                            resent += (now - last[4]) * len(chars[col - 1].encode())
                            self._last = (*last[:4], now)
                    continue
                while i < n and cell_width(text[i]) == 0:
                    ch += text[i]  # the character and its combining marks: one cell
                    i += 1
                if col + w > self.cols:
                    col = self.cols
                    break
                b = len(ch.encode())
                if (
                    chars[col] == ch
                    and sgrs[col] == sgr
                    and (w == 1 or (chars[col + 1] == "" and sgrs[col + 1] == sgr))
                ):
                    same += w
                    resent += b
                self._last = (self.row, col, chars[col], sgrs[col], chars[col] == ch and sgrs[col] == sgr)
                chars[col], sgrs[col] = ch, sgr
                if w == 2:
                    chars[col + 1], sgrs[col + 1] = "", sgr  # the right half of a wide character
                col += w
                k += w
                nbytes += b
            self.col = col
        self._cells += k
        self._same += same
        self.printed += nbytes
        self.text_resent += resent
        if self.row == 0 and (same < k or not k):
            self._status_dirty = True


# ---- the terminal ------------------------------------------------------------------------------------------------
def _controlling_tty() -> None:  # in the child, after setsid: make the pty its controlling terminal (SIGHUP on close)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Term:
    """A child process on a pseudo-terminal of ``cols`` x ``rows``; a thread reads (and timestamps) all it writes."""

    def __init__(self, argv: list[str], cols: int, rows: int, env: dict[str, str], *, answer_sync: bool) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.answer_sync = answer_sync
        self.sync_answered = False
        self.buf = bytearray()
        self.ends: list[int] = []  # end offset of each chunk read ...
        self.times: list[float] = []  # ... and when it arrived (perf_counter)
        self.screen = Screen(cols, rows)  # what the terminal shows: fed each chunk, under cond
        self.cond = threading.Condition()
        self.eof = False
        self.reader_cpu = 0.0
        self.t_start = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                cwd=ROOT,
                start_new_session=True,  # its own process group (the trainer child joins it): killpg ends all
                preexec_fn=_controlling_tty,  # no other thread of ours runs at this point
                close_fds=True,
            )
        finally:
            os.close(slave)
        self.thread = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        screen = self.screen
        try:
            while True:
                try:
                    data = os.read(self.master, 1 << 16)
                except OSError:  # EIO: every holder of the slave side has gone
                    break
                if not data:
                    break
                now = time.perf_counter()
                with self.cond:
                    if not self.answer_sync and (not self.times or now - self.times[-1] > BURST_GAP):
                        screen.frame += 1  # no frame markers: a burst of output is a frame
                    self.buf += data
                    self.ends.append(len(self.buf))
                    self.times.append(now)
                    screen.feed(data, now)
                    self.cond.notify_all()
                if self.answer_sync and not self.sync_answered and SYNC_QUERY in self.buf[-len(data) - 16 :]:
                    self.sync_answered = True
                    self.write(SYNC_REPLY)
        finally:
            self.reader_cpu = time.thread_time()
            with self.cond:
                self.eof = True
                self.cond.notify_all()

    def write(self, data: bytes) -> float:
        """Send ``data`` as typed input; returns the time just before the write."""
        t = time.perf_counter()
        with contextlib.suppress(OSError):
            os.write(self.master, data)
        return t

    def wait_until(self, found: Callable[[], float | None], timeout: float) -> float | None:
        """Wait until ``found()`` (called under ``cond``, after each chunk) returns a time, and return it; None if
        it did not within ``timeout`` s or the output ended."""
        deadline = time.perf_counter() + timeout
        with self.cond:
            while True:
                t = found()
                if t is not None:
                    return t
                left = deadline - time.perf_counter()
                if self.eof or left <= 0:
                    return None
                self.cond.wait(left)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def quit(self, key: bytes = b"q", timeout: float = 5.0) -> tuple[int | None, float]:
        """Press ``key`` and wait for the app to exit: (exit status or None if it did not, seconds taken)."""
        t0 = self.write(key)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        return code, time.perf_counter() - t0

    def kill(self) -> None:
        """End the whole process group (the app, its trainer, multiprocessing's helpers); never raises."""
        for sig, wait in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            deadline = time.perf_counter() + wait
            while time.perf_counter() < deadline and _group_alive(self.proc.pid):
                self.proc.poll()
                time.sleep(0.02)
            if not _group_alive(self.proc.pid):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(1.0)
        self.thread.join(2.0)
        with contextlib.suppress(OSError):
            os.close(self.master)


# ---- /proc -------------------------------------------------------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (index 0 = state, 1 = ppid, 2 = pgrp, 11 = utime)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(b")") + 2 :].decode().split()


def cpu_seconds(pid: int | None) -> float | None:
    s = _stat(pid) if pid else None
    return None if s is None or s[0] == "Z" else (int(s[11]) + int(s[12])) / CLK_TCK


def _group_alive(pgid: int) -> bool:
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = _stat(int(name))
            if s is not None and s[2] == str(pgid) and s[0] != "Z":
                return True
    return False


def trainer_pid(app_pid: int) -> int | None:
    """The app's trainer child: the multiprocessing child running spawn_main (not the resource tracker)."""
    children = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = _stat(int(name))
            if s is not None and s[1] == str(app_pid):
                children.append(int(name))
    for pid in children:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"spawn_main" in f.read():
                    return pid
        except OSError:
            pass
    return max(children, key=lambda p: cpu_seconds(p) or 0.0) if children else None  # a thread session: none


# ---- one run -----------------------------------------------------------------------------------------------------
@dataclass
class Result:
    size: str
    kbps: float = float("nan")
    fps: float = float("nan")
    kb_frame: float = float("nan")
    key_p50: float = float("nan")
    key_p95: float = float("nan")
    key_max: float = float("nan")
    keys: int = 0
    key_misses: int = 0
    ui_cpu: float = float("nan")
    ui_ms_frame: float = float("nan")
    trainer_cpu: float = float("nan")
    sps: float = float("nan")
    sps_by_step: float = float("nan")
    first_frame: float = float("nan")
    quit_s: float = float("nan")
    quit_code: int | None = None
    error: str = ""
    resent: float = float("nan")
    frames: int = 0
    regions: list[Region] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(q * (len(v) - 1))))]


def _num(s: str) -> int:
    return int(s.replace(",", ""))


def bursts(times: list[float], gap: float = BURST_GAP) -> int:
    return sum(1 for a, b in zip(times, times[1:], strict=False) if b - a > gap) + (1 if times else 0)


NO_TEXT = "in writes of no cell: cursor parking, frame markers"


@dataclass
class Region:
    """Output to one part of the screen: a panel box, or a row outside every box (the status line, alerts, keys)."""

    label: str
    rows: tuple[int, int]  # 1-based, inclusive; (0, 0) for the bytes that wrote no cell
    col: int
    bytes: int = 0
    resent: float = 0.0  # bytes that re-sent cells as they already were
    writes: int = 0  # frames that wrote to it


def find_boxes(chars: list[list[str]]) -> list[tuple[int, int, int, int, str]]:
    """The rounded boxes on a screen: (top, left, bottom, right) 0-based inclusive, and the title in the top
    border. A box is a ╭ with the first ╮ to its right on the same row and the first ╰ below it in its column."""
    boxes = []
    for r, row in enumerate(chars):
        c = -1
        while "╭" in row[c + 1 :]:
            c = row.index("╭", c + 1)
            if "╮" not in row[c + 1 :]:
                break
            c1 = row.index("╮", c + 1)
            r1 = next((k for k in range(r + 1, len(chars)) if chars[k][c] == "╰"), None)
            if r1 is not None:
                title = "".join(row[c : c1 + 1]).strip("╭╮─ ")[:40] or f"box at row {r + 1}, column {c + 1}"
                boxes.append((r, c, r1, c1, title))
    return boxes


def regions(stats: dict, chars: list[list[str]]) -> list[Region]:
    """Group a Screen's segment stats by the box (on the screen ``chars``) that holds each segment's start, else
    by row; largest first."""
    boxes = find_boxes(chars)
    out: dict[object, tuple[Region, set]] = {}
    for key, (nbytes, resent, frames) in stats.items():
        if key is None:
            where: object = None
            region = Region(NO_TEXT, (0, 0), 0)
        else:
            row, col = key
            inside = [b for b in boxes if b[0] <= row - 1 <= b[2] and b[1] <= col - 1 <= b[3]]
            if inside:
                where = min(inside, key=lambda b: (b[2] - b[0] + 1) * (b[3] - b[1] + 1))  # the innermost
                region = Region(where[4], (where[0] + 1, where[2] + 1), where[1] + 1)
            else:
                where = row
                region = Region(f"row {row}", (row, row), col)
        if where in out:
            region = out[where][0]
            region.col = min(region.col, key[1]) if isinstance(where, int) else region.col
        else:
            out[where] = (region, set())
        region.bytes += nbytes
        region.resent += resent
        out[where][1].update(frames)
        region.writes = len(out[where][1])
    return sorted((g for g, _ in out.values()), key=lambda g: -g.bytes)


def run_one(argv, cols, rows, env, args, live: list[Term]) -> Result:
    r = Result(f"{cols}x{rows}")
    term = Term(argv, cols, rows, env, answer_sync=not args.no_sync)
    screen = term.screen
    live.append(term)

    try:
        first = term.wait_until(lambda: snapshot_shown(term), args.start_timeout)
        if first is None:
            r.error = start_failure(term, args.start_timeout)
            return r
        r.first_frame = first - term.t_start
        time.sleep(args.warmup)
        tpid = trainer_pid(term.proc.pid)
        # -- the window
        with term.cond:
            a, ta = len(term.buf), time.perf_counter()
            screen.reset_stats()
        ui0, tr0 = cpu_seconds(term.proc.pid), cpu_seconds(tpid)
        time.sleep(args.seconds)
        with term.cond:
            b, tb = len(term.buf), time.perf_counter()
            stats, resent = screen.stats, screen.resent
            chars = [row[:] for row in screen.chars]
            status = list(screen.status)
            window = bytes(term.buf[a:b])
            i0, i1 = bisect.bisect_right(term.ends, a), bisect.bisect_right(term.ends, b)
            chunk_times = term.times[i0:i1]
            screen.reset_stats()  # a fresh dict: the reader thread goes on counting into that one
        ui1, tr1 = cpu_seconds(term.proc.pid), cpu_seconds(tpid)
        if not term.alive():
            r.error = f"the app exited during the window (status {term.proc.returncode})"
            return r
        span = tb - ta
        r.kbps = len(window) / span / 1000
        frames = window.count(SYNC_START) if term.sync_answered else bursts(chunk_times)
        r.fps = frames / span
        r.kb_frame = len(window) / max(frames, 1) / 1000
        if ui0 is not None and ui1 is not None:
            r.ui_cpu = 100 * (ui1 - ui0) / span
            r.ui_ms_frame = 1000 * (ui1 - ui0) / max(frames, 1)
        if tr0 is not None and tr1 is not None:
            r.trainer_cpu = 100 * (tr1 - tr0) / span
        # the status line as shown through the window: the text at its start, then each change
        k = max(0, bisect.bisect_right(status, (ta, "\uffff")) - 1)
        shown = [(max(t, ta), text) for t, text in status[k:] if t <= tb]
        sps = [_num(m.group(1)) for _, text in shown if (m := RE_SPS.search(text))]
        if sps:
            r.sps = float(statistics.median(sps))
        steps = [(t, _num(m.group(1))) for t, text in shown if (m := RE_STEP.search(text))]
        if len(steps) >= 2 and steps[-1][0] > steps[0][0]:
            r.sps_by_step = float(steps[-1][1] - steps[0][1]) / (steps[-1][0] - steps[0][0])
        r.resent, r.frames = resent / max(len(window), 1), frames
        r.regions = regions(stats, chars)
        # -- key-to-screen latency: l / L in turn (lr 0.1 <-> 0.2, from the default 0.1)
        rng = random.Random(0)
        lat = []
        for _ in range(args.keys):
            with term.cond:
                m = RE_LR.search(screen.status[-1][1] if screen.status else "")
                seen = len(screen.status)
            key, want = NEXT_KEY.get(m.group(1) if m else "", (b"", ""))
            if not key:
                r.key_misses += 1
                break  # the status line does not show lr 0.1 or 0.2 (cut, or another config): cannot measure
            t0 = term.write(key)

            def shows(want=want) -> float | None:  # the first change of the status line since that shows it
                nonlocal seen
                for t, text in screen.status[seen:]:
                    m = RE_LR.search(text)
                    if m and m.group(1) == want:
                        return t
                seen = len(screen.status)
                return None

            got = term.wait_until(shows, args.key_timeout)
            if got is None:
                r.key_misses += 1
                if not term.alive():
                    break
            else:
                lat.append(1000 * (got - t0))
            time.sleep(max(0.0, t0 + rng.uniform(0.15, 0.25) - time.perf_counter()))
        r.keys, r.samples = len(lat), lat
        if lat:
            r.key_p50, r.key_p95, r.key_max = statistics.median(lat), _pct(lat, 0.95), max(lat)
        # -- quit
        code, secs = term.quit()
        r.quit_code, r.quit_s = code, secs
        return r
    finally:
        term.kill()
        if args.dump:
            Path(args.dump).mkdir(parents=True, exist_ok=True)
            (Path(args.dump) / f"{argv_tag(argv)}-{cols}x{rows}.bin").write_bytes(bytes(term.buf))
        args.reader_cpu += term.reader_cpu
        live.remove(term)


def app_env() -> dict[str, str]:
    """The environment the app runs in: the SSH case (256 colours, no COLORTERM), nothing of Textual's or a
    multiplexer's, a UTF-8 locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    for k in ("COLORTERM", "NO_COLOR", "COLUMNS", "LINES", "TERM_PROGRAM", "TMUX", "STY"):
        env.pop(k, None)
    env["TERM"] = "xterm-256color"
    if not any(env.get(k) for k in ("LC_ALL", "LC_CTYPE", "LANG")):
        env["LANG"] = "C.UTF-8"
    return env


def snapshot_shown(term: Term) -> float | None:
    """Called under ``term.cond``: when a snapshot was first on screen (the status line's step counter, or the
    flow panel), or None if not yet."""
    screen = term.screen
    if RE_STEP.search(screen.status[-1][1] if screen.status else "") or any(
        "vanishing ratio" in screen.text(y) for y in range(screen.rows)
    ):
        return term.times[-1] if term.times else time.perf_counter()
    return None


def start_failure(term: Term, timeout: float) -> str:
    """Why no snapshot came on screen within ``timeout`` s: the app's exit status, or none, and its last output."""
    with term.cond:
        tail = bytes(term.buf[-400:]).decode("utf-8", "replace")
    try:
        code = term.proc.wait(0.5)
    except subprocess.TimeoutExpired:
        code = None
    why = f"the app exited with status {code}" if code is not None else "no snapshot on screen"
    return f"{why} within {timeout:g} s; its output ends with {tail!r}"


def argv_tag(argv: list[str]) -> str:
    flags = argv[argv.index("--fps") + 4 :] if "--fps" in argv else argv[1:]  # after: --fps F --color C
    return re.sub(r"[^A-Za-z0-9]+", "-", " ".join(flags)).strip("-") or "default"


# ---- headless ----------------------------------------------------------------------------------------------------
def _headless_child(flags: list[str], seconds: float) -> None:
    """In a child process of its own: print bare and 10 Hz steps/s (medians of 1-second runs)."""
    sys.path.insert(0, str(ROOT))
    from gradtui.blas import set_blas_threads
    from gradtui.cli import build_parser, config_from_args
    from gradtui.engine import Trainer
    from gradtui.engine.pacing import Pacer

    cfg = config_from_args(build_parser().parse_args(flags))
    set_blas_threads(cfg.width)  # as the dashboard's trainer does
    trainer = Trainer(cfg)
    pacer = Pacer(hz=10)

    def rate(secs: float, paced: bool) -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < secs:
            if paced and pacer.due():
                trainer.step(measure=True)
                pacer.take(trainer)
            else:
                trainer.step()
            n += 1
        return n / (time.perf_counter() - t0)

    rate(min(0.5, seconds), True)  # warm up (the first snapshot measures everything)
    each = min(1.0, seconds)
    bare, paced = [], []
    for _ in range(max(1, round(seconds / each / 2))):
        bare.append(rate(each, False))
        paced.append(rate(each, True))
    print(statistics.median(bare), statistics.median(paced))


def headless(flags: list[str], seconds: float, env: dict[str, str]) -> tuple[float, float]:
    """The engine alone (a child process, so that this one stays a thin terminal): (bare, 10 Hz) steps/s."""
    argv = [sys.executable, __file__, "--headless-child", str(seconds), *flags]
    try:
        out = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=seconds * 3 + 60)
        bare, paced = (float(v) for v in out.stdout.split())
        return bare, paced
    except (subprocess.TimeoutExpired, ValueError) as e:
        print(f"  headless run failed: {e}", file=sys.stderr)
        return float("nan"), float("nan")


# ---- self-check --------------------------------------------------------------------------------------------------
def _feed_split(data: bytes, cols: int, rows: int, cuts: list[int]) -> Screen:
    screen = Screen(cols, rows)
    for x, y in zip([0, *cuts], [*cuts, len(data)]):
        screen.feed(data[x:y])
    return screen


def selftest() -> int:
    """Feed the screen model hand-written output, whole, cut in two at every byte, and byte by byte; check the rows,
    the resent counts and the status line record. 0 if all agree, else 1."""
    e, esc = "\x1b[", "\x1b"
    frame1 = (  # a status line and a box, as Textual writes them (SGR around each run, ESC[0m after)
        f"{e}?2026h{e}1;1H{e}1;38;5;253;48;5;17m step 1,234 {e}0m{e}38;5;247m9 steps/s{e}0m\r\n"
        f"{e}2;3H{e}38;5;24m╭─{e}0m{e}1m T ×{e}0m{e}38;5;24m─╮{e}0m\r\n"
        f"{e}3;3H│{e}4C│{esc}]22;default\x07{esc}]0;title{esc}\\{e}?25l{e}1;1H{e}?2026l"
    )
    again = f"{e}?2026h{e}1;1H{e}1;38;5;253;48;5;17m step 1,235 {e}0m{e}1;1H{e}?2026l"  # 11 of 12 cells as they were
    recolour = f"{e}1;2H{e}1;38;5;254;48;5;17mstep{e}0m{e}1;1H"  # the same characters in another colour
    wide = f"{e}1;1H日本e\u0301{e}2;4Habcdefgh{e}2;5H日{e}2;1H{e}3D{e}2Cx{e}1;1H"  # clipped at the right edge
    scroll = "ab\r\ncd\r\nef"
    wide_again = len(f"{e}1;1H日本e\u0301".encode()) + len(f"{e}2;4Habcdefgh") * 3 / 5 + len(f"{e}2Cx")
    s1 = (frame1 + again).encode()
    seg = len(f"{e}1;1H{e}1;38;5;253;48;5;17m step 1,235 {e}0m")  # the segment of "again" that wrote cells
    cases = [
        # (bytes, cols, rows, expected rows, resent bytes, text bytes resent)
        (
            frame1.encode(),
            21,
            3,
            [" step 1,234 9 steps/s", "  ╭─ T ×─╮", "  │    │"],
            0.0,
            0,
        ),
        (
            s1,
            21,
            3,
            [" step 1,235 9 steps/s", "  ╭─ T ×─╮", "  │    │"],
            seg * 11 / 12,
            11,
        ),
        (s1 + recolour.encode(), 21, 3, None, seg * 11 / 12, 11),
        (wide.encode(), 8, 2, ["日本e\u0301", "  xa日de"], 0.0, 0),
        # again: the first segment is all as it was, "abcde" finds a, d and e there (日 took b and c), x is there
        (wide.encode() * 2, 8, 2, ["日本e\u0301", "  xa日de"], wide_again, len("日本e\u0301".encode()) + 3 + 1),
        (scroll.encode(), 2, 2, ["cd", "ef"], 0.0, 0),
    ]
    failures = 0
    for n, (data, cols, rows, want_rows, want_resent, want_text) in enumerate(cases, 1):
        splits = [[], *([i] for i in range(1, len(data))), list(range(1, len(data)))]
        for cuts in splits:
            sc = _feed_split(data, cols, rows, cuts)
            got_rows = [sc.text(y).rstrip() for y in range(rows)]
            problems = []
            if want_rows is not None and got_rows != want_rows:
                problems.append(f"rows {got_rows!r}, expected {want_rows!r}")
            if abs(sc.resent - want_resent) > 1e-9 or sc.text_resent != want_text:
                problems.append(f"resent {sc.resent:g} / text {sc.text_resent}, expected {want_resent:g} / {want_text}")
            if sc.pending or sc.offset != len(data):
                problems.append(f"{len(sc.pending)} bytes left unparsed")
            if problems:
                failures += 1
                where = "whole" if not cuts else f"cut at {cuts[0]}" if len(cuts) == 1 else "byte by byte"
                print(f"case {n}, {where}: " + "; ".join(problems))
                break
    sc = Screen(21, 3)
    for t, text_in in enumerate([frame1, again, again, recolour]):  # the status line record: a line per change
        sc.feed(text_in.encode(), float(t))
    status = [(t, text.rstrip()) for t, text in sc.status]
    if status != [(0.0, " step 1,234 9 steps/s"), (1.0, " step 1,235 9 steps/s")] or sc.frame != 3:
        failures += 1
        print(f"status line record: {status}, {sc.frame} frames (expected 3)")
    sc = Screen(21, 3)  # counting afresh in the middle of a segment: it keeps its place
    sc.feed(s1[: len(frame1) + 20])
    sc.reset_stats()
    sc.feed(s1[len(frame1) + 20 :])
    if set(sc.stats) != {(1, 1), None} or sc.stats[None][1] or not 0 < sc.resent < seg:
        failures += 1
        print(f"stats after reset_stats: {sc.stats}")
    sc = _feed_split(s1 + recolour.encode(), 21, 3, [])
    boxes = [b[:4] for b in find_boxes(sc.chars)]
    if boxes:  # no ╰ on this screen: no box
        failures += 1
        print(f"boxes: {boxes}")
    box = [["╭", "─", "T", "─", "╮"], ["│", " ", " ", " ", "│"], ["╰", "─", "─", "─", "╯"]]
    if find_boxes(box) != [(0, 0, 2, 4, "T")]:
        failures += 1
        print(f"boxes: {find_boxes(box)}")
    print("bench_tui selftest: " + ("ok" if not failures else f"{failures} FAILED"))
    return 1 if failures else 0


# ---- main --------------------------------------------------------------------------------------------------------
# (header, width, format, value): one column of the table
COLUMNS = [
    ("size", 7, "", lambda r, bare: r.size),
    ("KB/s", 6, ".1f", lambda r, bare: r.kbps),
    ("frames/s", 8, ".1f", lambda r, bare: r.fps),
    ("KB/frame", 8, ".1f", lambda r, bare: r.kb_frame),
    ("key p50", 7, ".0f", lambda r, bare: r.key_p50),
    ("p95", 5, ".0f", lambda r, bare: r.key_p95),
    ("max", 5, ".0f", lambda r, bare: r.key_max),
    ("resent", 6, ".0%", lambda r, bare: r.resent),
    ("UI CPU", 6, ".0%", lambda r, bare: r.ui_cpu / 100),
    ("ms/frm", 6, ".1f", lambda r, bare: r.ui_ms_frame),
    ("trainer", 7, ".0%", lambda r, bare: r.trainer_cpu / 100),
    ("steps/s", 7, ",.0f", lambda r, bare: r.sps),
    ("by step", 7, ",.0f", lambda r, bare: r.sps_by_step),
    ("dash/bare", 9, ".0%", lambda r, bare: r.sps / bare if bare else math.nan),
    ("start s", 7, ".1f", lambda r, bare: r.first_frame),
    ("quit s", 6, ".2f", lambda r, bare: r.quit_s if r.quit_code == 0 else f"rc={r.quit_code}".replace("None", "?")),
]


def _cell(value, width: int, spec: str) -> str:
    if isinstance(value, float):
        value = "-" if math.isnan(value) else format(value, spec)
    return f"{value:>{width}}"


def table_row(r: Result | None, bare: float) -> str:
    if r is None:
        return "  " + " ".join(f"{h:>{w}}" for h, w, _, _ in COLUMNS)
    return "  " + " ".join(_cell(get(r, bare), w, spec) for _, w, spec, get in COLUMNS)


def main() -> int:
    if sys.argv[1:2] == ["--selftest"]:
        return selftest()
    if sys.argv[1:2] == ["--headless-child"]:
        _headless_child(sys.argv[3:], float(sys.argv[2]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring window per run (default: 10)")
    ap.add_argument("--warmup", type=float, default=3.0, help="after the first snapshot is drawn (default: 3)")
    ap.add_argument("--sizes", default="80x24,120x40,160x50", help="COLSxROWS,... (default: %(default)s)")
    ap.add_argument("--fps", type=float, default=10.0, help="the dashboard's --fps (default: 10)")
    ap.add_argument("--color", default="auto", help="the dashboard's --color (default: auto, i.e. 256 colours here)")
    ap.add_argument("--keys", type=int, default=80, help="key-latency samples per run (default: 80)")
    ap.add_argument("--headless", type=float, default=5.0, help="seconds of headless timing per config (default: 5)")
    ap.add_argument(
        "--config",
        choices=[n for n, _ in CONFIGS],
        action="append",
        help="only this config (repeatable): default = deep sigmoid, relu = relu, he, depth 4",
    )
    ap.add_argument("--no-sync", action="store_true", help="do not answer the synchronized-output query")
    ap.add_argument("--panels", action="store_true", help="also print where on the screen the bytes went")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print every key-latency sample (ms)")
    ap.add_argument("--dump", metavar="DIR", help="save each raw output stream to DIR")
    ap.add_argument("--selftest", action="store_true", help="check the screen model and exit (alone)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 120x40 only, 1 s warm-up, 2 s, 10 keys")
    ap.add_argument("--start-timeout", type=float, default=30.0, help=argparse.SUPPRESS)
    ap.add_argument("--key-timeout", type=float, default=2.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.warmup, args.seconds, args.keys, args.headless = "120x40", 1.0, 2.0, 10, 1.0
    try:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
        assert all(len(s) == 2 and s[0] > 0 and s[1] > 0 for s in sizes)
    except (ValueError, AssertionError):
        ap.error(f"--sizes: expected COLSxROWS[,COLSxROWS...], not {args.sizes!r}")
    configs = [(n, f) for n, f in CONFIGS if not args.config or n in args.config]
    args.reader_cpu = 0.0

    env = app_env()

    # never hang: a budget for the whole thing, then the finally below kills what is left
    per_run = args.start_timeout + args.warmup + args.seconds + args.keys * (0.25 + args.key_timeout) + 15
    budget = len(configs) * (len(sizes) * per_run + args.headless * 2 + 30)

    def on_alarm(signum, frame):
        raise TimeoutError(f"the benchmark ran over its {budget:.0f} s budget")

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.alarm(int(budget) + 1)

    live: list[Term] = []
    failed = False
    t_all = time.perf_counter()
    try:
        print(
            f"gradtui in a pty: TERM=xterm-256color, no COLORTERM, --fps {args.fps:g}, --color {args.color}; "
            f"{args.warmup:g} s warm-up, {args.seconds:g} s window, {args.keys} keys; "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        for name, flags in configs:
            argv = [sys.executable, "-m", "gradtui", "--fps", f"{args.fps:g}", "--color", args.color, *flags]
            cmd = " ".join(shlex.quote(a) for a in ["python", *argv[1:]])
            bare, paced = headless(flags, args.headless, env)
            print(f"\n{name}: {cmd}")
            print(f"  headless engine: {bare:,.0f} steps/s bare, {paced:,.0f} with 10 Hz snapshots")
            head = table_row(None, bare)
            print(head + "\n  " + "-" * (len(head) - 2), flush=True)
            for cols, rows in sizes:
                r = run_one(argv, cols, rows, env, args, live)
                if r.error:
                    failed = True
                    print(f"  {r.size:>7} FAILED: {r.error}", flush=True)
                    continue
                notes = []
                if r.key_misses:
                    notes.append(f"{r.key_misses} of {args.keys} keys not seen within {args.key_timeout:g} s")
                if math.isnan(r.sps):
                    notes.append("no steps/s on screen: the status line is cut at this width")
                print(table_row(r, bare) + "".join(f"  ({n})" for n in notes), flush=True)
                if r.quit_code != 0:
                    failed = True
                if args.verbose:
                    print(f"          key ms (l, L, l, ...): {' '.join(f'{v:.0f}' for v in r.samples)}", flush=True)
                if args.panels and r.regions:
                    total = sum(g.bytes for g in r.regions)
                    for g in r.regions:
                        if g.bytes / total >= 0.01:
                            where = (
                                f" {g.resent / max(g.bytes, 1):4.0%} resent, in {g.writes / max(r.frames, 1):4.0%}"
                                f" of frames: rows {g.rows[0]}-{g.rows[1]} from column {g.col}  {g.label}"
                                if g.rows[0]
                                else f" {g.label}"
                            )
                            print(f"          {g.bytes / total:4.0%} of the bytes,{where}", flush=True)
        frames = "ESC[?2026h...l pairs (synchronized output)" if not args.no_sync else "bursts split by > 5 ms"
        print(
            f"\nframes = {frames}; resent = bytes re-writing screen cells as they were; CPU: 100 % = one core;"
            f"\nms/frm = UI CPU per frame; key = from writing l/L to the new 'lr X' on the status line (ms);"
            f"\nsteps/s = median of the status line's figure; by step = slope of its step counter;"
            f"\ndash/bare = steps/s over headless bare. Reader thread CPU {args.reader_cpu:.2f} s;"
            f" total {time.perf_counter() - t_all:.0f} s.",
            flush=True,
        )
    except TimeoutError as e:
        print(f"\nbench_tui: {e}", file=sys.stderr)
        failed = True
    except KeyboardInterrupt:
        print("\nbench_tui: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.alarm(0)
        for term in list(live):
            term.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
