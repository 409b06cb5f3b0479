"""Activation functions: one class each, forward beside its exact derivative.

Every class is registered in ``ACTIVATIONS`` under its command-line name; the dashboard's menu is this registry.
Shapes: ``z`` is the pre-activation (N, H) -- (N, k*H) for maxout -- and ``h`` the output (N, H).

Class attributes describe what the measurements need to know:

- ``bounds``: the fixed output range used for histograms (``None``: taken from the data),
- ``nonneg``: the output is never negative (histogram range ``[0, max]``),
- ``max_deriv``: ``sup |f'|``, the scale of "saturated" (|f'| below 5 % of it),
- ``can_die``: ``f'`` is exactly 0 on a half-line, so a unit can be dead.

Speed (a training step is a few dozen NumPy calls per layer, so each call counts): the elementwise activations are
written as kernels ``_f_into(z, out)`` / ``_df_into(z, h, out)`` that work in place, with no ``np.where`` and few
temporaries; in training (``forward(z, train=True)``) they write into work arrays reused from step to step and may keep
what the backward needs (GELU keeps Phi, z^2 and, in its tanh forms, e^-2g; softplus keeps e^-|z|). A subclass that
overrides ``f`` or ``df`` gets the plain ``dh * df(z, h)`` path, so that what it changed is what runs. Constants go to
the ufuncs as 0-d arrays of the data's dtype (``_k``), and float32 expm1/log1p are built from exp and log where NumPy
would run them as scalar code (``KAHAN_FLOAT32``).

Non-finite inputs: no forward, backward or derivative raises or warns on NaN or +-Inf; NaN propagates through the
forward (the trainer detects divergence from it) and finite inputs give finite outputs.
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import numpy as np

from .buffers import Buffers, buffer, ones
from .names import ACTIVATION_ALIASES
from .spelling import setting

__all__ = ["ACTIVATIONS", "ALIASES", "Activation", "derivative_curve", "erf", "make_activation"]


def _scratch(ws: Buffers | None, key: str, like: np.ndarray) -> np.ndarray:
    """A temporary shaped like ``like``: a reused work array of ``ws`` while training (one per key and shape: the
    network shares one store between its layers, so that transients stay in cache), else a new array."""
    if ws is None:
        return np.empty(like.shape, like.dtype)
    return buffer(ws, (key, like.shape), like.shape, like.dtype)


CONST_MAX = 65536  # np.maximum(z, c) is ~2x faster with c an array than a scalar, in cache; slower out of it


def _const(ws: Buffers | None, like: np.ndarray, value: float) -> np.ndarray | float:
    """``value`` for np.minimum/np.maximum: a reused (never written) array of it while training and small, else the
    float itself."""
    if ws is None or like.size > CONST_MAX:
        return value
    key = ("const", value, like.shape)
    c = ws.get(key)
    if c is None or c.dtype != like.dtype:
        c = ws[key] = np.full(like.shape, value, like.dtype)
    return c


def _zeros(ws: Buffers | None, like: np.ndarray) -> np.ndarray | float:
    return _const(ws, like, 0.0)


@functools.cache
def _k(value: float, dtype: np.dtype) -> np.ndarray:
    """``value`` as a read-only 0-d array of ``dtype``, for np.add/multiply/subtract/divide: a ufunc takes it ~0.4 us
    faster than a Python float, whose conversion and weak-type promotion it redoes on every call (the cached lookup
    costs ~0.14 us). Same result: the float is rounded to ``dtype`` either way."""
    c = np.array(value, dtype)
    c.flags.writeable = False
    return c


@functools.cache
def _ks(values: tuple[float, ...], dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """``_k`` of each of ``values``, in one lookup."""
    return tuple(_k(v, dtype) for v in values)


_EXP_LIMITS: dict[np.dtype, float] = {}


def _exp_limit(dtype: np.dtype) -> float:
    """The largest t with exp(t) finite in ``dtype`` (88 for float32, 709 for float64), rounded down."""
    lim = _EXP_LIMITS.get(dtype)
    if lim is None:
        lim = _EXP_LIMITS[dtype] = float(math.floor(math.log(float(np.finfo(dtype).max))))
    return lim


def _sigmoid_into(z: np.ndarray, out: np.ndarray, ws: Buffers | None = None) -> np.ndarray:
    """Logistic sigmoid 1 / (1 + e^-z) into ``out``, with -z capped so that e^-z never overflows (the result there is
    below 1e-38, right to float32). Accurate to a few ulp on both tails, NaN in NaN out."""
    np.negative(z, out=out)
    np.minimum(out, _const(ws, z, _exp_limit(z.dtype)), out=out)
    np.exp(out, out=out)
    np.add(out, _k(1.0, z.dtype), out=out)
    return np.divide(_k(1.0, z.dtype), out, out=out)  # np.reciprocal takes ~1.35x as long


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return _sigmoid_into(z, np.empty(z.shape, z.dtype))


# --- expm1 and log1p in float32 --------------------------------------------------------------------------------
# NumPy vectorises float32 exp and log from AVX2 up, but expm1 and log1p only where it dispatches AVX-512 (SVML);
# elsewhere they run scalar libm code at ~7x np.exp's time (an ELU step cost ~2x ReLU's, softplus ~3x). There they are
# built from exp and log with Kahan's trick, whose rounding errors cancel: expm1(t) = (u - 1) t / log u with u = e^t,
# and log1p(y) = log(u) y / (u - 1) with u = 1 + y (each exactly t, resp. y, where u rounds to 1: 0/0, replaced by
# fmax/fmin). Error against float64: 4.5 ulp (relative 3.3e-7) over the float32 line, most of it np.log's own 3.8
# ulp (NumPy's expm1: 0.75 ulp); a test checks both paths. float64 keeps np.expm1 and np.log1p everywhere (there the
# pair would cost more, not less).


def _numpy_vectorises_expm1() -> bool:
    """Does NumPy dispatch AVX-512 here (X86_V4, AVX512_SKX before NumPy 2.4), where its expm1/log1p are SIMD?"""
    try:
        found = np.show_config(mode="dicts")["SIMD Extensions"]["found"]  # runtime CPU detection, public API
    except Exception:  # an older or unusual build: the Kahan forms are right everywhere
        return False
    return any(name in found for name in ("X86_V4", "AVX512_SKX"))


KAHAN_FLOAT32 = not _numpy_vectorises_expm1()  # fixed per machine, so that a seeded run repeats exactly
_EXPM1_FLOOR = -20.0  # e^-20 - 1 rounds to -1 in float32: t below it gives -1, and -inf never reaches the division


def _expm1_neg_into(out: np.ndarray, ws: Buffers | None = None, exact_where_tiny: bool = True) -> np.ndarray:
    """expm1 of ``out`` (entries <= 0 or NaN), in place. With ``exact_where_tiny`` False the result may instead be
    returned in a scratch array, NaN where e^t rounds to 1 (|t| < 6e-8, t = 0 included): for a caller whose own fmax
    with t puts t there (``out`` then holds t clamped to [-20, 0])."""
    if out.dtype != np.float32 or not KAHAN_FLOAT32:
        return np.expm1(out, out=out)
    u, lg = _scratch(ws, "em_u", out), _scratch(ws, "em_l", out)
    np.maximum(out, _const(ws, out, _EXPM1_FLOOR), out=out)
    np.exp(out, out=u)
    np.log(u, out=lg)
    np.subtract(u, _k(1.0, u.dtype), out=u)
    np.multiply(u, out, out=u)
    with np.errstate(invalid="ignore"):  # 0/0 where e^t rounds to 1: there expm1(t) is t, which fmax picks
        np.divide(u, lg, out=u)
    if not exact_where_tiny:
        return u
    return np.fmax(u, out, out=out)  # (u - 1) t / log u >= t, but for rounding at |t| < 1e-7


def _log1p_unit_into(y: np.ndarray, out: np.ndarray, ws: Buffers | None = None) -> np.ndarray:
    """log1p(y) into ``out`` (which may be ``y``), for entries of ``y`` in [0, 1] or NaN."""
    if y.dtype != np.float32 or not KAHAN_FLOAT32:
        return np.log1p(y, out=out)
    u, lg = _scratch(ws, "lp_u", y), _scratch(ws, "lp_l", y)
    one = _k(1.0, y.dtype)
    np.add(y, one, out=u)
    np.log(u, out=lg)
    np.multiply(lg, y, out=lg)
    np.subtract(u, one, out=u)
    with np.errstate(invalid="ignore"):  # 0/0 where 1 + y rounds to 1: there log1p(y) is y, which fmin picks
        np.divide(lg, u, out=lg)
    return np.fmin(lg, y, out=out)  # log(1 + y) <= y


# --- erf: NumPy has none, and the exact GELU needs one ----------------------------------------------------------
# float64: a cubic Hermite interpolant of math.erf on a grid of step 1/1024 over [0, 6], using the exact derivative
# 2/sqrt(pi) exp(-x^2) at the knots. Its error is below 1e-13 (a test compares it with math.erf); past 6, erf is 1
# to double precision.
_ERF_H = 1.0 / 1024.0
_ERF_X = np.arange(0.0, 6.0 + _ERF_H, _ERF_H)
_ERF_Y = np.array([math.erf(x) for x in _ERF_X])
_ERF_D = 2.0 / math.sqrt(math.pi) * np.exp(-(_ERF_X**2)) * _ERF_H  # derivative scaled to the unit interval

# float32: erf(x) = tanh(x P(x^2)), P of degree 6 fitted (weighted minimax, Remez) to atanh(erf(x)) on [0, 3.95] with
# weight 1 - erf^2, which is the error that reaches erf. Fit error 5.8e-8; evaluated in float32 the largest error
# against math.erf over the whole float32 line is 1.4e-7 (1.2 ulp of 1.0: np.tanh's own rounding is ~6e-8 of it).
# x P(x^2) grows monotonically past 3.95 (tanh(9.1) is 1.0f), so no clamp is needed; x^2 may overflow to +inf for
# |x| > 1.8e19, which the positive leading coefficient carries through to tanh(+-inf) = +-1.
_ERF32 = (
    1.1283797054258071,
    0.10276548194223825,
    -0.00018438504583114968,
    -0.000625718134717355,
    8.971191731043994e-05,
    -5.98555407131026e-06,
    1.5895034443390148e-07,
)
# The same in z for the GELU: erf(z / sqrt 2) = tanh(z Q(z^2)), Q_k = P_k / sqrt(2) / 2^k.
_PHI32 = tuple(c / math.sqrt(2.0) / 2.0**k for k, c in enumerate(_ERF32))


def _horner_into(s: np.ndarray, coefs: tuple[float, ...], out: np.ndarray) -> np.ndarray:
    """sum_k coefs[k] s^k into ``out`` (Horner, in place; ``out`` must not be ``s``)."""
    c = _ks(coefs, s.dtype)
    np.multiply(s, c[-1], out=out)
    for ck in c[-2:0:-1]:
        np.add(out, ck, out=out)
        np.multiply(out, s, out=out)
    np.add(out, c[0], out=out)
    return out


def _erf32_into(x: np.ndarray, out: np.ndarray, ws: Buffers | None = None) -> np.ndarray:
    s = _scratch(ws, "erf_s", x)
    with np.errstate(over="ignore"):  # x^2 -> inf for |x| > 1.8e19: erf is +-1 there, which is what comes out
        np.multiply(x, x, out=s)
        _horner_into(s, _ERF32, out)
        np.multiply(out, x, out=out)
    return np.tanh(out, out=out)


def _erf64(x: np.ndarray) -> np.ndarray:
    a = np.fmin(np.abs(x), 6.0)  # fmin: NaN -> 6, so that the table index below is always legal (NaN is put back)
    u = a * (1.0 / _ERF_H)
    i = u.astype(np.intp)
    np.minimum(i, len(_ERF_X) - 2, out=i)
    t = u - i
    t2 = t * t
    t3 = t2 * t
    y = (
        (2 * t3 - 3 * t2 + 1) * _ERF_Y[i]
        + (t3 - 2 * t2 + t) * _ERF_D[i]
        + (-2 * t3 + 3 * t2) * _ERF_Y[i + 1]
        + (t3 - t2) * _ERF_D[i + 1]
    )
    np.copysign(y, x, out=y)
    np.copyto(y, x, where=np.isnan(x))
    return y


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in the dtype of ``x``: float32 evaluated in float32 (max abs error 1.4e-7),
    anything else in float64 (max abs error below 1e-13). NaN gives NaN, +-Inf gives +-1, without warnings."""
    x = np.asarray(x)
    if x.dtype == np.float32:
        return _erf32_into(x, np.empty(x.shape, np.float32))
    return _erf64(x.astype(np.float64, copy=False)).astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False)


