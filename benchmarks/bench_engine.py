"""Engine speed: training steps per second (median of repeats), with measurement off and at the snapshot rate.

    python benchmarks/bench_engine.py [--repeats 5] [--seconds 2] [--activation relu]

"off": step() only. "10 Hz": what the dashboard does by default -- up to 10 snapshots a second (each after a
measured step), with the probe/test/boundary measurements spaced by the Pacer to stay within 5 % of the time.
Cases: the (depth, width, batch) of shared/design.md section 4. Float32, SGD, softmax cross-entropy on the spiral.
"""

from __future__ import annotations

import argparse
import statistics
import time

from gradtui.blas import set_blas_threads
from gradtui.engine import Config, Trainer
from gradtui.engine.pacing import Pacer

CASES = [(4, 64, 128), (10, 128, 256), (50, 64, 128), (10, 512, 512)]


def rate(trainer: Trainer, seconds: float, pacer: Pacer | None) -> float:
    """Steps per second, measuring as the dashboard does (with ``pacer``), or not at all (None)."""
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        if pacer is not None and pacer.due():
            trainer.step(measure=True)
            pacer.take(trainer)
        else:
            trainer.step()
        steps += 1
    return steps / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--activation", default="relu")
    args = ap.parse_args()
    print(f"{'depth,width,batch':>18} {'off':>9} {'10 Hz':>9} {'slowdown':>9}   (steps/s, median of {args.repeats})")
    for depth, width, batch in CASES:
        cfg = Config(
            activation=args.activation, init="he", depth=depth, width=width, batch_size=batch, output="softmax"
        )
        set_blas_threads(width)
        trainer = Trainer(cfg)
        pacer = Pacer(hz=10)  # one pacer for the whole case, as in a dashboard that keeps running
        rate(trainer, args.seconds, pacer)  # warm up (the first snapshot measures everything at once)
        off, on = [], []
        for _ in range(args.repeats):
            off.append(rate(trainer, args.seconds, None))
            on.append(rate(trainer, args.seconds, pacer))
        m_off, m_on = statistics.median(off), statistics.median(on)
        print(f"{f'{depth},{width},{batch}':>18} {m_off:9.0f} {m_on:9.0f} {100 * (1 - m_on / m_off):8.1f}%")


if __name__ == "__main__":
    main()
