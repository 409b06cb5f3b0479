"""gradtui's training engine: NumPy only, knows nothing of screens.

The names below load on first use (PEP 562), so that ``gradtui.engine.config`` and ``gradtui.engine.names`` --
pure Python -- can be imported without NumPy (the command line's ``--help`` and ``--version`` start fast).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "ACTIVATIONS": "activations", "DATASETS": "data", "INITIALISERS": "init", "OPTIMISERS": "optim",
    "ActivationInfo": "stats", "Boundary": "stats", "Change": "trainer", "Config": "config",
    "ConfigError": "config", "DeadUnits": "stats", "Divergence": "stats", "Entry": "stats", "Event": "stats",
    "GateStats": "stats", "Hist": "stats", "ParamFigures": "stats", "RunMeta": "stats", "Snapshot": "stats",
    "Trainer": "trainer", "RecurrentTrainer": "recurrent_trainer", "apply_change": "trainer",
    "available_datasets": "names", "make_trainer": "trainer",
}  # fmt: skip

__all__ = [
    "ACTIVATIONS", "DATASETS", "INITIALISERS", "OPTIMISERS", "ActivationInfo", "Boundary", "Change", "Config",
    "ConfigError", "DeadUnits", "Divergence", "Entry", "Event", "GateStats", "Hist", "ParamFigures", "RunMeta",
    "RecurrentTrainer", "Snapshot", "Trainer", "apply_change", "available_datasets", "make_trainer",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'gradtui.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .activations import ACTIVATIONS
    from .config import Config, ConfigError
    from .data import DATASETS
    from .init import INITIALISERS
    from .names import available_datasets
    from .optim import OPTIMISERS
    from .recurrent_trainer import RecurrentTrainer
    from .stats import (
        ActivationInfo,
        Boundary,
        DeadUnits,
        Divergence,
        Entry,
        Event,
        GateStats,
        Hist,
        ParamFigures,
        RunMeta,
        Snapshot,
    )  # fmt: skip
    from .trainer import Change, Trainer, apply_change, make_trainer
