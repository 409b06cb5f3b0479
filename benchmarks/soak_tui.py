"""The dashboard over a long live run: do its CPU and memory stay flat? (issue 11: within 10 % of the first minute's)

    python benchmarks/soak_tui.py [--minutes 60] [--interval 10] [--config default|relu] [--size 120x40]
                                  [--csv PATH] [--quick]

The real CLI (``python -m gradtui --fps 10 --color auto [config flags]``) runs in a pseudo-terminal of --size, with
TERM=xterm-256color and no COLORTERM, exactly as benchmarks/bench_tui.py runs it (its Term: a thread reads all the
output, as a terminal would, and answers Textual's synchronized-output query). The clock starts when the first
snapshot is on screen; from then on, every --interval seconds (on a fixed schedule, not drifting), it samples:

  CPU %         of the UI process and of its trainer child: utime+stime from /proc/PID/stat over the interval
                (100 % = one core).
  RSS MB        VmRSS from /proc/PID/status, and VmHWM (the highest RSS so far); also the thread count and open
                file descriptors, in the CSV (a leak of either shows there first).
  KB/s, frm/s   the bytes the UI wrote to the terminal over the interval, and its frames (ESC[?2026h pairs).
  step, steps/s the training step on the status line, read from a one-row model of the terminal (the status
                line is partly redrawn: only the cells that changed arrive), and its rate over the interval; the
                status line's own "N steps/s" figure goes to the CSV as shown_sps.

A line per minute prints that minute's medians (CPU, KB/s, frames/s, steps/s) and peaks (RSS). The summary
compares, for each process and metric, the samples in the reference window (minute 1-2: "after the first minute")
with those of the last 5 minutes (the last quarter of a run shorter than 20 minutes; a run shorter than 4 minutes
takes its second quarter as the reference), each as median [min-max], gives the change in %, and says `flat` /
`NOT flat` against the 10 % goal: CPU on its medians (a 10-second CPU figure on a shared machine is noisy: never
single samples), memory on VmHWM at each window's end, i.e. whether the process reached a new peak more than 10 %
above its peak of the first two minutes. (RSS itself is shown, not judged: the trainer frees and re-takes a ~20 MB
block now and then and flips between two levels for minutes at a time, so the median of a window only says which
level its samples happened to hit. A slow leak under an early peak shows in the slopes.) KB/s, frames/s and steps/s
are shown for context. It also fits a line to each process's RSS over the second half of the run (MB/min
and MB/hour, on the samples and on the per-minute peaks) and to its CPU (%/min). On a loaded machine CPU % moves
with the neighbours: the load average is printed at the start and the end; quote it with the figures.

--csv PATH writes every sample as it is taken (flushed: a killed run keeps its data). What Term keeps of the
output (its buffer, its screen model's counters) is emptied at every sample, so this process stays small over the
hour; its own CPU (the pty reader, the screen models) is printed at the end: on a small machine it competes with
the app. The app's process group is killed at the end, on SIGINT / SIGTERM / SIGHUP, and when the wall-clock
budget (--minutes + 2 min) runs out. The exit status is 1 if the app did not show its first snapshot within 30 s,
died or lost its trainer during the run, or did not quit on `q` at the end; 130 if interrupted, 128 + N if ended
by signal N (in both cases the summary of what was sampled is still printed); else 0, flat or not. Linux only
(/proc, pty).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import shlex
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tui import (  # noqa: E402
    RE_SPS,
    RE_STEP,
    Term,
    app_env,
    cpu_seconds,
    snapshot_shown,
    start_failure,
    trainer_pid,
)

CONFIGS = {"default": [], "relu": ["--activation", "relu", "--init", "he", "--depth", "4"]}
SYNC_START = b"\x1b[?2026h"
GOAL = 0.10  # issue 11: within 10 % of the values after the first minute
START_TIMEOUT = 30.0


# ---- /proc -------------------------------------------------------------------------------------------------------
def proc_status(pid: int | None) -> tuple[float, float, int, int]:
    """(VmRSS and VmHWM in MB, threads, open file descriptors) of ``pid``; nan / -1 where it cannot be read."""
    rss, hwm, threads, fds = math.nan, math.nan, -1, -1
    if not pid:
        return rss, hwm, threads, fds
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError):
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, hwm, threads, fds


def is_trainer(pid: int) -> bool:
    """Whether ``pid`` runs multiprocessing's spawn_main (the trainer; not the resource tracker)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"spawn_main" in f.read()
    except OSError:
        return False


