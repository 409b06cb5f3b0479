"""Activation functions: one class each, forward beside its exact derivative.

Every class is registered in ``ACTIVATIONS`` under its command-line name; the dashboard's menu is this registry.
Shapes: ``z`` is the pre-activation (N, H) -- (N, k*H) for maxout -- and ``h`` the output (N, H).

Class attributes describe what the measurements need to know:

- ``bounds``: the fixed output range used for histograms (``None``: taken from the data),
- ``nonneg``: the output is never negative (histogram range ``[0, max]``),
- ``max_deriv``: ``sup |f'|``, the scale of "saturated" (|f'| below 5 % of it),
- ``can_die``: ``f'`` is exactly 0 on a half-line, so a unit can be dead.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

__all__ = ["ACTIVATIONS", "ALIASES", "Activation", "erf", "make_activation"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid without overflow: exp is only ever taken of -|z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


# --- erf: NumPy has none, and the exact GELU needs one ----------------------------------------------------------
# A cubic Hermite interpolant of math.erf on a grid of step 1/256 over [0, 6], using the exact derivative
# 2/sqrt(pi) exp(-x^2) at the knots. Its error is below 1e-11 (a test compares it with math.erf); past 6, erf is 1
# to double precision.
_ERF_H = 1.0 / 256.0
_ERF_X = np.arange(0.0, 6.0 + _ERF_H, _ERF_H)
_ERF_Y = np.array([math.erf(x) for x in _ERF_X])
_ERF_D = 2.0 / math.sqrt(math.pi) * np.exp(-(_ERF_X**2)) * _ERF_H  # derivative scaled to the unit interval


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in the dtype of ``x``."""
    a = np.minimum(np.abs(x).astype(np.float64), 6.0)
    u = a / _ERF_H
    i = np.minimum(u.astype(np.intp), len(_ERF_X) - 2)
    t = u - i
    t2 = t * t
    t3 = t2 * t
    y = (
        (2 * t3 - 3 * t2 + 1) * _ERF_Y[i]
        + (t3 - 2 * t2 + t) * _ERF_D[i]
        + (-2 * t3 + 3 * t2) * _ERF_Y[i + 1]
        + (t3 - t2) * _ERF_D[i + 1]
    )
    return np.copysign(y, x).astype(x.dtype, copy=False)


class Activation:
    """Base class. Subclasses set ``name`` and implement ``forward``/``backward``/``derivative``."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    formula: ClassVar[str] = ""
    bounds: ClassVar[tuple[float, float] | None] = None
    nonneg: ClassVar[bool] = False
    max_deriv: ClassVar[float] = 1.0
    can_die: ClassVar[bool] = False
    pieces: ClassVar[int] = 1  # affine outputs per unit (maxout: 2)

    def __init__(self, units: int, dtype: np.dtype, rng: np.random.Generator | None = None) -> None:
        self.units = units
        self.dtype = np.dtype(dtype)
        self.rng = rng if rng is not None else np.random.default_rng(0)

    # learnable parameters as (name, value, gradient) triples; most activations have none
    def params(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        return []

    def forward(self, z: np.ndarray, train: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dh: np.ndarray) -> np.ndarray:
        """dL/dz from dL/dh, for the last ``forward`` call."""
        raise NotImplementedError

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """The local derivative f'(z), shape of h, in eval mode (what dead/saturation measure)."""
        raise NotImplementedError


