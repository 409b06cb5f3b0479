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
  resent          the share of the bytes that re-sent a screen line exactly as it already was. Each line Textual
                  writes starts with a cursor move (ESC[row;colH); the script keeps the last text written at each
                  position. This is output that a finer-grained refresh would have saved. --panels breaks the bytes
                  down by screen region (the rows written from one column, labelled by their first line: usually
                  the panel's title border).
  UI CPU, trainer of the UI process and of its trainer child (utime+stime from /proc/PID/stat over the window;
                  100 % = one core); ms/frm = the UI's CPU time per frame (the least load-dependent figure here).
  steps/s         the status line's "N steps/s" (the trainer's own rate over ~2 s): the median of the values
                  drawn in the window. "by step" is the slope of the status line's step counter over the window.
  dash/bare       steps/s over the engine's bare speed, measured first in a child process of its own (the same
                  config and BLAS threads, Trainer.step() in a loop, median of 1-second runs; printed above each
                  table with the rate when taking 10 snapshots a second as the dashboard's trainer does).
                  design.md section 4 wants >= 95 %.
  key p50/p95/max then it presses `l` and `L` in turn (learning rate 0.1 <-> 0.2), --keys times, 150-250 ms
                  apart (random, so as not to lock to the refresh rate), and times each write to the moment
                  "lr 0.2 " (or "lr 0.1 ") arrives in the output, in ms.
  start s, quit s from launch to the first snapshot on screen; from pressing `q` to the exit of the app.

Whatever happens, the app's process group (the app, its trainer, multiprocessing's helpers) is killed at the end
of each run; the pty is the app's controlling terminal, so it gets SIGHUP even if this script is killed outright.
The exit status is 1 if a run failed (no snapshot on screen, the app died, `q` did not quit within 5 s), else 0.

The reader thread stands in for the terminal emulator; its own CPU is printed at the end (it should be small).
--dump DIR saves each raw output stream. Linux only (/proc, pty).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import fcntl
import math
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
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNC_QUERY = b"\x1b[?2026$p"
SYNC_REPLY = b"\x1b[?2026;2$y"
SYNC_START = b"\x1b[?2026h"
SYNC_END = b"\x1b[?2026l"
BURST_GAP = 0.005  # seconds of silence that end a burst (frames without synchronized output)
CONFIGS = [("default", []), ("relu", ["--activation", "relu", "--init", "he", "--depth", "4"])]
RE_SPS = re.compile(rb"([\d,]+) steps/s")
RE_STEP = re.compile("│ step ".encode() + rb"([\d,]+) ")
RE_LR = re.compile(rb"lr ([0-9.e+-]+) ")
NEXT_KEY = {b"0.1": (b"l", b"lr 0.2 "), b"0.2": (b"L", b"lr 0.1 ")}  # lr shown -> key to press, text to expect
RE_READY = re.compile(RE_STEP.pattern + rb"|vanishing ratio")  # a snapshot is on screen (status line or flow panel)
RE_MOVE = re.compile(rb"\x1b\[(\d+);(\d+)H")
CLK_TCK = os.sysconf("SC_CLK_TCK")


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
                    self.buf += data
                    self.ends.append(len(self.buf))
                    self.times.append(now)
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

    @property
    def offset(self) -> int:
        with self.cond:
            return len(self.buf)

    def time_of(self, offset: int) -> float:
        """When byte ``offset - 1`` arrived (the chunk that brought it)."""
        with self.cond:
            i = bisect.bisect_left(self.ends, offset)
            return self.times[min(i, len(self.times) - 1)]

    def wait_for(self, pattern: re.Pattern[bytes] | bytes, start: int, timeout: float) -> tuple[int, float] | None:
        """Wait until ``pattern`` occurs in the output at or after byte ``start``: (its end offset, arrival time)."""
        deadline = time.perf_counter() + timeout
        pos = start
        find = pattern.search if isinstance(pattern, re.Pattern) else None
        while True:
            with self.cond:
                if find is not None:
                    m = find(self.buf, pos)
                    end = m.end() if m else -1
                else:
                    i = self.buf.find(pattern, pos)
                    end = i + len(pattern) if i >= 0 else -1
                if end >= 0:
                    i = bisect.bisect_left(self.ends, end)
                    return end, self.times[i]
                pos = max(start, len(self.buf) - 64)  # a match may straddle chunks
                left = deadline - time.perf_counter()
                if self.eof or left <= 0:
                    return None
                self.cond.wait(min(left, 0.05))

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


