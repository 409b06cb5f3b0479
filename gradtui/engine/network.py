"""An MLP assembled from a Config: hidden blocks (Dense -> [BatchNorm] -> activation [+ residual]) and an output
layer fused with its loss.

Randomness is split into independent streams of the seed, one per purpose and per layer, so that two configs that
differ in one setting still share everything else: the data, the batch order, and the initial weights of every
layer whose shape and initialiser match.
"""

from __future__ import annotations

import math

import numpy as np

from .activations import make_activation
from .buffers import offset_in
from .config import Config
from .init import init_weights
from .layers import BatchNorm, Dense, HiddenBlock
from .losses import Loss, make_loss

__all__ = ["Network", "norm64", "rng_for"]

# stream ids for np.random.default_rng([seed, stream, ...])
STREAM_WEIGHTS, STREAM_ACT, STREAM_PROBE, STREAM_BATCHES = 1, 2, 3, 4


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def norm64(a: np.ndarray) -> float:
    """Frobenius norm, right over the whole float64 range: float32 squares underflow to 0 below ~1e-19 (and a
    50-layer sigmoid net has first-layer gradients of 1e-36, which must show as 1e-36, not 0), or overflow.

    A float32 array whose sum of squares lies safely inside float32's range (1e-30 .. 1e30) is summed in float32
    (9x faster; the relative error is ~1e-7, far below what is shown); anything else is summed in float64, and
    scaled first if even float64 squares would under- or overflow.
    """
    flat = a.ravel()
    if flat.dtype == np.float32:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            s = float(np.dot(flat, flat))
        if 1e-30 < s < 1e30:
            return math.sqrt(s)
    flat = flat.astype(np.float64, copy=False)
    with np.errstate(over="ignore", under="ignore"):
        s = float(np.dot(flat, flat))
    if s == math.inf or (s == 0.0 and flat.any()):  # the squares overflowed/underflowed: scale first
        m = float(np.max(np.abs(flat)))
        if not math.isfinite(m):
            return m
        flat = flat / m
        return m * math.sqrt(float(np.dot(flat, flat)))
    return math.sqrt(s)


