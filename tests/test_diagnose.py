"""diagnose(): one hand-made Snapshot per alert, plus ordering, formatting and unmeasured figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradtui.diagnose import Alert, diagnose, fmt_num, fmt_pct, one_line
from gradtui.engine import Config, Divergence, LayerStats, Snapshot, Trainer

NAN = math.nan


def layer(index: int, *, units: int = 10, **kw) -> LayerStats:
    """A healthy layer unless told otherwise."""
    values = dict(
        index=index,
        units=units,
        grad_norm=1e-2,
        bias_grad_norm=1e-3,
        signal_norm=1e-2,
        update_ratio=1e-3,
        dead=0,
        saturation=0.05,
        mean=0.0,
        std=0.5,
        hist_edges=np.linspace(-1, 1, 5),
        hist_counts=np.zeros(4, dtype=np.int64),
        pre_edges=np.linspace(-1, 1, 5),
        pre_counts=np.zeros(4, dtype=np.int64),
        deriv=np.ones(4),
        dead_since=np.full(units, -1, dtype=np.int64),
    )
    values.update(kw)
    return LayerStats(**values)


def snap(layers, *, activation: str = "relu", vanishing: float = 1.0, **kw) -> Snapshot:
    return Snapshot(
        step=100,
        run_step=100,
        loss=1.0,
        accuracy=0.5,
        test_loss=1.0,
        test_accuracy=0.5,
        config=Config(activation=activation, depth=len(layers), width=10),
        layers=tuple(layers),
        vanishing_ratio=vanishing,
        **kw,
    )


def healthy(n: int = 4, **kw) -> list[LayerStats]:
    return [layer(i, **kw) for i in range(1, n + 1)]


def keys(s: Snapshot) -> list[str]:
    return [a.key for a in diagnose(s)]


def test_formats():
    assert fmt_num(3.2e-7) == "3e-7"
    assert fmt_num(2.5e4) == "2e4"
    assert fmt_num(0.05) == "0.05"
    assert fmt_num(3.2e-7, 2) == "3.2e-7"
    assert fmt_num(0.0) == "0" and fmt_num(NAN) == "n/a" and fmt_num(-math.inf) == "-inf"
    assert fmt_pct(0.834) == "83%" and fmt_pct(0.1) == "10%" and fmt_pct(1.0) == "100%"
    assert fmt_pct(0.004) == "0.4%" and fmt_pct(0.0) == "0%" and fmt_pct(0.097) == "10%"


def test_healthy():
    alerts = diagnose(snap(healthy()))
    assert alerts == [Alert("info", "healthy", "gradient flow looks healthy")]
    assert one_line(snap(healthy())) == "gradient flow looks healthy"


def test_divergence_is_the_whole_story():
    d = Divergence(812, 4, "weights", "diverged at step 812: layer 4's weights went NaN/Inf")
    nan_layers = [layer(i, grad_norm=NAN, update_ratio=NAN, saturation=0.9, dead=9) for i in range(1, 5)]
    alerts = diagnose(snap(nan_layers, vanishing=NAN, diverged=d))
    assert len(alerts) == 1
    a = alerts[0]
    assert (a.level, a.key, a.layer) == ("error", "diverged", 4)
    assert a.text == "diverged at step 812: layer 4's weights went NaN/Inf — lower the learning rate"


def test_vanishing():
    s = snap(healthy(10), activation="sigmoid", vanishing=3.2e-7)
    a = diagnose(s)[0]
    assert (a.level, a.key, a.layer) == ("warning", "vanishing", 1)
    assert a.text == (
        "vanishing: layer 1 gets 3e-7 of the gradient signal of layer 10 — try ReLU + He init, batch norm or residual"
    )
    assert one_line(snap(healthy(3), vanishing=0.0)) == (
        "vanishing: layer 1 gets none of the gradient signal of layer 3 — try He init, batch norm or residual"
    )  # already a ReLU net: no point in suggesting one
    assert keys(snap(healthy(), vanishing=1.1e-3)) == ["healthy"]


def test_exploding_signal():
    a = diagnose(snap(healthy(5), vanishing=2.4e4))[0]
    assert (a.key, a.layer) == ("exploding", 1)
    assert a.text.startswith("exploding: layer 1 gets 2e4x the gradient signal of layer 5 — ")


def test_exploding_update_of_one_layer():
    layers = healthy(5)
    layers[2] = layer(3, update_ratio=0.4)
    a = diagnose(snap(layers))[0]
    assert (a.key, a.layer) == ("exploding", 3)
    assert "layer 3's weights by 40%" in a.text and "lower the learning rate" in a.text


def test_dead_units():
    layers = healthy(4, units=50)
    layers[2] = layer(3, units=50, dead=19)
    a = diagnose(snap(layers))[0]
    assert (a.key, a.layer) == ("dead", 3)
    assert a.text == (
        "38% of layer 3's units are dead — lower the learning rate, use leaky ReLU/ELU, or a small positive bias"
    )
    layers[0] = layer(1, units=50, dead=5)
    assert "(2 layers over 10%)" in one_line(snap(layers))
    layers = healthy(4, units=50)
    layers[1] = layer(2, units=50, dead=4)  # 8%: below the line
    assert keys(snap(layers)) == ["healthy"]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_saturation(activation):
    layers = healthy(4)
    layers[1] = layer(2, saturation=0.834)
    a = diagnose(snap(layers, activation=activation))[0]
    assert (a.key, a.layer) == ("saturated", 2)
    assert a.text == "layer 2 is 83% saturated (f' < 5% of its max) — try Xavier init, a smaller lr, or batch norm"
    layers[3] = layer(4, saturation=0.6)
    assert "; 2 layers over 50%)" in one_line(snap(layers, activation=activation))


def test_saturation_is_not_an_alert_for_relu():
    layers = [layer(i, saturation=0.7) for i in range(1, 4)]  # ReLU's inactive half: normal
    assert keys(snap(layers, activation="relu")) == ["healthy"]
    assert keys(snap([layer(1, saturation=0.5)], activation="tanh")) == ["healthy"]  # not above 50%


def test_learning_slowly():
    layers = [layer(i, update_ratio=r) for i, r in enumerate([1e-7, 3e-6, 3e-6, 1e-3], 1)]
    a = diagnose(snap(layers))[0]
    assert a.key == "slow"
    assert a.text == "learning very slowly (update/weight 3e-6) — raise the learning rate"


def test_updates_too_big():
    layers = [layer(i, update_ratio=r) for i, r in enumerate([0.08, 0.12, 0.15], 1)]
    alerts = diagnose(snap(layers))
    assert [a.key for a in alerts] == ["fast"]  # all layers jump: the learning rate, not one exploding layer
    assert alerts[0].text == "updates are 12% of the weights — lower the learning rate"


def test_order_most_severe_first():
    layers = [layer(i, units=10, dead=5, saturation=0.9, update_ratio=1e-7) for i in range(1, 4)]
    s = snap(layers, activation="tanh", vanishing=1e-5)
    assert keys(s) == ["vanishing", "dead", "saturated", "slow"]
    assert one_line(s).startswith("vanishing:")


def test_unmeasured_fields_do_not_raise_or_alert():
    layers = [layer(i, grad_norm=NAN, signal_norm=NAN, update_ratio=NAN, saturation=NAN, mean=NAN) for i in (1, 2)]
    assert diagnose(snap(layers, vanishing=NAN)) == [Alert("info", "unmeasured", "no gradient measured yet")]
    layers = [layer(i, update_ratio=NAN) for i in (1, 2)]  # step 0: no update taken yet
    assert keys(snap(layers)) == ["healthy"]
    layers = [layer(1, update_ratio=math.inf), layer(2)]  # an all-zero weight matrix
    assert keys(snap(layers)) == ["healthy"]


def test_real_snapshots():
    """The deep sigmoid default vanishes from step 0; a ReLU/He net of the same size does not."""
    deep = Trainer(Config(depth=10, width=16, samples=100, probe_size=50)).snapshot()
    assert diagnose(deep)[0].key == "vanishing"
    relu = Trainer(Config(activation="relu", init="he", depth=4, width=16, samples=100, probe_size=50))
    s = list(relu.run(20, every=20))[-1]
    assert diagnose(s)[0].level != "error"
