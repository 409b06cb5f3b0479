"""The activation functions the probe recognises, as torch calls: what each one is in the engine's terms.

Every ``nn`` activation module calls one function of ``torch.nn.functional`` (``nn.ReLU`` -> ``F.relu``,
``nn.ReLU6`` -> ``F.hardtanh(0, 6)``, ``nn.GELU`` -> ``F.gelu``), so the probe sees activations as *function
calls* (through a ``TorchFunctionMode`` during measured forwards only): a module, an ``F.*`` call in a user's
``forward``, or a Hugging Face ``GELUActivation`` are all seen the same way, with their parameters (a slope, an
alpha, ``approximate``) from the call's own arguments.

``lookup(func, args, kwargs)`` -> ``Call`` (or None: not an activation). A ``Call`` knows

- ``info``: the engine's ``ActivationInfo`` -- made by ``ActivationInfo.of(make_activation(name))`` where the
  function is the engine's with its default parameters, so that max |f'|, can_die and bounds match exactly; with
  other parameters (a LeakyReLU slope other than 0.01, PReLU, ELU alpha other than 1, ...) ``derivable=False``,
  so that recordings store f' explicitly;
- ``deriv(z)``: f'(z) on the device, with the engine's definitions (f'(0) = 0 for ReLU, the eval-mode mean slope
  for RReLU);
- ``curve(centres, alpha_mean)``: f' at the pre-activation histogram's bin centres, in float64 on the host.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.activations import Activation, make_activation
from ..engine.spelling import setting
from ..engine.stats import ActivationInfo
from ..fmt import num

__all__ = ["Call", "lookup"]

Tensor = torch.Tensor

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_C = math.sqrt(2.0 / math.pi)
_SELU_LAM = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717
_RRELU_LOWER, _RRELU_UPPER = 1.0 / 8.0, 1.0 / 3.0


def _info(name: str, **kw: Any) -> ActivationInfo:
    return ActivationInfo.of(make_activation(name, 1, np.dtype(np.float64), **kw))


_INFO: dict[str, ActivationInfo] = {
    n: _info(n)
    for n in ("relu", "leaky_relu", "prelu", "rrelu", "elu", "selu", "gelu", "swish", "hardswish", "relu6",
              "softplus", "sigmoid", "tanh")
}  # fmt: skip


def _variant(name: str, formula: str, max_deriv: float | None = None) -> ActivationInfo:
    """The engine's activation ``name`` with other parameters: f' must be stored (``derivable=False``)."""
    base = _INFO[name]
    return dataclasses.replace(
        base, formula=formula, derivable=False, max_deriv=base.max_deriv if max_deriv is None else max_deriv
    )


@dataclass(frozen=True)
class Call:
    """One activation call: what it is (``info``), its f' on the device and at bin centres on the host."""

    fname: str  # the torch function's name, for entry names of inline calls ("gelu")
    info: ActivationInfo
    deriv: Callable[[Tensor], Tensor]  # f'(z), the shape and dtype of z
    curve: Callable[[np.ndarray, float], np.ndarray]  # (bin centres, mean PReLU slope) -> f' there, float64
    inplace: bool = False
    alpha: Tensor | None = None  # PReLU's learned slopes (per channel, or one)
    nonzero: Callable[[Tensor], Tensor] | None = None  # f'(z) != 0, elementwise, cheaper than deriv (can_die only)
    binary: bool = False  # f' is 0 or 1: saturated exactly where f' = 0 (ReLU, ReLU6)
    alive_above: float | None = None  # f'(z) != 0 exactly where z > this (ReLU 0, hard-swish -3): a max per unit


def _t(z: Tensor, x: float) -> Tensor:
    return torch.full((), x, dtype=z.dtype, device=z.device)  # filled in on the device: no host-to-device copy


@functools.lru_cache(maxsize=32)
def _engine_act(name: str, leaky_slope: float, gelu_approximate: bool) -> Activation:
    return make_activation(name, 1, np.dtype(np.float64), leaky_slope=leaky_slope, gelu_approximate=gelu_approximate)


def _engine_curve(name: str, **kw: Any) -> Callable[[np.ndarray, float], np.ndarray]:
    """f' of the engine's activation at the points (as ``derivative_curve``, with the activation built once)."""
    act = _engine_act(name, kw.get("leaky_slope", 0.01), kw.get("gelu_approximate", False))

    def curve(c: np.ndarray, _alpha: float) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(act.derivative(np.asarray(c, dtype=np.float64)[:, None])[:, 0], dtype=np.float64)

    return curve


