"""Plain-words diagnosis of one Snapshot: what is wrong with the gradient flow, and what to try.

Shared by ``gradtui run`` (its one-line verdict) and the dashboard's alerts line, so every text is short, names the
layer, gives the figure with one or two significant digits, and ends with something to try. Thresholds follow
design.md section 2. A field that is NaN (not measured yet, e.g. the update ratio before the first step) never
raises an alert.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .engine import LayerStats, Snapshot

__all__ = ["Alert", "diagnose", "one_line", "fmt_num", "fmt_pct"]

VANISHING_BELOW = 1e-3  # vanishing ratio (signal at layer 1 / signal at the last hidden layer)
EXPLODING_ABOVE = 1e3
UPDATE_TOO_BIG = 0.1  # update/weight of one step; healthy is ~1e-3
UPDATE_TOO_SMALL = 1e-5
DEAD_FRACTION = 0.1
SATURATION = 0.5
SATURATING = ("sigmoid", "tanh")  # saturation is an alert only where it is the known failure mode

Level = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Alert:
    level: Level
    key: str  # stable identifier: "diverged", "vanishing", "exploding", "dead", "saturated", "slow", "fast", ...
    text: str
    layer: int | None = None  # 1-based hidden layer the alert is about, if one


def fmt_num(x: float, digits: int = 1) -> str:
    """``3e-7``, ``0.05``, ``2e4``: ``digits`` significant digits, a compact exponent, an exact 0 as ``0``."""
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa}e{int(exp)}"
    return text


def fmt_pct(fraction: float) -> str:
    """``0.834`` -> ``83%``, ``0.004`` -> ``0.4%``: two significant digits at most, whole percents from 10%."""
    if math.isnan(fraction):
        return "n/a"
    p = fraction * 100
    if p == 0 or abs(p) >= 9.5:
        return f"{p:.0f}%"
    return f"{fmt_num(p, 1)}%"


def _finite(values) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _worst(
    layers: tuple[LayerStats, ...], value: Callable[[LayerStats], float], over: Callable[[float], bool]
) -> tuple[LayerStats | None, int]:
    """The layer with the highest ``value`` among those where ``over(value)`` (False for NaN), and their count."""
    hits = [l for l in layers if over(value(l))]
    return (max(hits, key=value) if hits else None), len(hits)


def diagnose(s: Snapshot) -> list[Alert]:
    """Every alert that applies to ``s``, most severe first; one info alert when nothing is wrong."""
    if s.diverged is not None:
        # after a divergence the other figures are NaN or meaningless: the divergence is the whole story
        return [Alert("error", "diverged", f"{s.diverged.message} — lower the learning rate", s.diverged.layer)]

    alerts: list[Alert] = []
    depth = s.depth
    ratio = s.vanishing_ratio
    if not math.isnan(ratio) and ratio < VANISHING_BELOW:
        amount = "none" if ratio == 0 else fmt_num(ratio)
        remedy = "ReLU + He init" if s.config.activation in SATURATING else "He init"
        alerts.append(
            Alert(
                "warning",
                "vanishing",
                f"vanishing: layer 1 gets {amount} of the gradient signal of layer {depth}"
                f" — try {remedy}, batch norm or residual",
                1,
            )
        )
    elif not math.isnan(ratio) and ratio > EXPLODING_ABOVE:
        alerts.append(
            Alert(
                "warning",
                "exploding",
                f"exploding: layer 1 gets {fmt_num(ratio)}x the gradient signal of layer {depth}"
                " — lower the learning rate, clip gradients, or use Xavier/He init",
                1,
            )
        )

    ratios = _finite(l.update_ratio for l in s.layers)
    median = statistics.median(ratios) if ratios else math.nan
    big, _ = _worst(s.layers, lambda l: l.update_ratio, lambda v: UPDATE_TOO_BIG < v < math.inf)
    if big is not None and not median > UPDATE_TOO_BIG:
        # one layer jumps while the rest are fine: exploding there (if all jump, it is the learning rate: below)
        alerts.append(
            Alert(
                "warning",
                "exploding",
                f"exploding: one step changed layer {big.index}'s weights by {fmt_pct(big.update_ratio)}"
                " — lower the learning rate or clip gradients",
                big.index,
            )
        )

    dead, n_dead = _worst(s.layers, lambda l: l.dead_fraction, lambda v: v >= DEAD_FRACTION)
    if dead is not None:
        also = f" ({n_dead} layers over 10%)" if n_dead > 1 else ""
        text = (
            f"{fmt_pct(dead.dead_fraction)} of layer {dead.index}'s units are dead{also}"
            " — lower the learning rate, use leaky ReLU/ELU, or a small positive bias"
        )
        alerts.append(Alert("warning", "dead", text, dead.index))

    if s.config.activation in SATURATING:
        sat, n_sat = _worst(s.layers, lambda l: l.saturation, lambda v: v > SATURATION)
        if sat is not None:
            also = f"; {n_sat} layers over 50%" if n_sat > 1 else ""
            text = (
                f"layer {sat.index} is {fmt_pct(sat.saturation)} saturated (f' < 5% of its max{also})"
                " — try Xavier init, a smaller lr, or batch norm"
            )
            alerts.append(Alert("warning", "saturated", text, sat.index))

    if median < UPDATE_TOO_SMALL:
        alerts.append(
            Alert(
                "warning",
                "slow",
                f"learning very slowly (update/weight {fmt_num(median)}) — raise the learning rate",
            )
        )
    elif median > UPDATE_TOO_BIG:
        alerts.append(
            Alert("warning", "fast", f"updates are {fmt_pct(median)} of the weights — lower the learning rate")
        )

    if not alerts:
        measured = _finite([ratio, *(l.grad_norm for l in s.layers)])
        text = "gradient flow looks healthy" if measured else "no gradient measured yet"
        alerts.append(Alert("info", "healthy" if measured else "unmeasured", text))
    return alerts


def one_line(s: Snapshot) -> str:
    """The most severe alert's text."""
    return diagnose(s)[0].text
