"""The frozen ``Config`` of a run and its validation: the one place that knows which values are legal.

It lives inside the engine (and not beside it, as the first design sketch had it) because the legal values are
the engine's (gradtui.engine.names holds their names, checked against the registries by a test), and the Trainer is
built from a Config: this way the engine stays whole on its own. Pure Python: the command line validates a Config
without loading NumPy.

Every field's type is checked (``batchnorm="no"`` is refused, not taken as true), and ``fits_in_memory`` refuses a
configuration whose arrays could not fit, before anything is allocated.

Models. ``model`` is "mlp" (the default) or a recurrent cell, "rnn", "lstm" or "gru", trained on a sequence
``task`` of ``seq_len`` steps. Some fields belong to one family only (``MLP_FIELDS``: depth, batch norm,
residual, the dataset, ...; ``RECURRENT_FIELDS``: task, seq_len, forget_bias, recurrent_init): their values are
checked only for the models they apply to, and ignored by the others (``why_not(field)`` says so in words). The
fields both families share mean the same where they can: ``width`` is the hidden layers' width of the MLP and the
hidden size H of a cell; ``activation`` the MLP's and the vanilla RNN's cell activation (LSTM and GRU cells have
their own sigmoid gates and tanh); ``init`` the initialiser of the MLP's weights and of a cell's input weights and
its readout (the recurrent weights have their own, ``recurrent_init``). Every field has one default (the MLP's); a
recurrent model trains best with other values of the shared ones (hidden 32, Xavier-uniform input weights, Adam
3e-3, clipping at 1, batch 64, a probe set of 128 sequences):
``Config.for_model("lstm")`` starts from those, and ``switch_model`` takes them when a run crosses between the MLP
and a recurrent cell.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .names import (
    A_MODEL,
    ACTIVATION_ALIASES,
    ACTIVATION_NAMES,
    CELL_NAMES,
    COPY_SYMBOLS,
    DATASET_INFO,
    LOSS_NAMES,
    MAX_SEQ_LEN,
    MIN_SEQ_LEN,
    MODEL_LABELS,
    MODEL_NAMES,
    OPTIMISER_NAMES,
    RNN_ACTIVATION_NAMES,
    TASK_INFO,
    TASK_SHAPES,
    available_datasets,
    parse_init,
)
from .spelling import setting

__all__ = [
    "Config", "ConfigError", "LIVE_FIELDS", "MLP_FIELDS", "RECURRENT_FIELDS", "RECURRENT_PRESET", "REBUILD_FIELDS",
    "available_memory", "changed", "fits_in_memory", "switch_model",
]  # fmt: skip

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
    model: str = "mlp"  # "mlp", or a recurrent cell: "rnn", "lstm", "gru"
    task: str = "adding"  # recurrent: "adding", "order", "copy"
    seq_len: int = 100  # recurrent: T, the steps of every sequence
    forget_bias: float = 1.0  # LSTM: the forget gate's initial bias
    recurrent_init: str = "orthogonal"  # recurrent: the initialiser of Wh's gate blocks ("identity": the IRNN)

    def __post_init__(self) -> None:
        self._check_types()
        canonical = ACTIVATION_ALIASES.get(self.activation, self.activation)
        if canonical != self.activation:
            object.__setattr__(self, "activation", canonical)
        self._validate()

    def _check_types(self) -> None:
        """Every field of its type: ``batchnorm="no"`` or ``depth=3.0`` is refused, never taken for true or 3.
        Other number types (NumPy's) become the plain int or float, so that the Config pickles and prints alike."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = _TYPES[f.name]
            if kind is bool:
                ok = isinstance(value, bool)
            elif kind is int:
                ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            elif kind is float:
                ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            else:
                ok = isinstance(value, str)
            if not ok:
                what = {bool: "true or false", int: "a whole number", float: "a number", str: "a name"}[kind]
                raise ConfigError(" ".join(f"{f.name} must be {what}, not {value!r}".split())[:200])
            if kind in (int, float) and type(value) not in (int, float):
                object.__setattr__(self, f.name, int(value) if kind is int else float(value))

    @property
    def recurrent(self) -> bool:
        """Is the model a recurrent cell (not the MLP)?"""
        return self.model in CELL_NAMES

    def why_not(self, field: str) -> str:
        """The empty string if ``field`` applies to this config's model; otherwise why not, in words (one line)."""
        label, a_model = MODEL_LABELS.get(self.model, self.model), A_MODEL.get(self.model, self.model)
        if self.recurrent and field in MLP_FIELDS:
            return f"{field} is an MLP setting: {a_model} has one recurrent layer"
        if not self.recurrent and field in RECURRENT_FIELDS:
            return f"{field} applies to recurrent models only (rnn, lstm, gru), not to the MLP"
        if field == "forget_bias" and self.model != "lstm":
            return f"forget_bias applies to the LSTM only: the {label} has no forget gate"
        if field == "activation" and self.model in ("lstm", "gru"):
            return f"the activation is the MLP's and the RNN's: {a_model} has sigmoid gates and tanh"
        return ""

    def _validate(self) -> None:
        def fail(msg: str) -> None:
            raise ConfigError(msg)

        if self.model not in MODEL_NAMES:
            fail(f"unknown model {self.model!r}; choose from {', '.join(MODEL_NAMES)}")
        if self.activation not in ACTIVATION_NAMES:
            fail(f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATION_NAMES)}")
        _check_int("width", self.width, 1, MAX_WIDTH)
        _check_float("lr", self.lr, 0, 1e6)
        if self.optimizer not in OPTIMISER_NAMES:
            fail(f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMISER_NAMES)}")
        _check_float("momentum", self.momentum, 0, 1, allow_zero=True, closed_hi=False)
        _check_float("weight_decay", self.weight_decay, 0, 10, allow_zero=True)
        _check_float("clip", self.clip, 0, 1e9, allow_zero=True)
        _check_int("batch_size", self.batch_size, 1, 65536)
        _check_int("seed", self.seed, 0, 2**32 - 1)
        if self.dtype not in ("float32", "float64"):
            fail(f"dtype must be float32 or float64, not {self.dtype!r}")
        _check_int("probe_size", self.probe_size, 1, 100_000)
        _check_int("hist_bins", self.hist_bins, 2, 512)
        if self.recurrent:
            self._validate_recurrent()
        else:
            self._validate_mlp()

    def _validate_recurrent(self) -> None:
        if self.model == "rnn" and self.activation not in RNN_ACTIVATION_NAMES:
            raise ConfigError(
                f"a vanilla RNN cell cannot use {self.activation} (its derivative is not elementwise); choose from "
                f"{', '.join(RNN_ACTIVATION_NAMES)}"
            )
        if self.task not in TASK_INFO:
            raise ConfigError(f"unknown task {self.task!r}; choose from {', '.join(TASK_INFO)}")
        _check_int("seq_len", self.seq_len, MIN_SEQ_LEN, MAX_SEQ_LEN)
        if self.task == "copy" and self.seq_len < 2 * COPY_SYMBOLS + 1:
            raise ConfigError(f"the copy task needs seq_len >= {2 * COPY_SYMBOLS + 1}, not {self.seq_len}")
        _check_float("forget_bias", self.forget_bias, -10, 10, allow_zero=True)
        try:
            parse_init(self.recurrent_init)
        except ValueError as e:
            raise ConfigError(f"recurrent_init: {e}") from None
        try:
            parse_init(self.init)  # the input weights' (and the readout's)
        except ValueError as e:
            raise ConfigError(str(e)) from None

    def _validate_mlp(self) -> None:
        def fail(msg: str) -> None:
            raise ConfigError(msg)

        _check_int("depth", self.depth, 1, MAX_DEPTH)
        try:
            parse_init(self.init)
        except ValueError as e:
            fail(str(e))
        _check_float("bias_init", self.bias_init, -10, 10, allow_zero=True)
        if self.dataset not in DATASET_INFO:
            fail(f"unknown dataset {self.dataset!r}; choose from {', '.join(DATASET_INFO)}")
        if self.dataset not in available_datasets():
            fail(f"the {self.dataset} dataset needs scikit-learn: pip install 'gradtui[digits]'")
        _check_int("samples", self.samples, 20, 1_000_000)
        _check_float("noise", self.noise, 0, 10, allow_zero=True)
        if self.output != "auto" and self.output not in LOSS_NAMES:
            fail(f"unknown output {self.output!r}; choose from auto, {', '.join(LOSS_NAMES)}")
        classes = DATASET_INFO[self.dataset][0]
        out = self.output_kind
        if classes == 0 and out != "linear":
            fail(f"dataset {self.dataset!r} is a regression: its output must be linear")
        if classes and out == "linear":
            fail(f"dataset {self.dataset!r} has classes: use a softmax or sigmoid output")
        if out == "sigmoid" and classes != 2:
            fail(f"a sigmoid output needs 2 classes; {self.dataset!r} has {classes}")
        _check_float("leaky_slope", self.leaky_slope, 0, 1, allow_zero=True)

    @property
    def output_kind(self) -> str:
        """The output layer actually used: ``auto`` is softmax for 3+ classes, sigmoid for 2, linear otherwise (a
        recurrent model's is its task's: linear for the adding problem, softmax for order and copy)."""
        if self.recurrent:
            return TASK_SHAPES[self.task][2] if self.task in TASK_SHAPES else "linear"
        if self.output != "auto":
            return self.output
        classes = DATASET_INFO[self.dataset][0]
        return "linear" if classes == 0 else "sigmoid" if classes == 2 else "softmax"

    def estimate_bytes(self) -> int:
        """About how much memory training this configuration takes (arrays only): the data, the weights with
        their gradients and optimiser state, a mini-batch's activations, the probe and test passes."""
        if self.recurrent:
            return self._estimate_recurrent()
        item = 8 if self.dtype == "float64" else 4
        classes = DATASET_INFO[self.dataset][0]
        inputs = 64 if self.dataset == "digits" else 1 if self.dataset == "sine" else 2
        width = self.width * (2 if self.activation == "maxout" else 1)
        data = self.samples * inputs * (8 + item) * 2
        weights = (inputs * width + (self.depth - 1) * width * self.width + self.width * max(classes, 1)) * item
        params = weights * 4  # value, gradient, two optimiser moments
        batch = min(self.batch_size, self.samples)
        per_layer = 8  # cached arrays per layer and example (z, h, batch norm, masks, temporaries)
        train = batch * width * self.depth * per_layer * item
        probe = (max(self.probe_size, round(self.samples * 0.2)) + 96 * 48) * width * 4 * item
        return int(data + params + train + probe)

    def _estimate_recurrent(self) -> int:
        """BPTT keeps every step: the cell's work arrays are N x T x H each, for the training batch and for the
        probe and test sets (the same shape), plus the measurements' scratch arrays of the gate buffer."""
        item = 8 if self.dtype == "float64" else 4
        inputs, outputs, _ = TASK_SHAPES.get(self.task, (2, 1, "linear"))
        H, T = self.width, self.seq_len
        k = {"rnn": 1, "lstm": 4, "gru": 4}[self.model]  # stacked rows per unit (the GRU keeps ha_n apart)
        K = H + inputs + 1
        per_seq = (T + 1) * K * 2 + T * k * H * 2 + T * H  # Z, ZT, G, D, dH
        if self.model == "lstm":
            per_seq += (T + 1) * H + 2 * T * H  # C, TC, Q
        scratch = T * k * H * (item + 1) + T * H * 16  # gate/activation masks, float64 figures of the probe
        train = per_seq * self.batch_size * item
        probe = (per_seq * item + scratch) * self.probe_size
        data = (self.batch_size + 2 * self.probe_size) * T * (inputs + 1) * 8
        params = (K * k * H + H * outputs) * item * 4
        return int(train + probe + data + params)

    def summary(self) -> str:
        if self.recurrent:
            return self._summary_recurrent()
        parts = [f"{self.activation}", f"{self.depth}x{self.width}", self.init]
        if self.batchnorm:
            parts.append("BN")
        if self.residual:
            parts.append("residual")
        parts += [f"{self.optimizer} lr={setting(self.lr)}", self.dataset]
        return " ".join(parts)

    def _summary_recurrent(self) -> str:
        """ "lstm h32 adding T=100 adam lr=0.003 clip 1"; the vanilla RNN names its activation."""
        parts = [self.model]
        if self.model == "rnn":
            parts.append(self.activation)
        parts.append(f"h{self.width}")
        if self.init != RECURRENT_PRESET["init"]:
            parts.append(f"init {self.init}")
        if self.recurrent_init != "orthogonal":
            parts.append(self.recurrent_init)
        if self.model == "lstm" and self.forget_bias != 1.0:
            parts.append(f"forget bias {setting(self.forget_bias)}")
        parts += [self.task, f"T={self.seq_len}", f"{self.optimizer} lr={setting(self.lr)}"]
        if self.clip:
            parts.append(f"clip {setting(self.clip)}")
        return " ".join(parts)

    @classmethod
    def for_model(cls, model: str, **fields: Any) -> Config:
        """A Config of ``model`` that starts from that family's settings (a recurrent cell: ``RECURRENT_PRESET``),
        then ``fields``: ``Config.for_model("lstm", seq_len=50)``."""
        preset = RECURRENT_PRESET if model in CELL_NAMES else {}
        return cls(**{**preset, "model": model, **fields})

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