def _slope_curve(slope: float) -> Callable[[np.ndarray, float], np.ndarray]:
    def curve(c: np.ndarray, _alpha: float) -> np.ndarray:
        return np.where(c > 0, 1.0, slope).astype(np.float64)

    return curve


# ---- f'(z) on the device, as the engine defines it -------------------------------------------------------------
def _nz_relu(z: Tensor) -> Tensor:
    return z > 0


def _nz_relu6(z: Tensor) -> Tensor:
    return (z > 0) & (z < 6)


def _nz_hardswish(z: Tensor) -> Tensor:
    return z > -3


def _d_relu(z: Tensor) -> Tensor:
    return _nz_relu(z).to(z.dtype)


def _d_relu6(z: Tensor) -> Tensor:
    return _nz_relu6(z).to(z.dtype)


def _d_slope(slope: float) -> Callable[[Tensor], Tensor]:
    def d(z: Tensor) -> Tensor:
        return torch.where(z > 0, _t(z, 1.0), _t(z, slope))

    return d


def _d_prelu(weight: Tensor) -> Callable[[Tensor], Tensor]:
    def d(z: Tensor) -> Tensor:
        a = weight.detach().to(z.dtype)
        if a.numel() > 1 and z.dim() >= 2:  # one slope per channel: dim 1
            a = a.reshape([1, -1] + [1] * (z.dim() - 2))
        return torch.where(z > 0, _t(z, 1.0), a)

    return d


def _d_elu(alpha: float) -> Callable[[Tensor], Tensor]:
    def d(z: Tensor) -> Tensor:  # the engine's f' = h + 1 = e^z on the negative side (alpha = 1)
        neg = torch.expm1(torch.clamp(z, max=0))
        return torch.where(z > 0, _t(z, 1.0), neg + 1 if alpha == 1.0 else _t(z, alpha) * (neg + 1))

    return d


def _d_selu(z: Tensor) -> Tensor:
    lam = _t(z, _SELU_LAM)
    h = lam * (_t(z, _SELU_ALPHA) * torch.expm1(torch.clamp(z, max=0)))
    return torch.where(z > 0, lam, h + _t(z, _SELU_LAM * _SELU_ALPHA))


def _d_gelu(z: Tensor) -> Tensor:
    cdf = 0.5 * (1 + torch.erf(z * _SQRT_HALF))
    pdf = _INV_SQRT_2PI * torch.exp(-0.5 * z * z)
    return cdf + z * pdf


def _d_gelu_tanh(z: Tensor) -> Tensor:
    u = _TANH_C * (z + 0.044715 * z * z * z)
    th = torch.tanh(u)
    du = _TANH_C * (1 + 3 * 0.044715 * z * z)
    return 0.5 * (1 + th) + 0.5 * z * (1 - th * th) * du


def _d_silu(z: Tensor) -> Tensor:
    s = torch.sigmoid(z)
    return s + z * s * (1 - s)


def _d_hardswish(z: Tensor) -> Tensor:
    mid = (2 * z + 3) / 6
    return torch.where(z <= -3, _t(z, 0.0), torch.where(z >= 3, _t(z, 1.0), mid))


def _d_softplus(beta: float, threshold: float) -> Callable[[Tensor], Tensor]:
    def d(z: Tensor) -> Tensor:
        if beta == 1.0 and threshold == 20.0:  # the engine's softplus: f' = sigmoid(z)
            return torch.sigmoid(z)
        return torch.where(z * beta > threshold, _t(z, 1.0), torch.sigmoid(z * beta))

    return d


def _d_sigmoid(z: Tensor) -> Tensor:
    s = torch.sigmoid(z)
    return s * (1 - s)


def _d_tanh(z: Tensor) -> Tensor:
    t = torch.tanh(z)
    return 1 - t * t


# ---- the calls --------------------------------------------------------------------------------------------------
def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], i: int, name: str, default: Any) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def _relu(fname: str, inplace_default: bool) -> Callable[[tuple[Any, ...], dict[str, Any]], Call]:
    def make(args: tuple[Any, ...], kw: dict[str, Any]) -> Call:
        inplace = bool(_arg(args, kw, 1, "inplace", inplace_default))
        return _relu_call("relu", inplace)

    return make


def _relu_call(fname: str, inplace: bool) -> Call:
    return Call(fname, _INFO["relu"], _d_relu, _engine_curve("relu"), inplace, nonzero=_nz_relu, binary=True,
                alive_above=0.0)  # fmt: skip


