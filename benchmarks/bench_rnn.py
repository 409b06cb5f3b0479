"""Recurrent engine speed: training steps per second on the adding problem, next to PyTorch on one CPU thread.

    python benchmarks/bench_rnn.py [--repeats 7] [--seconds 2] [--cells lstm rnn gru] [--hidden 32] [--length 100]

Each case trains hidden 32, T = 100, batch 64, Adam 3e-3 with clipping at global norm 1, on batches of the adding
problem (a pool of 16, made beforehand, so that data generation is not timed). Runners, interleaved within every
repeat (so that a change in the machine's load hits them all alike); medians over the repeats:

    numpy          RecurrentNet.loss_and_grads + Adam step, float32
    numpy 10 Hz    the same, and every 0.1 s the dashboard's measurements of that step: measure_steps() (per-step
                   gradient, gates, cell norm, histogram) and step_and_measure() (grad norms, update ratios)
    torch          nn.LSTM / nn.RNN(tanh) + nn.Linear on the last state, MSE, Adam, clip_grad_norm_ (only when torch
                   is importable; torch.set_num_threads(1))
    trainer        the product: RecurrentTrainer.step() on fresh batches of the task (as the dashboard trains)
    trainer 10 Hz  the same with the dashboard's trainer loop's measuring: a Pacer at 10 Hz, step(measure=due) and
                   pacer.take (the gradient figures of the measured step; the probe and test passes as often as the
                   Pacer's budget allows: gradtui/engine/pacing.py, Pacer.budget and Pacer.part_share)

"per CPU-s" divides by the process's CPU time instead of the wall time: less sensitive to other processes on a
shared machine (NumPy's BLAS is limited to 1 thread as well, via gradtui.blas). On a loaded machine the difference of
two noisy rates hides a cost of a few %, so the cost of the 10 Hz measurements is also timed directly: the CPU time
of one measure_steps() plus what step_and_measure() adds to an optimiser step, times 10 (per second of training).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from gradtui.blas import set_blas_threads
from gradtui.engine.config import Config
from gradtui.engine.network import rng_for
from gradtui.engine.optim import make_optimiser
from gradtui.engine.pacing import Pacer
from gradtui.engine.recurrent import RecurrentNet, step_and_measure
from gradtui.engine.tasks import make_task
from gradtui.engine.trainer import make_trainer

try:
    import torch
except ImportError:  # the benchmark still runs, without the reference column
    torch = None

BATCH, LR, CLIP, POOL = 64, 3e-3, 1.0, 16


def numpy_runner(cell: str, hidden: int, batches: list, measure_hz: float) -> Callable[[], None]:
    net = RecurrentNet(cell, 2, hidden, 1, activation="tanh", seed=0)
    opt = make_optimiser("adam", net.params(), LR, clip=CLIP)
    state = {"i": 0, "next": time.perf_counter()}

    def step() -> None:
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        net.loss_and_grads(x, y)
        now = time.perf_counter()
        if measure_hz and now >= state["next"]:
            state["next"] = now + 1.0 / measure_hz
            net.measure_steps()
            step_and_measure(net, opt)
        else:
            opt.step()

    return step


MEASURED: dict[str, float] = {}  # CPU seconds of the paced trainer runner: see trainer_runner


def trainer_runner(cell: str, hidden: int, length: int, paced: bool) -> Callable[[], None]:
    """The RecurrentTrainer the dashboard runs (its own fresh batches); ``paced``: with a 10 Hz Pacer, timing in
    CPU seconds the snapshots (pacer.take) and the measured and the plain steps apart, into MEASURED."""
    trainer = make_trainer(Config.for_model(cell, width=hidden, seq_len=length, lr=LR, clip=CLIP, batch_size=BATCH))
    pacer = Pacer(hz=10.0)

    def step() -> None:
        c0 = time.process_time()
        due = paced and pacer.due()
        trainer.step(measure=due)
        c1 = time.process_time()
        if due:
            pacer.take(trainer)
            c2 = time.process_time()
            MEASURED["take"] = MEASURED.get("take", 0.0) + c2 - c1
            MEASURED["measured"] = MEASURED.get("measured", 0.0) + c1 - c0
            MEASURED["n_measured"] = MEASURED.get("n_measured", 0) + 1
        elif paced:
            MEASURED["plain"] = MEASURED.get("plain", 0.0) + c1 - c0
            MEASURED["n_plain"] = MEASURED.get("n_plain", 0) + 1

    return step


def measuring_share() -> float:
    """The share of the paced trainer's CPU time that measuring took: the snapshots, and what a measured step
    costs more than a plain one (from the CPU means of both)."""
    m = MEASURED
    if not m.get("n_measured") or not m.get("n_plain"):
        return float("nan")
    extra = m["n_measured"] * max(0.0, m["measured"] / m["n_measured"] - m["plain"] / m["n_plain"])
    return 100 * (m["take"] + extra) / (m["take"] + m["measured"] + m["plain"])


def snapshot_costs(cell: str, hidden: int, length: int, repeats: int = 10) -> dict[str, float]:
    """CPU milliseconds (medians) of what the dashboard's measuring does with a RecurrentTrainer: a plain step; what a
    measured step adds (measure_gradient + step_and_measure); a snapshot without the probe pass; one with it (the
    probe and test forwards and their figures)."""
    trainer = make_trainer(Config.for_model(cell, width=hidden, seq_len=length, lr=LR, clip=CLIP, batch_size=BATCH))
    trainer.snapshot()

    def cpu(f: Callable[[], object]) -> float:
        out = []
        for _ in range(repeats):
            c0 = time.process_time()
            f()
            out.append(time.process_time() - c0)
        return 1e3 * statistics.median(out)

    plain = cpu(lambda: trainer.step())
    measured = cpu(lambda: trainer.step(measure=True))
    cheap = cpu(lambda: trainer.snapshot(probe=False))
    probe = cpu(lambda: trainer.snapshot(probe=True)) - cheap
    return {"step": plain, "extra": max(0.0, measured - plain), "cheap": cheap, "probe": probe}


def torch_runner(cell: str, hidden: int, batches: list) -> Callable[[], None]:
    assert torch is not None
    kinds = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
    rnn = kinds[cell](2, hidden, batch_first=True)
    out = torch.nn.Linear(hidden, 1)
    params = list(rnn.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    state = {"i": 0}

    def step() -> None:
        x, y = tb[state["i"] % len(tb)]
        state["i"] += 1
        opt.zero_grad()
        h, _ = rnn(x)
        loss = torch.mean((out(h[:, -1]) - y) ** 2)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()

    return step


def measurement_seconds(cell: str, hidden: int, batches: list, repeats: int = 20) -> float:
    """CPU seconds of one measurement: measure_steps() + step_and_measure() - opt.step(), median over repeats."""
    net = RecurrentNet(cell, 2, hidden, 1, activation="tanh", seed=0)
    opt = make_optimiser("adam", net.params(), LR, clip=CLIP)
    x, y = batches[0]
    costs = []
    for _ in range(repeats):
        net.loss_and_grads(x, y)
        c0 = time.process_time()
        net.measure_steps()
        step_and_measure(net, opt)
        c1 = time.process_time()
        opt.step()
        costs.append((c1 - c0) - (time.process_time() - c1))
    return statistics.median(costs)


def rate(step: Callable[[], None], seconds: float) -> tuple[float, float]:
    """(steps per wall second, steps per CPU second of this process)."""
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - t0), n / max(time.process_time() - c0, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--cells", nargs="+", default=["lstm", "rnn"], choices=["lstm", "rnn", "gru"])
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--length", type=int, default=100)
    args = ap.parse_args()
    set_blas_threads(args.hidden)
    if torch is not None:
        torch.set_num_threads(1)
    task = make_task("adding", args.length)
    rng = rng_for(0, 99)
    batches = [task.sample(BATCH, rng) for _ in range(POOL)]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"hidden {args.hidden}, T {args.length}, batch {BATCH}, Adam {LR:g}, clip {CLIP:g}; load {load[0]:.2f}")
    print(f"torch {torch.__version__ if torch is not None else 'not installed'}, numpy {np.__version__}")
    for cell in args.cells:
        runners: dict[str, Callable[[], None]] = {
            "numpy": numpy_runner(cell, args.hidden, batches, 0.0),
            "numpy 10 Hz": numpy_runner(cell, args.hidden, batches, 10.0),
        }
        if torch is not None:
            runners["torch"] = torch_runner(cell, args.hidden, batches)
        runners["trainer"] = trainer_runner(cell, args.hidden, args.length, paced=False)
        runners["trainer 10 Hz"] = trainer_runner(cell, args.hidden, args.length, paced=True)
        for step in runners.values():  # warm up: first allocations, BLAS start-up
            rate(step, 0.3)
        wall: dict[str, list[float]] = {k: [] for k in runners}
        cpu: dict[str, list[float]] = {k: [] for k in runners}
        meas: list[float] = []
        MEASURED.clear()
        for r in range(args.repeats):
            meas.append(measurement_seconds(cell, args.hidden, batches))
            names = list(runners)
            names = names[r % len(names) :] + names[: r % len(names)]  # rotate who goes first
            for name in names:
                w, c = rate(runners[name], args.seconds)
                wall[name].append(w)
                cpu[name].append(c)
        med = {k: statistics.median(v) for k, v in wall.items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
        label = {"lstm": "LSTM", "gru": "GRU", "rnn": "tanh RNN"}[cell]
        print(f"\n{label}: steps/s, median of {args.repeats} x {args.seconds:g} s (min..max)")
        for name in runners:
            lo, hi = min(wall[name]), max(wall[name])
            print(f"  {name:<12} {med[name]:7.1f}  ({lo:.1f}..{hi:.1f})   per CPU-s {med_cpu[name]:7.1f}")
        slow = 100 * (1 - med["numpy 10 Hz"] / med["numpy"])
        m = statistics.median(meas)
        print(f"  10 Hz measurements: {slow:.1f} % fewer steps/s (noisy)")
        paced = 100 * (1 - med["trainer 10 Hz"] / med["trainer"])
        paced_cpu = 100 * (1 - med_cpu["trainer 10 Hz"] / med_cpu["trainer"])
        print(f"  the trainer with the Pacer at 10 Hz: {paced:.1f} % fewer steps/s, {paced_cpu:.1f} % per CPU-s")
        c = snapshot_costs(cell, args.hidden, args.length)
        pacer = Pacer()
        budget = pacer.part_share(has_boundary=False)  # the Pacer's share for the probe pass (no boundary here)
        probe_period = max(pacer.probe.min_period, c["probe"] / 1e3 / budget)
        at_10hz = 10 * (c["cheap"] + c["extra"]) / 10  # ms per second -> % of a second
        print(f"  CPU ms: a step {c['step']:.2f}; a measured step adds {c['extra']:.2f}; a snapshot {c['cheap']:.2f}, "
              f"its probe pass {c['probe']:.1f} -> at 10 Hz {at_10hz:.2f} % and a probe pass every "
              f"{probe_period:.1f} s {100 * c['probe'] / 1e3 / probe_period:.1f} %")  # fmt: skip
        print(f"  the Pacer's measuring timed: {measuring_share():.1f} % of the paced trainer's CPU time "
              f"({int(MEASURED.get('n_measured', 0))} snapshots)")  # fmt: skip
        print(f"  10 Hz measurements timed: {1e3 * m:.2f} ms CPU each, {m * 10 * 100:.1f} % of each second")
        if torch is not None:
            print(
                f"  numpy / torch: {med['numpy'] / med['torch']:.2f}x wall, "
                f"{med_cpu['numpy'] / med_cpu['torch']:.2f}x per CPU-s"
            )
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"\nload at the end {load[0]:.2f}")


if __name__ == "__main__":
    main()
