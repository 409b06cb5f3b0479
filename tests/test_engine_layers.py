"""Layers and losses against finite differences (float64), and the losses' stability for huge logits."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gradtui.engine.activations import make_activation
from gradtui.engine.gradcheck import numerical_gradient, numerical_jacobian_vector, rel_error
from gradtui.engine.layers import BatchNorm, Dense, HiddenBlock
from gradtui.engine.losses import LOSSES, make_loss

TOL, FLOOR = 1e-6, 1e-3  # float64 central differences, h = 1e-6: rounding noise ~1e-10 absolute


def rng(seed=0):
    return np.random.default_rng(seed)


def check(f, x, dout, analytic):
    """backward's gradient for ``x`` (already computed) against finite differences of f() contracted with dout."""
    num = numerical_jacobian_vector(f, x, dout, h=1e-6)
    assert np.abs(analytic).max() > 1e-3  # not a vacuous comparison of zeros
    assert rel_error(analytic, num, FLOOR) < TOL


# --- Dense ---------------------------------------------------------------------------------------------------------


def test_dense_gradients_match_finite_differences():
    r = rng()
    x, W, b = r.normal(size=(5, 3)), r.normal(size=(3, 4)), r.normal(size=4)
    layer = Dense(W, b)
    out = layer.forward(x)
    np.testing.assert_allclose(out, x @ W + b, rtol=1e-14)
    dout = r.normal(size=out.shape)
    dx = layer.backward(dout).copy()
    dW, db = layer.dW.copy(), layer.db.copy()
    assert [n for n, _, _ in layer.params()] == ["W", "b"]
    check(lambda: layer.forward(x), x, dout, dx)
    check(lambda: layer.forward(x), W, dout, dW)
    check(lambda: layer.forward(x), b, dout, db)


def test_dense_backward_overwrites_its_preallocated_gradients():
    """micrograd's bug #53: backward twice must not double the gradients."""
    r = rng(1)
    x, W, b = r.normal(size=(5, 3)), r.normal(size=(3, 4)), r.normal(size=4)
    layer = Dense(W, b)
    dW_buffer = layer.dW
    layer.forward(x)
    dout = r.normal(size=(5, 4))
    layer.backward(dout)
    first = layer.dW.copy()
    layer.backward(dout)
    assert layer.dW is dW_buffer
    np.testing.assert_array_equal(layer.dW, first)


def test_dense_without_dx_skips_it_and_without_bias_has_no_b():
    r = rng(2)
    layer = Dense(r.normal(size=(3, 4)), None, need_dx=False)
    layer.forward(r.normal(size=(5, 3)))
    assert layer.backward(r.normal(size=(5, 4))) is None
    assert [n for n, _, _ in layer.params()] == ["W"]


# --- BatchNorm -----------------------------------------------------------------------------------------------------


def test_batchnorm_train_mode_gradients_match_finite_differences():
    r = rng(3)
    x = r.normal(1.5, 2.0, size=(8, 5))
    bn = BatchNorm(5, np.float64)
    bn.gamma[...] = r.uniform(0.5, 2.0, 5)
    bn.beta[...] = r.normal(size=5)

    def f():
        return bn.forward(x, train=True, update_stats=False)

    out = f()
    dout = r.normal(size=out.shape)
    dx = bn.backward(dout).copy()
    dgamma, dbeta = bn.dgamma.copy(), bn.dbeta.copy()
    check(f, x, dout, dx)
    check(f, bn.gamma, dout, dgamma)
    check(f, bn.beta, dout, dbeta)


def test_batchnorm_normalises_and_moves_running_statistics_only_when_asked():
    r = rng(4)
    x = r.normal(3.0, 2.0, size=(16, 4))
    bn = BatchNorm(4, np.float64, momentum=0.1)
    out = bn.forward(x, train=True, update_stats=False)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, rtol=1e-5)  # eps = 1e-5 in the variance
    np.testing.assert_array_equal(bn.running_mean, 0)
    np.testing.assert_array_equal(bn.running_var, 1)
    bn.forward(x, train=True, update_stats=True)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=0, ddof=1), rtol=1e-12)
    # eval mode uses the running statistics, not the batch's
    expected = (x - bn.running_mean) / np.sqrt(bn.running_var + bn.eps)
    np.testing.assert_allclose(bn.forward(x, train=False), expected, rtol=1e-12)


