"""Recording size and replay speed (issue 7): the default network recorded at the dashboard's default rate.

The snapshots come from a real Trainer (the default Config: sigmoid 10x64 on spiral, float32) driven by a Pacer
with a fake clock, which is what the dashboard does live: a snapshot every 0.1 s (10 Hz), the probe-set figures at
most 2 Hz and the decision boundary at most 1 Hz (the fake clock makes both costs zero, so both run at their caps:
the most a live hour can hold). ``--steps`` training steps are taken between snapshots (a live run takes many more:
the step counter then has more digits, a few bytes a line). ``Pacer.due`` is not asked: it also counts the real
time a measured step takes, and this is the rate of a machine fast enough for 10 Hz.

An hour of snapshots takes a real trainer far longer than a benchmark should on a slow machine, so the first
``--real-minutes`` are trained for real and then written again, renumbered (steps, sequence numbers, measurement
steps), until ``--minutes`` are written: the file has the size, the line pattern and the index of a real hour.
MB/hour is measured on the file written. Then it times opening it the way ``gradtui replay`` does.

    .venv/bin/python benchmarks/bench_record.py                      # 6 real minutes, written out to an hour
    .venv/bin/python benchmarks/bench_record.py --real-minutes 60    # a whole real hour (slow)
    .venv/bin/python benchmarks/bench_record.py --activation relu --init he --warmup 3000   # a run that learns

Goals: <= 4 KB a line without a new boundary, <= 40 MB an hour, open + first + last snapshot <= 2 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gradtui.engine import Config, Snapshot, Trainer  # noqa: E402
from gradtui.engine.pacing import Pacer  # noqa: E402
from gradtui.record import Recorder, Recording  # noqa: E402
from gradtui.replay import RecordingSource  # noqa: E402
from gradtui.source import Seek  # noqa: E402

HZ = 10.0
GOAL_LINE = 4096
GOAL_MB_HOUR = 40.0
GOAL_OPEN_S = 2.0


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def real_snapshots(n: int, steps: int, config: Config, warmup: int) -> list[Snapshot]:
    clock = FakeClock()
    pacer = Pacer(hz=HZ, clock=clock)
    trainer = Trainer(config)
    for _ in range(warmup):
        trainer.step()
    out = []
    t0 = time.perf_counter()
    for i in range(n):
        for _ in range(steps - 1):
            trainer.step()
        trainer.step(measure=True)
        out.append(pacer.take(trainer, force_probe=i == 0, steps_per_sec=steps * HZ))
        clock.t += 1.0 / HZ
        if i and i % 600 == 0:
            print(f"  trained {i:,} snapshots ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return out


def renumbered(snaps: list[Snapshot], cycle: int) -> list[Snapshot]:
    """The same snapshots, as if they came ``cycle`` periods later (the boundary objects kept shared, as live)."""
    if cycle == 0:
        return snaps
    last = snaps[-1]
    dstep, dseq = (last.step + 1) * cycle, last.seq * cycle
    boundaries: dict[int, object] = {}
    out = []
    for s in snaps:
        b = s.boundary
        if b is not None:
            b = boundaries.setdefault(id(b), dataclasses.replace(b, step=b.step + dstep))  # type: ignore[arg-type]
        out.append(
            s.replace(
                step=s.step + dstep,
                run_step=s.run_step + dstep,
                seq=s.seq + dseq,
                grad_step=s.grad_step + dstep,
                probe_step=s.probe_step + dstep,
                test_step=s.test_step + dstep,
                boundary=b,
            )  # fmt: skip
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0, help="minutes of snapshots written (default 60)")
    ap.add_argument("--real-minutes", type=float, default=6.0, help="minutes trained for real (default 6)")
    ap.add_argument("--steps", type=int, default=1, help="training steps between snapshots (default 1)")
    ap.add_argument("--warmup", type=int, default=0, help="steps trained before the first snapshot (default 0)")
    ap.add_argument("--activation", default=None, help="another activation than the default network's sigmoid")
    ap.add_argument("--init", default=None, help="another initialiser than the default network's xavier")
    ap.add_argument("--out", help="the recording's path (default: a temporary file, removed)")
    ap.add_argument("--open-only", action="store_true", help="only time opening --out, an existing recording")
    args = ap.parse_args()
    if args.open_only:
        path = Path(args.out)
        report(path.read_bytes().split(b"\n")[:-1], path.stat().st_size, Recording(path).length(), math.nan, path)
        return 0
    total = int(args.minutes * 60 * HZ)
    n_real = min(total, int(args.real_minutes * 60 * HZ))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)
    t0 = time.perf_counter()
    config = Config(**{k: v for k, v in (("activation", args.activation), ("init", args.init)) if v is not None})
    print(f"config: {config.summary()}; {args.warmup} steps before, {args.steps} between snapshots", file=sys.stderr)
    snaps = real_snapshots(n_real, args.steps, config, args.warmup)
    print(f"trained {n_real:,} snapshots in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    tmp = None
    if args.out:
        path = Path(args.out)
    else:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "hour.jsonl"
    try:
        t0 = time.perf_counter()
        written = 0
        with Recorder(path) as rec:
            cycle = 0
            while written < total:
                for s in renumbered(snaps, cycle)[: total - written]:
                    rec.write(s)
                    written += 1
                cycle += 1
        write_s = time.perf_counter() - t0
        size = path.stat().st_size
        lines = path.read_bytes().split(b"\n")[:-1]
        report(lines, size, written, write_s, path)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


def report(lines: list[bytes], size: int, written: int, write_s: float, path: Path) -> None:
    import json

    groups: dict[str, list[int]] = {"no boundary": [], "  of which grads only": [], "  of which with probe": [],
                                    "with a boundary": []}  # fmt: skip
    for raw in lines:
        d = json.loads(raw)
        if d.get("end"):
            continue
        n = len(raw) + 1
        has = d["has"]
        if "b" in has:
            groups["with a boundary"].append(n)
        else:
            groups["no boundary"].append(n)
            groups["  of which with probe" if "p" in has else "  of which grads only"].append(n)
    minutes = written / HZ / 60
    mb_hour = size / 1e6 * 60 / minutes
    print(f"recording: {written:,} snapshots = {minutes:.0f} min at {HZ:g} Hz, {size / 1e6:.1f} MB "
          f"({mb_hour:.1f} MB/hour), written in {write_s:.1f} s ({write_s / written * 1e6:.0f} µs a line)")  # fmt: skip
    print(f"{'bytes a line':24s} {'lines':>7s} {'median':>7s} {'max':>7s}")
    for name, sizes in groups.items():
        if sizes:
            print(f"{name:24s} {len(sizes):7,d} {statistics.median(sizes):7.0f} {max(sizes):7,d}")
    print(f"{'first line':24s} {1:7d} {len(lines[0]) + 1:7,d}")

    c0, t0 = time.process_time(), time.perf_counter()
    rec = Recording(path)
    t1 = time.perf_counter()
    rec.snapshot(0)
    t2 = time.perf_counter()
    rec.snapshot(rec.length() - 1)
    c3, t3 = time.process_time(), time.perf_counter()
    cold = Recording(path)
    t4 = time.perf_counter()
    cold.snapshot(cold.length() // 2)
    t5 = time.perf_counter()
    src = RecordingSource(Recording(path))
    src.poll()
    c6, t6 = time.process_time(), time.perf_counter()
    src.send(Seek(-1))  # End in the dashboard: the last snapshot, and a sample of 1,000 for the charts
    src.poll()
    c7, t7 = time.process_time(), time.perf_counter()
    open_s = t3 - t0
    print(f"open: index {t1 - t0:.3f} s + first snapshot {t2 - t1:.3f} s + last {t3 - t2:.3f} s = {open_s:.3f} s "
          f"(CPU {c3 - c0:.3f} s)")  # fmt: skip
    print(f"cold seek to the middle: index {t4 - t3:.3f} s + snapshot {t5 - t4:.3f} s (OS file cache warm)")
    print(f"replay source: End from the start (the last snapshot + 1,000 for the charts) {t7 - t6:.3f} s "
          f"(CPU {c7 - c6:.3f} s)")  # fmt: skip
    print(f"wall times are for a machine with a load average of {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    no_b = groups["no boundary"]
    goals = [
        (f"<= {GOAL_LINE} bytes a line without a new boundary (max)", max(no_b) <= GOAL_LINE),
        (f"<= {GOAL_MB_HOUR:g} MB an hour", mb_hour <= GOAL_MB_HOUR),
        (f"open in <= {GOAL_OPEN_S:g} s", open_s <= GOAL_OPEN_S),
    ]
    for text, ok in goals:
        print(f"goal {text}: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    raise SystemExit(main())