def _relu6_call(inplace: bool) -> Call:
    return Call("relu6", _INFO["relu6"], _d_relu6, _engine_curve("relu6"), inplace, nonzero=_nz_relu6, binary=True)


def _leaky(inplace_default: bool) -> Callable[[tuple[Any, ...], dict[str, Any]], Call | None]:
    def make(args: tuple[Any, ...], kw: dict[str, Any]) -> Call | None:
        slope = float(_arg(args, kw, 1, "negative_slope", 0.01))
        inplace = bool(_arg(args, kw, 2, "inplace", inplace_default))
        if slope == 0.0:
            return _relu_call("leaky_relu", inplace)
        info = _INFO["leaky_relu"] if slope == 0.01 else _variant(
            "leaky_relu", f"f(z) = z if z > 0 else {setting(slope)} z", max(1.0, abs(slope)))  # fmt: skip
        return Call("leaky_relu", info, _d_slope(slope), _slope_curve(slope), inplace)

    return make


def _elu(inplace_default: bool) -> Callable[[tuple[Any, ...], dict[str, Any]], Call]:
    def make(args: tuple[Any, ...], kw: dict[str, Any]) -> Call:
        alpha = float(_arg(args, kw, 1, "alpha", 1.0))
        inplace = bool(_arg(args, kw, 2, "inplace", inplace_default))
        if alpha == 1.0:
            return Call("elu", _INFO["elu"], _d_elu(1.0), _engine_curve("elu"), inplace)
        info = _variant("elu", f"f(z) = z if z > 0 else {setting(alpha)} (e^z - 1)", max(1.0, alpha))

        def curve(c: np.ndarray, _a: float) -> np.ndarray:
            return np.where(c > 0, 1.0, alpha * np.exp(np.minimum(c, 0.0)))

        return Call("elu", info, _d_elu(alpha), curve, inplace)

    return make


def _selu(args: tuple[Any, ...], kw: dict[str, Any]) -> Call:
    return Call("selu", _INFO["selu"], _d_selu, _engine_curve("selu"), bool(_arg(args, kw, 1, "inplace", False)))


def _gelu(args: tuple[Any, ...], kw: dict[str, Any]) -> Call:
    approximate = str(_arg(args, kw, 1, "approximate", "none"))
    if approximate == "tanh":  # the engine's gelu with approximate=True: recordings re-derive the exact form
        base = _info("gelu", gelu_approximate=True)
        info = dataclasses.replace(base, derivable=False)
        return Call("gelu", info, _d_gelu_tanh, _engine_curve("gelu", gelu_approximate=True))
    return Call("gelu", _INFO["gelu"], _d_gelu, _engine_curve("gelu"))


def _silu(args: tuple[Any, ...], kw: dict[str, Any]) -> Call:
    return Call("silu", _INFO["swish"], _d_silu, _engine_curve("swish"), bool(_arg(args, kw, 1, "inplace", False)))


def _hardswish(args: tuple[Any, ...], kw: dict[str, Any]) -> Call:
    inplace = bool(_arg(args, kw, 1, "inplace", False))
    return Call("hardswish", _INFO["hardswish"], _d_hardswish, _engine_curve("hardswish"), inplace,
                nonzero=_nz_hardswish, alive_above=-3.0)  # fmt: skip


def _relu6(inplace_default: bool) -> Callable[[tuple[Any, ...], dict[str, Any]], Call]:
    def make(args: tuple[Any, ...], kw: dict[str, Any]) -> Call:
        inplace = bool(_arg(args, kw, 1, "inplace", inplace_default))
        return _relu6_call(inplace)

    return make


def _hardtanh(inplace_default: bool) -> Callable[[tuple[Any, ...], dict[str, Any]], Call | None]:
    def make(args: tuple[Any, ...], kw: dict[str, Any]) -> Call | None:
        lo = float(_arg(args, kw, 1, "min_val", -1.0))
        hi = float(_arg(args, kw, 2, "max_val", 1.0))
        inplace = bool(_arg(args, kw, 3, "inplace", inplace_default))
        if (lo, hi) != (0.0, 6.0):
            return None  # only ReLU6 is an activation the engine knows
        return _relu6_call(inplace)

    return make