class Network:
    def __init__(self, config: Config, input_dim: int, classes: int) -> None:
        self.config = config
        self.dtype = np.dtype(config.dtype)
        self.loss: Loss = make_loss(config.output_kind)
        n_out = self.loss.outputs(classes) if classes else 1
        self.blocks: list[HiddenBlock] = []
        fan_in = input_dim
        for l in range(1, config.depth + 1):
            act = make_activation(
                config.activation,
                config.width,
                self.dtype,
                rng_for(config.seed, STREAM_ACT, l),
                leaky_slope=config.leaky_slope,
                gelu_approximate=config.gelu_approximate,
            )
            fan_out = config.width * act.pieces
            W = init_weights(config.init, fan_in, fan_out, rng_for(config.seed, STREAM_WEIGHTS, l)).astype(self.dtype)
            bias = None if config.batchnorm else np.full(fan_out, config.bias_init, dtype=self.dtype)
            bn = BatchNorm(fan_out, self.dtype) if config.batchnorm else None
            residual = config.residual and fan_in == config.width
            self.blocks.append(HiddenBlock(Dense(W, bias, need_dx=l > 1), bn, act, residual))
            fan_in = config.width
        W = init_weights(config.init, fan_in, n_out, rng_for(config.seed, STREAM_WEIGHTS, config.depth + 1))
        self.out = Dense(W.astype(self.dtype), np.zeros(n_out, dtype=self.dtype))
        self.measure = False  # when set, backward records each block's signal norm
        self.flat_params, self.flat_grads = self._flatten()
        # one store of transients for all layers (backward signals, W.T copies, scratch): a deep network's working
        # set then fits in cache better (+11% steps/s measured at depth 50, width 64)
        shared: dict = {}
        for i, d in enumerate([b.dense for b in self.blocks] + [self.out]):
            d._tmp, d._dx_key, d._plan = shared, ("dx", i % 2), None
        for b in self.blocks:
            b.act._tmp = shared

    def _flatten(self) -> tuple[np.ndarray, np.ndarray]:
        """Move every parameter into one flat array and every gradient into another, at the same offsets, weight
        matrices first; the layers keep views. The optimiser then updates all of them in a few whole-array operations
        (one NumPy call each instead of one per parameter), and weight decay touches one contiguous span.

        A layer that lists its parameters in ``param_slots`` takes part; one that does not keeps its own arrays (the
        optimiser then falls back to one update per parameter).
        """
        owners: list[object] = []
        for b in self.blocks:
            owners += [b.dense] + ([b.bn] if b.bn is not None else []) + [b.act]
        owners.append(self.out)
        slots = [(o, kind, v, g) for o in owners for kind, v, g in getattr(o, "param_slots", list)()]
        slots.sort(key=lambda s: s[1] != "W")  # stable: weights first, in layer order
        total = sum(getattr(o, v).size for o, _, v, _ in slots)
        P, G = np.empty(total, dtype=self.dtype), np.zeros(total, dtype=self.dtype)
        at = 0
        for o, _, v, g in slots:
            a = getattr(o, v)
            view = P[at : at + a.size].reshape(a.shape)
            view[...] = a
            setattr(o, v, view)
            setattr(o, g, G[at : at + a.size].reshape(a.shape))
            at += a.size
        return P, G

    def weight_copies(self) -> list[np.ndarray]:
        """A copy of each hidden block's weight matrix (one copy of the flat array, when the weights live in it)."""
        Ws = [b.dense.W for b in self.blocks]
        P = self.flat_params
        if not all(W.base is P for W in Ws):
            return [W.copy() for W in Ws]
        P0 = P.copy()
        return [P0[o : o + W.size].reshape(W.shape) for W, o in zip(Ws, (offset_in(W, P) for W in Ws))]

    def weight_deltas(self, copies: list[np.ndarray]) -> list[np.ndarray]:
        """W - w0 for each hidden block, given ``copies`` from ``weight_copies`` (which it overwrites when they are
        views of one flat copy: one whole-array subtraction instead of one per layer)."""
        Ws = [b.dense.W for b in self.blocks]
        base = copies[0].base if copies else None
        if base is not None and base.shape == self.flat_params.shape and all(c.base is base for c in copies):
            np.subtract(self.flat_params, base, out=base)
            return copies
        return [W - w0 for W, w0 in zip(Ws, copies)]

    def params_finite(self) -> bool:
        """Are all parameters finite? (A float64 sum: NaN and Inf propagate, and finite weights cannot overflow it.)"""
        P = self.flat_params
        rest = [p for _, p, _ in self.params() if p.base is not P]
        return all(math.isfinite(float(np.add.reduce(a, axis=None, dtype=np.float64))) for a in [P, *rest])

    def params(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(kind, value, gradient) of every parameter; kind "W" marks weight matrices."""
        out = []
        for b in self.blocks:
            out += b.params()
        return out + self.out.params()

    def forward(self, x: np.ndarray, train: bool = True, update_stats: bool = True) -> np.ndarray:
        for b in self.blocks:
            x = b.forward(x, train, update_stats)
        return self.out.forward(x, train)

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill every gradient from dL/dlogits (for the last forward)."""
        dout = self.out.backward(dlogits)
        n = dlogits.shape[0]
        for b in reversed(self.blocks):
            assert dout is not None  # only the first layer skips its dx
            if self.measure:
                b.signal_norm = norm64(dout) / math.sqrt(n)
            dout = b.backward(dout)

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, train: bool = True, update_stats: bool = True) -> float:
        """Forward, loss, and backward: the mean loss over the batch, gradients in place."""
        loss = self.loss.forward(self.forward(x, train, update_stats), y)
        self.backward(self.loss.backward())
        return loss
