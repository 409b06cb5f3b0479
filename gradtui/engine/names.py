"""The legal names of every setting, in pure Python (no NumPy): the command line and ``Config`` validate against
these without loading NumPy (``gradtui --help`` and ``--version`` start in milliseconds). The registries
(ACTIVATIONS, INITIALISERS, OPTIMISERS, LOSSES, DATASETS) must hold exactly these names: a test checks it.
"""

from __future__ import annotations

import functools
import math

__all__ = [
    "A_MODEL", "ACTIVATION_ALIASES", "ACTIVATION_NAMES", "CELL_NAMES", "COPY_SYMBOLS", "DATASET_INFO", "INIT_ALIASES",
    "INIT_NAMES", "INIT_WITH_VALUE", "LOSS_NAMES", "MAX_SEQ_LEN", "MIN_SEQ_LEN", "MODEL_LABELS", "MODEL_NAMES",
    "OPTIMISER_NAMES", "RNN_ACTIVATION_NAMES", "TASK_INFO", "TASK_SHAPES", "available_datasets", "initialiser_names",
    "parse_init",
]  # fmt: skip

ACTIVATION_NAMES = (
    "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "rrelu", "elu", "selu", "gelu", "swish", "hardswish", "relu6",
    "softplus", "maxout", "linear",
)  # fmt: skip
ACTIVATION_ALIASES = {"silu": "swish", "identity": "linear", "hard_swish": "hardswish", "lrelu": "leaky_relu"}

INIT_NAMES = ("he", "he_uniform", "xavier", "xavier_uniform", "lecun", "orthogonal", "identity", "normal", "uniform")
INIT_WITH_VALUE = {"normal": "STD", "uniform": "A"}  # normal:STD, uniform:A
INIT_ALIASES = {
    "glorot": "xavier", "glorot_uniform": "xavier_uniform", "kaiming": "he", "kaiming_uniform": "he_uniform",
}  # fmt: skip

OPTIMISER_NAMES = ("sgd", "momentum", "adam")

# the models: the MLP, and the recurrent cells of gradtui.engine.recurrent (CELLS)
CELL_NAMES = ("rnn", "lstm", "gru")
MODEL_NAMES = ("mlp", *CELL_NAMES)
MODEL_LABELS = {"mlp": "MLP", "rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}
A_MODEL = {"mlp": "an MLP", "rnn": "a vanilla RNN", "lstm": "an LSTM", "gru": "a GRU"}  # with its article
# the activations a vanilla RNN cell can use: those whose derivative is elementwise (recurrent.RNN_ACTIVATIONS)
RNN_ACTIVATION_NAMES = (
    "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "swish", "hardswish", "relu6", "softplus", "linear",
)  # fmt: skip
# the sequence tasks of gradtui.engine.tasks (TASKS): name -> description
TASK_INFO = {
    "adding": "the adding problem: the sum of two marked values (regression, baseline MSE 1/6)",
    "order": "temporal order: the order of two relevant symbols (4 classes, baseline ln 4)",
    "copy": "copy: recall 5 symbols after a delay (9 classes per step)",
}
# name -> (inputs per step, outputs, the loss), as the tasks make them (a test checks against engine.tasks)
TASK_SHAPES = {"adding": (2, 1, "linear"), "order": (8, 4, "softmax"), "copy": (10, 9, "softmax")}
COPY_SYMBOLS = 5  # the copy task's symbols to recall: it needs seq_len >= 2 * 5 + 1
MIN_SEQ_LEN, MAX_SEQ_LEN = 10, 1000
LOSS_NAMES = ("softmax", "sigmoid", "linear")

# name -> (classes (0 = regression), description)
DATASET_INFO = {
    "spiral": (3, "three interleaved spiral arms (3 classes)"),
    "moons": (2, "two interleaving half-moons (2 classes)"),
    "circles": (2, "a ring around a disc (2 classes)"),
    "xor": (2, "the four quadrants, XOR of the signs (2 classes)"),
    "blobs": (4, "four Gaussian blobs (4 classes)"),
    "checkerboard": (2, "a 4x4 checkerboard (2 classes)"),
    "sine": (0, "1-D regression of sin(x) with noise"),
    "digits": (10, "8x8 handwritten digits, 64 inputs (10 classes; needs scikit-learn)"),
}


@functools.cache
def _have_sklearn() -> bool:
    import importlib.util  # (here: --help and --version need not load it)

    try:
        return importlib.util.find_spec("sklearn") is not None
    except (ImportError, ValueError):
        return False


def available_datasets() -> list[str]:
    """The datasets that can be made here: all but digits, and digits when scikit-learn is installed."""
    return [n for n in DATASET_INFO if n != "digits" or _have_sklearn()]


def initialiser_names() -> list[str]:
    return [f"{n}:{INIT_WITH_VALUE[n]}" if n in INIT_WITH_VALUE else n for n in INIT_NAMES]


def parse_init(spec: str) -> tuple[str, float | None]:
    """``'normal:0.01'`` -> ``('normal', 0.01)``; ``'he'`` -> ``('he', None)``. Raises ValueError in plain words."""
    if not isinstance(spec, str):
        raise ValueError(f"the initialiser must be a name, not {spec!r}")
    name, sep, rest = spec.partition(":")
    name = INIT_ALIASES.get(name, name)
    if name not in INIT_NAMES:
        raise ValueError(f"unknown initialiser {spec!r}; choose from {', '.join(initialiser_names())}")
    if name in INIT_WITH_VALUE:
        if not sep:
            raise ValueError(f"initialiser {name!r} needs a value, e.g. {name}:0.01")
        try:
            value = float(rest)
        except ValueError:
            raise ValueError(f"initialiser {spec!r}: {rest!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"initialiser {spec!r}: the value must be a positive number")
        return name, value
    if sep:
        raise ValueError(f"initialiser {name!r} takes no value")
    return name, None
