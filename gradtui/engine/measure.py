"""The measurements of the MLP, as typed records: what the trainer hands to ``Trainer.snapshot``.

- ``StepFigures``: the gradient figures of one measured training step (cheap: norms of arrays that exist anyway),
- ``ProbeFigures``: an eval-mode pass over the probe set (histograms, dead units, saturation, accuracy),
- ``TestFigures``: the test set's loss and accuracy.

Each knows the step it was taken at. Definitions: shared/design.md section 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import derivative_curve
from .network import Network, norm64
from .stats import (
    SATURATION_FRACTION,
    ActivationInfo,
    DeadUnits,
    Hist,
    histogram,
    output_range,
    symmetric_range,
)

__all__ = ["LayerProbe", "ProbeFigures", "StepFigures", "TestFigures", "grad_norms", "measure_probe"]


@dataclass(frozen=True, eq=False)
class StepFigures:
    """The gradient figures of the training step that ended at ``step`` (before its update), float64 per layer."""

    step: int
    grad_norms: tuple[float, ...]
    bias_grad_norms: tuple[float, ...]
    signals: tuple[float, ...]
    update_ratios: tuple[float, ...]  # NaN when no update was taken (a dry measurement)
    output_grad_norm: float


@dataclass(frozen=True, eq=False)
class LayerProbe:
    """One hidden layer over the probe set, in eval mode."""

    dead_mask: np.ndarray  # (units,) bool: f'(z) == 0 on every probe example
    saturation: float
    mean: float
    std: float
    hist: Hist  # of h
    pre_hist: Hist  # of z
    deriv: np.ndarray  # f'(z) at pre_hist's bin centres


@dataclass(frozen=True, eq=False)
class ProbeFigures:
    step: int
    layers: tuple[LayerProbe, ...]
    dead: tuple[DeadUnits | None, ...]  # per layer, with the step each unit was first seen dead (None: cannot die)
    accuracy: float | None


@dataclass(frozen=True)
class TestFigures:
    step: int
    loss: float
    accuracy: float | None


def grad_norms(net: Network) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(||dW|| per hidden layer, ||db|| per hidden layer), float64; with batch norm, db is of its shift beta."""
    w, b = [], []
    for block in net.blocks:
        w.append(norm64(block.dense.dW))
        db = block.bn.dbeta if block.bn is not None else block.dense.db
        b.append(norm64(db) if db is not None else float("nan"))
    return tuple(w), tuple(b)


def measure_probe(net: Network, x: np.ndarray, bins: int) -> tuple[tuple[LayerProbe, ...], np.ndarray]:
    """Eval-mode forward over the probe set, measuring each hidden layer as it goes (one layer in memory at once).
    Returns the per-layer figures and the output logits."""
    layers = []
    for b in net.blocks:
        z, h, x = b.parts(x, train=False)
        act = b.act
        info = ActivationInfo.of(act)
        d = act.derivative(z)
        dead_mask = np.all(d == 0, axis=0) if act.can_die else np.zeros(act.units, dtype=bool)
        sat = float(np.mean(np.abs(d) < SATURATION_FRACTION * act.max_deriv)) if act.pieces == 1 else 0.0
        edges, counts = histogram(h, bins, *output_range(info, h))
        pre_edges, pre_counts = histogram(z, bins, *symmetric_range(z))
        centres = (pre_edges[:-1] + pre_edges[1:]) / 2
        if info.derivable:  # in float64, as a reader of a recording computes it again (recordings do not store it)
            deriv = derivative_curve(
                act.name, centres,
                leaky_slope=getattr(act, "slope", 0.01), gelu_approximate=getattr(act, "approximate", False),
            )  # fmt: skip
        else:  # learned slopes (PReLU): the mean over units
            deriv = act.derivative(centres.astype(z.dtype)[:, None]).astype(np.float64).mean(axis=1)
        layers.append(
            LayerProbe(
                dead_mask=dead_mask,
                saturation=sat,
                mean=float(h.mean(dtype=np.float64)),
                std=float(h.std(dtype=np.float64)),
                hist=Hist(edges, counts),
                pre_hist=Hist(pre_edges, pre_counts),
                deriv=deriv,
            )
        )
    return tuple(layers), net.out.forward(x)
