"""gradtui: watch the gradient flow through a neural network as it trains, in the terminal.

``gradtui.probe(model, optimizer, ...)`` attaches gradtui's measurements to a PyTorch training run (the ``torch``
extra); it is loaded on first use, so that importing gradtui or running the dashboard never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "probe"]


def __getattr__(name: str) -> Any:
    if name == "probe":
        import importlib

        return importlib.import_module(".probe", __name__)  # a callable module: gradtui.probe(model, ...)
    raise AttributeError(f"module 'gradtui' has no attribute {name!r}")


if TYPE_CHECKING:
    from . import probe
