"""The measurements of design.md section 2 on hand-built weights: dead units, saturation, histograms, norms."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gradtui.engine import Config, Trainer
from gradtui.engine.network import norm64
from gradtui.engine.stats import histogram

UNITS = 4
PROBE = 100


def trainer(activation="relu", depth=1, **kw) -> Trainer:
    cfg = Config(activation=activation, depth=depth, width=UNITS, dtype="float64", samples=400, probe_size=PROBE, **kw)
    return Trainer(cfg)


def set_layer(t: Trainer, i: int, W, b) -> None:
    dense = t.net.blocks[i].dense
    dense.W[...] = W
    dense.b[...] = b


# --- dead units ----------------------------------------------------------------------------------------------------


def test_relu_unit_with_a_large_negative_bias_is_dead_and_dead_since_is_kept():
    t = trainer("relu", lr=0.05)
    set_layer(t, 0, 0.01, [-100.0, 1.0, 2.0, 100.0])
    s = t.snapshot()
    layer = s.layers[0]
    assert layer.dead_count == 1 and layer.dead_fraction == pytest.approx(0.25)
    np.testing.assert_array_equal(layer.dead_since(), [0, -1, -1, -1])
    for _ in range(5):
        assert t.step()
    later = t.snapshot().layers[0]
    assert later.dead_count == 1
    np.testing.assert_array_equal(later.dead_since(), [0, -1, -1, -1])  # first seen dead at step 0, still
    # revive it: dead_since is cleared
    set_layer(t, 0, 0.01, 1.0)
    assert t.snapshot().layers[0].dead_count == 0
    np.testing.assert_array_equal(t.snapshot().layers[0].dead_since(), [-1, -1, -1, -1])


def test_relu_unit_dead_on_some_examples_only_is_not_dead():
    t = trainer("relu")
    set_layer(t, 0, [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, -1.0, 1.0]], 0.0)  # z = x1, x2, -x2, x1 + x2: half-planes
    assert t.snapshot().layers[0].dead_count == 0


def test_relu6_is_dead_at_both_ends():
    t = trainer("relu6")
    set_layer(t, 0, 0.01, [-100.0, 100.0, 3.0, 1.0])
    layer = t.snapshot().layers[0]
    assert layer.dead_count == 2
    np.testing.assert_array_equal(layer.dead_since() >= 0, [True, True, False, False])


@pytest.mark.parametrize("activation", ["relu", "relu6", "hardswish"])
def test_activations_that_can_die_do(activation):
    t = trainer(activation)
    set_layer(t, 0, 0.01, -100.0)
    assert t.snapshot().layers[0].dead_count == UNITS


@pytest.mark.parametrize("activation", ["leaky_relu", "prelu", "rrelu", "elu", "selu", "gelu", "swish", "softplus"])
def test_activations_that_cannot_die_never_do(activation):
    t = trainer(activation)
    set_layer(t, 0, 0.01, -100.0)
    layer = t.snapshot().layers[0]
    assert layer.dead_count == 0
    np.testing.assert_array_equal(layer.dead_since(), -1)


def test_dead_units_are_counted_per_layer():
    t = trainer("relu", depth=2)
    set_layer(t, 0, 0.01, [-100.0, 1.0, 1.0, 1.0])
    set_layer(t, 1, 0.01, [-100.0, -100.0, 1.0, 1.0])
    assert [layer.dead_count for layer in t.snapshot().layers] == [1, 2]


# --- saturation ----------------------------------------------------------------------------------------------------


def test_sigmoid_with_huge_weights_is_saturated():
    t = trainer("sigmoid")
    W = np.random.default_rng(0).choice([-1.0, 1.0], size=(2, UNITS)) * 1e3
    set_layer(t, 0, W, 0.0)
    assert t.snapshot().layers[0].saturation > 0.95


def test_sigmoid_with_tiny_weights_is_not_saturated():
    t = trainer("sigmoid")
    set_layer(t, 0, 1e-3, 0.0)
    assert t.snapshot().layers[0].saturation == 0.0


def test_relu_saturation_counts_the_inactive_side():
    t = trainer("relu")
    set_layer(t, 0, 0.01, [-100.0, 1.0, 1.0, 1.0])  # one unit off everywhere, three on everywhere
    assert t.snapshot().layers[0].saturation == pytest.approx(0.25)


def test_tanh_saturation_is_measured_against_its_own_maximum_slope():
    """tanh' = 0.04 < 5 % of 1 is saturated; sigmoid' = 0.04 is 16 % of its 0.25, not saturated."""
    z_tanh = math.atanh(math.sqrt(1 - 0.04))  # tanh'(z) = 1 - tanh(z)^2 = 0.04
    t = trainer("tanh")
    set_layer(t, 0, 1e-9, z_tanh)
    assert t.snapshot().layers[0].saturation == 1.0
    s = 0.5 * (1 + math.sqrt(1 - 4 * 0.04))  # sigmoid'(z) = s (1 - s) = 0.04
    t = trainer("sigmoid")
    set_layer(t, 0, 1e-9, math.log(s / (1 - s)))
    assert t.snapshot().layers[0].saturation == 0.0


# --- histograms ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "relu6", "gelu", "maxout"])
def test_histograms_count_every_probe_value(activation):
    t = trainer(activation, depth=2, hist_bins=16)
    for layer in t.snapshot().layers:
        assert layer.hist.counts.sum() == PROBE * UNITS
        assert layer.pre_hist.counts.sum() == PROBE * UNITS * (2 if activation == "maxout" else 1)
        assert len(layer.hist.counts) == len(layer.pre_hist.counts) == 16
        assert len(layer.hist.edges) == len(layer.pre_hist.edges) == 17
        assert np.all(np.diff(layer.hist.edges) > 0)


@pytest.mark.parametrize(("activation", "bounds"), [("sigmoid", (0, 1)), ("tanh", (-1, 1)), ("relu6", (0, 6))])
def test_bounded_activations_use_their_range(activation, bounds):
    layer = trainer(activation).snapshot().layers[0]
    assert (layer.hist.edges[0], layer.hist.edges[-1]) == bounds


def test_histogram_of_a_relu_layer_with_one_unit_off_puts_a_quarter_of_the_values_at_zero():
    t = trainer("relu", hist_bins=8)
    set_layer(t, 0, [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], [-100.0, 3.0, 3.0, 3.0])
    layer = t.snapshot().layers[0]
    assert layer.hist.edges[0] == 0.0
    assert layer.hist.counts[0] == PROBE  # the dead unit's zeros; the others sit at 3 = the top
    assert layer.hist.counts[-1] == 3 * PROBE
    assert layer.mean == pytest.approx(2.25) and layer.std == pytest.approx(math.sqrt(0.75 * 9 - 2.25**2))


# --- norms ---------------------------------------------------------------------------------------------------------


def test_norm64_reports_tiny_float32_values_and_exact_zero():
    tiny = np.full((3, 3), 1e-36, dtype=np.float32)
    assert float(np.sqrt(np.sum(tiny * tiny))) == 0.0  # what a float32 norm would show
    assert norm64(tiny) == pytest.approx(3e-36, rel=1e-6)
    assert norm64(np.zeros((3, 3), dtype=np.float32)) == 0.0
    assert norm64(np.zeros(0)) == 0.0
    assert norm64(np.array([3.0, -4.0])) == 5.0


def test_norm64_is_right_over_the_whole_float64_range():
    """A float64 run can hold finite gradients of 1e200 (just before it diverges) or 1e-170 (a 300-layer sigmoid)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert norm64(np.full(4, 1e200)) == pytest.approx(2e200)
        assert norm64(np.full(4, -1e-170)) == pytest.approx(2e-170)
        assert norm64(np.array([np.inf, 1.0])) == math.inf


