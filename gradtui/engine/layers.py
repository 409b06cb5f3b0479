"""Layers with ``forward(x) -> out`` and ``backward(dout) -> dx``; each keeps the cache of its last forward only.

Vocabulary as in CS231n: x (N, D) input, W (D, H), b (H,), out, dout = dL/dout, dx, dW, db. Gradients are written
into preallocated ``dW``/``db`` arrays (overwritten by every backward, so there is nothing to accumulate by mistake).

Speed: in training (``train=True``) a layer writes its output, and always its ``dx``, into work arrays that it reuses
from step to step (``buffers.py``), so a training step allocates almost nothing. Such a result is valid until the
layer's next call of the same kind; eval-mode outputs (the probe, the test set) are fresh arrays.
"""

from __future__ import annotations

import numpy as np

from .activations import Activation
from .buffers import Buffers, buffer, ones

__all__ = ["BatchNorm", "Dense", "HiddenBlock"]

# dx = dout @ W.T with W.T copied to C order first: measured faster for small W with older OpenBLAS builds (128x64 @
# 64x64 13.6 -> 10.3 us) and slower from 256x256 up. With NumPy 2.4.6's OpenBLAS the copy is slower at every size
# (64x32 @ 32x32: 4.1 vs 3.2 us; 128x64 @ 64x64: 16.4 vs 14.6), but the two give different float32 roundings, and the
# doctor's scenario tests pin trajectories that depend on them: kept until those scenarios are re-tuned (see notes).
TRANSPOSE_COPY_MAX = 200 * 200

Slots = list[tuple[str, str, str]]


