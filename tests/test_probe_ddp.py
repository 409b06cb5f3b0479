"""gradtui.probe under torch.distributed: two ranks (gloo, CPU) each measure their half of every batch; the
combined figures -- sums of squares for norms, summed histograms over a common range, a unit dead only if dead on
every rank -- equal those of one process that sees the whole batch, and rank 0 alone writes the recording."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

from probe_ddp_model import batches, figures, make_model  # noqa: E402

import gradtui  # noqa: E402
from gradtui.record import load_recording  # noqa: E402

HERE = Path(__file__).parent
TIMEOUT = 90


def _single_process() -> list[dict]:
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    with gradtui.probe(model, opt, every=1, dead_window=1) as p:
        for x, y in batches():
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            p.step(loss=loss)
    return [figures(s) for s in p.snapshots]


def _same(a, b, path: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_two_ranks_combine_to_the_figures_of_one_process(tmp_path):
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "probe_ddp_worker.py"), str(r), "2", str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for r in range(2)
    ]
    outputs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=TIMEOUT)
            outputs.append(out)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    alone = _single_process()
    assert any(e["dead"] for s in alone for e in s["entries"])  # the comparison covers dead units
    _same(ranks[0], alone)
    _same(ranks[1], alone)  # every rank holds the combined figures
    assert (tmp_path / "rank0.jsonl").exists() and not (tmp_path / "rank1.jsonl").exists()
    written, warnings = load_recording(tmp_path / "rank0.jsonl")
    assert not warnings and [s.step for s in written] == [s["step"] for s in alone]
    for s, ref in zip(written, alone):
        for e, r in zip(s.entries, ref["entries"]):
            assert e.name == r["name"] and math.isclose(e.grad_norm, r["grad_norm"], rel_tol=1e-7)
            assert (e.hist is None) == (r["hist"] is None)
            if e.hist is not None:
                assert e.hist.counts.tolist() == r["hist"][2]