def _num(b: bytes) -> int:
    return int(b.replace(b",", b""))


def bursts(times: list[float], gap: float = BURST_GAP) -> int:
    return sum(1 for a, b in zip(times, times[1:], strict=False) if b - a > gap) + (1 if times else 0)


RE_CSI = re.compile(rb"\x1b\[[0-9;?<>=$]*[A-Za-z]")


@dataclass
class Region:
    """Output to one part of the screen: consecutive rows written from the same column (a panel, the status line)."""

    label: str
    rows: tuple[int, int]
    col: int
    bytes: int = 0
    resent: int = 0  # bytes that re-sent exactly what was already there
    writes: int = 0  # frames that wrote to it


def analyse(stream: bytes, a: int, b: int) -> tuple[int, list[Region]]:
    """Attribute the output in ``stream[a:b]`` to screen positions: Textual writes each changed line of a widget
    as a cursor move (ESC[row;colH) and the line's cells. Returns the bytes that re-sent a line identical to the
    one already at that position (tracked from the start of ``stream``) and the regions, largest first."""
    last: dict[tuple[int, int], bytes] = {}
    per: dict[tuple[int, int], list] = {}  # (row, col) -> [bytes, resent, frames, text]
    frame_of = [m.start() for m in re.finditer(re.escape(SYNC_START), stream, 0)] or [0]
    moves = list(RE_MOVE.finditer(stream, 0, b))
    resent = 0
    for m, nxt in zip(moves, [*moves[1:], None], strict=False):
        end = nxt.start() if nxt else b
        seg = stream[m.end() : end].split(SYNC_END)[0]
        key = (int(m.group(1)), int(m.group(2)))
        same = last.get(key) == seg
        last[key] = seg
        if m.start() < a or not seg:
            continue
        entry = per.setdefault(key, [0, 0, set(), b""])
        entry[0] += end - m.start()
        entry[2].add(bisect.bisect_right(frame_of, m.start()))
        entry[3] = seg
        if same:
            entry[1] += end - m.start()
            resent += end - m.start()
    regions: list[Region] = []
    for col in sorted({c for _, c in per}):
        rows = sorted(r for r, c in per if c == col)
        prev = ""
        for row in rows:
            text = RE_CSI.sub(b"", per[(row, col)][3]).decode("utf-8", "replace").strip()
            cur = regions[-1] if regions and regions[-1].col == col else None
            if cur is None or row != cur.rows[1] + 1 or text.startswith("╭") or prev.startswith("╰"):
                label = text.strip("╭╮─ ")[:40] or f"row {row}"
                cur = Region(label, (row, row), col)
                regions.append(cur)
            n, rs, frames, _ = per[(row, col)]
            cur.rows = (cur.rows[0], row)
            cur.bytes += n
            cur.resent += rs
            cur.writes = max(cur.writes, len(frames))
            prev = text
    return resent, sorted(regions, key=lambda g: -g.bytes)


