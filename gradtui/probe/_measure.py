"""Reductions on the device: ranges, histograms, moments, dead units of one activation call.

Every result is a tensor on the activation's own device. The definitions are the engine's
(``gradtui/engine/stats.py`` and ``measure.py``): histogram ranges from the finite values only (the activation's
bounds, [0, max] when it is never negative, else symmetric), the bin index computed with the engine's formula
``(v - lo) * (bins / (hi - lo))`` in the tensor's own dtype, clipped into the end bins, non-finite values dropped
(and counted: a divergence) -- so that a float64 model's counts are the engine's to the last count.

Speed: a few passes over the tensor, chosen by what is cheap where. ``aminmax`` gives the range in one pass;
non-finite values would poison it, and dropping them costs an extra pass per reduction (``nan_to_num``). On the
CPU, where reading a scalar back costs nothing, the probe looks (``Scan.finite``) and takes the extra passes only
when a value is not finite; on a GPU it never reads back (that would stall the device) and always takes them --
elementwise passes are cheap there. ``torch.isfinite`` and ``var_mean`` are avoided: both are several times slower
on the CPU than the passes used here. Large tensors are reduced in chunks of ``CHUNK`` elements, so that the
temporaries stay bounded. ``torch.histc`` is not used: it takes its range as Python floats (a host read per
histogram for a data-dependent range) and rounds at bin edges differently from the engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..engine.network import norm64
from ..engine.stats import RANGE_DIGITS, ActivationInfo

__all__ = [
    "CHUNK", "Scan", "alive_from_max", "hist_counts", "moments", "out_range", "range_param", "round_out", "scan",
    "sq_dist", "sq_norm", "sym_range",
]  # fmt: skip

Tensor = torch.Tensor
CHUNK = 1 << 22
F64 = torch.float64


def _chunks(t: Tensor) -> Iterator[Tensor]:
    flat = t.reshape(-1)
    for i in range(0, flat.numel(), CHUNK):
        yield flat[i : i + CHUNK]


def _work(t: Tensor) -> Tensor:
    """The dtype the engine would compute in: float64 and float32 stay, half and bfloat16 are widened."""
    return t if t.dtype in (torch.float64, torch.float32) else t.float()


@dataclass(frozen=True, eq=False)
class Scan:
    """One tensor's finite range: ``lo``/``hi`` float64 0-d; ``finite``: True when every entry is finite, None
    when that was not looked at (a GPU tensor: the ranges then skip non-finite entries by construction)."""

    lo: Tensor
    hi: Tensor
    finite: bool | None


def scan(t: Tensor) -> Scan:
    """The min and max of the finite entries of ``t`` (+inf/-inf when none is finite)."""
    lo = torch.full((), float("inf"), dtype=F64, device=t.device)
    hi = torch.full((), float("-inf"), dtype=F64, device=t.device)
    if t.numel() == 0:
        return Scan(lo, hi, True)
    if t.device.type == "cpu":
        ends: list[float] = []
        for c in _chunks(t):
            a, b = torch.aminmax(c)
            ends += [a.item(), b.item()]  # a NaN or an infinity shows in the min or the max
        if all(math.isfinite(v) for v in ends):
            return Scan(torch.tensor(min(ends), dtype=F64), torch.tensor(max(ends), dtype=F64), True)
    lo = torch.full((), float("inf"), dtype=F64, device=t.device)
    hi = torch.full((), float("-inf"), dtype=F64, device=t.device)
    for c in _chunks(t):
        lo = torch.minimum(lo, torch.nan_to_num(c, nan=float("inf"), neginf=float("inf")).amin().to(F64))
        hi = torch.maximum(hi, torch.nan_to_num(c, nan=float("-inf"), posinf=float("-inf")).amax().to(F64))
    return Scan(lo, hi, False if t.device.type == "cpu" else None)


def _decimal(k: Tensor, n: Tensor) -> Tensor:
    """k * 10**-n, correctly rounded: a division (or product) of two exact float64 integers (10**|n| is exact up
    to 10**22), so the nearest double to the decimal, as ``float(f"{k}e{-n}")`` in the engine."""
    p = torch.pow(torch.full_like(k, 10.0), n.abs())
    return torch.where(n >= 0, k / p, k * p)


def round_out(m: Tensor, digits: int = RANGE_DIGITS) -> Tensor:
    """The engine's ``round_out`` for m >= 0 on the device, without a read back: the smallest decimal of
    ``digits`` significant digits that is >= m (0.44849756 -> 0.449); 0, -inf and +inf pass through."""
    ok = (m > 0) & torch.isfinite(m)
    x = torch.where(ok, m, torch.ones_like(m))
    n = (digits - 1) - torch.floor(torch.log10(x))  # x * 10**n has `digits` digits before the point
    n = torch.where(_decimal(torch.full_like(x, 10.0 ** (digits - 1)), n) > x, n + 1, n)  # log10 a little high
    n = torch.where(_decimal(torch.full_like(x, 10.0**digits), n) <= x, n - 1, n)  # ... or a little low
    k = torch.ceil(torch.where(n >= 0, x * torch.pow(10.0, n), x / torch.pow(10.0, -n)))
    k = torch.where(_decimal(k, n) < x, k + 1, k)  # the product rounded down: one more
    k = torch.where(_decimal(k - 1, n) >= x, k - 1, k)  # ... or up: one less
    return torch.where(ok, _decimal(k, n), m)


def sym_range(m: Tensor) -> tuple[Tensor, Tensor]:
    """The engine's ``symmetric_range`` from m = max |v|: [-r, r] with r = m rounded out (``round_out``), or
    [-1, 1] when m is 0 (or nothing finite)."""
    one = torch.ones((), dtype=F64, device=m.device)
    ok = m > 0
    r = round_out(m)
    return torch.where(ok, -r, -one), torch.where(ok, r, one)


def abs_max(s: Scan) -> Tensor:
    """max |v| over the finite entries; -inf when there is none."""
    return torch.maximum(-s.lo, s.hi)


def range_param(info: ActivationInfo, s: Scan) -> Tensor:
    """What the histogram range of an activation's output depends on: max |h| (symmetric), max h (never
    negative), or nothing (bounded: 0). The ranks combine it with MAX."""
    if info.bounds is not None:
        return torch.zeros((), dtype=F64, device=s.lo.device)
    return s.hi if info.nonneg else abs_max(s)


def out_range(info: ActivationInfo, a: Tensor) -> tuple[Tensor, Tensor]:
    """The engine's ``output_range`` from ``range_param``: the bounds, [0, max] (or [0, 1]), or symmetric; rounded
    out as the engine's (``round_out``)."""
    if info.bounds is not None:
        b0, b1 = info.bounds
        return torch.full((), b0, dtype=F64, device=a.device), torch.full((), b1, dtype=F64, device=a.device)
    if info.nonneg:
        return torch.zeros((), dtype=F64, device=a.device), torch.where(a > 0, round_out(a), torch.ones_like(a))
    return sym_range(a)