# Changing one of these rebuilds the network from the same seed; the others apply live.
REBUILD_FIELDS = frozenset(
    {
        "activation", "depth", "width", "init", "bias_init", "batchnorm", "residual", "dataset", "samples",
        "noise", "seed", "dtype", "output", "leaky_slope", "gelu_approximate", "probe_size", "hist_bins",
        "model", "task", "seq_len", "forget_bias", "recurrent_init",
    }
)  # fmt: skip
LIVE_FIELDS = frozenset({"lr", "optimizer", "momentum", "weight_decay", "clip", "batch_size"})

# the fields of one family only: ignored (and not checked) when the model is of the other
MLP_FIELDS = frozenset(
    {"depth", "bias_init", "batchnorm", "residual", "dataset", "samples", "noise", "output", "leaky_slope",
     "gelu_approximate"}
)  # fmt: skip
RECURRENT_FIELDS = frozenset({"task", "seq_len", "forget_bias", "recurrent_init"})
# what a recurrent cell starts from, for the fields it shares with the MLP (the engine core's tested settings: an
# LSTM solves the adding problem at T = 100 with them, a tanh RNN does not), and a probe set of 128 sequences (each
# is T steps: 128 x 100 x 32 = 409,600 states, and the probe pass then costs about what 512 MLP examples do); the
# MLP's are Config()'s defaults
RECURRENT_PRESET: dict[str, Any] = {
    "width": 32, "activation": "tanh", "init": "xavier_uniform", "optimizer": "adam", "lr": 3e-3, "clip": 1.0,
    "batch_size": 64, "probe_size": 128,
}  # fmt: skip


