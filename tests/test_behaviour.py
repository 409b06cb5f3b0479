"""Textbook behaviour the dashboard exists to show, with fixed seeds: vanishing gradients, collapsing activations,
dying ReLUs, and divergence handled without a crash.

The settings were chosen for a wide margin over several seeds (recorded beside each test); the tests use one seed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gradtui.engine import Config, Trainer


@pytest.fixture(autouse=True)
def one_blas_thread():
    """OpenBLAS workers spin-wait (design.md section 3): on a busy 2-core machine a second thread made the 30-layer
    forwards below ten times slower (0.4 s -> 4-6 s) and gains nothing at these sizes. Results do not depend on it."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def train(t: Trainer, steps: int) -> list[bool]:
    return [t.step() for _ in range(steps)]


# --- at initialisation ---------------------------------------------------------------------------------------------


def test_deep_sigmoid_net_with_xavier_init_has_vanishing_gradients():
    # seeds 0-2, widths 32/64: 1.6e-6 .. 3.5e-6
    s = Trainer(Config(activation="sigmoid", depth=10, width=32, init="xavier", samples=400)).snapshot()
    assert s.vanishing_ratio < 1e-3


def test_relu_net_with_he_init_does_not():
    s = Trainer(Config(activation="relu", depth=10, width=32, init="he", samples=400)).snapshot()
    assert s.vanishing_ratio > 0.1


def test_relu_with_he_init_keeps_the_activation_scale_over_30_layers():
    # width 256, seeds 0-7: std / std of layer 1 stays in [0.59, 1.24] (width 64 drifts to 0.4, width 128 to 1.9)
    s = Trainer(
        Config(activation="relu", depth=30, width=256, init="he", seed=1, samples=400, probe_size=256)
    ).snapshot()
    std = np.array([layer.std for layer in s.layers])
    ratio = std / std[0]
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio


def test_relu_with_a_tiny_fixed_std_init_collapses():
    # normal:0.01 multiplies the scale by ~0.01 * sqrt(width / 2) = 0.06 a layer: ~1e-37 after 30 (seeds 0-2)
    s = Trainer(Config(activation="relu", depth=30, width=64, init="normal:0.01", samples=400)).snapshot()
    std = [layer.std for layer in s.layers]
    assert std[0] > 0
    assert std[-1] < 1e-6 * std[0]


# --- training -------------------------------------------------------------------------------------------------------


def dead_after_training(lr: float, seed: int = 0) -> tuple[int, int]:
    t = Trainer(
        Config(activation="relu", depth=3, width=32, init="he", lr=lr, optimizer="sgd", seed=seed, samples=1000)
    )
    assert all(train(t, 300))
    layers = t.snapshot().layers
    return sum(layer.dead_count for layer in layers), sum(layer.units for layer in layers)


def test_a_too_high_learning_rate_kills_relu_units():
    # seeds 0-5, 300 steps of SGD: lr 0.05 leaves 3-8 of 96 units dead, lr 3.0 kills 61-77
    dead_ok, units = dead_after_training(0.05)
    dead_high, _ = dead_after_training(3.0)
    assert dead_ok <= units // 8
    assert dead_high >= units // 2
    assert dead_high >= 5 * max(dead_ok, 1)


# lr 1e3: these diverge within 2-5 steps for seeds 0-2 (a float64 ReLU net mostly dies before it overflows)
@pytest.mark.parametrize(("activation", "dtype"), [("relu", "float32"), ("linear", "float32"), ("linear", "float64")])
def test_divergence_pauses_the_run_and_names_a_layer_without_an_exception_or_a_warning(activation, dtype):
    cfg = Config(activation=activation, depth=4, width=16, init="he", lr=1e3, dtype=dtype, samples=400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = Trainer(cfg)
        results = train(t, 50)
        d = t.diverged
        assert d is not None
        first = results.index(False)
        assert not any(results[first:])  # step() keeps returning False
        assert t.step_count == first and d.step == first + 1
        assert d.layer is not None and 1 <= d.layer <= cfg.depth + 1
        events = [e for e in t.events if e.kind == "diverged"]
        assert len(events) == 1
        name = "the output layer" if d.layer == cfg.depth + 1 else f"layer {d.layer}"
        assert name in events[0].text and name in d.message and f"step {d.step}" in d.message
        s = t.snapshot(boundary=True)
        assert s.diverged is d and s.step == first
        assert len(s.layers) == cfg.depth
        assert s.events[-1] == events[0]
        t.snapshot()  # and again


def test_run_yields_a_last_snapshot_when_the_run_diverges():
    t = Trainer(Config(activation="relu", depth=4, width=16, init="he", lr=1e3, samples=400))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snaps = list(t.run(200, every=1000))
    assert len(snaps) == 1 and snaps[0].diverged is not None


@pytest.mark.parametrize(
    "cfg",
    [
        pytest.param(
            dict(activation="linear", lr=1e3, init="he", dtype="float32", depth=4, width=16), id="linear-float32"
        ),
        pytest.param(dict(activation="relu", lr=1e3, init="he", dtype="float32", depth=4, width=16), id="relu-float32"),
        # gradients of ~3e244, all finite: their norm must not overflow (it once did, and the run was reported as
        # "the gradients went non-finite" with no layer named)
        pytest.param(
            dict(activation="linear", lr=1e3, init="he", dtype="float64", depth=4, width=16), id="linear-float64"
        ),
    ],
)
def test_divergence_on_measured_steps_names_a_layer_without_a_warning(cfg):
    """The dashboard measures one step in many: a step that diverges while measured must be reported the same way."""
    t = Trainer(Config(samples=400, **cfg))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(50):
            if not t.step(measure=True):
                break
        d = t.diverged
        assert d is not None and d.layer is not None
        s = t.snapshot()
        assert s.diverged is d and f"step {d.step}" in s.events[-1].text