def hist_counts(t: Tensor, lo: Tensor, hi: Tensor, bins: int, finite: bool | None) -> tuple[Tensor, Tensor]:
    """(counts (bins,) float64 of the finite entries in ``bins`` equal bins over [lo, hi], the values outside
    clipped into the end bins: the engine's ``histogram``; how many entries were not finite, float64 0-d)."""
    hi = torch.where(hi > lo, hi, lo + 1)
    w = _work(t)
    scale = (bins / (hi - lo)).to(w.dtype)
    lo_w = lo.to(w.dtype)
    drop = 2 * bins  # the slot of the non-finite values; the legal positions are 0 .. bins (bins: v == hi)
    counts = torch.zeros(drop + 1, dtype=torch.int64, device=t.device)
    cpu = t.device.type == "cpu"
    for c in _chunks(w):
        x = c - lo_w
        x.mul_(scale)
        if finite is not True:
            torch.nan_to_num(x, nan=drop, posinf=drop, neginf=drop, out=x)
        x.clamp_(0, drop)
        if cpu:
            counts += torch.bincount(x.to(torch.int32), minlength=drop + 1)
        else:  # bincount sizes its output from the data: a host read on a GPU
            idx = x.to(torch.int64)
            counts.scatter_add_(0, idx, torch.ones((), dtype=torch.int64, device=t.device).expand_as(idx))
    out = counts[:bins].to(F64)
    out[bins - 1] += counts[bins].to(F64)  # the engine clips the top edge into the last bin
    return out, counts[drop].to(F64)


def moments(t: Tensor) -> tuple[Tensor, Tensor]:
    """(sum, sum of squares) in float64: per chunk its mean, then the squares about it (no cancellation when the
    mean is large), so that chunks and ranks add up."""
    s1 = torch.zeros((), dtype=F64, device=t.device)
    s2 = torch.zeros((), dtype=F64, device=t.device)
    for c in _chunks(_work(t)):
        n = c.numel()
        mean = c.sum() / n
        d = c - mean
        m2 = torch.dot(d, d).to(F64)
        mean64 = mean.to(F64)
        s1 = s1 + n * mean64
        s2 = s2 + m2 + n * mean64 * mean64
    return s1, s2


def sq_norm(t: Tensor) -> Tensor:
    """||t||^2 as float64 0-d, right over the whole float range. On the CPU: the engine's own ``norm64`` (float32
    squares summed in float32 when their sum is safely inside its range, else in float64, scaled if need be) on the
    tensor's memory, without a copy; on a GPU: ``vector_norm`` in float64, cast on the device (no read back)."""
    t = t.detach()
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64):
        return torch.tensor(norm64(t.contiguous().numpy()) ** 2, dtype=F64)
    return torch.linalg.vector_norm(t, dtype=F64) ** 2


def sq_dist(a: Tensor, b: Tensor) -> Tensor:
    """||a - b||^2 as float64 0-d. On the CPU in one pass (``torch.dist``, no difference tensor) when the result
    is safely inside float32's range, else as ``sq_norm(a - b)``; on a GPU ``sq_norm(a - b)``."""
    if a.device.type == "cpu" and a.dtype == torch.float32:
        d = torch.dist(a, b).item()
        if 1e-15 < d < 1e15:
            return torch.tensor(d * d, dtype=F64)
    return sq_norm(a - b)


def alive_from_max(z: Tensor, axis: int, threshold: float) -> Tensor:
    """(units,) float64: 1 where some z of the unit is above ``threshold`` (ReLU: 0, hard-swish: -3), i.e. f' != 0
    somewhere; one max-reduction, no boolean temporary. (A unit whose z holds a NaN counts as dead: the run has
    diverged.)"""
    dims = tuple(i for i in range(z.dim()) if i != axis)
    top = torch.amax(z, dim=dims) if dims else z
    return (top > threshold).to(F64)
