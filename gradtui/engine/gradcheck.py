"""Finite-difference gradient checking, CS231n style: float64 central differences and a relative error.

    numerical_gradient(f, x)                  dL/dx of a scalar function f() that reads the array x
    numerical_jacobian_vector(f, x, dout)     sum(dout * d f/dx) for an array-valued f(), i.e. what backward(dout) gives
    rel_error(a, b)                           max |a - b| / max(1e-12, |a| + |b|), elementwise
    check_network(trainer_or_network, x, y)   max relative error between backward and finite differences, all params
    check_recurrent(net, x, y)                the same for a RecurrentNet (BPTT), every entry of every parameter
    check_recurrent_report(net, x, y)         the same as a CheckResult, skipping differences across a kink of the
                                              vanilla RNN's activation (``gradtui check --model rnn``)

``x`` is perturbed in place, one entry at a time, by +h and -h, and always restored. The error of a central difference
is O(h^2) from truncation plus O(eps |f| / h) from rounding: with h = 1e-6 in float64, a correct gradient agrees to
about 1e-7 relative or better, away from kinks (ReLU at 0, maxout where its pieces tie) -- a wrong one by far less.
Checking in float32 is meaningless (rounding alone is ~1e-7 / 1e-6), so ``check_network`` refuses it.

NumPy and the standard library only, like the rest of the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "rel_error",
]

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


# where each piecewise activation's derivative jumps: a central difference across one is no test of the backward
KINKS: dict[str, tuple[float, ...]] = {
    "relu": (0.0,), "leaky_relu": (0.0,), "prelu": (0.0,), "rrelu": (0.0,), "selu": (0.0,), "relu6": (0.0, 6.0),
    "hardswish": (-3.0, 3.0),
}  # fmt: skip


@dataclass(frozen=True)
class CheckResult:
    worst: float  # the largest relative error over the entries checked
    checked: int  # entries compared
    skipped: int  # entries whose finite difference straddled a kink (the derivative jumps inside [x-h, x+h])


def _kink_signature(net: Any, x: np.ndarray) -> list[np.ndarray]:
    """On which side of each kink every pre-activation lies (maxout: which piece wins), for a train-mode forward
    that moves nothing: if it differs between x + h and x - h, the difference straddled a kink."""
    out = []
    with np.errstate(all="ignore"):
        for b in net.blocks:
            z, _, x = b.parts(x, train=True, update_stats=False)
            name = b.act.name
            if name == "maxout":
                h = b.act.units
                out.append(z[:, :h] >= z[:, h:])
            else:
                for k in KINKS.get(name, ()):
                    out.append(z > k)
    return out


def check_network(
    trainer_or_network: Any,
    x: np.ndarray,
    y: np.ndarray,
    h: float = 1e-6,
    per_param: int | None = 6,
    seed: int = 0,
    floor: float = 1e-5,
) -> float:
    """The largest relative error between the network's backward and finite differences of its loss, all params
    (``check_network_report(...).worst``; see there)."""
    return check_network_report(trainer_or_network, x, y, h, per_param, seed, floor).worst


def check_network_report(
    trainer_or_network: Any,
    x: np.ndarray,
    y: np.ndarray,
    h: float = 1e-6,
    per_param: int | None = 6,
    seed: int = 0,
    floor: float = 1e-5,
) -> CheckResult:
    """The largest relative error between the network's backward and finite differences of its loss, all params;
    entries whose central difference straddles a kink of a piecewise activation (ReLU at 0: the derivative jumps
    between x - h and x + h, so the difference is no test of the backward) are skipped and counted.

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
    checked = skipped = 0
    piecewise = any(b.act.name in KINKS or b.act.name == "maxout" for b in net.blocks)
    for _, p, analytic in params:
        if per_param is None or per_param >= p.size:
            flat = np.arange(p.size)
        else:
            flat = rng.choice(p.size, per_param, replace=False)
        for i in flat:
            ix = np.unravel_index(i, p.shape)
            if piecewise:
                old = p[ix]
                p[ix] = old + h
                _restore(states)
                plus = _kink_signature(net, x)
                p[ix] = old - h
                _restore(states)
                minus = _kink_signature(net, x)
                p[ix] = old
                if any(not np.array_equal(a, b) for a, b in zip(plus, minus)):
                    skipped += 1
                    continue
            numeric = numerical_gradient(loss, p, h, [tuple(int(k) for k in ix)])
            worst = max(worst, rel_error(analytic[ix], numeric[ix], floor))
            checked += 1
    _restore(states)
    return CheckResult(worst, checked, skipped)