def _softplus(args: tuple[Any, ...], kw: dict[str, Any]) -> Call:
    beta = float(_arg(args, kw, 1, "beta", 1.0))
    threshold = float(_arg(args, kw, 2, "threshold", 20.0))
    if beta == 1.0 and threshold == 20.0:
        return Call("softplus", _INFO["softplus"], _d_softplus(1.0, 20.0), _engine_curve("softplus"))
    info = _variant("softplus", f"f(z) = log(1 + e^({setting(beta)} z)) / {setting(beta)}")

    def curve(c: np.ndarray, _a: float) -> np.ndarray:
        with np.errstate(over="ignore"):
            s = 1.0 / (1.0 + np.exp(-beta * c))
        return np.where(c * beta > threshold, 1.0, s)

    return Call("softplus", info, _d_softplus(beta, threshold), curve)


def _prelu(args: tuple[Any, ...], kw: dict[str, Any]) -> Call | None:
    weight = _arg(args, kw, 1, "weight", None)
    if not isinstance(weight, torch.Tensor):
        return None

    def curve(c: np.ndarray, alpha_mean: float) -> np.ndarray:  # the mean over units, as the engine's PReLU
        return np.where(c > 0, 1.0, alpha_mean).astype(np.float64)

    return Call("prelu", _INFO["prelu"], _d_prelu(weight), curve, alpha=weight)


def _rrelu(inplace_default: bool) -> Callable[[tuple[Any, ...], dict[str, Any]], Call]:
    def make(args: tuple[Any, ...], kw: dict[str, Any]) -> Call:
        lower = float(_arg(args, kw, 1, "lower", _RRELU_LOWER))
        upper = float(_arg(args, kw, 2, "upper", _RRELU_UPPER))
        inplace = bool(_arg(args, kw, 4, "inplace", inplace_default))
        mean = (lower + upper) / 2  # f' as in eval mode: the mean slope (the engine's definition)
        if math.isclose(lower, _RRELU_LOWER) and math.isclose(upper, _RRELU_UPPER):
            return Call("rrelu", _INFO["rrelu"], _d_slope(mean), _engine_curve("rrelu"), inplace)
        info = _variant(
            "rrelu", f"f(z) = z if z > 0 else a z,  a ~ U[{num(lower, 4)}, {num(upper, 4)}] (eval: {num(mean, 4)})"
        )
        return Call("rrelu", info, _d_slope(mean), _slope_curve(mean), inplace)

    return make


def _simple(fname: str, name: str, d: Callable[[Tensor], Tensor], inplace: bool = False) -> Any:
    def make(args: tuple[Any, ...], kw: dict[str, Any]) -> Call:
        return Call(fname, _INFO[name], d, _engine_curve(name), inplace)

    return make


_TABLE: dict[Any, Callable[[tuple[Any, ...], dict[str, Any]], Call | None]] = {
    F.relu: _relu("relu", False), torch.relu: _relu("relu", False), Tensor.relu: _relu("relu", False),
    F.relu_: _relu("relu", True), torch.relu_: _relu("relu", True), Tensor.relu_: _relu("relu", True),
    F.leaky_relu: _leaky(False), F.leaky_relu_: _leaky(True),
    F.elu: _elu(False), F.elu_: _elu(True),
    F.selu: _selu, torch.selu: _selu,
    F.gelu: _gelu,
    F.silu: _silu,
    F.hardswish: _hardswish,
    F.relu6: _relu6(False),
    F.hardtanh: _hardtanh(False), F.hardtanh_: _hardtanh(True),
    F.softplus: _softplus,
    F.prelu: _prelu,
    F.rrelu: _rrelu(False), F.rrelu_: _rrelu(True),
    F.sigmoid: _simple("sigmoid", "sigmoid", _d_sigmoid), torch.sigmoid: _simple("sigmoid", "sigmoid", _d_sigmoid),
    Tensor.sigmoid: _simple("sigmoid", "sigmoid", _d_sigmoid),
    torch.sigmoid_: _simple("sigmoid", "sigmoid", _d_sigmoid, True),
    Tensor.sigmoid_: _simple("sigmoid", "sigmoid", _d_sigmoid, True),
    F.tanh: _simple("tanh", "tanh", _d_tanh), torch.tanh: _simple("tanh", "tanh", _d_tanh),
    Tensor.tanh: _simple("tanh", "tanh", _d_tanh),
    torch.tanh_: _simple("tanh", "tanh", _d_tanh, True), Tensor.tanh_: _simple("tanh", "tanh", _d_tanh, True),
}  # fmt: skip


def lookup(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> Call | None:
    """The activation call ``func(*args, **kwargs)`` is, or None (not an activation, or not on a float tensor)."""
    make = _TABLE.get(func)
    if make is None or not args:
        return None
    z = args[0]
    if type(z) is not torch.Tensor or not z.is_floating_point() or z.dim() < 1:
        return None
    return make(args, kwargs or {})