def run_one(argv, cols, rows, env, args, live: list[Term]) -> Result:
    r = Result(f"{cols}x{rows}")
    term = Term(argv, cols, rows, env, answer_sync=not args.no_sync)
    live.append(term)
    try:
        first = term.wait_for(RE_READY, 0, args.start_timeout)
        if first is None:
            tail = bytes(term.buf[-400:]).decode("utf-8", "replace")
            try:
                code = term.proc.wait(0.5)
            except subprocess.TimeoutExpired:
                code = None
            why = f"the app exited with status {code}" if code is not None else "no snapshot on screen"
            r.error = f"{why} within {args.start_timeout:g} s; its output ends with {tail!r}"
            return r
        r.first_frame = first[1] - term.t_start
        time.sleep(args.warmup)
        tpid = trainer_pid(term.proc.pid)
        # -- the window
        a, ta = term.offset, time.perf_counter()
        ui0, tr0 = cpu_seconds(term.proc.pid), cpu_seconds(tpid)
        time.sleep(args.seconds)
        b, tb = term.offset, time.perf_counter()
        ui1, tr1 = cpu_seconds(term.proc.pid), cpu_seconds(tpid)
        if not term.alive():
            r.error = f"the app exited during the window (status {term.proc.returncode})"
            return r
        span = tb - ta
        with term.cond:
            window = bytes(term.buf[a:b])
            i0, i1 = bisect.bisect_right(term.ends, a), bisect.bisect_right(term.ends, b)
            chunk_times = term.times[i0:i1]
        r.kbps = len(window) / span / 1000
        frames = window.count(SYNC_START) if term.sync_answered else bursts(chunk_times)
        r.fps = frames / span
        r.kb_frame = len(window) / max(frames, 1) / 1000
        if ui0 is not None and ui1 is not None:
            r.ui_cpu = 100 * (ui1 - ui0) / span
            r.ui_ms_frame = 1000 * (ui1 - ui0) / max(frames, 1)
        if tr0 is not None and tr1 is not None:
            r.trainer_cpu = 100 * (tr1 - tr0) / span
        sps = [_num(m.group(1)) for m in RE_SPS.finditer(window)]
        if sps:
            r.sps = float(statistics.median(sps))
        steps = [(term.time_of(a + m.end()), _num(m.group(1))) for m in RE_STEP.finditer(window)]
        if len(steps) >= 2 and steps[-1][0] > steps[0][0]:
            r.sps_by_step = float(steps[-1][1] - steps[0][1]) / (steps[-1][0] - steps[0][0])
        with term.cond:
            stream = bytes(term.buf[:b])
        resent, r.regions = analyse(stream, a, b)
        r.resent, r.frames = resent / max(len(window), 1), frames
        # -- key-to-screen latency: l / L in turn (lr 0.1 <-> 0.2, from the default 0.1)
        rng = random.Random(0)
        lat = []
        for _ in range(args.keys):
            with term.cond:
                shown = RE_LR.findall(term.buf, max(0, len(term.buf) - (1 << 17)))
            key, text = NEXT_KEY.get(shown[-1] if shown else b"", (b"", b""))
            if not key:
                r.key_misses += 1
                break  # the status line does not show lr 0.1 or 0.2 (cut, or another config): cannot measure
            start = term.offset
            t0 = term.write(key)
            got = term.wait_for(text, start, args.key_timeout)
            if got is None:
                r.key_misses += 1
                if not term.alive():
                    break
            else:
                lat.append(1000 * (got[1] - t0))
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
    if sys.argv[1:2] == ["--headless-child"]:
        _headless_child(sys.argv[3:], float(sys.argv[2]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring window per run (default: 10)")
    ap.add_argument("--warmup", type=float, default=3.0, help="after the first snapshot is drawn (default: 3)")
    ap.add_argument("--sizes", default="80x24,120x40,160x50", help="COLSxROWS,... (default: %(default)s)")
    ap.add_argument("--fps", type=float, default=10.0, help="the dashboard's --fps (default: 10)")
    ap.add_argument("--color", default="auto", help="the dashboard's --color (default: auto, i.e. 256 colours here)")
    ap.add_argument("--keys", type=int, default=30, help="key-latency samples per run (default: 30)")
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

    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    for k in ("COLORTERM", "NO_COLOR", "COLUMNS", "LINES", "TERM_PROGRAM", "TMUX", "STY"):
        env.pop(k, None)
    env["TERM"] = "xterm-256color"
    if not any(env.get(k) for k in ("LC_ALL", "LC_CTYPE", "LANG")):
        env["LANG"] = "C.UTF-8"

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
                            print(
                                f"          {g.bytes / total:4.0%} of the bytes,"
                                f" {g.resent / max(g.bytes, 1):4.0%} resent,"
                                f" in {g.writes / max(r.frames, 1):4.0%} of frames: rows {g.rows[0]}-{g.rows[1]}"
                                f" from column {g.col}  {g.label}",
                                flush=True,
                            )
        frames = "ESC[?2026h...l pairs (synchronized output)" if not args.no_sync else "bursts split by > 5 ms"
        print(
            f"\nframes = {frames}; resent = bytes re-sending an unchanged line; CPU: 100 % = one core;"
            f"\nms/frm = UI CPU per frame; key = from writing l/L to the new 'lr X' in the output (ms);"
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
