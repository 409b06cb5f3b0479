"""Snapshot v2: immutable, self-describing measurements. Definitions: shared/design.md section 2 (and the README).

A Snapshot is what every panel, the doctor, the recorder and the replay read, and all they read. It describes
itself: an ordered tuple of ``Entry`` records -- ten equal dense layers (``"L1"`` .. ``"L10"``), 100 time steps of a
recurrent network (``"t=1"`` .. ``"t=100"``), or 60 named modules of a user's PyTorch model
(``"encoder.layers.2.mlp.fc1"``) -- each with its ``name``, ``kind``, ``units`` and, where it has one, the
activation's metadata (``ActivationInfo``) that the panels need. No panel imports an engine registry.

Every figure knows the step it was measured at (``grad_step``, ``probe_step``, ``test_step``, ``Boundary.step``),
and the step the network was built at (``build_step``), so that a figure from before a rebuild is never shown as
current.

Everything here runs at the snapshot rate, never on every step.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from .activations import Activation
    from .config import Config

__all__ = [
    "AXES", "ActivationInfo", "Boundary", "DeadUnits", "Divergence", "Entry", "Event", "GateStats", "Hist",
    "ParamFigures", "RunMeta", "Snapshot", "histogram",
]  # fmt: skip

SATURATION_FRACTION = 0.05  # |f'(z)| below 5 % of max |f'| is saturated
GATE_LOW, GATE_HIGH = 0.05, 0.95  # a gate entry below/above these is saturated (closed/open)

Axis = Literal["layer", "time", "module"]
AXES: tuple[Axis, ...] = ("layer", "time", "module")


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
    layer: int | None  # 1-based entry index, depth + 1 for the output layer, None if only the loss
    what: str  # "loss", "weights", "gradients", "activations"
    message: str
    name: str | None = None  # the entry's name ("L3", "encoder.fc1"), when known


@dataclass(frozen=True)
class ActivationInfo:
    """What the panels and the doctor need to know about an entry's activation function."""

    name: str  # the engine's registry name ("relu", "gelu"), or a torch module's class name when unknown to it
    label: str  # for people: "ReLU", "Swish/SiLU"
    formula: str
    max_deriv: float  # sup |f'|: the scale of "saturated" (|f'| below 5 % of it)
    can_die: bool  # f' is exactly 0 on a half-line, so a unit can be dead
    bounds: tuple[float, float] | None = None  # the output range, when bounded (sigmoid [0, 1])
    nonneg: bool = False  # the output is never negative
    derivable: bool = True  # f' follows from name and z alone (False: learned slopes, e.g. PReLU)

    @classmethod
    def of(cls, act: Activation) -> ActivationInfo:
        return cls(
            name=act.name,
            label=act.label,
            formula=str(act.formula),
            max_deriv=float(act.max_deriv),
            can_die=bool(act.can_die),
            bounds=act.bounds,
            nonneg=bool(act.nonneg),
            derivable=not act.params(),
        )


@dataclass(frozen=True, eq=False)
class Hist:
    """A histogram: ``counts`` (bins,) int64 of the values in ``bins`` equal bins between ``edges``."""

    edges: np.ndarray  # (bins + 1,) float64, equally spaced
    counts: np.ndarray  # (bins,) int64

    @property
    def lo(self) -> float:
        return float(self.edges[0])

    @property
    def hi(self) -> float:
        return float(self.edges[-1])

    @property
    def bins(self) -> int:
        return len(self.counts)

    @property
    def centres(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2

    @classmethod
    def from_range(cls, lo: float, hi: float, counts: np.ndarray) -> Hist:
        counts = np.asarray(counts, dtype=np.int64)
        return cls(np.linspace(lo, hi, len(counts) + 1), counts)


@dataclass(frozen=True, eq=False)
class DeadUnits:
    """The units that are dead now (sparse), each with the step at which it was first seen dead."""

    units: np.ndarray  # (k,) int64 unit indices, ascending
    since: np.ndarray  # (k,) int64 steps

    @property
    def count(self) -> int:
        return len(self.units)

    @classmethod
    def none(cls) -> DeadUnits:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64))

    @classmethod
    def from_dense(cls, dead_since: np.ndarray) -> DeadUnits:
        """From one step per unit (-1 = alive)."""
        dead_since = np.asarray(dead_since, dtype=np.int64)
        units = np.flatnonzero(dead_since >= 0).astype(np.int64)
        return cls(units, dead_since[units])

    def dense(self, n: int) -> np.ndarray:
        """One step per unit, -1 for the alive ones."""
        out = np.full(n, -1, dtype=np.int64)
        out[self.units] = self.since
        return out


