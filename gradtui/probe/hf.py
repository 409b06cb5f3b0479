"""gradtui.probe as a Hugging Face ``Trainer`` callback::

    from gradtui.probe.hf import GradtuiCallback
    trainer = transformers.Trainer(model=model, args=args, train_dataset=ds,
                                   callbacks=[GradtuiCallback(every=50, out="runs/exp1.jsonl")])

A thin adapter: the probe is attached at ``on_train_begin`` (to ``model``; the Trainer calls ``model(**inputs)``,
so the measured forward starts at the model's own forward); the gradients are read at ``on_pre_optimizer_step``
-- after clipping and after mixed-precision unscaling, where the Trainer's own grad norm is taken; ``probe.step``
runs at ``on_step_end`` (once per optimizer step, after gradient accumulation). The Trainer hands its callbacks no
per-step loss: the loss is the one of its logs (``on_log``), so set ``logging_steps`` to ``every`` or less for a
loss on every line; ``eval_loss`` of ``on_evaluate`` becomes the test loss.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from transformers import TrainerCallback

from ..fmt import setting
from ._core import Probe

__all__ = ["GradtuiCallback"]


class GradtuiCallback(TrainerCallback):  # type: ignore[misc]
    def __init__(self, every: int = 50, out: str | None = None, **probe_kwargs: Any) -> None:
        self.every, self.out, self.probe_kwargs = every, out, probe_kwargs
        self.probe: Probe | None = None
        self._loss: float | None = None
        self._test: float | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                       **kwargs: Any) -> None:  # fmt: skip
        if self.probe is not None or model is None:
            return
        summary = self.probe_kwargs.pop("summary", None)
        self.probe = Probe(model, None, every=self.every, out=self.out, summary=summary, **self.probe_kwargs)
        inner = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps the torch optimizer
        if summary is None and inner is not None:
            try:
                lr = float(inner.param_groups[0]["lr"])
            except (AttributeError, KeyError, IndexError, TypeError, ValueError):
                lr = math.nan
            name = type(inner).__name__
            text = self.probe.meta.summary + f", {name}" + (f" lr {setting(lr)}" if math.isfinite(lr) else "")
            self.probe.meta = dataclasses.replace(self.probe.meta, summary=text, optimizer=name, lr=lr)

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.probe is not None:
            self.probe.before_optimizer_step()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.probe is None:
            return
        loss, self._loss = self._loss, None
        test, self._test = self._test, None
        self.probe.step(loss=loss, test_loss=test)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if logs and isinstance(logs.get("loss"), (int, float)):
            self._loss = float(logs["loss"])

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None,
                    **kwargs: Any) -> None:  # fmt: skip
        if metrics and isinstance(metrics.get("eval_loss"), (int, float)):
            self._test = float(metrics["eval_loss"])

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.probe is not None:
            self.probe.close()
