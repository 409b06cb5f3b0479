"""The frozen ``Config`` of a run and its validation: the one place that knows which values are legal.

It lives inside the engine (and not beside it, as the first design sketch had it) because the legal values *are*
the engine's registries, and the Trainer is built from a Config: this way the engine stays whole on its own.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .activations import ACTIVATIONS, ALIASES
from .data import DATASETS, available_datasets
from .init import parse_init
from .losses import LOSSES
from .optim import OPTIMISERS

__all__ = ["Config", "ConfigError", "LIVE_FIELDS", "REBUILD_FIELDS"]

MAX_DEPTH = 100
MAX_WIDTH = 1024


class ConfigError(ValueError):
    """A value that is not legal, with a one-line message meant for the user."""


@dataclass(frozen=True)
class Config:
    activation: str = "sigmoid"
    depth: int = 10
    width: int = 64
    init: str = "xavier"
    bias_init: float = 0.0
    batchnorm: bool = False
    residual: bool = False
    lr: float = 0.1
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    clip: float = 0.0
    dataset: str = "spiral"
    samples: int = 2000
    noise: float = 0.1
    batch_size: int = 128
    seed: int = 0
    dtype: str = "float32"
    output: str = "auto"
    leaky_slope: float = 0.01
    gelu_approximate: bool = False
    probe_size: int = 512
    hist_bins: int = 32

    def __post_init__(self) -> None:
        canonical = ALIASES.get(self.activation, self.activation)
        if canonical != self.activation:
            object.__setattr__(self, "activation", canonical)
        self._validate()

    def _validate(self) -> None:
        def fail(msg: str) -> None:
            raise ConfigError(msg)

        if self.activation not in ACTIVATIONS:
            fail(f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        _check_int("depth", self.depth, 1, MAX_DEPTH)
        _check_int("width", self.width, 1, MAX_WIDTH)
        try:
            parse_init(self.init)
        except ValueError as e:
            fail(str(e))
        _check_float("bias_init", self.bias_init, -10, 10, allow_zero=True)
        _check_float("lr", self.lr, 0, 1e6)
        if self.optimizer not in OPTIMISERS:
            fail(f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMISERS)}")
        _check_float("momentum", self.momentum, 0, 1, allow_zero=True, closed_hi=False)
        _check_float("weight_decay", self.weight_decay, 0, 10, allow_zero=True)
        _check_float("clip", self.clip, 0, 1e9, allow_zero=True)
        if self.dataset not in DATASETS:
            fail(f"unknown dataset {self.dataset!r}; choose from {', '.join(DATASETS)}")
        if self.dataset not in available_datasets():
            fail(f"the {self.dataset} dataset needs scikit-learn: pip install 'gradtui[digits]'")
        _check_int("samples", self.samples, 20, 1_000_000)
        _check_float("noise", self.noise, 0, 10, allow_zero=True)
        _check_int("batch_size", self.batch_size, 1, 65536)
        _check_int("seed", self.seed, 0, 2**32 - 1)
        if self.dtype not in ("float32", "float64"):
            fail(f"dtype must be float32 or float64, not {self.dtype!r}")
        if self.output != "auto" and self.output not in LOSSES:
            fail(f"unknown output {self.output!r}; choose from auto, {', '.join(LOSSES)}")
        classes = DATASETS[self.dataset][1]
        out = self.output_kind
        if classes == 0 and out != "linear":
            fail(f"dataset {self.dataset!r} is a regression: its output must be linear")
        if classes and out == "linear":
            fail(f"dataset {self.dataset!r} has classes: use a softmax or sigmoid output")
        if out == "sigmoid" and classes != 2:
            fail(f"a sigmoid output needs 2 classes; {self.dataset!r} has {classes}")
        _check_float("leaky_slope", self.leaky_slope, 0, 1, allow_zero=True)
        _check_int("probe_size", self.probe_size, 1, 100_000)
        _check_int("hist_bins", self.hist_bins, 2, 512)

    @property
    def output_kind(self) -> str:
        """The output layer actually used: ``auto`` is softmax for 3+ classes, sigmoid for 2, linear otherwise."""
        if self.output != "auto":
            return self.output
        classes = DATASETS[self.dataset][1]
        return "linear" if classes == 0 else "sigmoid" if classes == 2 else "softmax"

    def replace(self, **changes: Any) -> Config:
        """A validated copy with ``changes``; unknown fields raise ConfigError."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown setting {sorted(unknown)[0]!r}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """From a (possibly older or partial) dict, e.g. a recording's; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as e:
            raise ConfigError(f"bad config: {e}") from None

    def summary(self) -> str:
        parts = [f"{self.activation}", f"{self.depth}x{self.width}", self.init]
        if self.batchnorm:
            parts.append("BN")
        if self.residual:
            parts.append("residual")
        parts += [f"{self.optimizer} lr={self.lr:g}", self.dataset]
        return " ".join(parts)


# Changing one of these rebuilds the network from the same seed; the others apply live.
REBUILD_FIELDS = frozenset(
    {
        "activation", "depth", "width", "init", "bias_init", "batchnorm", "residual", "dataset", "samples",
        "noise", "seed", "dtype", "output", "leaky_slope", "gelu_approximate", "probe_size", "hist_bins",
    }
)  # fmt: skip
LIVE_FIELDS = frozenset({"lr", "optimizer", "momentum", "weight_decay", "clip", "batch_size"})


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, not {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, not {value}")


def _check_float(
    name: str, value: Any, lo: float, hi: float, *, allow_zero: bool = False, closed_hi: bool = True
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, not {value!r}")
    ok_lo = value >= lo if allow_zero else value > lo
    ok_hi = value <= hi if closed_hi else value < hi
    if not (ok_lo and ok_hi):
        raise ConfigError(
            f"{name} must be {'>=' if allow_zero else '>'} {lo:g} and {'<=' if closed_hi else '<'} {hi:g}, "
            f"not {value:g}"
        )