def switch_model(config: Config, model: str) -> Config:
    """``config`` with ``model``: between two recurrent cells nothing else changes (so that an RNN and an LSTM
    compare fairly); across the MLP and a recurrent cell the shared fields take the other family's settings
    (``RECURRENT_PRESET``, or the MLP's defaults), and the fields of one family only stay as they were."""
    if model not in MODEL_NAMES:
        raise ConfigError(f"unknown model {model!r}; choose from {', '.join(MODEL_NAMES)}")
    if (model in CELL_NAMES) == config.recurrent:
        return config.replace(model=model)
    if model in CELL_NAMES:
        return config.replace(model=model, **RECURRENT_PRESET)
    mlp = Config()
    return config.replace(model=model, **{k: getattr(mlp, k) for k in RECURRENT_PRESET})


def changed(config: Config, field: str, value: Any) -> Config:
    """The config after ``Change(field, value)``: a plain ``replace``, except for ``model`` (``switch_model``).
    The trainer, the dashboard's keys and the doctor's fixes all change a config through this one function."""
    if field == "model":
        return switch_model(config, value)
    return config.replace(**{field: value})


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
            f"{name} must be {'>=' if allow_zero else '>'} {setting(lo)} and "
            f"{'<=' if closed_hi else '<'} {setting(hi)}, "
            f"not {setting(value)}"
        )