def recurrent_errors(
    net: Any,
    x: np.ndarray,
    y: np.ndarray,
    h: float = 1e-6,
    per_param: int | None = None,
    seed: int = 0,
    floor: float = 1e-5,
) -> dict[str, float]:
    """Relative error between a RecurrentNet's BPTT and central finite differences of its loss, per parameter.

    net: a float64 RecurrentNet (anything with ``dtype``, ``params()``, ``param_names()``, ``loss_and_grads(x, y)``
    and ``compute_loss(x, y)``). x: (N, T, D); y: its targets. per_param: entries checked per parameter array,
    sampled without replacement with ``seed`` (None, the default: every entry -- a recurrent net small enough to
    check has a few hundred). floor: as in ``check_network``. Returns {parameter name: max relative error}.
    """
    if np.dtype(net.dtype) != np.float64:
        raise ValueError(f"check_recurrent needs a float64 network (dtype='float64'), not {np.dtype(net.dtype)}")
    x = np.asarray(x, dtype=np.float64)
    net.loss_and_grads(x, y)
    analytic = [g.copy() for _, _, g in net.params()]

    def loss() -> float:
        return float(net.compute_loss(x, y))

    rng = np.random.default_rng(seed)
    errors = {}
    for name, (_, p, _), a in zip(net.param_names(), net.params(), analytic):
        if per_param is None or per_param >= p.size:
            flat = np.arange(p.size)
        else:
            flat = rng.choice(p.size, per_param, replace=False)
        idx = [np.unravel_index(i, p.shape) for i in flat]
        numeric = numerical_gradient(loss, p, h, idx)
        pick = tuple(np.array(idx).T)
        errors[name] = rel_error(a[pick], numeric[pick], floor)
    return errors


def check_recurrent(net: Any, x: np.ndarray, y: np.ndarray, **kw: Any) -> float:
    """The largest relative error of ``recurrent_errors`` (same arguments): below ~1e-7 for a correct BPTT."""
    return max(recurrent_errors(net, x, y, **kw).values())


def _recurrent_kinks(net: Any, x: np.ndarray) -> list[np.ndarray]:
    """On which side of each kink of a vanilla RNN cell's activation every pre-activation a_t lies (a forward)."""
    cell = net.cell
    kinks = KINKS.get(getattr(getattr(cell, "act", None), "name", ""), ())
    if not kinks:
        return []
    with np.errstate(all="ignore"):
        net.forward(x)
    a = cell.buf["G"]  # the vanilla RNN keeps a_t of every step there
    return [a > k for k in kinks]


def check_recurrent_report(
    net: Any,
    x: np.ndarray,
    y: np.ndarray,
    h: float = 1e-6,
    per_param: int | None = 6,
    seed: int = 0,
    floor: float = 1e-5,
) -> CheckResult:
    """The largest relative error between a float64 RecurrentNet's BPTT and central finite differences of its loss,
    over ``per_param`` entries of every parameter array (sampled with ``seed``; None: all), as a CheckResult. For a
    vanilla RNN whose activation has kinks (ReLU at 0, ...), entries whose difference moves some a_t across one are
    skipped and counted, as ``check_network_report`` does for the MLP."""
    if np.dtype(net.dtype) != np.float64:
        raise ValueError(f"check_recurrent needs a float64 network (dtype='float64'), not {np.dtype(net.dtype)}")
    x = np.asarray(x, dtype=np.float64)
    net.loss_and_grads(x, y)
    analytic = [g.copy() for _, _, g in net.params()]
    piecewise = bool(_recurrent_kinks(net, x))

    def loss() -> float:
        return float(net.compute_loss(x, y))

    rng = np.random.default_rng(seed)
    worst = 0.0
    checked = skipped = 0
    for (_, p, _), a in zip(net.params(), analytic):
        if per_param is None or per_param >= p.size:
            flat = np.arange(p.size)
        else:
            flat = rng.choice(p.size, per_param, replace=False)
        for i in flat:
            ix = np.unravel_index(i, p.shape)
            if piecewise:
                old = p[ix]
                p[ix] = old + h
                plus = _recurrent_kinks(net, x)
                p[ix] = old - h
                minus = _recurrent_kinks(net, x)
                p[ix] = old
                if any(not np.array_equal(u, v) for u, v in zip(plus, minus)):
                    skipped += 1
                    continue
            numeric = numerical_gradient(loss, p, h, [ix])
            worst = max(worst, rel_error(a[ix], numeric[ix], floor))
            checked += 1
    return CheckResult(worst, checked, skipped)
