"""gradtui's training engine: NumPy only, knows nothing of screens."""

from .activations import ACTIVATIONS
from .config import Config, ConfigError
from .data import DATASETS, available_datasets
from .init import INITIALISERS
from .optim import OPTIMISERS
from .stats import Boundary, Divergence, Event, LayerStats, Snapshot
from .trainer import Change, Trainer

__all__ = [
    "ACTIVATIONS", "DATASETS", "INITIALISERS", "OPTIMISERS", "Boundary", "Change", "Config", "ConfigError",
    "Divergence", "Event", "LayerStats", "Snapshot", "Trainer", "available_datasets",
]  # fmt: skip
