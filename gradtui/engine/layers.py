"""Layers with ``forward(x) -> out`` and ``backward(dout) -> dx``; each keeps the cache of its last forward only.

Vocabulary as in CS231n: x (N, D) input, W (D, H), b (H,), out, dout = dL/dout, dx, dW, db. Gradients are written
into preallocated ``dW``/``db`` arrays (overwritten by every backward, so there is nothing to accumulate by mistake).
"""

from __future__ import annotations

import numpy as np

from .activations import Activation

__all__ = ["BatchNorm", "Dense", "HiddenBlock"]


class Dense:
    """out = x W + b.  x: (N, D), W: (D, H), b: (H,) or none."""

    def __init__(self, W: np.ndarray, bias: np.ndarray | None, need_dx: bool = True) -> None:
        self.W = W
        self.b = bias
        self.dW = np.zeros_like(W)
        self.db = None if bias is None else np.zeros_like(bias)
        self.need_dx = need_dx  # the first layer's dx is never used: skip that matmul

    def params(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        out = [("W", self.W, self.dW)]
        if self.b is not None:
            out.append(("b", self.b, self.db))
        return out

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        out = x @ self.W
        if self.b is not None:
            out += self.b
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        np.matmul(self._x.T, dout, out=self.dW)
        if self.db is not None:
            np.sum(dout, axis=0, out=self.db)
        return dout @ self.W.T if self.need_dx else None


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
        z = self.dense.forward(x)
        if self.bn is not None:
            z = self.bn.forward(z, train=train, update_stats=update_stats)
        h = self.act.forward(z, train=train)
        return z, h, (x + h if self.residual else h)

    def forward(self, x: np.ndarray, train: bool = True, update_stats: bool = True) -> np.ndarray:
        return self.parts(x, train, update_stats)[2]

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        dz = self.act.backward(dout)
        if self.bn is not None:
            dz = self.bn.backward(dz)
        dx = self.dense.backward(dz)
        if self.residual and dx is not None:
            dx += dout
        return dx
