"""What gradtui.probe costs a training run: step time with and without it, at every=1, 10 and 100.

    python benchmarks/bench_probe.py [--model mlp|cnn|both] [--rounds 5] [--steps 100] [--out DIR | --no-out]

Two reference models on CPU (float32, SGD with momentum, cross-entropy): a 12-layer MLP of width 1024 (ReLU,
batch 64) and a small convolutional net (3 conv-BN-ReLU blocks of 32 channels on 32x32 inputs, batch 16). Each
configuration -- off, every=1, every=10, every=100, "attached" (the probe on, measuring only its first step), and
a second "off" (two copies of a model differ by themselves: that is the noise floor) --
trains its own copy of the model with its own probe, in blocks of ``--steps`` steps, interleaved (off, 1, 10, 100,
attached, the next round starting one further) so that a load change on the machine hits every configuration
alike; a first round warms up. Every step is timed alone, and the medians are robust to the spikes of a shared
machine: the step without the probe, the probe's step between written steps (pooled over its configurations), and
its written step (pooled: it costs the same whatever ``every``). The overhead at every=k is then
((k - 1) x between + written) / k over the step without the probe, given against both unprobed copies (the first
and the second "off": their difference is the noise). Each probe writes its recording (``--out DIR``, default a
temporary folder, removed after), so the writer thread's cost is in the figures; ``--no-out`` keeps the
snapshots in memory only. The load average says what else was running.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time

import torch
from torch import nn

import gradtui

NEVER = 10**9  # attached, measuring only the first step: what the probe costs between written steps
OFF_AGAIN = -1  # a second copy of the model without the probe: how much two copies differ by themselves
CONFIGS: list[int | None] = [None, 1, 10, 100, NEVER, OFF_AGAIN]


def mlp() -> tuple[nn.Module, tuple[int, ...], int]:
    layers: list[nn.Module] = [nn.Linear(256, 1024), nn.ReLU()]
    for _ in range(11):
        layers += [nn.Linear(1024, 1024), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(1024, 10)), (64, 256), 10


def cnn() -> tuple[nn.Module, tuple[int, ...], int]:
    def block(i: int, o: int) -> list[nn.Module]:
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    net = nn.Sequential(
        *block(3, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 32), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 10),
    )  # fmt: skip
    return net, (16, 3, 32, 32), 10


def bench(name: str, make, rounds: int, steps: int, out: str | None = None) -> dict[str, float]:
    """Per-step times (ms) of every configuration: the median step without the probe, and with it the median
    step that was not written (pooled over the probe's configurations: they do the same there) and the median
    written step (pooled: a written step costs the same whatever ``every``)."""
    torch.manual_seed(0)
    base, shape, classes = make()
    runs = []
    for every in CONFIGS:  # every configuration trains its own copy
        model = copy.deepcopy(base)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        path = os.path.join(out, f"bench-{name}-every{every}.jsonl") if out is not None else None
        probe = gradtui.probe(model, opt, every=every, out=path) if every is not None and every > 0 else None
        runs.append((every, model, opt, probe))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=g)
    y = torch.randint(0, classes, (shape[0],), generator=g)
    loss_fn = nn.CrossEntropyLoss()
    off: list[float] = []
    quiet: list[float] = []
    written: list[float] = []
    idle: list[float] = []  # the "attached" configuration alone: no step near a written one
    again: list[float] = []
    for r in range(rounds + 1):
        for k in range(len(runs)):  # each round starts with another configuration: drifts hit all alike
            every, model, opt, probe = runs[(k + r) % len(runs)]
            for _ in range(steps):
                t0 = time.perf_counter()
                loss = loss_fn(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                snap = probe.step(loss=loss) if probe is not None else None
                dt = (time.perf_counter() - t0) * 1e3
                if r == 0:
                    continue  # round 0 warms up
                if every == OFF_AGAIN:
                    again.append(dt)
                    continue
                (off if probe is None else written if snap is not None else quiet).append(dt)
                if every == NEVER and snap is None:
                    idle.append(dt)
    for *_, probe in runs:
        if probe is not None:
            probe.close()
    return {
        "off": statistics.median(off), "quiet": statistics.median(quiet), "written": statistics.median(written),
        "idle": statistics.median(idle), "again": statistics.median(again), "n_written": len(written),
        "n_quiet": len(quiet), "n_off": len(off),
    }  # fmt: skip


def _over(r: dict[str, float], every: int) -> str:
    """The overhead at every=k over the first and over the second unprobed copy."""
    per_step = ((every - 1) * r["quiet"] + r["written"]) / every
    return f"{(per_step / r['off'] - 1) * 100:+.1f} % / {(per_step / r['again'] - 1) * 100:+.1f} %"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["mlp", "cnn", "both"], default="both")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="DIR", help="write the recordings here (default: a temporary folder)")
    where.add_argument("--no-out", action="store_true", help="no recording: the writer is not timed")
    ns = ap.parse_args()
    if ns.rounds < 1 or ns.steps < 1:
        ap.error("--rounds and --steps must be 1 or more")
    tmp = None
    out = ns.out
    if out is None and not ns.no_out:
        tmp = tempfile.TemporaryDirectory(prefix="gradtui-bench-")
        out = tmp.name
    elif out is not None:
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            ap.error(f"--out {out}: {e.strerror or e}")
    if ns.threads:
        torch.set_num_threads(ns.threads)
    load0 = os.getloadavg()
    results = []
    if ns.model in ("mlp", "both"):
        results.append(("MLP 12x1024, batch 64", bench("mlp", mlp, ns.rounds, ns.steps, out)))
    if ns.model in ("cnn", "both"):
        results.append(("CNN 3x32ch 32x32, batch 16", bench("cnn", cnn, ns.rounds, ns.steps, out)))
    load1 = os.getloadavg()
    if tmp is not None:
        tmp.cleanup()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; load average "
        f"{load0[0]:.2f} before, {load1[0]:.2f} after; {ns.rounds} rounds of {ns.steps} steps per configuration; "
        + ("no recording (--no-out)" if out is None else f"recordings written ({'a temporary folder' if tmp else out})")
    )
    print("every=k: the overhead over the first / the second copy without the probe")
    print("| model | step, no probe | another copy, no probe | probe attached, idle | between written steps | "
          "written step | every=1 | every=10 | every=100 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for label, r in results:
        between = f"{r['quiet']:.1f} ms ({(r['quiet'] / r['off'] - 1) * 100:+.1f} %)"
        overs = " | ".join(_over(r, k) for k in (1, 10, 100))
        idle = f"{r['idle']:.1f} ms ({(r['idle'] / r['off'] - 1) * 100:+.1f} %)"
        again = f"{r['again']:.1f} ms ({(r['again'] / r['off'] - 1) * 100:+.1f} %)"
        print(f"| {label} | {r['off']:.1f} ms | {again} | {idle} | {between} | {r['written']:.1f} ms | {overs} |")


if __name__ == "__main__":
    main()