class Elementwise(Activation):
    """h = f(z) elementwise; subclasses give ``f(z)`` and ``df(z, h)`` side by side."""

    def f(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def df(self, z: np.ndarray, h: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, z: np.ndarray, train: bool = False) -> np.ndarray:
        h = self.f(z)
        self._z, self._h = z, h
        return h

    def backward(self, dh: np.ndarray) -> np.ndarray:
        return dh * self.df(self._z, self._h)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        return self.df(z, self.f(z))


class Linear(Elementwise):
    name, label, formula = "linear", "linear", "f(z) = z"

    def f(self, z):
        return z

    def df(self, z, h):
        return np.ones_like(z)

    def backward(self, dh):
        return dh


class Sigmoid(Elementwise):
    name, label, formula = "sigmoid", "sigmoid", "f(z) = 1/(1+e^-z),  f' = f(1-f)"
    bounds = (0.0, 1.0)
    nonneg = True
    max_deriv = 0.25

    def f(self, z):
        return _sigmoid(z)

    def df(self, z, h):
        return h * (1 - h)


class Tanh(Elementwise):
    name, label, formula = "tanh", "tanh", "f(z) = tanh z,  f' = 1 - f^2"
    bounds = (-1.0, 1.0)

    def f(self, z):
        return np.tanh(z)

    def df(self, z, h):
        return 1 - h * h


class ReLU(Elementwise):
    name, label, formula = "relu", "ReLU", "f(z) = max(0, z),  f'(0) = 0"
    nonneg = True
    can_die = True

    def f(self, z):
        return np.maximum(z, 0)

    def df(self, z, h):
        return (z > 0).astype(z.dtype)


class LeakyReLU(Elementwise):
    name, label = "leaky_relu", "Leaky ReLU"
    slope = 0.01

    def __init__(self, units, dtype, rng=None, slope: float | None = None):
        super().__init__(units, dtype, rng)
        if slope is not None:
            self.slope = slope

    @property
    def formula(self) -> str:  # type: ignore[override]
        return f"f(z) = z if z > 0 else {self.slope:g} z"

    def f(self, z):
        return np.where(z > 0, z, z * self.dtype.type(self.slope))

    def df(self, z, h):
        return np.where(z > 0, 1, self.slope).astype(z.dtype)


class PReLU(Activation):
    """Leaky ReLU whose negative slope ``alpha`` (one per unit, initially 0.25) is learned."""

    name, label, formula = "prelu", "PReLU", "f(z) = z if z > 0 else a z  (a learned per unit)"

    def __init__(self, units, dtype, rng=None):
        super().__init__(units, dtype, rng)
        self.alpha = np.full(units, 0.25, dtype=self.dtype)
        self.dalpha = np.zeros_like(self.alpha)

    def params(self):
        return [("alpha", self.alpha, self.dalpha)]

    def forward(self, z, train=False):
        self._z = z
        return np.where(z > 0, z, z * self.alpha)

    def backward(self, dh):
        z = self._z
        neg = z <= 0
        self.dalpha[...] = np.sum(dh * z * neg, axis=0)
        return np.where(neg, dh * self.alpha, dh)

    def derivative(self, z):
        return np.where(z > 0, 1, self.alpha).astype(z.dtype)


class RReLU(Activation):
    """Randomised leaky ReLU: slope ~ U[1/8, 1/3] per element while training, the mean slope in eval."""

    name, label, formula = "rrelu", "RReLU", "f(z) = z if z > 0 else a z,  a ~ U[1/8, 1/3] (eval: 11/48)"
    lower, upper = 1 / 8, 1 / 3

    def forward(self, z, train=False):
        if train:
            a = self.rng.uniform(self.lower, self.upper, size=z.shape).astype(z.dtype)
        else:
            a = z.dtype.type((self.lower + self.upper) / 2)
        self._z, self._a = z, a
        return np.where(z > 0, z, z * a)

    def backward(self, dh):
        return np.where(self._z > 0, dh, dh * self._a)

    def derivative(self, z):
        return np.where(z > 0, 1, (self.lower + self.upper) / 2).astype(z.dtype)


class ELU(Elementwise):
    name, label, formula = "elu", "ELU", "f(z) = z if z > 0 else e^z - 1"

    def f(self, z):
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))

    def df(self, z, h):
        return np.where(z > 0, 1, h + 1).astype(z.dtype)


class SELU(Elementwise):
    name, label, formula = "selu", "SELU", "f(z) = l z if z > 0 else l a (e^z - 1),  l=1.0507, a=1.6733"
    lam = 1.0507009873554804934193349852946
    alpha = 1.6732632423543772848170429916717
    max_deriv = lam * alpha

    def f(self, z):
        t = z.dtype.type
        return t(self.lam) * np.where(z > 0, z, t(self.alpha) * np.expm1(np.minimum(z, 0)))

    def df(self, z, h):
        t = z.dtype.type
        return np.where(z > 0, t(self.lam), h + t(self.lam * self.alpha)).astype(z.dtype)


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_C = math.sqrt(2.0 / math.pi)


