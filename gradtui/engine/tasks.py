"""Sequence tasks for recurrent networks, generated from a seed: the adding problem, the temporal-order task and the
copy (recall) task -- the classic tests of memory over long time lags.

A task is a frozen dataclass that knows its shapes, its loss and readout, and its *baseline*: the loss of the best
predictor that does not look at the input (or, for copy, does not remember it), computed exactly. A network that
stays at the baseline has learned nothing that needs memory. Every sequence is T = ``length`` steps.

    x: (N, T, input_dim) float        y: (N, 1) float (adding) | (N,) int (temporal order) | (N, T) int (copy)

Data come from ``sample(n, rng)``; ``batches(batch, seed)`` is an endless stream of fresh training batches and
``test_set(n, seed)`` / ``probe_set(n, seed)`` fixed sets, each from its own stream of the seed (network.rng_for), so
that the training batches never overlap the test set and the same seed gives the same data whatever the network.

NumPy and the standard library only, like the rest of the engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .network import STREAM_BATCHES, STREAM_PROBE, rng_for

__all__ = ["TASKS", "AddingProblem", "CopyTask", "Task", "TemporalOrder", "make_task"]

STREAM_TEST = 5  # network.py has 1..4: weights, activations, probe, batches
MIN_LENGTH, MAX_LENGTH = 10, 1000


@dataclass(frozen=True)
class Task:
    """A sequence task of sequences of ``length`` steps. Subclasses set the class attributes and ``sample``."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    loss: ClassVar[str] = ""  # a gradtui.engine.losses name: "linear" (MSE) or "softmax"
    readout: ClassVar[str] = ""  # "last" (one prediction per sequence) or "each" (one per step)

    length: int = 100

    def __post_init__(self) -> None:
        if isinstance(self.length, bool) or not isinstance(self.length, int):
            raise ValueError(f"length must be an integer, not {self.length!r}")
        if not MIN_LENGTH <= self.length <= MAX_LENGTH:
            raise ValueError(f"length must be within {MIN_LENGTH}..{MAX_LENGTH}, not {self.length}")

    # ---- shapes and baselines ----------------------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        raise NotImplementedError

    @property
    def output_dim(self) -> int:
        """Outputs of the readout: 1 for regression, the number of classes for classification."""
        raise NotImplementedError

    @property
    def baseline(self) -> float:
        """The exact expected loss of the best predictor that ignores (or cannot remember) the input."""
        raise NotImplementedError

    @property
    def baseline_accuracy(self) -> float | None:
        """The accuracy of that predictor (classification), else None."""
        return None

    @property
    def baseline_note(self) -> str:
        """How the baseline is reached, in words."""
        raise NotImplementedError

    # ---- data --------------------------------------------------------------------------------------------------
    def sample(
        self, n: int, rng: np.random.Generator, dtype: np.dtype | str = "float32"
    ) -> tuple[np.ndarray, np.ndarray]:
        """n sequences: x (n, T, input_dim) in ``dtype`` and their targets y (see the module docstring)."""
        raise NotImplementedError

    def batches(self, batch: int, seed: int, dtype: np.dtype | str = "float32") -> Iterator[tuple[np.ndarray, ...]]:
        """An endless stream of fresh training batches from the seed's batch stream."""
        rng = rng_for(seed, STREAM_BATCHES)
        while True:
            yield self.sample(batch, rng, dtype)

    def test_set(self, n: int, seed: int, dtype: np.dtype | str = "float32") -> tuple[np.ndarray, np.ndarray]:
        """A fixed test set: the same for the same (n, seed), independent of the training stream."""
        return self.sample(n, rng_for(seed, STREAM_TEST), dtype)

    def probe_set(self, n: int, seed: int, dtype: np.dtype | str = "float32") -> tuple[np.ndarray, np.ndarray]:
        """A fixed probe set for the distribution measurements (design.md section 2), its own stream too."""
        return self.sample(n, rng_for(seed, STREAM_PROBE), dtype)


