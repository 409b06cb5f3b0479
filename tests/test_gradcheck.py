"""The finite-difference checker itself, whole networks checked with it, and proof that it catches wrong gradients."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gradtui.engine import Config, Trainer
from gradtui.engine.activations import Tanh
from gradtui.engine.gradcheck import (
    check_network,
    network_gradients,
    numerical_gradient,
    numerical_jacobian_vector,
    rel_error,
)
from gradtui.engine.layers import BatchNorm, Dense

NET_TOL = 1e-4  # check_network's defaults: correct backward measured <= ~3e-5 over 160 configs, 1 % off ~5e-3


def make_trainer(activation="tanh", batchnorm=False, residual=False, dataset="spiral", **kw) -> Trainer:
    cfg = Config(
        dtype="float64", depth=4, width=6, activation=activation, batchnorm=batchnorm, residual=residual,
        dataset=dataset, samples=200, **kw,
    )  # fmt: skip
    return Trainer(cfg)


def batch(t: Trainer, n: int = 16):
    return t.X[:n], t.y[:n]


def kink_distance(t: Trainer, x: np.ndarray) -> float:
    """How close any pre-activation comes to a kink (0 for the ReLU family, a tie for maxout); inf if smooth."""
    d = np.inf
    for b in t.net.blocks:
        z, _, x = b.parts(x, train=True, update_stats=False)
        if b.act.pieces == 2:
            d = min(d, float(np.abs(z[:, : b.units] - z[:, b.units :]).min()))
        elif b.act.name in ("prelu", "rrelu", "relu", "leaky_relu"):
            d = min(d, float(np.abs(z).min()))
    return d


# --- the checker on functions with known derivatives ---------------------------------------------------------------


def test_numerical_gradient_of_a_known_function_and_x_is_restored():
    x = np.random.default_rng(0).normal(size=(3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(np.sin(x) * x**2)), x)
    np.testing.assert_allclose(grad, np.cos(x) * x**2 + 2 * x * np.sin(x), rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(x, before)  # bit for bit


def test_numerical_gradient_only_at_given_indices():
    x = np.arange(6.0).reshape(2, 3)
    grad = numerical_gradient(lambda: float(np.sum(x**2)), x, indices=[(0, 1), (1, 2)])
    np.testing.assert_allclose(grad, [[0, 2, 0], [0, 0, 10]], atol=1e-8)


def test_numerical_jacobian_vector_of_a_known_function():
    r = np.random.default_rng(1)
    x, A = r.normal(size=(2, 3)), r.normal(size=(3, 4))
    dout = r.normal(size=(2, 4))
    before = x.copy()
    got = numerical_jacobian_vector(lambda: np.tanh(x @ A), x, dout)
    expected = (dout * (1 - np.tanh(x @ A) ** 2)) @ A.T
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(x, before)


def test_rel_error():
    a = np.array([1.0, -2.0, 3.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, -a) == 1.0
    assert rel_error([1.0], [1.01]) == pytest.approx(0.01 / 2.01)
    assert rel_error([0.0], [0.0]) == 0.0
    assert rel_error([1e-14], [0.0]) == pytest.approx(1e-2)  # the 1e-12 floor
    assert rel_error([1e-14], [0.0], floor=1e-8) == pytest.approx(1e-6)
    with pytest.raises(ValueError):
        rel_error(np.zeros(2), np.zeros(3))


def test_check_network_refuses_float32():
    t = Trainer(Config(depth=2, width=4, samples=100))
    with pytest.raises(ValueError, match="float64"):
        check_network(t, *batch(t))


def test_check_network_leaves_the_network_as_it_found_it():
    t = make_trainer("prelu", batchnorm=True)
    before = [p.copy() for _, p, _ in t.net.params()]
    running = [(b.bn.running_mean.copy(), b.bn.running_var.copy()) for b in t.net.blocks]
    assert check_network(t, *batch(t)) < NET_TOL
    for (_, p, _), p0 in zip(t.net.params(), before):
        np.testing.assert_array_equal(p, p0)
    for b, (m, v) in zip(t.net.blocks, running):
        np.testing.assert_array_equal(b.bn.running_mean, m)
        np.testing.assert_array_equal(b.bn.running_var, v)


# --- 5. whole networks through the loss ----------------------------------------------------------------------------

MATRIX = list(itertools.product(["tanh", "gelu", "prelu", "maxout", "elu"], [False, True], [False, True]))


@pytest.mark.parametrize(
    ("activation", "batchnorm", "residual"), MATRIX, ids=[f"{a}-bn{int(b)}-res{int(r)}" for a, b, r in MATRIX]
)
def test_deep_network_gradients_match_finite_differences(activation, batchnorm, residual):
    t = make_trainer(activation, batchnorm, residual)
    x, y = batch(t)
    # no pre-activation within 10 h of a kink: a failure below is the backward's, not the finite differences'
    assert kink_distance(t, x) > 1e-5
    kinds = [name for name, _, _ in t.net.params()]
    assert kinds.count("W") == 5 and ("gamma" in kinds) == batchnorm and ("alpha" in kinds) == (activation == "prelu")
    assert [b.residual for b in t.net.blocks] == [False] + [residual] * 3  # layer 1 maps 2 inputs to 6 units
    assert check_network(t, x, y, per_param=8) < NET_TOL


@pytest.mark.parametrize(
    ("dataset", "activation", "residual"),
    [("moons", "tanh", False), ("moons", "prelu", True), ("sine", "gelu", False), ("sine", "maxout", True)],
)
def test_deep_network_gradients_with_sigmoid_and_linear_outputs(dataset, activation, residual):
    t = make_trainer(activation, residual=residual, dataset=dataset)
    assert t.net.loss.name == {"moons": "sigmoid", "sine": "linear"}[dataset]
    x, y = batch(t)
    assert kink_distance(t, x) > 1e-5
    assert check_network(t, x, y, per_param=8) < NET_TOL


def test_rrelu_network_in_training_mode_with_its_slopes_replayed():
    t = make_trainer("rrelu", batchnorm=True, residual=True)
    x, y = batch(t)
    assert kink_distance(t, x) > 1e-5
    assert check_network(t, x, y, per_param=8) < NET_TOL


def test_trainer_gradients_are_the_networks_gradients():
    t = make_trainer("prelu", batchnorm=True, residual=True)
    x, y = batch(t)
    got = t.gradients(x, y)
    assert len(got) == t.config.depth + 1
    assert set(got[0]) == {"W", "gamma", "beta", "alpha"} and set(got[-1]) == {"W", "b"}
    flat = [g for layer in got for g in layer.values()]
    expected = [g for _, _, g in network_gradients(t.net, x, y)]
    assert len(flat) == len(expected)
    for a, b in zip(flat, expected):
        np.testing.assert_array_equal(a, b)
    flat[0][...] = 123.0  # copies: the caller cannot corrupt the network's buffers
    assert not np.any(t.net.blocks[0].dense.dW == 123.0)
    # and they are right: a few entries of layer 1's weights and the output bias by finite differences
    got = t.gradients(x, y)

    def loss():
        return t.net.loss.forward(t.net.forward(x, train=True, update_stats=False), y)

    for value, grad in ((t.net.blocks[0].dense.W, got[0]["W"]), (t.net.out.b, got[-1]["b"])):
        num = numerical_gradient(loss, value)
        assert rel_error(grad, num, 1e-5) < NET_TOL


def test_backward_twice_gives_the_same_gradients_not_twice_them():
    t = make_trainer("prelu", batchnorm=True)
    x, y = batch(t)
    t.net.loss_and_grads(x, y, train=True, update_stats=False)
    first = [g.copy() for _, _, g in t.net.params()]
    t.net.loss_and_grads(x, y, train=True, update_stats=False)
    for (_, _, g), g0 in zip(t.net.params(), first):
        np.testing.assert_array_equal(g, g0)


# --- 6. the checker fails on wrong gradients ------------------------------------------------------------------------


class OffTanh(Tanh):
    """tanh whose derivative is 1 % too large: the kind of slip a gradient check exists to catch."""

    def df(self, z, h):
        return 1.01 * super().df(z, h)


class TransposedDense(Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW[...] = self.dW.T.copy()
        return dx


class MeanSlipBatchNorm(BatchNorm):
    """A batch-norm backward that leaves a per-unit constant in dx, as dropping its batch-mean term does."""

    def backward(self, dout):
        return super().backward(dout) + self.gamma * dout.mean(axis=0)


def test_activation_check_fails_on_a_derivative_off_by_one_percent():
    act = OffTanh(4, np.float64)
    z = np.random.default_rng(0).uniform(-2, 2, (6, 4))
    dout = np.random.default_rng(1).normal(size=(6, 4))
    act.forward(z)
    dz = act.backward(dout).copy()
    num = numerical_jacobian_vector(lambda: act.forward(z), z, dout)
    assert rel_error(dz, num, 1e-2) > 1e-3  # the activation tests' tolerance is 1e-6


def test_network_check_fails_on_a_derivative_off_by_one_percent():
    t = make_trainer("tanh")
    x, y = batch(t)
    block = t.net.blocks[2]
    block.act = OffTanh(block.units, block.act.dtype)
    assert check_network(t, x, y, per_param=8) > 10 * NET_TOL


def test_network_check_fails_on_a_transposed_weight_gradient():
    t = make_trainer("tanh", residual=True)
    x, y = batch(t)
    t.net.blocks[1].dense.__class__ = TransposedDense
    assert check_network(t, x, y, per_param=None) > 10 * NET_TOL


def test_network_check_fails_on_a_batchnorm_backward_with_a_slip_in_the_mean_term():
    t = make_trainer("tanh", batchnorm=True)
    x, y = batch(t)
    t.net.blocks[1].bn.__class__ = MeanSlipBatchNorm
    assert check_network(t, x, y) > 10 * NET_TOL