# ---- sampling ----------------------------------------------------------------------------------------------------
@dataclass
class Sample:
    t: float  # seconds since the first snapshot was on screen, at the end of the interval
    ui_cpu: float
    ui_rss: float
    ui_hwm: float  # VmHWM: the peak RSS so far
    ui_threads: int
    ui_fds: int
    trainer_pid: int
    trainer_cpu: float
    trainer_rss: float
    trainer_hwm: float
    trainer_threads: int
    trainer_fds: int
    kbps: float
    fps: float
    step: int
    sps: float  # from the step counter over the interval
    shown_sps: float  # the status line's figure
    load1: float  # the machine's 1-minute load average (other processes move every CPU figure)


# (label, Sample field, unit, how it is judged against the goal: "median" of each window, "hwm" (the peak so far,
# at the end of each window), "" not judged: shown for context)
METRICS = [
    ("UI CPU", "ui_cpu", "%", "median"),
    ("UI RSS", "ui_rss", "MB", ""),
    ("UI peak RSS", "ui_hwm", "MB", "hwm"),
    ("trainer CPU", "trainer_cpu", "%", "median"),
    ("trainer RSS", "trainer_rss", "MB", ""),
    ("trnr peak RSS", "trainer_hwm", "MB", "hwm"),
    ("output", "kbps", "KB/s", ""),
    ("frames", "fps", "/s", ""),
    ("training", "sps", "steps/s", ""),
]


class Sampler:
    def __init__(self, term: Term, out: IO[str] | None) -> None:
        self.term = term
        self.app = term.proc.pid
        self.trainer = trainer_pid(self.app)
        self.trainer_gone = self.trainer is None or not is_trainer(self.trainer)
        self.events: list[str] = []
        self.samples: list[Sample] = []
        self.writer = csv.writer(out) if out else None
        self.out = out
        if self.writer and out:
            self.writer.writerow([f.name for f in fields(Sample)])
            out.flush()
        self.feed()
        self.t0 = time.perf_counter()
        self.last = (self.t0, cpu_seconds(self.app), cpu_seconds(self.trainer), self.step())

    def status_line(self) -> str:
        with self.term.cond:
            return self.term.screen.text(0)

    def step(self) -> int | None:
        m = RE_STEP.search(self.status_line())
        return int(m.group(1).replace(",", "")) if m else None

    def shown_sps(self) -> float:
        m = RE_SPS.search(self.status_line())
        return float(m.group(1).replace(",", "")) if m else math.nan

    def feed(self) -> tuple[int, int]:
        """Take (and drop) what the app wrote since the last call: (bytes, frames). The screen model has been
        fed it as it came (by Term's reader)."""
        term = self.term
        with term.cond:
            nbytes, frames = len(term.buf), term.buf.count(SYNC_START)
            term.buf.clear()  # nothing reads these after the first snapshot: keep this process small
            term.ends.clear()
            term.times.clear()
            term.screen.reset_stats()  # its per-position counters (sets of frame numbers) would grow all hour
            del term.screen.status[:-1]  # the status line's history
        return nbytes, frames

    def take(self) -> Sample:
        nbytes, frames = self.feed()
        now = time.perf_counter()
        t_prev, ui_prev, tr_prev, step_prev = self.last
        span = max(now - t_prev, 1e-9)
        ui = cpu_seconds(self.app)
        tr = cpu_seconds(self.trainer)
        if tr is None:  # gone (or a zombie): a new trainer? (a restart would show here)
            new = trainer_pid(self.app)
            if new is not None and new != self.trainer and is_trainer(new):
                self.events.append(f"{now - self.t0:.0f} s: trainer pid {self.trainer} -> {new}")
                self.trainer, tr_prev = new, None
                tr = cpu_seconds(new)
            else:  # (trainer_pid falls back on any child: the resource tracker, once the trainer has gone)
                self.trainer_gone = True
        step = self.step()
        ui_rss, ui_hwm, ui_thr, ui_fds = proc_status(self.app)
        tr_rss, tr_hwm, tr_thr, tr_fds = proc_status(self.trainer if tr is not None else None)
        s = Sample(
            t=now - self.t0,
            ui_cpu=100 * (ui - ui_prev) / span if ui is not None and ui_prev is not None else math.nan,
            ui_rss=ui_rss,
            ui_hwm=ui_hwm,
            ui_threads=ui_thr,
            ui_fds=ui_fds,
            trainer_pid=self.trainer or -1,
            trainer_cpu=100 * (tr - tr_prev) / span if tr is not None and tr_prev is not None else math.nan,
            trainer_rss=tr_rss,
            trainer_hwm=tr_hwm,
            trainer_threads=tr_thr,
            trainer_fds=tr_fds,
            kbps=nbytes / span / 1000,
            fps=frames / span,
            step=step if step is not None else -1,
            sps=(step - step_prev) / span if step is not None and step_prev is not None else math.nan,
            shown_sps=self.shown_sps(),
            load1=os.getloadavg()[0],
        )
        self.last = (now, ui, tr, step)
        self.samples.append(s)
        if self.writer and self.out:
            self.writer.writerow([_csv(v) for v in asdict(s).values()])
            self.out.flush()
        return s