@dataclass(frozen=True, eq=False)
class Entry:
    """One place along the snapshot's axis: a hidden layer, a time step, or a named module.

    Gradient figures are those of the step ``Snapshot.grad_step``; distribution figures (``hist`` .. ``std``) are
    of the probe set at ``Snapshot.probe_step``. A figure an entry does not have is NaN (or None).
    """

    name: str  # "L3", "t=57", "encoder.layers.2.mlp.fc1"
    kind: str  # "dense", "rnn", "lstm", "gru", "linear", "conv", "norm", "activation", "module", ...
    units: int
    index: int  # 1-based position along the axis, input side (or the first time step) first
    grad_norm: float = math.nan  # ||dL/dW||_F of the step (float64)
    bias_grad_norm: float = math.nan  # ||dL/db|| (with batch norm: of its shift beta, which takes the bias's place)
    signal_norm: float = math.nan  # ||dL/dh|| / sqrt(N): the backward signal arriving at the entry's output
    update_ratio: float = math.nan  # ||dW|| / ||W|| of that step (NaN when no update was taken)
    act: ActivationInfo | None = None
    hist: Hist | None = None  # of the output h = f(z), probe set
    pre_hist: Hist | None = None  # of the activation's input z
    deriv: np.ndarray | None = None  # f'(z) at the centres of pre_hist's bins (mean over units where it varies)
    dead: DeadUnits | None = None  # None: this entry's units cannot die (or it was not measured)
    saturation: float = math.nan  # share of (example, unit) pairs with |f'(z)| < 5 % of max |f'|
    mean: float = math.nan  # of h over the probe set
    std: float = math.nan
    cell_norm: float = math.nan  # LSTM time steps: ||c_t|| / sqrt(N)

    @property
    def dead_count(self) -> int:
        return self.dead.count if self.dead is not None else 0

    @property
    def dead_fraction(self) -> float:
        return self.dead_count / self.units if self.units else 0.0

    def dead_since(self) -> np.ndarray:
        """One step per unit, -1 for the alive ones (and for every unit of an entry that cannot die)."""
        return self.dead.dense(self.units) if self.dead is not None else np.full(self.units, -1, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class GateStats:
    """One gate of a gated recurrent cell over the probe set (every sequence, unit and time step): its mean, and
    the shares of its entries that are saturated shut (below 0.05) or open (above 0.95). For a tanh candidate
    (range [-1, 1]) the same outer 5 % of its range at either end: below -0.9 and above 0.9."""

    name: str  # "input", "forget", "output", "candidate" (LSTM); "reset", "update", "candidate" (GRU)
    mean: float
    low: float  # share below GATE_LOW
    high: float  # share above GATE_HIGH
    hist: Hist | None = None  # over [0, 1] ([-1, 1] for a candidate)
    steps: np.ndarray | None = None  # (T,) float64: the mean at each time step, step 1 first (None: not measured)
    # (T,) float64: the shares shut (below GATE_LOW) and open (above GATE_HIGH) at each time step, step 1 first, in
    # thousandths (``share_levels``: what a recording keeps, exactly); None: not measured (an older recording)
    low_steps: np.ndarray | None = None
    high_steps: np.ndarray | None = None

    @property
    def saturation(self) -> float:
        return self.low + self.high

    @property
    def saturation_steps(self) -> np.ndarray | None:
        """(T,) the share saturated (shut or open) at each time step, or None."""
        if self.low_steps is None or self.high_steps is None:
            return None
        return self.low_steps + self.high_steps


@dataclass(frozen=True)
class ParamFigures:
    """One parameter array at the measured step: ``||dL/dp||_F`` before the update (before clipping) and the
    update ratio ``||delta p|| / ||p||`` (NaN when no update was taken). Recurrent runs: "cell.Wx", "cell.Wh",
    "cell.b", "out.W", ... -- weights shared by every time step, so they have no place on the time axis."""

    name: str
    grad_norm: float
    update_ratio: float = math.nan


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
    step: int = 0  # the step it was computed at (a recomputation that came out the same keeps the older one)


@dataclass(frozen=True)
class RunMeta:
    """What a run is, in words, for sources without an engine Config (a user's PyTorch model) and for every run:
    the status line and the doctor read it."""

    model: str = "mlp"  # "mlp", "rnn", "lstm", "gru", "torch"
    summary: str = ""  # "sigmoid 10x64 xavier sgd lr=0.1 spiral", "ResNet18 11.2M params, AdamW lr 3e-4"
    optimizer: str = ""
    lr: float = math.nan


@dataclass(frozen=True, eq=False)
class Snapshot:
    step: int  # steps on the run's timeline (does not restart on a rebuild)
    run_step: int  # steps since the network was last built
    loss: float  # mean mini-batch loss since the previous snapshot
    accuracy: float | None  # on the probe set (training data), eval mode; None for regression
    test_loss: float
    test_accuracy: float | None
    config: Config | None  # the engine's settings; None for a source that is not the engine (the probe)
    entries: tuple[Entry, ...]
    seq: int = 0  # the snapshot's number in its run's stream, from 1; it never goes back within a source: a rebuild,
    # a change of model, a fork or an unfork (new twins) goes on from the largest number reached before
    run: str = ""  # "" for a single run; "A".."D" for twins; the user's run name for the probe
    source: str = "engine"  # who measured: "engine", "probe"
    axis: Axis = "layer"
    meta: RunMeta = RunMeta()
    events: tuple[Event, ...] = ()  # every event so far, oldest first (the last MAX_EVENTS)
    vanishing_ratio: float = math.nan  # signal of the first entry / signal of the last
    diverged: Divergence | None = None
    paused: bool = False
    steps_per_sec: float = math.nan
    speed_cap: float | None = None  # the steps/s limit in force, None: as fast as it goes
    boundary: Boundary | None = None
    output_grad_norm: float = math.nan
    grad_step: int = -1  # the step the gradient figures were measured at (-1: as ``step``)
    probe_step: int = -1  # the step the probe-set figures (histograms, dead, saturation, accuracy) were taken at
    test_step: int = -1  # the step the test loss and accuracy were taken at
    baseline_loss: float = math.nan  # a task's trivial-predictor loss (the adding problem: 1/6), NaN if none
    gates: tuple[GateStats, ...] = ()
    params: tuple[ParamFigures, ...] = ()  # per parameter array (recurrent runs), of the step at ``grad_step``

    def __post_init__(self) -> None:
        for name in ("grad_step", "probe_step", "test_step"):
            if getattr(self, name) < 0:
                object.__setattr__(self, name, self.step)

    @property
    def layers(self) -> tuple[Entry, ...]:
        """The entries (the name the MLP's panels grew up with)."""
        return self.entries

    @property
    def depth(self) -> int:
        return len(self.entries)

    @property
    def build_step(self) -> int:
        """The step at which the network was last (re)built: figures measured before it describe another net."""
        return self.step - self.run_step

    @property
    def flow_key(self) -> str:
        """The entry figure the gradient-flow bars show: the weight gradient per layer or module, the gradient
        reaching each step through time."""
        return "signal_norm" if self.axis == "time" else "grad_norm"

    def flow(self, entry: Entry) -> float:
        return float(getattr(entry, self.flow_key))

    def stale(self, measured_at: int) -> bool:
        """Was a figure measured at step ``measured_at`` taken on an older network than this snapshot's?"""
        return measured_at < self.build_step

    @property
    def summary(self) -> str:
        if self.config is not None:
            return self.config.summary()
        return self.meta.summary

    def replace(self, **changes: object) -> Snapshot:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


CONFIDENCE_STEPS = 10  # the decision boundary's confidence is kept in tenths: what the panel can show, exactly


def confidence_levels(conf: np.ndarray) -> np.ndarray:
    """Confidence (probabilities) -> uint8 levels 0..CONFIDENCE_STEPS (NaN as 0)."""
    c = np.clip(np.nan_to_num(np.asarray(conf, dtype=np.float64)), 0.0, 1.0)
    return np.round(c * CONFIDENCE_STEPS).astype(np.uint8)


def confidence_of(levels: np.ndarray) -> np.ndarray:
    """uint8 levels -> the float32 confidence the Boundary holds (the same, live or read from a recording)."""
    return (np.asarray(levels, dtype=np.float64) / CONFIDENCE_STEPS).astype(np.float32)


SHARE_STEPS = 1000  # a gate's per-step shut and open shares are kept in thousandths (0.1 %: finer than any panel)


def share_levels(share: np.ndarray) -> np.ndarray:
    """Shares in [0, 1] -> uint16 levels 0..SHARE_STEPS, the nearest (NaN as 0)."""
    s = np.clip(np.nan_to_num(np.asarray(share, dtype=np.float64)), 0.0, 1.0)
    return np.round(s * SHARE_STEPS).astype(np.uint16)


def share_of(levels: np.ndarray) -> np.ndarray:
    """uint16 levels -> the float64 shares a GateStats holds (the same, live or read from a recording)."""
    return np.asarray(levels, dtype=np.float64) / SHARE_STEPS


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


def finite_range(a: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite entries (NaN propagates through min/max, so the slow path is only taken then)."""
    if a.size == 0:
        return (0.0, 0.0)
    lo, hi = float(a.min()), float(a.max())
    if math.isfinite(lo) and math.isfinite(hi):
        return lo, hi
    finite = a[np.isfinite(a)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


RANGE_DIGITS = 3  # histogram ranges are display ranges: rounded outward to 3 significant digits (at most 1 % wider)


def round_out(x: float, digits: int = RANGE_DIGITS) -> float:
    """``x`` rounded away from zero to ``digits`` significant digits (0.44849756 -> 0.449): a histogram range that
    holds every value it held, is written in a few characters, and is the same live and read from a recording."""
    if x == 0 or not math.isfinite(x):
        return x
    m = abs(x)
    text = f"{m:.{digits - 1}e}"  # rounded to the nearest: up, or down by less than one unit of the last digit
    r = float(text)
    if r < m:
        mantissa, exp = text.split("e")
        r = float(f"{int(mantissa.replace('.', '')) + 1}e{int(exp) - (digits - 1)}")
    if not math.isfinite(r):
        return x
    return r if x > 0 else -r


def output_range(info: ActivationInfo, h: np.ndarray) -> tuple[float, float]:
    """Histogram range of h: the activation's own bounds, [0, max] if never negative, else symmetric; rounded
    outward (``round_out``)."""
    if info.bounds is not None:
        return info.bounds
    lo, hi = finite_range(h)
    if info.nonneg:
        return (0.0, round_out(hi) if hi > 0 else 1.0)
    m = round_out(max(abs(lo), abs(hi)))
    return (-m, m) if m > 0 else (-1.0, 1.0)


def symmetric_range(z: np.ndarray) -> tuple[float, float]:
    lo, hi = finite_range(z)
    m = round_out(max(abs(lo), abs(hi)))
    return (-m, m) if m > 0 else (-1.0, 1.0)
