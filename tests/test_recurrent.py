"""RecurrentNet's interface, and the per-time-step measurements on hand-built weights whose answers are known."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradtui.engine.network import norm64
from gradtui.engine.optim import make_optimiser
from gradtui.engine.recurrent import CELLS, RNN_ACTIVATIONS, RecurrentNet, StepStats, step_and_measure

ROOT = Path(__file__).resolve().parents[1]
N, T, D, H = 8, 12, 3, 6


def batch(seed=0, n=N, t=T, d=D, out=1):
    r = np.random.default_rng(seed)
    return r.normal(size=(n, t, d)).astype(np.float32), r.normal(size=(n, out)).astype(np.float32)


# --- the interface ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", list(CELLS))
def test_params_are_kind_value_grad_triples_with_names(cell):
    net = RecurrentNet(cell, D, H, 2, learn_init_state=True)
    params, names = net.params(), net.param_names()
    assert len(params) == len(names)
    kinds = dict(zip(names, (k for k, _, _ in params)))
    assert kinds["cell.Wx"] == kinds["cell.Wh"] == kinds["out.W"] == "W"  # weight decay applies to these only
    assert kinds["cell.b"] == kinds["out.b"] == "b" and kinds["cell.h0"] == "h0"
    assert ("cell.c0" in kinds) == (cell == "lstm") and ("cell.b_hn" in kinds) == (cell == "gru")
    k = len(CELLS[cell].gates)
    assert net.cell.Wx.shape == (D, k * H) and net.cell.Wh.shape == (H, k * H) and net.W.shape == (H, 2)
    for _, value, grad in params:
        assert value.dtype == grad.dtype == np.float32 and value.shape == grad.shape
    fixed = RecurrentNet(cell, D, H, 2)
    assert not any(k in ("h0", "c0") for k, _, _ in fixed.params())  # zeros, not parameters, by default


@pytest.mark.parametrize("cell", list(CELLS))
def test_shapes_of_outputs_states_and_predictions(cell):
    x, _ = batch()
    last = RecurrentNet(cell, D, H, 4, loss="softmax")
    assert last.forward(x).shape == (N, 4)
    assert last.predict(x).shape == (N,)
    each = RecurrentNet(cell, D, H, 4, readout="each", loss="softmax")
    assert each.forward(x).shape == (N, T, 4)
    assert each.predict(x).shape == (N, T)
    assert each.states().shape == (N, T, H)
    reg = RecurrentNet(cell, D, H, 2, readout="each")
    assert reg.predict(x).shape == (N, T, 2)
    # the readout of "last" is the readout of "each" at the last step: same seed, same weights
    np.testing.assert_allclose(each.forward(x)[:, -1], last.forward(x), rtol=1e-6)


def test_the_same_seed_gives_the_same_weights_and_cells_share_their_first_blocks():
    a, b = RecurrentNet("lstm", D, H, 1, seed=3), RecurrentNet("lstm", D, H, 1, seed=3)
    for (_, p, _), (_, q, _) in zip(a.params(), b.params()):
        np.testing.assert_array_equal(p, q)
    c = RecurrentNet("lstm", D, H, 1, seed=4)
    assert not np.array_equal(a.cell.Wx, c.cell.Wx)
    rnn, gru = RecurrentNet("rnn", D, H, 1, seed=3), RecurrentNet("gru", D, H, 1, seed=3)
    # every (D, H) / (H, H) gate block has its own stream: changing the cell keeps block 1 (and the readout)
    np.testing.assert_array_equal(rnn.cell.Wx, a.cell.Wx[:, :H])
    np.testing.assert_array_equal(gru.cell.Wh[:, : 2 * H], a.cell.Wh[:, : 2 * H])
    np.testing.assert_array_equal(rnn.W, a.W)


def test_recurrent_inits_are_per_gate_block():
    net = RecurrentNet("lstm", D, H, 1, recurrent_init="orthogonal", init="identity", forget_bias=0.5)
    for j in range(4):
        blk = net.cell.Wh[:, j * H : (j + 1) * H].astype(np.float64)
        np.testing.assert_allclose(blk.T @ blk, np.eye(H), atol=1e-5)
        np.testing.assert_array_equal(net.cell.Wx[:, j * H : (j + 1) * H], np.eye(D, H))
    np.testing.assert_array_equal(net.cell.b, np.r_[np.zeros(H), np.full(H, 0.5), np.zeros(2 * H)])
    irnn = RecurrentNet("rnn", D, H, 1, activation="relu", recurrent_init="identity")
    np.testing.assert_array_equal(irnn.cell.Wh, np.eye(H))


def test_float64_and_float32_nets_compute_the_same_function():
    x, y = batch()
    n32 = RecurrentNet("gru", D, H, 1, seed=2)
    n64 = RecurrentNet("gru", D, H, 1, seed=2, dtype="float64")
    assert n64.cell.Wx.dtype == np.float64
    np.testing.assert_allclose(n32.forward(x), n64.forward(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    assert n32.loss_and_grads(x, y) == pytest.approx(n64.loss_and_grads(x.astype(np.float64), y), rel=1e-5)


def test_bad_arguments_are_refused_in_words():
    with pytest.raises(ValueError, match="unknown cell"):
        RecurrentNet("transformer")
    with pytest.raises(ValueError, match="readout"):
        RecurrentNet("lstm", readout="first")
    with pytest.raises(ValueError, match="cannot drive a recurrent cell"):
        RecurrentNet("rnn", activation="maxout")
    with pytest.raises(ValueError, match="float32 or float64"):
        RecurrentNet("rnn", dtype="float16")
    net = RecurrentNet("rnn", D, H, 1)
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        net.forward(np.zeros((N, D), np.float32))
    with pytest.raises(ValueError, match="features per step"):
        net.forward(np.zeros((N, T, D + 1), np.float32))
    with pytest.raises(RuntimeError, match="forward first"):
        net.measure_steps()
    assert "maxout" not in RNN_ACTIVATIONS and "prelu" not in RNN_ACTIVATIONS and "gelu" in RNN_ACTIVATIONS


def test_a_probe_forward_of_another_shape_leaves_training_unchanged():
    """Buffers are kept per (T, N): a probe batch in between does not disturb the next training step."""
    x, y = batch()
    probe, _ = batch(seed=1, n=32, t=20)
    net = RecurrentNet("lstm", D, H, 1)
    net.loss_and_grads(x, y)
    first = [g.copy() for _, _, g in net.params()]
    net.forward(probe)
    net.forward(batch(seed=2, n=5)[0])  # a third shape drops the oldest buffers
    net.loss_and_grads(x, y)
    for (_, _, g), g0 in zip(net.params(), first):
        np.testing.assert_array_equal(g, g0)


def test_importing_the_recurrent_engine_loads_numpy_only():
    code = (
        "import sys; before = set(sys.modules)\n"
        "import gradtui.engine.recurrent, gradtui.engine.tasks\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(n for n in new if n not in sys.stdlib_module_names and n not in ('numpy', 'gradtui')))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- per-step measurements where the answer is known ------------------------------------------------------------


def linear_rnn(scale: float, t: int, dtype="float32") -> tuple[RecurrentNet, np.ndarray, np.ndarray]:
    """h_t = x_t Wx + scale * h_{t-1}: dL/dh_t = scale^(T-t) dL/dh_T exactly (readout at the last step only)."""
    net = RecurrentNet("rnn", D, H, 1, activation="linear", recurrent_init="identity", dtype=dtype, seed=1)
    net.cell.Wh *= scale
    x, y = batch(seed=5, t=t)
    return net, x.astype(dtype), y.astype(dtype)


def test_identity_recurrence_with_a_linear_cell_carries_the_gradient_unchanged():
    net, x, y = linear_rnn(1.0, T)
    net.loss_and_grads(x, y)
    s = net.measure_steps()
    assert isinstance(s, StepStats) and s.has_gradient and s.steps == T
    assert s.signal.dtype == np.float64 and s.signal[-1] > 0
    np.testing.assert_allclose(s.signal, s.signal[-1], rtol=1e-6)
    assert s.through_time_ratio == pytest.approx(1.0, rel=1e-6)
    # and the signal at the last step is the readout's gradient: ||dlogits W^T|| / sqrt(N)
    logits = net.forward(x)
    dh_T = (2 / N) * (logits - y) @ net.W.T
    assert s.signal[-1] == pytest.approx(np.linalg.norm(dh_T.astype(np.float64)) / math.sqrt(N), rel=1e-5)


def test_a_vanishing_gradient_of_1e_minus_24_is_measured_in_float32_not_read_as_zero():
    t = 80
    net, x, y = linear_rnn(0.5, t)
    net.loss_and_grads(x, y)
    s = net.measure_steps()
    expected = 0.5 ** np.arange(t - 1, -1, -1)  # signal[t-1] / signal[T-1] = 0.5^(T - t)
    np.testing.assert_allclose(s.signal / s.signal[-1], expected, rtol=1e-4)
    assert s.through_time_ratio == pytest.approx(0.5 ** (t - 1), rel=1e-4)  # 3.3e-24: its float32 square is 0
    assert norm64(net.cell.buf["dH"][0]) > 0


def test_an_exploding_recurrence_is_measured_too():
    net, x, y = linear_rnn(1.5, 40, dtype="float64")
    net.loss_and_grads(x, y)
    assert net.measure_steps().through_time_ratio == pytest.approx(1.5**39, rel=1e-9)


def test_without_a_backward_the_gradient_figures_are_nan():
    net, x, y = linear_rnn(1.0, T)
    net.forward(x)
    s = net.measure_steps()
    assert not s.has_gradient and np.isnan(s.signal).all() and math.isnan(s.through_time_ratio)
    assert np.isfinite(s.state_norm).all()
    net.loss_and_grads(x, y)
    assert net.measure_steps().has_gradient
    net.forward(x)  # a later forward makes the last backward's figures stale
    assert not net.measure_steps().has_gradient


def saturated_lstm(bias_i: float, bias_f: float, bias_o: float, bias_g: float) -> RecurrentNet:
    """An LSTM driven by its biases alone (zero weights): every gate is the same constant at every step."""
    net = RecurrentNet("lstm", D, H, 1)
    net.cell.Wx[...] = 0
    net.cell.Wh[...] = 0
    net.cell.b[...] = np.repeat([bias_i, bias_f, bias_o, bias_g], H)
    return net


def test_huge_biases_saturate_every_gate_and_the_cell_counts_the_steps():
    net = saturated_lstm(50, 50, 50, 50)  # i = f = o = g = 1: c_t = c_{t-1} + 1 = t, h_t = tanh(t)
    x, y = batch()
    net.loss_and_grads(x, y)
    s = net.measure_steps(hist_step=1)
    assert [g.name for g in s.gates] == ["i", "f", "o", "g"]
    assert s.gate("f").label == "forget gate" and s.gate("g").low == -1.0
    for g in s.gates:
        np.testing.assert_allclose(g.mean, 1.0, atol=1e-6)
        np.testing.assert_array_equal(g.saturation, 1.0)
        assert g.overall_saturation == 1.0
    steps = np.arange(1, T + 1)
    np.testing.assert_allclose(s.cell_norm, steps * math.sqrt(H), rtol=1e-6)  # ||c_t|| / sqrt(N) = t sqrt(H)
    np.testing.assert_allclose(s.state_norm, np.tanh(steps) * math.sqrt(H), rtol=1e-6)
    # every h at step 1 is tanh(1) = 0.76: one bin of the [-1, 1] histogram holds all N H values
    assert s.hist_step == 1 and s.hist_edges[0] == -1.0 and s.hist_edges[-1] == 1.0
    assert s.hist_counts.sum() == N * H and s.hist_counts.max() == N * H
    k = int(np.argmax(s.hist_counts))
    assert s.hist_edges[k] <= np.tanh(1.0) < s.hist_edges[k + 1]


def test_closed_gates_and_a_neutral_candidate():
    net = saturated_lstm(-50, 50, -50, 0)  # i = o = 0, f = 1, g = tanh(0) = 0: nothing enters, nothing leaves
    x, y = batch()
    net.forward(x)
    s = net.measure_steps()
    np.testing.assert_allclose(s.gate("i").mean, 0.0, atol=1e-6)
    np.testing.assert_array_equal(s.gate("i").saturation, 1.0)
    np.testing.assert_array_equal(s.gate("g").mean, 0.0)
    np.testing.assert_array_equal(s.gate("g").saturation, 0.0)
    np.testing.assert_array_equal(s.cell_norm, 0.0)
    with pytest.raises(KeyError):
        s.gate("z")


def test_half_open_gates_are_not_saturated():
    net = saturated_lstm(0, 0, 0, 0)  # every sigmoid gate 1/2
    net.forward(batch()[0])
    s = net.measure_steps()
    for name in "ifo":
        np.testing.assert_allclose(s.gate(name).mean, 0.5, atol=1e-6)
        np.testing.assert_array_equal(s.gate(name).saturation, 0.0)


def test_gru_with_a_shut_update_gate_keeps_its_state_and_carries_the_gradient():
    """z = 1: next_h = prev_h. With h0 learned and set, the state is h0 at every step, and dL/dh_t = dL/dh_T."""
    net = RecurrentNet("gru", D, H, 1, learn_init_state=True, dtype="float64")
    net.cell.b[H : 2 * H] = 60.0  # z = sigmoid(60 + ...) = 1 to double precision
    net.cell.h0[...] = np.linspace(-0.5, 0.5, H)
    x, y = batch()
    net.loss_and_grads(x.astype(np.float64), y)
    s = net.measure_steps()
    assert [g.name for g in s.gates] == ["r", "z", "n"] and s.cell_norm is None
    np.testing.assert_array_equal(s.gate("z").saturation, 1.0)
    np.testing.assert_allclose(s.state_norm, np.linalg.norm(net.cell.h0), rtol=1e-12)
    np.testing.assert_allclose(s.signal, s.signal[-1], rtol=1e-12)


def test_dead_relu_units_are_found_and_only_those():
    net = RecurrentNet("rnn", D, H, 1, activation="relu", seed=2)
    dead = [1, 4]
    net.cell.b[dead] = -100.0  # a = x Wx + h Wh - 100 < 0 at every step for these units
    x, y = batch()
    net.loss_and_grads(x, y)
    s = net.measure_steps()
    assert s.activation == "relu"
    np.testing.assert_array_equal(np.flatnonzero(s.dead), dead)
    assert s.dead_count == 2
    assert (s.saturation >= 2 / H).all()  # the dead units' share at least
    tanh = RecurrentNet("rnn", D, H, 1)
    tanh.forward(x)
    t = tanh.measure_steps()
    assert t.dead is None and t.dead_count == 0 and t.gates == () and t.cell_norm is None
    assert t.hist_edges[0] == -1.0 and t.hist_edges[-1] == 1.0  # tanh's range


def test_relu_state_histogram_spans_zero_to_the_largest_state():
    net = RecurrentNet("rnn", D, H, 1, activation="relu", seed=2)
    x, _ = batch()
    net.forward(x)
    s = net.measure_steps(hist_step=3, bins=10)
    h3 = net.states()[:, 2]
    assert s.hist_edges[0] == 0.0 and s.hist_edges[-1] == pytest.approx(float(h3.max()))
    assert len(s.hist_counts) == 10 and s.hist_counts.sum() == N * H
    assert s.hist_counts[0] >= np.count_nonzero(h3 == 0)
    with pytest.raises(ValueError, match="hist_step"):
        net.measure_steps(hist_step=T + 1)


def test_step_and_measure_reports_grad_norms_and_update_ratios():
    net = RecurrentNet("lstm", D, H, 1, learn_init_state=True)
    x, y = batch()
    lr = 0.05
    opt = make_optimiser("sgd", net.params(), lr)
    net.loss_and_grads(x, y)
    grads = [g.copy() for _, _, g in net.params()]
    values = [p.copy() for _, p, _ in net.params()]
    stats = step_and_measure(net, opt)
    assert [s.name for s in stats] == net.param_names()
    for s, g, p0, (_, p, _) in zip(stats, grads, values, net.params()):
        assert s.grad_norm == pytest.approx(np.linalg.norm(g.astype(np.float64)), rel=1e-5)
        if np.any(p0):  # SGD: ||dp|| / ||p|| = lr ||g|| / ||p||
            assert s.update_ratio == pytest.approx(lr * s.grad_norm / np.linalg.norm(p0.astype(np.float64)), rel=1e-3)
        else:  # h0 and c0 start at zero: moved, the ratio to 0 is inf
            assert s.grad_norm > 0 and s.update_ratio == math.inf
        np.testing.assert_allclose(p, p0 - lr * g, rtol=1e-6, atol=1e-9)  # and the step was taken


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gate_figures_are_the_definitions_applied_to_the_gate_values(cell):
    """Whatever shortcut a cell takes (the LSTM reads saturation off its derivative buffer), the figures are the
    mean gate value and the share below 0.05 / above 0.95 (sigmoid) or beyond +-0.9 (tanh), per step."""
    net = RecurrentNet(cell, D, H, 1, init="normal:2", recurrent_init="normal:1", dtype="float64", seed=6)
    x, _ = batch(seed=6)
    net.forward(x.astype(np.float64))
    s = net.measure_steps()
    k = 0
    for name, values, (lo, hi) in net.cell.gate_values():
        v = values.reshape(T, -1)
        g = s.gate(name)
        assert (g.low, g.high) == (lo, hi) == ((-1.0, 1.0) if name in "gn" else (0.0, 1.0))
        np.testing.assert_allclose(g.mean, v.mean(axis=1), rtol=1e-12, atol=1e-15)
        edge = 0.05 * (hi - lo)
        np.testing.assert_array_equal(g.saturation, ((v < lo + edge) | (v > hi - edge)).mean(axis=1))
        k += 1
        assert 0 < g.overall_saturation < 1  # a mix, so that the comparison means something
    assert k == len(s.gates) == (4 if cell == "lstm" else 3)