@dataclass(frozen=True)
class AddingProblem(Task):
    """The adding problem (Hochreiter & Schmidhuber 1997; in the form of Le et al. 2015 and Arjovsky et al. 2016).

    Each step has two inputs: a value u_t ~ U(0, 1) and a marker m_t in {0, 1}. Exactly two steps are marked, one
    uniformly in the first half (t < T/2) and one in the second; the target is the sum of the two marked values.

    Baseline: predicting the mean, 1, whatever the input. Its MSE is Var(u_a + u_b) = 1/12 + 1/12 = 1/6, since the
    two values are independent U(0, 1), whatever the markers' positions.
    """

    name: ClassVar[str] = "adding"
    label: ClassVar[str] = "adding problem"
    loss: ClassVar[str] = "linear"
    readout: ClassVar[str] = "last"

    @property
    def input_dim(self) -> int:
        return 2

    @property
    def output_dim(self) -> int:
        return 1

    @property
    def baseline(self) -> float:
        return 1.0 / 6.0

    @property
    def baseline_note(self) -> str:
        return "predict 1 (the mean): MSE = Var(u_a + u_b) = 2/12 = 1/6"

    def sample(
        self, n: int, rng: np.random.Generator, dtype: np.dtype | str = "float32"
    ) -> tuple[np.ndarray, np.ndarray]:
        T = self.length
        half = T // 2
        x = np.zeros((n, T, 2))
        x[:, :, 0] = rng.uniform(0.0, 1.0, (n, T))
        rows = np.arange(n)
        a = rng.integers(0, half, n)
        b = rng.integers(half, T, n)
        x[rows, a, 1] = 1.0
        x[rows, b, 1] = 1.0
        y = (x[rows, a, 0] + x[rows, b, 0])[:, None]
        return x.astype(dtype), y.astype(dtype)


