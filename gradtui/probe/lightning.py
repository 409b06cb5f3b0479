"""gradtui.probe as a PyTorch Lightning callback::

    from gradtui.probe.lightning import GradtuiCallback
    trainer = lightning.pytorch.Trainer(callbacks=[GradtuiCallback(every=50, out="runs/exp1.jsonl")])

A thin adapter: the probe is attached at ``on_fit_start``; a measured forward runs from ``on_train_batch_start``
to ``on_before_backward`` (a ``training_step`` need not call ``self(x)``); the gradients are read at
``on_before_optimizer_step`` -- inside Lightning's closure, after backward and after mixed-precision unscaling,
where Lightning's own gradient-norm logging reads them (an optimizer step pre-hook would run *before* the closure);
``probe.step`` runs once per optimizer step (``trainer.global_step`` moved), with the mean of the micro-batches'
losses. ``test_metric`` (default ``"val_loss"``) is taken from ``trainer.callback_metrics`` after validation.
Works with ``lightning`` (``lightning.pytorch``) or the standalone ``pytorch_lightning``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..fmt import setting
from ._core import Probe

try:
    from lightning.pytorch import Callback
except ImportError:  # pragma: no cover - the standalone package
    from pytorch_lightning import Callback  # type: ignore[no-redef,assignment]

__all__ = ["GradtuiCallback"]


class GradtuiCallback(Callback):  # type: ignore[misc]
    def __init__(self, every: int = 50, out: str | None = None, *, test_metric: str | None = "val_loss",
                 **probe_kwargs: Any) -> None:  # fmt: skip
        super().__init__()
        self.every, self.out, self.test_metric, self.probe_kwargs = every, out, test_metric, probe_kwargs
        self.probe: Probe | None = None
        self._losses: list[torch.Tensor] = []
        self._global_step = 0
        self._test: Any = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self.probe is None:
            opts = list(getattr(trainer, "optimizers", []) or [])
            summary = self.probe_kwargs.pop("summary", None)
            self.probe = Probe(pl_module, None, every=self.every, out=self.out, summary=summary, **self.probe_kwargs)
            if summary is None and opts:  # the optimizer in words, without its step hooks (see the module doc)
                self.probe.meta = _with_optimizer(self.probe, opts[0])
        self._global_step = int(trainer.global_step)

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self.probe is not None:
            self.probe.begin_forward()

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: torch.Tensor) -> None:
        if self.probe is not None:
            self.probe.end_forward()

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self.probe is not None:
            self.probe.before_optimizer_step()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.probe is None:
            return
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, torch.Tensor):
            self._losses.append(loss.detach().reshape(-1).mean())
        if int(trainer.global_step) == self._global_step:
            return  # gradients are still being accumulated: no optimizer step yet
        self._global_step = int(trainer.global_step)
        mean = torch.stack(self._losses).mean() if self._losses else None
        self._losses = []
        test, self._test = self._test, None
        self.probe.step(loss=mean, test_loss=test)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.test_metric and not getattr(trainer, "sanity_checking", False):
            value = trainer.callback_metrics.get(self.test_metric)
            if isinstance(value, (torch.Tensor, float, int)):
                self._test = value

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self.probe is not None:
            self.probe.close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.probe is not None:
            self.probe.close()


def _with_optimizer(probe: Probe, opt: Any) -> Any:
    import dataclasses
    import math

    inner = getattr(opt, "optimizer", opt)  # Lightning's LightningOptimizer wraps the torch one
    try:
        lr = float(inner.param_groups[0]["lr"])
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        lr = math.nan
    name = type(inner).__name__
    summary = probe.meta.summary + f", {name}" + (f" lr {setting(lr)}" if math.isfinite(lr) else "")
    return dataclasses.replace(probe.meta, summary=summary, optimizer=name, lr=lr)
