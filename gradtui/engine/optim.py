"""Optimisers: SGD, momentum, Adam; coupled L2 weight decay on weight matrices; global gradient-norm clipping.

An optimiser is given the network's parameter list of (kind, value, gradient) -- ``kind`` "W" marks weight
matrices, the only parameters that weight decay touches -- and updates the values in place.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["OPTIMISERS", "Optimiser", "make_optimiser"]

Params = list[tuple[str, np.ndarray, np.ndarray]]


class Optimiser:
    name = ""

    def __init__(self, params: Params, lr: float, weight_decay: float = 0.0, clip: float = 0.0, momentum: float = 0.9):
        self.params = params
        self.lr = lr
        self.weight_decay = weight_decay
        self.clip = clip
        self.momentum = momentum
        self.last_clip_scale = 1.0

    def _gradients(self) -> list[np.ndarray]:
        """The gradients to apply: clipped to ``clip`` in global norm, plus weight decay on weights."""
        grads = [g for _, _, g in self.params]
        scale = 1.0
        if self.clip > 0:
            total = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
            if not math.isfinite(total):  # float32 squares overflow long before the gradient does: again in float64
                total = math.sqrt(sum(float(np.dot(g64, g64)) for g64 in (g.astype(np.float64).ravel() for g in grads)))
            if total > self.clip:
                scale = self.clip / total
        self.last_clip_scale = scale
        if scale == 1.0 and self.weight_decay == 0:
            return grads
        out = []
        for (kind, p, _), g in zip(self.params, grads):
            g = g * p.dtype.type(scale) if scale != 1.0 else g
            if self.weight_decay and kind == "W":
                g = g + p.dtype.type(self.weight_decay) * p
            out.append(g)
        return out

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimiser):
    name = "sgd"

    def step(self):
        for (_, p, _), g in zip(self.params, self._gradients()):
            p -= p.dtype.type(self.lr) * g


class Momentum(SGD):
    """Classical momentum: v = mu v - lr g;  p += v."""

    name = "momentum"

    def __init__(self, params, lr, weight_decay=0.0, clip=0.0, momentum=0.9):
        super().__init__(params, lr, weight_decay, clip, momentum)
        self.v = [np.zeros_like(p) for _, p, _ in params]

    def step(self):
        for (_, p, _), g, v in zip(self.params, self._gradients(), self.v):
            v *= p.dtype.type(self.momentum)
            v -= p.dtype.type(self.lr) * g
            p += v


class Adam(Optimiser):
    name = "adam"
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def __init__(self, params, lr, weight_decay=0.0, clip=0.0, momentum=0.9):
        super().__init__(params, lr, weight_decay, clip, momentum)
        self.m = [np.zeros_like(p) for _, p, _ in params]
        self.v = [np.zeros_like(p) for _, p, _ in params]
        self.t = 0

    def step(self):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step = self.lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for (_, p, _), g, m, v in zip(self.params, self._gradients(), self.m, self.v):
            t = p.dtype.type
            m *= t(b1)
            m += t(1 - b1) * g
            v *= t(b2)
            v += t(1 - b2) * (g * g)
            p -= t(step) * m / (np.sqrt(v) + t(self.eps))


OPTIMISERS: dict[str, type[Optimiser]] = {c.name: c for c in (SGD, Momentum, Adam)}


def make_optimiser(name: str, params: Params, lr: float, weight_decay=0.0, clip=0.0, momentum=0.9) -> Optimiser:
    return OPTIMISERS[name](params, lr, weight_decay=weight_decay, clip=clip, momentum=momentum)