# --- HiddenBlock ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "maxout"])
@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "bn"])
def test_residual_hidden_block_gradients_match_finite_differences(batchnorm, activation):
    r = rng(5)
    H = 4
    act = make_activation(activation, H, np.dtype(np.float64))
    cols = H * act.pieces
    dense = Dense(r.normal(0, 0.7, size=(H, cols)), None if batchnorm else r.normal(size=cols))
    bn = BatchNorm(cols, np.float64) if batchnorm else None
    block = HiddenBlock(dense, bn, act, residual=True)
    x = r.normal(size=(7, H))

    def f():
        return block.forward(x, train=True, update_stats=False)

    z, h, out = block.parts(x, train=True, update_stats=False)
    np.testing.assert_allclose(out, x + h)
    if activation == "maxout":  # no ties within h of each other
        assert np.abs(z[:, :H] - z[:, H:]).min() > 1e-4
    dout = r.normal(size=out.shape)
    f()
    dx = block.backward(dout).copy()
    grads = [(p, g.copy()) for _, p, g in block.params()]
    assert len(grads) == (3 if batchnorm else 2)
    check(f, x, dout, dx)
    for p, g in grads:
        check(f, p, dout, g)


# --- losses --------------------------------------------------------------------------------------------------------


def softmax_ce_reference(logits, y):
    out = []
    for row, k in zip(logits, y):
        total = sum(math.exp(v) for v in row)
        out.append(-math.log(math.exp(row[k]) / total))
    return sum(out) / len(out)


def bce_reference(logits, y):
    out = []
    for z, t in zip(logits[:, 0], y):
        p = 1 / (1 + math.exp(-z))
        out.append(-(t * math.log(p) + (1 - t) * math.log(1 - p)))
    return sum(out) / len(out)


def mse_reference(out, y):
    return float(np.mean((out - y) ** 2))


CASES = {
    "softmax": (lambda r: (r.normal(0, 2, (6, 3)), r.integers(0, 3, 6)), softmax_ce_reference),
    "sigmoid": (lambda r: (r.normal(0, 2, (6, 1)), r.integers(0, 2, 6)), bce_reference),
    "linear": (lambda r: (r.normal(0, 2, (6, 2)), r.normal(size=(6, 2))), mse_reference),
}


def test_every_loss_is_covered():
    assert set(CASES) == set(LOSSES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_value_and_gradient(name):
    make, reference = CASES[name]
    logits, y = make(rng(6))
    loss = make_loss(name)
    value = loss.forward(logits, y)
    assert isinstance(value, float)
    assert value == pytest.approx(reference(logits, y), rel=1e-12)
    dlogits = loss.backward().copy()
    assert dlogits.shape == logits.shape
    num = numerical_gradient(lambda: loss.forward(logits, y), logits, h=1e-6)
    assert rel_error(dlogits, num, FLOOR) < TOL


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_losses_are_stable_for_huge_logits(dtype):
    big = 1e4
    cases = [
        # logits, targets, exact mean loss, exact dL/dlogits
        ("softmax", [[big, 0.0, 0.0], [0.0, -big, big]], [1, 2], (big + 0.0) / 2, [[1, -1, 0], [0, 0, 0]]),
        ("sigmoid", [[big], [-big], [big], [-big]], [0, 1, 1, 0], (big + big) / 4, [[1], [-1], [0], [0]]),
        ("linear", [[big], [-big]], [[0.0], [0.0]], big * big, [[2 * big], [-2 * big]]),
    ]
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        warnings.simplefilter("error")
        for name, logits, y, value, grad in cases:
            logits = np.array(logits, dtype=dtype)
            y = np.array(y, dtype=dtype if name == "linear" else np.intp)
            loss = make_loss(name)
            got = loss.forward(logits, y)
            d = loss.backward()
            assert math.isfinite(got) and got == pytest.approx(value, rel=1e-6), name
            assert d.dtype == np.dtype(dtype) and np.isfinite(d).all(), name
            n = len(logits)
            np.testing.assert_allclose(d * n, grad, atol=1e-6, err_msg=name)
            if loss.classification:
                p = loss.probabilities(logits)
                assert np.isfinite(p).all()
                np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