@dataclass(frozen=True)
class TemporalOrder(Task):
    """The temporal-order task (Hochreiter & Schmidhuber 1997, experiment 6a), at any length.

    Symbols, one-hot (8 inputs): a, b, c, d (distractors), X, Y (relevant), B (begin), E (end). A sequence is B,
    then random distractors, then E at the last step; two steps hold X or Y instead of a distractor, one at
    t1 in [0.1 T, 0.2 T] and one at t2 in [0.5 T, 0.6 T] (T = 100: 10..20 and 50..60, as in the paper). The class is
    the order of the two: XX, XY, YX, YY -> 0, 1, 2, 3, read from the last state.

    Baseline: the four classes are equally likely and independent of everything else in the sequence, so the best
    input-blind prediction is uniform: cross-entropy ln 4 = 1.386, accuracy 1/4.
    """

    name: ClassVar[str] = "order"
    label: ClassVar[str] = "temporal order"
    loss: ClassVar[str] = "softmax"
    readout: ClassVar[str] = "last"
    SYMBOLS: ClassVar[str] = "abcdXYBE"

    @property
    def input_dim(self) -> int:
        return len(self.SYMBOLS)

    @property
    def output_dim(self) -> int:
        return 4

    @property
    def baseline(self) -> float:
        return math.log(4.0)

    @property
    def baseline_accuracy(self) -> float | None:
        return 0.25

    @property
    def baseline_note(self) -> str:
        return "predict each order with probability 1/4: cross-entropy ln 4 = 1.386, accuracy 1/4"

    def positions(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """The inclusive ranges of t1 and t2 (0-based steps)."""
        T = self.length
        return (max(1, round(0.1 * T)), round(0.2 * T)), (round(0.5 * T), min(T - 2, round(0.6 * T)))

    def sample(
        self, n: int, rng: np.random.Generator, dtype: np.dtype | str = "float32"
    ) -> tuple[np.ndarray, np.ndarray]:
        T = self.length
        (lo1, hi1), (lo2, hi2) = self.positions()
        sym = rng.integers(0, 4, (n, T))  # distractors a..d
        sym[:, 0] = 6  # B
        sym[:, T - 1] = 7  # E
        rows = np.arange(n)
        t1 = rng.integers(lo1, hi1 + 1, n)
        t2 = rng.integers(lo2, hi2 + 1, n)
        first = rng.integers(0, 2, n)  # 0: X, 1: Y
        second = rng.integers(0, 2, n)
        sym[rows, t1] = 4 + first
        sym[rows, t2] = 4 + second
        x = np.eye(len(self.SYMBOLS), dtype=dtype)[sym]
        return x, (2 * first + second).astype(np.int64)


@dataclass(frozen=True)
class CopyTask(Task):
    """The copy (recall) task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016), at a total length T.

    Inputs, one-hot over ``alphabet`` + 2 symbols: 0 blank, 1..A data symbols, A + 1 the delimiter. The first
    ``symbols`` = K steps hold K random data symbols; then blanks, with the delimiter at step T - K - 1; the last
    K steps are blank. Target at every step (readout "each"): blank, except the last K steps, which must repeat
    the K symbols in order. The delay between seeing a symbol and recalling it is T - K steps.

    Baseline (Arjovsky et al.'s memoryless strategy): a predictor that knows the step but not the symbols outputs
    blank for the first T - K steps (loss 0) and a uniform guess over the A symbols for the last K (loss ln A). That
    is the best such predictor: at each step it outputs the target's marginal distribution. Mean cross-entropy per
    step K ln A / T; accuracy (T - K + K / A) / T.
    """

    name: ClassVar[str] = "copy"
    label: ClassVar[str] = "copy"
    loss: ClassVar[str] = "softmax"
    readout: ClassVar[str] = "each"

    symbols: int = 5  # K, the symbols to recall
    alphabet: int = 8  # A, the data symbols

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.symbols < 1 or self.alphabet < 2:
            raise ValueError(f"copy needs symbols >= 1 and alphabet >= 2, not {self.symbols} and {self.alphabet}")
        if self.length < 2 * self.symbols + 1:
            raise ValueError(
                f"copy of {self.symbols} symbols needs length >= {2 * self.symbols + 1}, not {self.length}"
            )

    @property
    def input_dim(self) -> int:
        return self.alphabet + 2

    @property
    def output_dim(self) -> int:
        return self.alphabet + 1

    @property
    def baseline(self) -> float:
        return self.symbols * math.log(self.alphabet) / self.length

    @property
    def baseline_accuracy(self) -> float | None:
        T, K = self.length, self.symbols
        return (T - K + K / self.alphabet) / T

    @property
    def baseline_note(self) -> str:
        K, A, T = self.symbols, self.alphabet, self.length
        return (
            f"blank, then uniform guesses for the last {K} steps: cross-entropy {K} ln {A} / {T} = {self.baseline:.4f}"
        )

    def sample(
        self, n: int, rng: np.random.Generator, dtype: np.dtype | str = "float32"
    ) -> tuple[np.ndarray, np.ndarray]:
        T, K, A = self.length, self.symbols, self.alphabet
        data = rng.integers(1, A + 1, (n, K))
        sym = np.zeros((n, T), dtype=np.int64)
        sym[:, :K] = data
        sym[:, T - K - 1] = A + 1
        y = np.zeros((n, T), dtype=np.int64)
        y[:, T - K :] = data
        return np.eye(A + 2, dtype=dtype)[sym], y


TASKS: dict[str, type[Task]] = {t.name: t for t in (AddingProblem, TemporalOrder, CopyTask)}


def make_task(name: str, length: int = 100, **options: int) -> Task:
    """``make_task("adding", 100)``; ``make_task("copy", 60, symbols=5, alphabet=8)``. ValueError in plain words."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    return TASKS[name](length, **options)
