"""gradtui.probe: gradtui's measurements on your own PyTorch training run (the ``torch`` extra).

``gradtui.probe(model, optimizer, every=50, out="runs/exp1.jsonl")`` attaches; ``probe.step(loss=loss)`` after each
optimizer step; ``gradtui watch runs/exp1.jsonl`` shows it live. See ``Probe`` and the README ("Your own PyTorch
model"). This module is callable (``gradtui.probe(...)`` is ``gradtui.probe.probe(...)``), so that the package and
the function share the name the README uses.

Framework adapters: ``gradtui.probe.lightning.GradtuiCallback`` (PyTorch Lightning) and
``gradtui.probe.hf.GradtuiCallback`` (Hugging Face ``Trainer``).
"""

from __future__ import annotations

import sys
import types
from typing import Any

try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - the torch extra is not installed
    raise ImportError("gradtui.probe needs PyTorch: pip install 'gradtui[torch]'") from e

from ._core import Probe, ProbeWarning, probe

__all__ = ["Probe", "ProbeWarning", "probe"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Probe:
        return probe(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