def test_snapshot_shows_first_layer_gradients_a_float32_norm_would_read_as_zero():
    """design.md: a 50-layer sigmoid net has first-layer gradients of ~1e-33; the tool must show them, not 0."""
    t = Trainer(Config(activation="sigmoid", depth=50, width=16, dtype="float32", samples=200, probe_size=64))
    layers = t.snapshot().layers
    assert 0 < layers[0].grad_norm < 1e-25
    assert layers[-1].grad_norm > 1e-3
    assert all(math.isfinite(layer.signal_norm) and layer.signal_norm > 0 for layer in layers)


def test_vanishing_ratio_is_the_ratio_of_signal_norms():
    t = trainer("tanh", depth=3)
    s = t.snapshot()
    assert s.vanishing_ratio == pytest.approx(s.layers[0].signal_norm / s.layers[-1].signal_norm, rel=1e-12)


def test_histogram_counts_go_to_the_right_bins():
    edges, counts = histogram(np.array([-1.0, -0.49, 0.0, 0.51, 1.0, 7.0, -7.0, np.nan, np.inf]), 4, -1.0, 1.0)
    np.testing.assert_array_equal(edges, [-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(counts, [2, 1, 1, 3])  # out of range clipped in, non-finite dropped


def test_histogram_of_float32_values_near_the_float32_limit():
    """A run about to diverge holds finite float32 values of ~1e38: they must still land in the end bins."""
    v = np.array([-3e38, 0.0, 3e38], dtype=np.float32)
    lo, hi = float(v.min()), float(v.max())
    with np.errstate(all="ignore"):  # as inside Trainer.snapshot
        _, counts = histogram(v, 4, lo, hi)
    np.testing.assert_array_equal(counts, [1, 0, 1, 1])  # engine: [2, 1, 0, 0]


# --- the step figures: gradient norms, update ratios, backward signal -----------------------------------------------


def test_step_figures_are_those_of_the_measured_step_before_its_update():
    cfg = Config(activation="tanh", depth=3, width=8, dtype="float64", samples=400, lr=0.1, optimizer="sgd")
    t, twin = Trainer(cfg), Trainer(cfg)
    for _ in range(3):
        assert t.step() and twin.step()
    before = [b.dense.W.copy() for b in t.net.blocks]
    seen = []
    loss_forward = t.net.loss.forward
    t.net.loss.forward = lambda logits, y: seen.append(np.array(y)) or loss_forward(logits, y)
    forward = t.net.forward
    t.net.forward = lambda x, *a, **k: seen.append(np.array(x)) or forward(x, *a, **k)
    assert t.step(measure=True)
    del t.net.loss.forward, t.net.forward
    x, y = seen[:2]
    grads = twin.gradients(x, y)  # the twin has the weights t had before its update
    s = t.snapshot()
    assert s.step == 4
    for i, layer in enumerate(s.layers):
        assert layer.grad_norm == pytest.approx(norm64(grads[i]["W"]), rel=1e-12)
        assert layer.bias_grad_norm == pytest.approx(norm64(grads[i]["b"]), rel=1e-12)
        dW = t.net.blocks[i].dense.W - before[i]
        assert layer.update_ratio == pytest.approx(norm64(dW) / norm64(before[i]), rel=1e-9)
        assert layer.update_ratio == pytest.approx(0.1 * layer.grad_norm / norm64(before[i]), rel=1e-9)  # SGD
    assert s.output_grad_norm == pytest.approx(norm64(grads[-1]["W"]), rel=1e-12)


@pytest.mark.parametrize("residual", [False, True])
def test_signal_norm_is_the_gradient_arriving_at_each_layer_output(residual):
    """||dL/dh_l|| / sqrt(N), checked by finite differences of the loss in a shift added to each block's output."""
    from gradtui.engine.gradcheck import numerical_gradient

    t = Trainer(Config(activation="tanh", depth=3, width=5, dtype="float64", samples=200, residual=residual))
    net = t.net
    x, y = t.X[:8], t.y[:8]
    net.measure = True
    net.loss_and_grads(x, y, train=True, update_stats=False)
    measured = [b.signal_norm for b in net.blocks]
    net.measure = False
    for i, block in enumerate(net.blocks):
        shift = np.zeros((len(x), block.units))
        forward = block.forward
        block.forward = lambda x_, *a, _f=forward, _s=shift, **k: _f(x_, *a, **k) + _s
        try:
            g = numerical_gradient(lambda: net.loss.forward(net.forward(x, True, False), y), shift)
        finally:
            del block.forward
        assert measured[i] == pytest.approx(norm64(g) / math.sqrt(len(x)), rel=1e-6)