class GELU(Elementwise):
    """GELU, exact erf form by default; ``approximate=True`` gives the tanh form (differs by up to 4.7e-4)."""

    name, label = "gelu", "GELU"
    max_deriv = 1.128904  # at z = sqrt(2)

    def __init__(self, units, dtype, rng=None, approximate: bool = False):
        super().__init__(units, dtype, rng)
        self.approximate = approximate

    @property
    def formula(self) -> str:  # type: ignore[override]
        if self.approximate:
            return "f(z) = z/2 (1 + tanh(sqrt(2/pi)(z + 0.044715 z^3)))"
        return "f(z) = z Phi(z),  f' = Phi(z) + z phi(z)"

    def f(self, z):
        t = z.dtype.type
        if self.approximate:
            u = t(_TANH_C) * (z + t(0.044715) * z * z * z)
            return t(0.5) * z * (1 + np.tanh(u))
        return t(0.5) * z * (1 + erf(z * t(_SQRT_HALF)))

    def df(self, z, h):
        t = z.dtype.type
        if self.approximate:
            u = t(_TANH_C) * (z + t(0.044715) * z * z * z)
            th = np.tanh(u)
            du = t(_TANH_C) * (1 + t(3 * 0.044715) * z * z)
            return t(0.5) * (1 + th) + t(0.5) * z * (1 - th * th) * du
        cdf = t(0.5) * (1 + erf(z * t(_SQRT_HALF)))
        pdf = t(_INV_SQRT_2PI) * np.exp(t(-0.5) * z * z)
        return cdf + z * pdf


class Swish(Elementwise):
    name, label, formula = "swish", "Swish/SiLU", "f(z) = z sigmoid(z),  f' = s + z s (1 - s)"
    max_deriv = 1.099839  # at z = 2.39936

    def f(self, z):
        return z * _sigmoid(z)

    def df(self, z, h):
        s = _sigmoid(z)
        return s + z * s * (1 - s)


class HardSwish(Elementwise):
    name, label, formula = "hardswish", "hard-swish", "f(z) = z relu6(z + 3) / 6"
    max_deriv = 1.5  # (2z + 3)/6 at z -> 3
    can_die = True  # f' = 0 for z < -3

    def f(self, z):
        t = z.dtype.type
        return z * np.clip(z + t(3), 0, 6) / t(6)

    def df(self, z, h):
        t = z.dtype.type
        mid = (2 * z + t(3)) / t(6)
        return np.where(z <= -3, t(0), np.where(z >= 3, t(1), mid)).astype(z.dtype)


class ReLU6(Elementwise):
    name, label, formula = "relu6", "ReLU6", "f(z) = min(max(0, z), 6)"
    bounds = (0.0, 6.0)
    nonneg = True
    can_die = True

    def f(self, z):
        return np.clip(z, 0, 6)

    def df(self, z, h):
        return ((z > 0) & (z < 6)).astype(z.dtype)


class Softplus(Elementwise):
    name, label, formula = "softplus", "softplus", "f(z) = log(1 + e^z),  f' = sigmoid(z)"
    nonneg = True

    def f(self, z):
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))

    def df(self, z, h):
        return _sigmoid(z)


class Maxout(Activation):
    """Maxout with k = 2 pieces: z has 2H columns, h_j = max(z_j, z_{H+j}). Never dead, never saturated."""

    name, label, formula = "maxout", "maxout (k=2)", "f(z) = max(z_a, z_b)  (two affine pieces per unit)"
    pieces = 2

    def forward(self, z, train=False):
        H = self.units
        a, b = z[:, :H], z[:, H:]
        self._pick_a = a >= b
        return np.where(self._pick_a, a, b)

    def backward(self, dh):
        dz = np.empty((dh.shape[0], 2 * self.units), dtype=dh.dtype)
        zero = dh.dtype.type(0)
        np.copyto(dz[:, : self.units], np.where(self._pick_a, dh, zero))
        np.copyto(dz[:, self.units :], np.where(self._pick_a, zero, dh))
        return dz

    def derivative(self, z):
        return np.ones((z.shape[0], self.units), dtype=z.dtype)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (
        Sigmoid,
        Tanh,
        ReLU,
        LeakyReLU,
        PReLU,
        RReLU,
        ELU,
        SELU,
        GELU,
        Swish,
        HardSwish,
        ReLU6,
        Softplus,
        Maxout,
        Linear,
    )
}
ALIASES = {"silu": "swish", "identity": "linear", "hard_swish": "hardswish", "lrelu": "leaky_relu"}


def make_activation(
    name: str,
    units: int,
    dtype: np.dtype,
    rng: np.random.Generator | None = None,
    *,
    leaky_slope: float = 0.01,
    gelu_approximate: bool = False,
) -> Activation:
    """Instantiate the registry entry ``name`` (or an alias) for a layer of ``units`` units."""
    cls = ACTIVATIONS[ALIASES.get(name, name)]
    if cls is LeakyReLU:
        return LeakyReLU(units, dtype, rng, slope=leaky_slope)
    if cls is GELU:
        return GELU(units, dtype, rng, approximate=gelu_approximate)
    return cls(units, dtype, rng)