def _csv(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


# ---- figures -----------------------------------------------------------------------------------------------------
def median_of(samples: list[Sample], key: str) -> float:
    vals = [getattr(s, key) for s in samples]
    vals = [v for v in vals if isinstance(v, (int, float)) and not math.isnan(v)]
    return float(statistics.median(vals)) if vals else math.nan


def points(samples: list[Sample], key: str) -> list[tuple[float, float]]:
    return [(s.t, float(getattr(s, key))) for s in samples if not math.isnan(getattr(s, key))]


def slope_per_min(pts: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(pts) < 3:
        return math.nan
    xs = [t / 60 for t, _ in pts]
    mx, my = sum(xs) / len(xs), sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, (_, y) in zip(xs, pts)) / sxx if sxx else math.nan


def windows(total: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(reference, end) windows in seconds for a run of ``total`` seconds."""
    ref_len = min(60.0, total / 4)
    ref = (min(60.0, total / 4), min(60.0, total / 4) + ref_len)
    tail = min(300.0, total / 4)
    return ref, (total - tail, total)


def within(samples: list[Sample], a: float, b: float, interval: float) -> list[Sample]:
    """The samples whose interval lies inside [a, b] (to a tenth of an interval)."""
    eps = interval / 10
    return [s for s in samples if s.t - interval >= a - eps and s.t <= b + eps]


def fmt(v: float, spec: str = ".1f") -> str:
    return "-" if math.isnan(v) else format(v, spec)


def minute_line(m: int, group: list[Sample]) -> str:
    med: Callable[[str], float] = lambda k: median_of(group, k)  # noqa: E731
    last = group[-1]
    return (
        f"  {m:>4} {fmt(med('ui_cpu')):>7} {fmt(peak_of(group, 'ui_rss')):>7} {fmt(med('trainer_cpu')):>8}"
        f" {fmt(peak_of(group, 'trainer_rss')):>8} {fmt(med('kbps')):>6} {fmt(med('fps')):>5}"
        f" {last.step if last.step >= 0 else '-':>10} {fmt(med('sps'), ',.0f'):>8} {fmt(last.load1, '.2f'):>5}"
    )


MINUTE_HEAD = (
    f"  {'min':>4} {'UI CPU%':>7} {'UI MB':>7} {'trn CPU%':>8} {'trn MB':>8} {'KB/s':>6} {'frm/s':>5}"
    f" {'step':>10} {'steps/s':>8} {'load':>5}"
)


def peak_of(samples: list[Sample], key: str) -> float:
    vals = [float(getattr(s, key)) for s in samples if not math.isnan(getattr(s, key))]
    return max(vals) if vals else math.nan


def low_of(samples: list[Sample], key: str) -> float:
    vals = [float(getattr(s, key)) for s in samples if not math.isnan(getattr(s, key))]
    return min(vals) if vals else math.nan


def minute_peaks(samples: list[Sample], key: str) -> list[tuple[float, float]]:
    """(the minute's middle, its peak of ``key``) for each minute of ``samples`` spanning at least half a minute."""
    by: dict[int, list[Sample]] = {}
    for s in samples:
        by.setdefault(int(s.t // 60.0001), []).append(s)
    return [(60 * m + 30, peak_of(g, key)) for m, g in sorted(by.items()) if g[-1].t - g[0].t >= 30]


def summary(samples: list[Sample], interval: float, events: list[str]) -> list[str]:
    if not samples:
        return ["no samples taken"]
    total = samples[-1].t
    (ra, rb), (ta, tb) = windows(total)
    ref, end = within(samples, ra, rb, interval), within(samples, ta, tb, interval)
    lines = [
        f"summary over {total / 60:.1f} min, {len(samples)} samples: reference = {len(ref)} samples in"
        f" {ra / 60:.2f}-{rb / 60:.2f} min, end = {len(end)} samples in {ta / 60:.2f}-{tb / 60:.2f} min;"
        f" each: median [min-max] (peak RSS: VmHWM, the highest RSS so far, at the window's end)",
        f"  {'metric':<13} {'unit':<8} {'reference':>22} {'end':>22} {'change':>8}  verdict (goal: within 10 %)",
    ]
    if not ref or not end:
        return [lines[0], "  too short to compare: a window holds no whole sample interval"]
    for label, key, unit, how in METRICS:
        spec = ",.0f" if unit == "steps/s" else ".1f"
        if how == "hwm":  # the peak so far, at the end of the window
            r, e = (float(getattr(g[-1], key)) if g else math.nan for g in (ref, end))
            cells = [fmt(r, spec), fmt(e, spec)]
        else:
            r, e = median_of(ref, key), median_of(end, key)
            cells = [f"{fmt(median_of(g, key), spec)} [{fmt(low_of(g, key), spec)}-{fmt(peak_of(g, key), spec)}]"
                     for g in (ref, end)]  # fmt: skip
        change = (e - r) / r if r and not math.isnan(r) and not math.isnan(e) else math.nan
        if not how:
            verdict = "(context)"
        elif math.isnan(change):
            verdict = "?"
        else:
            verdict = ("flat" if abs(change) <= GOAL else "NOT flat") + f" ({'VmHWM' if how == 'hwm' else how})"
        lines.append(
            f"  {label:<13} {unit:<8} {cells[0]:>22} {cells[1]:>22} {fmt(100 * change, '+.1f'):>7}%  {verdict}"
        )
    half = [s for s in samples if s.t > total / 2]
    lines.append(f"  second half ({len(half)} samples), least-squares slopes:")
    for who in ("ui", "trainer"):
        mb = slope_per_min(points(half, f"{who}_rss"))
        peaks = minute_peaks(half, f"{who}_rss")
        mb_peak = slope_per_min(peaks)
        cpu = slope_per_min(points(half, f"{who}_cpu"))
        lines.append(
            f"    {who + ' RSS':<12} {fmt(mb, '+.3f'):>8} MB/min ({fmt(60 * mb, '+.1f')} MB/hour); its per-minute"
            f" peaks {fmt(mb_peak, '+.3f')} MB/min ({len(peaks)} minutes);  {who} CPU {fmt(cpu, '+.2f')} %/min"
        )
    first, last = samples[0], samples[-1]
    lines.append(
        f"  threads UI {first.ui_threads} -> {last.ui_threads}, trainer {first.trainer_threads} ->"
        f" {last.trainer_threads}; open fds UI {first.ui_fds} -> {last.ui_fds}, trainer {first.trainer_fds} ->"
        f" {last.trainer_fds}; RSS over the run, UI {fmt(low_of(samples, 'ui_rss'))}-{fmt(peak_of(samples, 'ui_rss'))}"
        f" MB, trainer {fmt(low_of(samples, 'trainer_rss'))}-{fmt(peak_of(samples, 'trainer_rss'))} MB"
    )
    lines.extend(f"  note: {e}" for e in events)
    return lines


class Stopped(Exception):
    """SIGTERM or SIGHUP: end the run as an interrupt does (the app killed, the summary of what was sampled)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# ---- main --------------------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0, help="how long to train, from the first snapshot (60)")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples (default: 10)")
    ap.add_argument("--config", choices=list(CONFIGS), default="default", help="default (deep sigmoid) or relu")
    ap.add_argument("--size", default="120x40", help="terminal COLSxROWS (default: %(default)s)")
    ap.add_argument("--csv", metavar="PATH", help="write every sample to PATH as it is taken")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 2 minutes, a sample every 5 s")
    args = ap.parse_args()
    if args.quick:
        args.minutes, args.interval = 2.0, 5.0
    try:
        cols, rows = (int(v) for v in args.size.lower().split("x"))
        assert cols > 0 and rows > 0
    except (ValueError, AssertionError):
        ap.error(f"--size: expected COLSxROWS, not {args.size!r}")
    if args.minutes <= 0 or not 0 < args.interval <= 60 * args.minutes:
        ap.error("--minutes must be > 0, and --interval > 0 and at most the run's length")
    if not sys.platform.startswith("linux"):
        print("soak_tui: Linux only (/proc, pty)", file=sys.stderr)
        return 1

    env = app_env()
    argv = [sys.executable, "-m", "gradtui", "--fps", "10", "--color", "auto", *CONFIGS[args.config]]

    budget = 60 * args.minutes + 120

    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"the soak ran over its {budget:.0f} s budget")

    def on_term(signum: int, frame: object) -> None:
        raise Stopped(signum)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # (even where started with SIGINT ignored: `cmd &`)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.alarm(int(budget) + 1)

    term: Term | None = None
    sampler: Sampler | None = None
    out: IO[str] | None = None
    failed = False
    status = 0
    try:
        print(
            f"soak: {' '.join(shlex.quote(a) for a in ['python', *argv[1:]])} on a {cols}x{rows} pty"
            f" (TERM=xterm-256color, no COLORTERM); {args.minutes:g} min, a sample every {args.interval:g} s;"
            f" {os.cpu_count()} CPUs, load {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
            flush=True,
        )
        if args.csv:
            out = open(args.csv, "w", newline="")  # noqa: SIM115 (closed in the finally)
        term = Term(argv, cols, rows, env, answer_sync=True)
        first = term.wait_until(lambda: snapshot_shown(term), START_TIMEOUT)
        if first is None:
            print(f"soak: FAILED: {start_failure(term, START_TIMEOUT)}", file=sys.stderr)
            return 1
        print(f"first snapshot on screen after {first - term.t_start:.1f} s; app pid {term.proc.pid}", flush=True)
        time.sleep(0.5)  # the rest of that frame (the status line's step counter, read at the start)
        sampler = Sampler(term, out)
        if sampler.trainer_gone:
            print(f"soak: FAILED: no trainer process under the app (pid {term.proc.pid})", file=sys.stderr)
            return 1
        print(f"trainer pid {sampler.trainer}", flush=True)
        print(MINUTE_HEAD, flush=True)
        end = sampler.t0 + 60 * args.minutes
        k, minute, group = 1, 1, []
        while True:
            target = sampler.t0 + k * args.interval
            if target > end + args.interval / 100:
                break
            while (left := target - time.perf_counter()) > 0:
                if not term.alive():
                    break
                time.sleep(min(left, 1.0))
            if not term.alive():
                failed = True
                print(f"soak: FAILED: the app exited (status {term.proc.returncode})", file=sys.stderr, flush=True)
                break
            s = sampler.take()
            k += 1
            if sampler.trainer_gone:
                failed = True
                print(f"soak: FAILED: the trainer has gone at {s.t:.0f} s", file=sys.stderr, flush=True)
                break
            group.append(s)
            if s.t >= 60 * minute - args.interval / 100 or target + args.interval > end + args.interval / 100:
                print(minute_line(minute, group), flush=True)
                minute, group = minute + 1, []
        if not failed:
            code, secs = term.quit()
            if code == 0:
                print(f"quit on q in {secs:.2f} s", flush=True)
            else:
                failed = True
                print(f"soak: FAILED: q did not quit the app cleanly (status {code}, {secs:.1f} s)", file=sys.stderr)
    except TimeoutError as e:
        print(f"\nsoak: {e}", file=sys.stderr)
        failed = True
    except KeyboardInterrupt:
        print("\nsoak: interrupted", file=sys.stderr)
        status = 130
    except Stopped as e:
        print(f"\nsoak: stopped by signal {e.signum}", file=sys.stderr)
        status = 128 + e.signum
    finally:
        signal.alarm(0)
        if term is not None:
            term.kill()
        if out is not None:
            out.close()
    if sampler is not None:
        print("\n" + "\n".join(summary(sampler.samples, args.interval, sampler.events)))
        print(
            f"load at the end {' '.join(f'{v:.2f}' for v in os.getloadavg())}; this script's own CPU"
            f" {time.process_time():.1f} s (the pty reader and the status-line model)",
            flush=True,
        )
    return status or (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
