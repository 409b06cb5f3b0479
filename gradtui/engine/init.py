"""Weight initialisers, registered in ``INITIALISERS``.

Each takes ``(fan_in, fan_out, rng, param)`` and returns a float64 array of shape (fan_in, fan_out); the caller
casts it to the training dtype. ``param`` is the number after the colon on the command line (``normal:0.01``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .names import INIT_ALIASES, initialiser_names, parse_init

__all__ = ["INITIALISERS", "Initialiser", "init_weights", "initialiser_names", "parse_init"]


def _he(fan_in, fan_out, rng, param):
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_in, fan_out))


def _he_uniform(fan_in, fan_out, rng, param):
    a = math.sqrt(6.0 / fan_in)
    return rng.uniform(-a, a, (fan_in, fan_out))


def _xavier(fan_in, fan_out, rng, param):
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out))


def _xavier_uniform(fan_in, fan_out, rng, param):
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, (fan_in, fan_out))


def _lecun(fan_in, fan_out, rng, param):
    return rng.normal(0.0, math.sqrt(1.0 / fan_in), (fan_in, fan_out))


def _orthogonal(fan_in, fan_out, rng, param):
    """A (semi-)orthogonal matrix: QR of a Gaussian matrix with the sign fix that makes it Haar-distributed."""
    big, small = max(fan_in, fan_out), min(fan_in, fan_out)
    q, r = np.linalg.qr(rng.normal(0.0, 1.0, (big, small)))
    q *= np.sign(np.diag(r))
    return q if fan_in >= fan_out else q.T


def _identity(fan_in, fan_out, rng, param):
    """The identity (ones on the main diagonal of a rectangle): recurrent weights of the IRNN (Le et al. 2015).

    With a linear or ReLU cell and no input, h_t = h_{t-1}: the state, and the gradient through time, are carried
    unchanged. Deterministic: ``rng`` is not used.
    """
    return np.eye(fan_in, fan_out)


def _normal(fan_in, fan_out, rng, param):
    return rng.normal(0.0, param, (fan_in, fan_out))


def _uniform(fan_in, fan_out, rng, param):
    return rng.uniform(-param, param, (fan_in, fan_out))


@dataclass(frozen=True)
class Initialiser:
    name: str
    fn: Callable[..., np.ndarray]
    description: str
    needs_param: bool = False  # normal:STD, uniform:A


INITIALISERS: dict[str, Initialiser] = {
    i.name: i
    for i in (
        Initialiser("he", _he, "He normal: N(0, 2/fan_in), for the ReLU family"),
        Initialiser("he_uniform", _he_uniform, "He uniform: U(+-sqrt(6/fan_in))"),
        Initialiser("xavier", _xavier, "Xavier/Glorot normal: N(0, 2/(fan_in+fan_out)), for tanh/sigmoid"),
        Initialiser("xavier_uniform", _xavier_uniform, "Xavier/Glorot uniform: U(+-sqrt(6/(fan_in+fan_out)))"),
        Initialiser("lecun", _lecun, "LeCun normal: N(0, 1/fan_in), for SELU"),
        Initialiser("orthogonal", _orthogonal, "orthogonal rows/columns (gain 1)"),
        Initialiser("identity", _identity, "the identity matrix (IRNN recurrent weights; rectangular: eye)"),
        Initialiser("normal", _normal, "N(0, STD^2) whatever the size: 1.0 explodes, 0.01 vanishes", True),
        Initialiser("uniform", _uniform, "U(-A, A) whatever the size", True),
    )
}
ALIASES = INIT_ALIASES


def init_weights(spec: str, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    name, param = parse_init(spec)
    return INITIALISERS[name].fn(fan_in, fan_out, rng, param)
