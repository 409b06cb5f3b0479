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

    def params(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(kind, value, gradient) of every parameter; kind "W" marks weight matrices."""
        out = []
        for b in self.blocks:
            out += b.params()
        return out + self.out.params()

    def forward(self, x: np.ndarray, train: bool = True, update_stats: bool = True) -> np.ndarray:
        for b in self.blocks:
            x = b.forward(x, train, update_stats)
        return self.out.forward(x)

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill every gradient from dL/dlogits (for the last forward)."""
        dout = self.out.backward(dlogits)
        n = dlogits.shape[0]
        for b in reversed(self.blocks):
            if self.measure:
                b.signal_norm = norm64(dout) / math.sqrt(n)
            dout = b.backward(dout)

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, train: bool = True, update_stats: bool = True) -> float:
        """Forward, loss, and backward: the mean loss over the batch, gradients in place."""
        loss = self.loss.forward(self.forward(x, train, update_stats), y)
        self.backward(self.loss.backward())
        return loss