class Dense:
    """out = x W + b.  x: (N, D), W: (D, H), b: (H,) or none."""

    def __init__(self, W: np.ndarray, bias: np.ndarray | None, need_dx: bool = True) -> None:
        self.W = W
        self.b = bias
        self.dW = np.zeros_like(W)
        self.db = None if bias is None else np.zeros_like(bias)
        self.need_dx = need_dx  # the first layer's dx is never used: skip that matmul
        self._ws: Buffers = {}  # the forward's output
        self._tmp: Buffers = self._ws  # transients: dx, W.T (the network gives all its layers one store)
        self._dx_key: object = "dx"  # the network alternates two, so that a residual block's dout survives its dx
        self._plan: tuple | None = None  # the arrays of the current batch size (see _arrays)

    def param_slots(self) -> Slots:
        """(kind, value attribute, gradient attribute) of each parameter (the network may move them into one array)."""
        return [("W", "W", "dW")] if self.b is None else [("W", "W", "dW"), ("b", "b", "db")]

    def params(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        return [(kind, getattr(self, v), getattr(self, g)) for kind, v, g in self.param_slots()]

    def _arrays(self, n: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
        """(out, dx, W.T, ones) for a batch of ``n``, looked up once per batch size (a step then does no lookups)."""
        plan = self._plan
        if plan is None or plan[0] != n:
            W, tmp = self.W, self._tmp
            D, H = W.shape
            out = buffer(self._ws, "out", (n, H), W.dtype)
            dx = buffer(tmp, (self._dx_key, (n, D)), (n, D), W.dtype) if self.need_dx else None
            WT = buffer(tmp, ("WT", (H, D)), (H, D), W.dtype) if W.size <= TRANSPOSE_COPY_MAX else None
            plan = self._plan = (n, out, dx, WT, ones(tmp, n, W.dtype))
        return plan[1:]

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._x = x
        W, b = self.W, self.b
        if not train or x.ndim != 2 or x.dtype != W.dtype:
            out = x @ W
            if b is not None:
                out += b
            return out
        out = self._arrays(x.shape[0])[0]
        x.dot(W, out=out)  # the ndarray methods: np.dot's dispatch wrapper costs ~0.2 us a call, 20 calls a step
        if b is not None:
            np.add(out, b, out=out)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        x, W, db = self._x, self.W, self.db
        if dout.ndim != 2 or dout.dtype != W.dtype or x.dtype != W.dtype:  # foreign dtypes: NumPy's general path
            np.matmul(x.T, dout, out=self.dW)
            if db is not None:
                np.sum(dout, axis=0, out=db)
            return dout @ W.T if self.need_dx else None
        _, dx, WT, one = self._arrays(dout.shape[0])
        x.T.dot(dout, out=self.dW)
        if db is not None:
            one.dot(dout, out=db)  # the column sums
        if dx is None:
            return None
        if WT is not None:
            np.copyto(WT, W.T)
            return dout.dot(WT, out=dx)
        return dout.dot(W.T, out=dx)


class BatchNorm:
    """Batch normalisation over the batch axis, before the activation.

    train: out = gamma * (x - mean_B) / sqrt(var_B + eps) + beta, and the running statistics move by ``momentum``;
    eval: the running statistics are used instead. x: (N, H).
    """

    def __init__(self, units: int, dtype: np.dtype, momentum: float = 0.1, eps: float = 1e-5) -> None:
        self.gamma = np.ones(units, dtype=dtype)
        self.beta = np.zeros(units, dtype=dtype)
        self.dgamma = np.zeros_like(self.gamma)
        self.dbeta = np.zeros_like(self.beta)
        self.running_mean = np.zeros(units, dtype=dtype)
        self.running_var = np.ones(units, dtype=dtype)
        self.momentum = momentum
        self.eps = eps

    def param_slots(self) -> Slots:
        return [("gamma", "gamma", "dgamma"), ("beta", "beta", "dbeta")]

    def params(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        return [("gamma", self.gamma, self.dgamma), ("beta", self.beta, self.dbeta)]

    def forward(self, x: np.ndarray, train: bool = True, update_stats: bool = True) -> np.ndarray:
        if not train:
            return (x - self.running_mean) * (self.gamma / np.sqrt(self.running_var + self.eps)) + self.beta
        mean = x.mean(axis=0)
        xc = x - mean
        var = np.mean(xc * xc, axis=0)
        inv_std = 1.0 / np.sqrt(var + x.dtype.type(self.eps))
        xhat = xc * inv_std
        if update_stats:
            m = self.momentum
            n = x.shape[0]
            self.running_mean *= 1 - m
            self.running_mean += m * mean
            self.running_var *= 1 - m
            self.running_var += m * var * (n / max(n - 1, 1))  # unbiased, as PyTorch does
        self._xhat, self._inv_std = xhat, inv_std
        return xhat * self.gamma + self.beta

    def backward(self, dout: np.ndarray) -> np.ndarray:
        xhat, inv_std = self._xhat, self._inv_std
        n = dout.shape[0]
        np.sum(dout * xhat, axis=0, out=self.dgamma)
        np.sum(dout, axis=0, out=self.dbeta)
        # dx = gamma/sigma * (dout - mean(dout) - xhat * mean(dout * xhat))
        return (self.gamma * inv_std) * (dout - self.dbeta / n - xhat * (self.dgamma / n))


class HiddenBlock:
    """One hidden layer: Dense -> [BatchNorm] -> activation, plus ``x +`` when residual.

    ``z`` is the activation's input (after batch norm when on), ``h = f(z)`` its output, and the block's output is
    ``h`` or ``x + h``. The backward signal ``dL/d(output)`` is what the measurements call the layer's signal.
    """

    def __init__(self, dense: Dense, bn: BatchNorm | None, act: Activation, residual: bool) -> None:
        self.dense, self.bn, self.act, self.residual = dense, bn, act, residual
        self.signal_norm = float("nan")  # set by backward when measuring
        self._ws: Buffers = {}

    @property
    def units(self) -> int:
        return self.act.units

    def params(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        out = self.dense.params()
        if self.bn is not None:
            out += self.bn.params()
        return out + self.act.params()

    def parts(self, x: np.ndarray, train: bool, update_stats: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forward, returning (z, h, out)."""
        z = self.dense.forward(x, train)
        if self.bn is not None:
            z = self.bn.forward(z, train=train, update_stats=update_stats)
        h = self.act.forward(z, train=train)
        if not self.residual:
            return z, h, h
        if train and x.dtype == h.dtype and x.shape == h.shape:
            return z, h, np.add(x, h, out=buffer(self._ws, "out", h.shape, h.dtype))
        return z, h, x + h

    def forward(self, x: np.ndarray, train: bool = True, update_stats: bool = True) -> np.ndarray:
        if self.bn is None and not self.residual:  # the common case, without parts()'s tuple
            return self.act.forward(self.dense.forward(x, train), train=train)
        return self.parts(x, train, update_stats)[2]

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        dz = self.act.backward(dout)
        if self.bn is not None:
            dz = self.bn.backward(dz)
        dx = self.dense.backward(dz)
        if self.residual and dx is not None:
            dx += dout
        return dx
