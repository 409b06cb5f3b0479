"""The model, data and figures shared by the two-rank probe test and its workers (no pytest here: the workers
import it)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

STEPS = 3
BATCH = 24


def make_model() -> nn.Module:
    torch.manual_seed(11)
    m = nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 12), nn.Tanh(), nn.Linear(12, 3), nn.GELU())
    with torch.no_grad():
        m[0].bias.fill_(-0.4)  # a few dead units
    return m.double()


def batches():
    g = torch.Generator().manual_seed(3)
    for _ in range(STEPS):
        yield torch.randn(BATCH, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (BATCH,), generator=g)


def _f(x: float) -> float | None:
    return None if math.isnan(x) else x


def figures(snap: Any) -> dict[str, Any]:
    """What a snapshot says per entry, as JSON."""
    out = {"step": snap.step, "loss": _f(snap.loss), "vanishing_ratio": _f(snap.vanishing_ratio), "entries": []}
    for e in snap.entries:
        out["entries"].append({
            "name": e.name, "units": e.units, "grad_norm": _f(e.grad_norm), "bias_grad_norm": _f(e.bias_grad_norm),
            "signal_norm": _f(e.signal_norm), "update_ratio": _f(e.update_ratio), "saturation": _f(e.saturation),
            "mean": _f(e.mean), "std": _f(e.std),
            "hist": None if e.hist is None else [e.hist.lo, e.hist.hi, e.hist.counts.tolist()],
            "pre": None if e.pre_hist is None else [e.pre_hist.lo, e.pre_hist.hi, e.pre_hist.counts.tolist()],
            "dead": None if e.dead is None else e.dead.units.tolist(),
        })  # fmt: skip
    return out
