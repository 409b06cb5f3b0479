"""One rank of the two-rank probe test (tests/test_probe_ddp.py): ``python probe_ddp_worker.py RANK WORLD DIR``.

Trains the shared small model under DistributedDataParallel (gloo, CPU) on its half of each batch, with
gradtui.probe attached, and writes what the probe measured (rank 0 also writes the recording) to DIR.
"""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist
from probe_ddp_model import STEPS, batches, figures, make_model
from torch.nn.parallel import DistributedDataParallel

import gradtui


def main() -> None:
    rank, world, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        model = DistributedDataParallel(make_model())
        opt = torch.optim.SGD(model.parameters(), lr=0.2)
        out = os.path.join(folder, f"rank{rank}.jsonl")
        with gradtui.probe(model, opt, every=1, out=out, dead_window=1) as p:
            for x, y in batches():
                share = x.shape[0] // world
                xs, ys = x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share]
                loss = torch.nn.functional.cross_entropy(model(xs), ys)
                opt.zero_grad()
                loss.backward()
                opt.step()
                p.step(loss=loss)
        assert p.steps == STEPS
        with open(os.path.join(folder, f"rank{rank}.json"), "w") as f:
            json.dump([figures(s) for s in p.snapshots], f)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
