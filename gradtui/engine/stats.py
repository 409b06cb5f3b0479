"""Measurements -> immutable snapshots. Definitions: shared/design.md section 2 (and the README).

Everything here runs at the snapshot rate, never on every step.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .activations import Activation
from .config import Config
from .network import Network, norm64

__all__ = ["Boundary", "Divergence", "Event", "LayerStats", "Snapshot", "measure_probe", "histogram"]

SATURATION_FRACTION = 0.05  # |f'(z)| below 5 % of max |f'| is saturated


@dataclass(frozen=True)
class Event:
    """Something that happened to the run: a user's change, a reset, a divergence."""

    seq: int
    step: int
    kind: str  # "start", "change", "reset", "diverged", "error"
    text: str


@dataclass(frozen=True)
class Divergence:
    step: int
    layer: int | None  # 1-based hidden layer, depth + 1 for the output layer, None if only the loss
    what: str  # "loss", "weights", "gradients", "activations"
    message: str


@dataclass(frozen=True, eq=False)
class LayerStats:
    index: int  # 1 = closest to the input
    units: int
    grad_norm: float  # ||dL/dW||_F of the step just taken, float64
    bias_grad_norm: float  # ||dL/db|| (with batch norm, of its shift beta, which takes the bias's place)
    signal_norm: float  # ||dL/dh|| / sqrt(N): the backward signal arriving at the layer's output
    update_ratio: float  # ||dW|| / ||W|| of that step (nan when no update was taken)
    dead: int  # units whose f'(z) is exactly 0 on every probe example
    saturation: float  # fraction of (example, unit) pairs with |f'(z)| < 5% of max |f'|
    mean: float  # of h over the probe set
    std: float
    hist_edges: np.ndarray  # (bins + 1,) of h
    hist_counts: np.ndarray  # (bins,) int
    pre_edges: np.ndarray  # of z, the activation's input
    pre_counts: np.ndarray
    deriv: np.ndarray  # f'(z) at the centres of the pre-activation bins (mean over units where it varies)
    dead_since: np.ndarray  # (units,) int64: step each dead unit was first seen dead, -1 if alive

    @property
    def dead_fraction(self) -> float:
        return self.dead / self.units if self.units else 0.0


@dataclass(frozen=True, eq=False)
class Boundary:
    """The model's prediction over the input plane (2-D data) or line (1-D regression)."""

    extent: tuple[float, float, float, float]  # x0, x1, y0, y1
    classes: np.ndarray | None  # (gh, gw) predicted class, row 0 at the top (y1)
    confidence: np.ndarray | None  # (gh, gw) probability of that class
    curve_x: np.ndarray | None = None  # regression: the model's curve
    curve_y: np.ndarray | None = None
    points: np.ndarray | None = None  # a sample of training inputs (n, 2) or (n, 1)
    labels: np.ndarray | None = None
    step: int = 0


@dataclass(frozen=True, eq=False)
class Snapshot:
    step: int  # steps on the run's timeline (does not restart on a rebuild)
    run_step: int  # steps since the network was last built
    loss: float  # mean mini-batch loss since the previous snapshot
    accuracy: float | None  # on the probe set (training data), eval mode; None for regression
    test_loss: float
    test_accuracy: float | None
    config: Config
    layers: tuple[LayerStats, ...]
    events: tuple[Event, ...] = ()  # every event so far, oldest first
    vanishing_ratio: float = math.nan
    diverged: Divergence | None = None
    paused: bool = False
    steps_per_sec: float = math.nan
    boundary: Boundary | None = None
    output_grad_norm: float = math.nan
    probe_step: int = 0  # the step at which the probe-set figures (histograms, dead, saturation, accuracy) were taken
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return len(self.layers)

    def with_boundary(self, boundary: Boundary | None) -> Snapshot:
        return dataclasses.replace(self, boundary=boundary)


def histogram(values: np.ndarray, bins: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the finite ``values`` in ``bins`` equal bins over [lo, hi] (values outside are clipped in)."""
    v = values.ravel()
    if not (np.isfinite(lo) and np.isfinite(hi)) or not np.isfinite(v.min() + v.max()):
        v = v[np.isfinite(v)]
    if not (hi > lo):
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    if v.dtype != np.float64 and hi - lo > 1e30:  # v - lo would overflow in float32
        v = v.astype(np.float64)
    idx = ((v - v.dtype.type(lo)) * v.dtype.type(bins / (hi - lo))).astype(np.intp)
    np.clip(idx, 0, bins - 1, out=idx)
    return edges, np.bincount(idx, minlength=bins).astype(np.int64)


def _finite_range(a: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite entries (NaN propagates through min/max, so the slow path is only taken then)."""
    lo, hi = float(a.min()), float(a.max())
    if math.isfinite(lo) and math.isfinite(hi):
        return lo, hi
    finite = a[np.isfinite(a)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def _range_for(act: Activation, h: np.ndarray) -> tuple[float, float]:
    """Histogram range of h: the activation's own bounds, [0, max] if never negative, else symmetric."""
    if act.bounds is not None:
        return act.bounds
    lo, hi = _finite_range(h)
    if act.nonneg:
        return (0.0, hi if hi > 0 else 1.0)
    m = max(abs(lo), abs(hi))
    return (-m, m) if m > 0 else (-1.0, 1.0)


def _symmetric(z: np.ndarray) -> tuple[float, float]:
    lo, hi = _finite_range(z)
    m = max(abs(lo), abs(hi))
    return (-m, m) if m > 0 else (-1.0, 1.0)


@dataclass
class ProbeResult:
    layers: list[dict[str, Any]]
    logits: np.ndarray


def measure_probe(net: Network, x: np.ndarray, bins: int) -> ProbeResult:
    """Eval-mode forward over the probe set, measuring each hidden layer as it goes (one layer in memory at once)."""
    layers = []
    for b in net.blocks:
        z, h, x = b.parts(x, train=False)
        act = b.act
        d = act.derivative(z)
        dead_mask = np.all(d == 0, axis=0) if act.can_die else np.zeros(act.units, dtype=bool)
        sat = float(np.mean(np.abs(d) < SATURATION_FRACTION * act.max_deriv)) if act.pieces == 1 else 0.0
        edges, counts = histogram(h, bins, *_range_for(act, h))
        pre_edges, pre_counts = histogram(z, bins, *_symmetric(z))
        centres = ((pre_edges[:-1] + pre_edges[1:]) / 2).astype(z.dtype)[:, None]
        deriv = act.derivative(centres).astype(np.float64).mean(axis=1)  # a mean over units only for PReLU
        mean = float(h.mean(dtype=np.float64))
        std = float(h.std(dtype=np.float64))
        layers.append(
            dict(
                dead_mask=dead_mask,
                saturation=sat,
                mean=mean,
                std=std,
                hist=(edges, counts),
                pre=(pre_edges, pre_counts),
                deriv=deriv,
            )
        )
    return ProbeResult(layers, net.out.forward(x))


def grad_norms(net: Network) -> list[tuple[float, float]]:
    """(||dW||, ||db||) per hidden layer, float64."""
    out = []
    for b in net.blocks:
        db = b.bn.dbeta if b.bn is not None else b.dense.db
        out.append((norm64(b.dense.dW), norm64(db)))
    return out