_TYPES: dict[str, type] = {
    "activation": str, "depth": int, "width": int, "init": str, "bias_init": float, "batchnorm": bool,
    "residual": bool, "lr": float, "optimizer": str, "momentum": float, "weight_decay": float, "clip": float,
    "dataset": str, "samples": int, "noise": float, "batch_size": int, "seed": int, "dtype": str, "output": str,
    "leaky_slope": float, "gelu_approximate": bool, "probe_size": int, "hist_bins": int, "model": str, "task": str,
    "seq_len": int, "forget_bias": float, "recurrent_init": str,
}  # fmt: skip


def available_memory() -> int | None:
    """Bytes of memory available now (Linux: MemAvailable), or None if it cannot be told."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def fits_in_memory(configs: Config | Sequence[Config], available: int | None = None) -> None:
    """Raise ConfigError (one line, with what to lower) if ``configs`` -- one run, or twins trained side by side,
    whose memory adds up -- need more memory than is available."""
    runs = [configs] if isinstance(configs, Config) else list(configs)
    if not runs:
        return
    need = sum(c.estimate_bytes() for c in runs)
    have = available_memory() if available is None else available
    big = max(runs, key=lambda c: c.estimate_bytes())
    if have is not None and need > have * 0.8 and big.recurrent:
        what = "this configuration needs" if len(runs) == 1 else f"these {len(runs)} runs together need"
        raise ConfigError(
            f"{what} about {_gb(need)} of memory and {_gb(have)} is available: lower the "
            f"batch size ({big.batch_size}), the hidden size ({big.width}), the sequence length "
            f"({big.seq_len}) or the probe size ({big.probe_size})"
        )
    if have is not None and need > have * 0.8:
        what = "this configuration needs" if len(runs) == 1 else f"these {len(runs)} runs together need"
        raise ConfigError(
            f"{what} about {_gb(need)} of memory and {_gb(have)} is available: lower the batch size "
            f"({big.batch_size}), the width ({big.width}), the depth ({big.depth}) or the samples ({big.samples})"
        )


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"
