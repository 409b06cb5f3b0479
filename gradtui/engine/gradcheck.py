"""Finite-difference gradient checking, CS231n style: float64 central differences and a relative error.

    numerical_gradient(f, x)                  dL/dx of a scalar function f() that reads the array x
    numerical_jacobian_vector(f, x, dout)     sum(dout * d f/dx) for an array-valued f(), i.e. what backward(dout) gives
    rel_error(a, b)                           max |a - b| / max(1e-12, |a| + |b|), elementwise
    check_network(trainer_or_network, x, y)   max relative error between backward and finite differences, all params

``x`` is perturbed in place, one entry at a time, by +h and -h, and always restored. The error of a central difference
is O(h^2) from truncation plus O(eps |f| / h) from rounding: with h = 1e-6 in float64, a correct gradient agrees to
about 1e-7 relative or better, away from kinks (ReLU at 0, maxout where its pieces tie) -- a wrong one by far less.
Checking in float32 is meaningless (rounding alone is ~1e-7 / 1e-6), so ``check_network`` refuses it.

NumPy and the standard library only, like the rest of the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = ["check_network", "network_gradients", "numerical_gradient", "numerical_jacobian_vector", "rel_error"]

Index = tuple[int, ...]


def _indices(x: np.ndarray, indices: Iterable[Index] | None) -> Iterable[Index]:
    return np.ndindex(x.shape) if indices is None else indices


def numerical_gradient(
    f: Callable[[], float], x: np.ndarray, h: float = 1e-6, indices: Iterable[Index] | None = None
) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x`` (float64, shape of x).

    f: () -> float, reading ``x`` (and whatever else it closes over). x: a float array, perturbed in place and
    restored. ``indices``: only these entries (the others are left 0); all by default.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in _indices(x, indices):
        old = x[ix]
        x[ix] = old + h
        fp = float(f())
        x[ix] = old - h
        fm = float(f())
        x[ix] = old
        grad[ix] = (fp - fm) / (2 * h)
    return grad


def numerical_jacobian_vector(
    f: Callable[[], np.ndarray],
    x: np.ndarray,
    dout: np.ndarray,
    h: float = 1e-6,
    indices: Iterable[Index] | None = None,
) -> np.ndarray:
    """sum(dout * d f/dx) by central differences: what a layer's ``backward(dout)`` must return for ``x``.

    f: () -> array (the layer's output for the current ``x``). dout: the upstream gradient, shape of f().
    """
    dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in _indices(x, indices):
        old = x[ix]
        x[ix] = old + h
        fp = np.array(f(), dtype=np.float64)  # a copy: f may return a buffer it reuses
        x[ix] = old - h
        fm = np.array(f(), dtype=np.float64)
        x[ix] = old
        grad[ix] = np.sum(dout * (fp - fm)) / (2 * h)
    return grad


def rel_error(a: Any, b: Any, floor: float = 1e-12) -> float:
    """max over entries of |a - b| / max(floor, |a| + |b|): 0 when equal, 1 when of opposite sign (never more)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))))


def _rng_states(net: Any) -> list[tuple[Any, dict]]:
    """The state of every activation's random generator (RReLU draws its slopes from it while training)."""
    return [(b.act.rng, b.act.rng.bit_generator.state) for b in net.blocks]


def _restore(states: list[tuple[Any, dict]]) -> None:
    for rng, state in states:
        rng.bit_generator.state = state


def network_gradients(net: Any, x: np.ndarray, y: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, value, copy of its gradient) for every parameter, after one train-mode backward on (x, y).

    Batch norm uses the batch statistics (train=True) without moving its running statistics (update_stats=False).
    Every activation's random generator is rewound afterwards, so that a replay draws RReLU's slopes again.
    """
    states = _rng_states(net)
    net.loss_and_grads(x, y, train=True, update_stats=False)
    _restore(states)
    return [(name, p, g.copy()) for name, p, g in net.params()]


def check_network(
    trainer_or_network: Any,
    x: np.ndarray,
    y: np.ndarray,
    h: float = 1e-6,
    per_param: int | None = 6,
    seed: int = 0,
    floor: float = 1e-5,
) -> float:
    """The largest relative error between the network's backward and finite differences of its loss, all params.

    trainer_or_network: a Trainer (its ``.net`` is checked) or a Network, in float64. x: (N, D) a batch, y its
    targets. The loss is computed as in training (train=True: batch norm uses the batch statistics; RReLU's random
    slopes are held fixed by replaying its generator) but without moving the running statistics.

    per_param: entries checked per parameter array, sampled without replacement with ``seed`` (None: all).
    floor: the smallest |a| + |b| divided by: gradients below it are compared absolutely, since finite differences
    cannot resolve them (rounding alone is ~eps |L| / h = 1e-10, a few times that through a deep network). With the
    defaults, a correct backward gives below ~3e-5 and a gradient off by 1 % gives ~5e-3.
    """
    net = getattr(trainer_or_network, "net", trainer_or_network)
    if np.dtype(net.dtype) != np.float64:
        raise ValueError(f"check_network needs a float64 network (dtype='float64'), not {np.dtype(net.dtype)}")
    x = np.asarray(x, dtype=np.float64)
    states = _rng_states(net)
    params = network_gradients(net, x, y)

    def loss() -> float:
        _restore(states)
        return net.loss.forward(net.forward(x, train=True, update_stats=False), y)

    rng = np.random.default_rng(seed)
    worst = 0.0
    for _, p, analytic in params:
        if per_param is None or per_param >= p.size:
            flat = np.arange(p.size)
        else:
            flat = rng.choice(p.size, per_param, replace=False)
        idx = [np.unravel_index(i, p.shape) for i in flat]
        numeric = numerical_gradient(loss, p, h, idx)
        pick = tuple(np.array(idx).T)
        worst = max(worst, rel_error(analytic[pick], numeric[pick], floor))
    _restore(states)
    return worst
