"""Optimisers: SGD, momentum, Adam; coupled L2 weight decay on weight matrices; global gradient-norm clipping.

An optimiser is given the network's parameter list of (kind, value, gradient) -- ``kind`` "W" marks weight
matrices, the only parameters that weight decay touches -- and updates the values in place.

When every value is a view into one flat array and every gradient a view into another at the same offsets (as the
Network lays them out), the update is done on the two flat arrays: a handful of NumPy calls per step, however many
layers, and no temporaries. Any other parameter list is updated one parameter at a time, with the same arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

from .buffers import offset_in

__all__ = ["OPTIMISERS", "Optimiser", "flat_layout", "make_optimiser"]

Params = list[tuple[str, np.ndarray, np.ndarray]]
Layout = tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]


def flat_layout(params: Params) -> Layout | None:
    """(P, G, weight spans) when the values tile one flat array P and the gradients one flat G at the same offsets
    (the spans are the [start, stop) ranges of P holding weight matrices); None otherwise."""
    if not params:
        return None
    P, G = params[0][1].base, params[0][2].base
    if not isinstance(P, np.ndarray) or not isinstance(G, np.ndarray):
        return None
    if P.ndim != 1 or G.shape != P.shape or G.dtype != P.dtype or not (P.flags.c_contiguous and G.flags.c_contiguous):
        return None
    spans = []
    for kind, p, g in params:
        if p.base is not P or g.base is not G or not (p.flags.c_contiguous and g.flags.c_contiguous):
            return None
        at = offset_in(p, P)
        if at != offset_in(g, G):
            return None
        spans.append((at, at + p.size, kind == "W"))
    spans.sort()
    weights: list[tuple[int, int]] = []
    end = 0
    for start, stop, is_weight in spans:
        if start != end:  # a gap or an overlap: not a tiling
            return None
        end = stop
        if is_weight:
            if weights and weights[-1][1] == start:
                weights[-1] = (weights[-1][0], stop)
            else:
                weights.append((start, stop))
    return (P, G, weights) if end == P.size else None


class Optimiser:
    name = ""

    def __init__(self, params: Params, lr: float, weight_decay: float = 0.0, clip: float = 0.0, momentum: float = 0.9):
        self.params = params
        self.lr = lr
        self.weight_decay = weight_decay
        self.clip = clip
        self.momentum = momentum
        self.last_clip_scale = 1.0
        self.flat = flat_layout(params)
        self._scratch: list[np.ndarray] = []

    def _state(self) -> tuple[np.ndarray | None, list[np.ndarray]]:
        """A zeroed state array shaped like the parameters: flat (with its per-parameter views) or one per parameter."""
        if self.flat is not None:
            P = self.flat[0]
            state = np.zeros_like(P)
            starts = [offset_in(p, P) for _, p, _ in self.params]
            return state, [state[a : a + p.size].reshape(p.shape) for a, (_, p, _) in zip(starts, self.params)]
        return None, [np.zeros_like(p) for _, p, _ in self.params]

    def _work(self, i: int) -> np.ndarray:
        """Flat scratch array ``i`` (made on first use)."""
        assert self.flat is not None
        while len(self._scratch) <= i:
            self._scratch.append(np.empty_like(self.flat[0]))
        return self._scratch[i]

    def _clip_scale(self, grads: list[np.ndarray]) -> float:
        if self.clip <= 0:
            return 1.0
        total = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
        if not math.isfinite(total):  # float32 squares overflow long before the gradient does: again in float64
            total = math.sqrt(sum(float(np.dot(g64, g64)) for g64 in (g.astype(np.float64).ravel() for g in grads)))
        return self.clip / total if total > self.clip else 1.0

    def _gradients(self) -> list[np.ndarray]:
        """The gradients to apply: clipped to ``clip`` in global norm, plus weight decay on weights."""
        grads = [g for _, _, g in self.params]
        scale = self.last_clip_scale = self._clip_scale(grads)
        if scale == 1.0 and self.weight_decay == 0:
            return grads
        out = []
        for (kind, p, _), g in zip(self.params, grads):
            g = g * p.dtype.type(scale) if scale != 1.0 else g
            if self.weight_decay and kind == "W":
                g = g + p.dtype.type(self.weight_decay) * p
            out.append(g)
        return out

    def _flat_gradient(self) -> np.ndarray:
        """``_gradients`` on the flat arrays: G itself, or (clipped or decayed) scratch array 0."""
        assert self.flat is not None
        P, G, weights = self.flat
        scale = self.last_clip_scale = self._clip_scale([G])
        if scale == 1.0 and self.weight_decay == 0:
            return G
        t = P.dtype.type
        g = self._work(0)
        if scale != 1.0:
            np.multiply(G, t(scale), out=g)
        else:
            np.copyto(g, G)
        if self.weight_decay:
            tmp = self._work(1)
            for a, b in weights:
                np.multiply(P[a:b], t(self.weight_decay), out=tmp[a:b])
                np.add(g[a:b], tmp[a:b], out=g[a:b])
        return g

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimiser):
    name = "sgd"

    def step(self) -> None:
        if self.flat is not None:
            P = self.flat[0]
            upd = self._work(0)
            np.multiply(self._flat_gradient(), P.dtype.type(self.lr), out=upd)
            np.subtract(P, upd, out=P)
            return
        for (_, p, _), g in zip(self.params, self._gradients()):
            p -= p.dtype.type(self.lr) * g


class Momentum(SGD):
    """Classical momentum: v = mu v - lr g;  p += v."""

    name = "momentum"

    def __init__(self, params, lr, weight_decay=0.0, clip=0.0, momentum=0.9):
        super().__init__(params, lr, weight_decay, clip, momentum)
        self._v, self.v = self._state()

    def step(self) -> None:
        if self.flat is not None and self._v is not None:
            P, V = self.flat[0], self._v
            t = P.dtype.type
            upd = self._work(0)
            np.multiply(self._flat_gradient(), t(self.lr), out=upd)
            np.multiply(V, t(self.momentum), out=V)
            np.subtract(V, upd, out=V)
            np.add(P, V, out=P)
            return
        for (_, p, _), g, v in zip(self.params, self._gradients(), self.v):
            v *= p.dtype.type(self.momentum)
            v -= p.dtype.type(self.lr) * g
            p += v


class Adam(Optimiser):
    """Adam (Kingma & Ba): m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr_t m / (sqrt(v) + eps), with the
    bias corrections in lr_t. Its b1 is the run's ``momentum`` setting (``--momentum``, default 0.9, as Adam's
    usual b1), so one setting means "how much of the past gradient to keep" for both optimisers that have it."""

    name = "adam"
    beta2, eps = 0.999, 1e-8

    @property
    def beta1(self) -> float:
        return self.momentum

    def __init__(self, params, lr, weight_decay=0.0, clip=0.0, momentum=0.9):
        super().__init__(params, lr, weight_decay, clip, momentum)
        self._m, self.m = self._state()
        self._v, self.v = self._state()
        self.t = 0

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step = self.lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        if self.flat is not None and self._m is not None and self._v is not None:
            P, M, V = self.flat[0], self._m, self._v
            t = P.dtype.type
            g = self._flat_gradient()
            tmp = self._work(1)  # g may be scratch 0; scratch 1 is free again once g is made
            M *= t(b1)
            np.multiply(g, t(1 - b1), out=tmp)
            M += tmp
            V *= t(b2)
            np.multiply(g, g, out=tmp)
            tmp *= t(1 - b2)
            V += tmp
            np.sqrt(V, out=tmp)
            tmp += t(self.eps)
            np.divide(M, tmp, out=tmp)
            tmp *= t(step)
            P -= tmp
            return
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