def _mro_index(cls: type, name: str) -> int:
    """Position in ``cls``'s MRO of the class that defines ``name`` (how far up the hierarchy it lives)."""
    for i, k in enumerate(cls.__mro__):
        if name in k.__dict__:
            return i
    return len(cls.__mro__)


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
        self._ws: Buffers = {}  # what the training forward keeps for the backward
        self._tmp: Buffers = self._ws  # transients (the network gives all its layers one store)

    # learnable parameters as (name, value, gradient) triples; most activations have none
    def params(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        return []

    def param_slots(self) -> list[tuple[str, str, str]]:
        """(kind, value attribute, gradient attribute) of each parameter (the network may move them into one array)."""
        return []

    def forward(self, z: np.ndarray, train: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dh: np.ndarray) -> np.ndarray:
        """dL/dz from dL/dh, for the last ``forward`` call."""
        raise NotImplementedError

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """The local derivative f'(z), shape of h, in eval mode (what dead/saturation measure)."""
        raise NotImplementedError

    def _out(self, key: str, like: np.ndarray, train: bool) -> np.ndarray:
        """Where a result goes: a reused work array while training, else a new array."""
        return buffer(self._ws, key, like.shape, like.dtype) if train else np.empty(like.shape, like.dtype)


class Elementwise(Activation):
    """h = f(z) elementwise.

    Subclasses give the kernels ``_f_into(z, out, ws)`` and ``_df_into(z, h, out, ws)`` (``ws``: work arrays for
    temporaries, None outside training), or -- the plain way -- ``f(z)`` and ``df(z, h)`` themselves. The training
    path (``_train_forward`` / ``_train_backward``, which may keep intermediate results for the backward) is used
    only while no ``f``/``df`` is defined below the kernels in the class hierarchy.
    """

    _KERNELS = ("_f_into", "_df_into", "_train_forward", "_train_backward")

    def __init__(self, units: int, dtype: np.dtype, rng: np.random.Generator | None = None) -> None:
        super().__init__(units, dtype, rng)
        cls = type(self)
        plain = min(_mro_index(cls, "f"), _mro_index(cls, "df"))
        self._fast = plain >= max(_mro_index(cls, k) for k in self._KERNELS)
        self._fast_last = False  # was the last forward the training path? (then backward may use what it kept)
        self._arrays: tuple | None = None  # (shape, dtype, h, dz, zeros) of the training path, per batch shape

    def f(self, z: np.ndarray) -> np.ndarray:
        return self._f_into(z, np.empty(z.shape, z.dtype))

    def df(self, z: np.ndarray, h: np.ndarray) -> np.ndarray:
        return self._df_into(z, h, np.empty(z.shape, z.dtype))

    def _f_into(self, z: np.ndarray, out: np.ndarray, ws: Buffers | None = None) -> np.ndarray:
        raise NotImplementedError

    def _df_into(self, z: np.ndarray, h: np.ndarray, out: np.ndarray, ws: Buffers | None = None) -> np.ndarray:
        raise NotImplementedError

    def _train_arrays(self, z: np.ndarray) -> tuple:
        """(shape, dtype, h, dz, zeros) for inputs like ``z``: looked up once per batch shape, not on every step."""
        a = self._arrays
        if a is None or a[0] != z.shape or a[1] != z.dtype:
            h = buffer(self._ws, "h", z.shape, z.dtype)
            a = self._arrays = (z.shape, z.dtype, h, _scratch(self._tmp, "dz", z), _zeros(self._tmp, z))
        return a

    def _train_forward(self, z: np.ndarray) -> np.ndarray:
        return self._f_into(z, self._train_arrays(z)[2], self._tmp)

    def _train_backward(self, dh: np.ndarray) -> np.ndarray:
        dz = self._train_arrays(dh)[3]
        self._df_into(self._z, self._h, dz, self._tmp)
        return np.multiply(dz, dh, out=dz)

    def forward(self, z: np.ndarray, train: bool = False) -> np.ndarray:
        fast = train and self._fast and z.dtype.kind == "f"
        h = self._train_forward(z) if fast else self.f(z)
        self._z, self._h, self._fast_last = z, h, fast
        return h

    def backward(self, dh: np.ndarray) -> np.ndarray:
        if self._fast_last and dh.dtype == self._h.dtype and dh.shape == self._h.shape:
            return self._train_backward(dh)
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

    def _f_into(self, z, out, ws=None):
        return _sigmoid_into(z, out, ws)

    def _df_into(self, z, h, out, ws=None):
        np.subtract(_k(1.0, h.dtype), h, out=out)
        return np.multiply(out, h, out=out)


class Tanh(Elementwise):
    name, label, formula = "tanh", "tanh", "f(z) = tanh z,  f' = 1 - f^2"
    bounds = (-1.0, 1.0)

    def _f_into(self, z, out, ws=None):
        return np.tanh(z, out=out)

    def _df_into(self, z, h, out, ws=None):
        np.multiply(h, h, out=out)
        return np.subtract(_k(1.0, h.dtype), out, out=out)


class ReLU(Elementwise):
    name, label, formula = "relu", "ReLU", "f(z) = max(0, z),  f'(0) = 0"
    nonneg = True
    can_die = True

    def _f_into(self, z, out, ws=None):
        return np.maximum(z, _zeros(ws, z), out=out)

    def _df_into(self, z, h, out, ws=None):
        return np.greater(z, 0.0, out=out)  # 1.0 / 0.0

    def _train_forward(self, z):
        a = self._train_arrays(z)
        return np.maximum(z, a[4], out=a[2])


class LeakyReLU(Elementwise):
    name, label = "leaky_relu", "Leaky ReLU"
    slope = 0.01

    def __init__(self, units, dtype, rng=None, slope: float | None = None):
        super().__init__(units, dtype, rng)
        if slope is not None:
            self.slope = slope

    @property
    def formula(self) -> str:  # type: ignore[override]
        return f"f(z) = z if z > 0 else {setting(self.slope)} z"

    def _f_into(self, z, out, ws=None):
        a = self.slope
        if a == 0:
            return np.maximum(z, _zeros(ws, z), out=out)
        if 0 < a <= 1:  # max(z, a z) is z for z > 0 and a z below; a z cannot overflow
            np.multiply(z, _k(a, z.dtype), out=out)
            return np.maximum(z, out, out=out)
        np.copyto(out, np.where(z > 0, z, z * z.dtype.type(a)))
        return out

    def _df_into(self, z, h, out, ws=None):
        np.greater(z, 0.0, out=out)
        a = self.slope
        if a != 0:
            np.multiply(out, _k(1.0 - a, z.dtype), out=out)
            np.add(out, _k(a, z.dtype), out=out)
        return out


class PReLU(Activation):
    """Leaky ReLU whose negative slope ``alpha`` (one per unit, initially 0.25) is learned."""

    name, label, formula = "prelu", "PReLU", "f(z) = z if z > 0 else a z  (a learned per unit)"

    def __init__(self, units, dtype, rng=None):
        super().__init__(units, dtype, rng)
        self.alpha = np.full(units, 0.25, dtype=self.dtype)
        self.dalpha = np.zeros_like(self.alpha)

    def params(self):
        return [("alpha", self.alpha, self.dalpha)]

    def param_slots(self):
        return [("alpha", "alpha", "dalpha")]

    def forward(self, z, train=False):
        # f = max(z, 0) + alpha min(z, 0): right for any learned alpha, and inf * 0 never arises
        if not train or z.shape[-1:] != self.alpha.shape or z.dtype != self.alpha.dtype:
            self._z, self._zneg = z, np.minimum(z, 0.0)
            return np.maximum(z, 0.0) + self._zneg * self.alpha
        zneg = buffer(self._ws, "zneg", z.shape, z.dtype)
        h = buffer(self._ws, "h", z.shape, z.dtype)
        zero = _zeros(self._tmp, z)
        np.minimum(z, zero, out=zneg)
        np.maximum(z, zero, out=h)
        t = _scratch(self._tmp, "t", z)
        np.multiply(zneg, self.alpha, out=t)
        np.add(h, t, out=h)
        self._z, self._zneg = z, zneg
        return h

    def backward(self, dh):
        z, zneg = self._z, self._zneg
        t = _scratch(self._tmp, "t", dh)
        with np.errstate(over="ignore", invalid="ignore"):  # huge inputs: the slope's gradient is out of range
            np.multiply(dh, zneg, out=t)  # d/dalpha = dh z where z <= 0
            if t.ndim == 2 and t.dtype == self.dalpha.dtype:
                np.dot(ones(self._tmp, t.shape[0], t.dtype), t, out=self.dalpha)
            else:
                self.dalpha[...] = np.sum(t, axis=0)
        dz = _scratch(self._tmp, "dz", dh.astype(np.result_type(dh, self.alpha), copy=False))
        np.greater(z, 0.0, out=dz)  # slope: 1 where z > 0, alpha elsewhere
        np.multiply(dz, 1 - self.alpha, out=dz)
        np.add(dz, self.alpha, out=dz)
        return np.multiply(dz, dh, out=dz)

    def derivative(self, z):
        return np.where(z > 0, 1, self.alpha).astype(z.dtype)


class RReLU(Activation):
    """Randomised leaky ReLU: slope ~ U[1/8, 1/3] per element while training, the mean slope in eval."""

    name, label, formula = "rrelu", "RReLU", "f(z) = z if z > 0 else a z,  a ~ U[1/8, 1/3] (eval: 11/48)"
    lower, upper = 1 / 8, 1 / 3

    def forward(self, z, train=False):
        if train:
            a = self._out("a", z, train)
            if a.dtype in (np.float32, np.float64):
                self.rng.random(out=a, dtype=a.dtype)
            else:
                a[...] = self.rng.random(a.shape)
            np.multiply(a, self.upper - self.lower, out=a)
            np.add(a, self.lower, out=a)
            pos = _scratch(self._tmp, "pos", z)
            np.greater(z, 0.0, out=pos)
            np.maximum(a, pos, out=a)  # the slope: 1 where z > 0 (a < 1), a elsewhere
            self._a = a
            return np.multiply(z, a, out=self._out("h", z, train))
        mean = (self.lower + self.upper) / 2
        self._a = np.where(z > 0, z.dtype.type(1), z.dtype.type(mean))
        return z * self._a

    def backward(self, dh):
        if dh.dtype != self._a.dtype or dh.shape != self._a.shape:
            return dh * self._a
        return np.multiply(dh, self._a, out=_scratch(self._tmp, "dz", dh))

    def derivative(self, z):
        return np.where(z > 0, 1, (self.lower + self.upper) / 2).astype(z.dtype)


class ELU(Elementwise):
    name, label, formula = "elu", "ELU", "f(z) = z if z > 0 else e^z - 1"

    def _f_into(self, z, out, ws=None):
        np.minimum(z, _zeros(ws, z), out=out)
        e = _expm1_neg_into(out, ws, exact_where_tiny=False)
        return np.fmax(z, e, out=out)  # expm1(min(z, 0)) >= z below 0, and is 0 (or NaN from 0/0: fmax skips it) above

    def _df_into(self, z, h, out, ws=None):
        np.minimum(h, _zeros(ws, h), out=out)  # 1 above 0, h + 1 = e^z below
        np.add(out, _k(1.0, h.dtype), out=out)
        return out


class SELU(Elementwise):
    name, label, formula = "selu", "SELU", "f(z) = l z if z > 0 else l a (e^z - 1),  l=1.0507, a=1.6733"
    lam = 1.0507009873554804934193349852946
    alpha = 1.6732632423543772848170429916717
    max_deriv = lam * alpha

    def _f_into(self, z, out, ws=None):
        t = _scratch(ws, "t", z)
        zero = _zeros(ws, z)
        np.minimum(z, zero, out=t)
        _expm1_neg_into(t, ws)
        np.multiply(t, _k(self.lam * self.alpha, z.dtype), out=t)
        np.maximum(z, zero, out=out)
        np.multiply(out, _k(self.lam, z.dtype), out=out)
        np.add(out, t, out=out)
        return out

    def _df_into(self, z, h, out, ws=None):
        # lam above 0; below, h + lam alpha = lam alpha e^z
        la = self.lam * self.alpha
        pos = _scratch(ws, "t", z)
        np.greater(h, _zeros(ws, h), out=pos)
        np.multiply(pos, _k(self.lam - la, h.dtype), out=pos)
        np.minimum(h, _zeros(ws, h), out=out)
        np.add(out, _k(la, h.dtype), out=out)
        np.add(out, pos, out=out)
        return out


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LOG_INV_SQRT_2PI = math.log(_INV_SQRT_2PI)
_TANH_C = math.sqrt(2.0 / math.pi)
_TANH_K = 0.044715
# Both tanh forms of Phi, (1 + tanh g(z))/2, are computed as the logistic sigmoid of 2 g(z) = -z R(z^2): one np.exp
# instead of np.tanh (about half its time on AVX2), and no cancellation in the left tail, where tanh g is near -1.
_GELU_TANH_R = (-2.0 * _TANH_C, -2.0 * _TANH_C * _TANH_K)  # g = c (z + k z^3)
_PHI32_R = tuple(-2.0 * c for c in _PHI32)  # g = z Q(z^2), the float32 erf's


class GELU(Elementwise):
    """GELU, exact erf form by default; ``approximate=True`` gives the tanh form (differs by up to 4.7e-4).

    float32 takes Phi(z) = (1 + tanh(z Q(z^2))) / 2 (see ``_PHI32``: the float32 erf), as 1/(1 + e^(-2 z Q(z^2)));
    float64 the table erf.
    """

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

    def _parts(
        self, z: np.ndarray, ws: Buffers | None, keep: Buffers | None = None, h: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(p, s, q): the factor p with h = z p -- Phi(z) exact, (1 + tanh g)/2 in the tanh form -- s = z^2, and
        q = e^-2g with p = 1/(1 + q) in the tanh forms (None for the float64 erf); into ``keep``'s arrays (for the
        backward) when given, else temporaries. With ``h``, also h = z p into it."""
        if keep is not None:
            s, p = buffer(keep, "s", z.shape, z.dtype), buffer(keep, "p", z.shape, z.dtype)
        else:
            s, p = _scratch(ws, "s", z), _scratch(ws, "p", z)
        q = None
        with np.errstate(over="ignore", invalid="ignore"):  # z^2 overflows for huge |z|: see _ERF32 (one errstate)
            np.multiply(z, z, out=s)
            if self.approximate or z.dtype == np.float32:  # p = (1 + tanh g)/2 = 1/(1 + q),  q = e^(z R(z^2))
                q = buffer(keep, "q", z.shape, z.dtype) if keep is not None else _scratch(ws, "q", z)
                _horner_into(s, _GELU_TANH_R if self.approximate else _PHI32_R, p)
                np.multiply(p, z, out=p)
                np.exp(p, out=q)  # +inf far left (z R(z^2) > 88): p = 1/inf = 0 there
                np.add(q, _k(1.0, z.dtype), out=p)
                np.divide(_k(1.0, z.dtype), p, out=p)  # np.reciprocal takes ~1.35x as long
            else:
                np.copyto(p, erf(z * z.dtype.type(_SQRT_HALF)))
                np.add(p, 1.0, out=p)
                np.multiply(p, 0.5, out=p)
            if h is not None:
                np.multiply(z, p, out=h)  # -inf * 0 -> NaN (a diverged net; no warning)
        return p, s, q

    def _f_into(self, z, out, ws=None):
        self._parts(z, ws, h=out)
        return out

    def _fprime_into(
        self,
        z: np.ndarray,
        p: np.ndarray,
        s: np.ndarray,
        q: np.ndarray | None,
        out: np.ndarray,
        ws: Buffers | None,
    ) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            if self.approximate:
                assert q is not None  # the tanh form always has it
                # d/dz z p = p + 2 z p (1 - p) g',  g' = c (1 + 3k z^2),  and 1 - p = q p: no cancellation where p is
                # near 1 (1 - (2p - 1)^2 lost ~2e-6 there); far left q = inf, p = 0 and fmin makes q p the 1 it is
                r = out
                np.multiply(q, p, out=r)
                np.fmin(r, _const(ws, r, 1.0), out=r)
                np.multiply(r, p, out=r)
                np.multiply(r, z, out=r)
                np.multiply(r, _k(2.0 * _TANH_C, z.dtype), out=r)
                du = _scratch(ws, "du", z)
                np.minimum(s, _const(ws, s, 1e30), out=du)  # z^2 may be +inf where p (1 - p) is 0: keep 0 * g' = 0
                np.multiply(du, _k(3 * _TANH_K, z.dtype), out=du)
                np.add(du, _k(1.0, z.dtype), out=du)
                np.multiply(r, du, out=r)
                np.add(out, p, out=out)
                return out
            # Phi + z phi(z),  phi(z) = exp(-z^2/2 + log(1/sqrt(2 pi)))
            np.multiply(s, _k(-0.5, z.dtype), out=out)
            np.add(out, _k(_LOG_INV_SQRT_2PI, z.dtype), out=out)
            np.exp(out, out=out)
            np.multiply(out, z, out=out)
            np.add(out, p, out=out)
            return out

    def _df_into(self, z, h, out, ws=None):
        p, s, q = self._parts(z, ws)
        return self._fprime_into(z, p, s, q, out, ws)

    def _train_forward(self, z):
        self._parts(z, self._tmp, keep=self._ws, h=self._train_arrays(z)[2])  # p, s, q kept for the backward
        return self._train_arrays(z)[2]

    def _train_backward(self, dh):
        dz = self._train_arrays(dh)[3]
        ws = self._ws
        self._fprime_into(self._z, ws["p"], ws["s"], ws.get("q"), dz, self._tmp)
        return np.multiply(dz, dh, out=dz)


class Swish(Elementwise):
    name, label, formula = "swish", "Swish/SiLU", "f(z) = z sigmoid(z),  f' = s + z s (1 - s)"
    max_deriv = 1.099839  # at z = 2.39936

    def _f_into(self, z, out, ws=None):
        return np.multiply(z, _sigmoid_into(z, _scratch(ws, "s", z), ws), out=out)

    def _train_forward(self, z):
        s = _sigmoid_into(z, buffer(self._ws, "s", z.shape, z.dtype), self._tmp)  # kept for the backward
        return np.multiply(z, s, out=self._train_arrays(z)[2])

    def _fprime_into(self, s: np.ndarray, h: np.ndarray, out: np.ndarray) -> np.ndarray:
        np.subtract(_k(1.0, s.dtype), s, out=out)  # f' = s + h (1 - s)
        with np.errstate(invalid="ignore"):  # z = +inf: h (1 - s) = inf * 0 (found by the NaN/Inf fuzz)
            np.multiply(out, h, out=out)
        np.add(out, s, out=out)
        return out

    def _df_into(self, z, h, out, ws=None):
        return self._fprime_into(_sigmoid_into(z, _scratch(ws, "s2", z), ws), h, out)

    def _train_backward(self, dh):
        dz = self._train_arrays(dh)[3]
        self._fprime_into(self._ws["s"], self._h, dz)
        return np.multiply(dz, dh, out=dz)


class HardSwish(Elementwise):
    name, label, formula = "hardswish", "hard-swish", "f(z) = z relu6(z + 3) / 6"
    max_deriv = 1.5  # (2z + 3)/6 at z -> 3
    can_die = True  # f' = 0 for z < -3

    def _gate_into(self, z: np.ndarray, t: np.ndarray, ws: Buffers | None) -> np.ndarray:
        """t = relu6(z + 3) / 6, in [0, 1]."""
        np.add(z, _k(3.0, z.dtype), out=t)
        np.maximum(t, _zeros(ws, z), out=t)
        np.minimum(t, _const(ws, z, 6.0), out=t)
        np.multiply(t, _k(1.0 / 6.0, z.dtype), out=t)
        return t

    def _f_into(self, z, out, ws=None, gate=None):
        t = self._gate_into(z, _scratch(ws, "gate", z) if gate is None else gate, ws)
        np.maximum(z, _const(ws, z, -3.0), out=out)  # z where t > 0, and -3 * 0 = 0 (never -inf * 0) where t = 0
        return np.multiply(out, t, out=out)

    def _train_forward(self, z):
        gate = buffer(self._ws, "gate", z.shape, z.dtype)  # kept for the backward
        return self._f_into(z, self._train_arrays(z)[2], self._tmp, gate)

    def _fprime_into(self, t: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
        # f' = t outside (-3, 3) (0 or 1) and (2z + 3)/6 = 2t - 1/2 inside, where 0 < t < 1
        q = tmp
        half = _k(0.5, t.dtype)
        np.subtract(t, half, out=q)
        np.absolute(q, out=out)
        np.less(out, half, out=out)  # inside: |t - 1/2| < 1/2
        np.multiply(q, out, out=q)
        return np.add(t, q, out=out)

    def _df_into(self, z, h, out, ws=None):
        t = self._gate_into(z, _scratch(ws, "gate2", z), ws)
        return self._fprime_into(t, out, _scratch(ws, "q", z))

    def _train_backward(self, dh):
        dz = self._train_arrays(dh)[3]
        self._fprime_into(self._ws["gate"], dz, _scratch(self._tmp, "q", dh))
        return np.multiply(dz, dh, out=dz)


class ReLU6(Elementwise):
    name, label, formula = "relu6", "ReLU6", "f(z) = min(max(0, z), 6)"
    bounds = (0.0, 6.0)
    nonneg = True
    can_die = True

    def _f_into(self, z, out, ws=None):
        np.maximum(z, _zeros(ws, z), out=out)
        return np.minimum(out, _const(ws, z, 6.0), out=out)

    def _df_into(self, z, h, out, ws=None):
        three = _k(3.0, z.dtype)
        np.subtract(z, three, out=out)  # 0 < z < 6  <=>  |z - 3| < 3
        np.absolute(out, out=out)
        return np.less(out, three, out=out)


class Softplus(Elementwise):
    name, label, formula = "softplus", "softplus", "f(z) = log(1 + e^z),  f' = sigmoid(z)"
    nonneg = True

    @staticmethod
    def _tail_into(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """y = e^-|z|, in (0, 1]: both softplus(z) = max(z, 0) + log1p(y) and its derivative come from it."""
        np.absolute(z, out=y)
        np.negative(y, out=y)
        return np.exp(y, out=y)

    def _f_into(self, z, out, ws=None, tail=None):
        y = self._tail_into(z, _scratch(ws, "y", z) if tail is None else tail)
        _log1p_unit_into(y, out, ws)
        t = _scratch(ws, "t", z)
        np.maximum(z, _zeros(ws, z), out=t)
        return np.add(out, t, out=out)

    def _train_forward(self, z):
        y = buffer(self._ws, "y", z.shape, z.dtype)  # kept for the backward
        return self._f_into(z, self._train_arrays(z)[2], self._tmp, y)

    @staticmethod
    def _sigmoid_from_tail(z: np.ndarray, y: np.ndarray, out: np.ndarray, ws: Buffers | None) -> np.ndarray:
        """sigmoid(z) = 1/(1 + y) for z >= 0 and y/(1 + y) below, y = e^-|z|: accurate on both tails, no overflow."""
        np.greater_equal(z, _k(0.0, z.dtype), out=out)
        np.maximum(out, y, out=out)  # 1 for z >= 0 (y <= 1), y below (NaN stays NaN)
        den = _scratch(ws, "den", z)
        np.add(y, _k(1.0, y.dtype), out=den)
        return np.divide(out, den, out=out)

    def _df_into(self, z, h, out, ws=None):
        return self._sigmoid_from_tail(z, self._tail_into(z, _scratch(ws, "y2", z)), out, ws)

    def _train_backward(self, dh):
        dz = self._train_arrays(dh)[3]
        self._sigmoid_from_tail(self._z, self._ws["y"], dz, self._tmp)
        return np.multiply(dz, dh, out=dz)


class Maxout(Activation):
    """Maxout with k = 2 pieces: z has 2H columns, h_j = max(z_j, z_{H+j}). Never dead, never saturated."""

    name, label, formula = "maxout", "maxout (k=2)", "f(z) = max(z_a, z_b)  (two affine pieces per unit)"
    pieces = 2

    def forward(self, z, train=False):
        H = self.units
        a, b = z[:, :H], z[:, H:]
        shape = (z.shape[0], H)
        if train:
            pick = buffer(self._ws, "pick", shape, np.dtype(bool))
            h = buffer(self._ws, "h", shape, z.dtype)
        else:
            pick, h = np.empty(shape, bool), np.empty(shape, z.dtype)
        np.greater_equal(a, b, out=pick)
        np.maximum(a, b, out=h)  # NaN in either piece propagates
        self._pick_a = pick
        return h

    def backward(self, dh):
        H = self.units
        dz = buffer(self._tmp, ("dz", (dh.shape[0], 2 * H)), (dh.shape[0], 2 * H), dh.dtype)
        np.multiply(dh, self._pick_a, out=dz[:, :H])
        np.subtract(dh, dz[:, :H], out=dz[:, H:])  # dh - dh = 0 or dh - 0 = dh: exact
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
ALIASES = ACTIVATION_ALIASES


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


@functools.lru_cache(maxsize=64)
def _curve_activation(name: str, leaky_slope: float, gelu_approximate: bool) -> Activation:
    """One float64 instance per activation for ``derivative_curve`` (its eval-mode derivative keeps no state): the
    probe pass asks for a curve per layer, and building the instance cost more than the 16-point curve."""
    return make_activation(name, 1, np.dtype(np.float64), leaky_slope=leaky_slope, gelu_approximate=gelu_approximate)


def derivative_curve(
    name: str, x: np.ndarray, *, leaky_slope: float = 0.01, gelu_approximate: bool = False
) -> np.ndarray:
    """f'(x) of the registry's activation ``name`` at the points ``x`` (1-D), in float64: the derivative overlay
    of the panels, computed the same way live and from a recording (which does not store it)."""
    act = _curve_activation(name, leaky_slope, gelu_approximate)
    with np.errstate(all="ignore"):
        return np.asarray(act.derivative(np.asarray(x, dtype=np.float64)[:, None])[:, 0], dtype=np.float64)
