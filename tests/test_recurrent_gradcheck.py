"""BPTT of every recurrent cell against float64 central finite differences: every entry of every parameter (gates'
weights and biases, a learnable h0 and c0, the readout), both readouts, clipping off and on; and proof that the
checker fails on the slips BPTT invites (a gate derivative off by 1 %, a transposed Wh gradient, a missing
through-time term)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gradtui.engine.gradcheck import check_recurrent, numerical_gradient, recurrent_errors, rel_error
from gradtui.engine.optim import make_optimiser
from gradtui.engine.recurrent import RNN_ACTIVATIONS, GRUCell, LSTMCell, RecurrentNet, RNNCell

TOL = 1e-4  # as check_network's: a correct BPTT measured <= 1e-5 here, each slip below >= 4e-2
N, T, D, H = 3, 6, 3, 4
# pre-activations of these activations have kinks (f' jumps) where finite differences straddle two slopes
KINKS = {"relu": (0.0,), "leaky_relu": (0.0,), "selu": (0.0,), "relu6": (0.0, 6.0), "hardswish": (-3.0, 3.0)}


def make_net(cell="lstm", readout="last", loss="linear", activation="tanh", seed=0, classes=3, **kw):
    """A float64 net with a learnable h0 (and c0), every parameter moved off its initial value, and a batch."""
    out_dim = classes if loss == "softmax" else 2
    net = RecurrentNet(cell, D, H, out_dim, activation=activation, readout=readout, loss=loss, dtype="float64",
                       learn_init_state=True, seed=seed, **kw)  # fmt: skip
    r = np.random.default_rng(100 + seed)
    for _, p, _ in net.params():  # biases, h0, c0 nonzero; weights away from their structured initial values
        p += r.normal(0.0, 0.3, p.shape)
    x = r.normal(0.0, 1.0, (N, T, D))
    if loss == "softmax":
        y = r.integers(0, classes, (N, T) if readout == "each" else N)
    else:
        y = r.normal(0.0, 1.0, (N, T, out_dim) if readout == "each" else (N, out_dim))
    return net, x, y


def kink_distance(net: RecurrentNet, x: np.ndarray) -> float:
    """How close any pre-activation of the last forward comes to a kink of the activation (inf if smooth)."""
    net.forward(x)
    kinks = KINKS.get(net.cell.act.name, ()) if isinstance(net.cell, RNNCell) else ()
    a = net.cell.buf["G"]
    return min((float(np.abs(a - k).min()) for k in kinks), default=np.inf)


CASES = [
    *itertools.product(["lstm", "gru"], ["tanh"], ["last", "each"], ["linear", "softmax"]),
    *itertools.product(["rnn"], ["tanh", "relu"], ["last", "each"], ["linear", "softmax"]),
]


@pytest.mark.parametrize(("cell", "activation", "readout", "loss"), CASES, ids=["-".join(c) for c in CASES])
def test_bptt_matches_finite_differences_for_every_parameter(cell, activation, readout, loss):
    net, x, y = make_net(cell, readout, loss, activation)
    assert kink_distance(net, x) > 1e-5  # a failure below is the backward's, not the finite differences'
    names = net.param_names()
    expected = {"rnn": 3, "lstm": 3, "gru": 4}[cell] + {"rnn": 1, "lstm": 2, "gru": 1}[cell] + 2
    assert len(names) == expected and "cell.h0" in names and ("cell.c0" in names) == (cell == "lstm")
    errors = recurrent_errors(net, x, y)
    assert set(errors) == set(names)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("activation", [a for a in RNN_ACTIVATIONS if a not in ("tanh", "relu")])
def test_rnn_bptt_with_every_other_activation(activation):
    net, x, y = make_net("rnn", "last", "linear", activation, seed=1)
    assert kink_distance(net, x) > 1e-5
    assert check_recurrent(net, x, y) < TOL


@pytest.mark.parametrize("readout", ["last", "each"])
def test_bptt_with_a_sigmoid_binary_cross_entropy_readout(readout):
    net = RecurrentNet("gru", D, H, 1, readout=readout, loss="sigmoid", dtype="float64", learn_init_state=True, seed=6)
    r = np.random.default_rng(6)
    x, y = r.normal(size=(N, T, D)), r.integers(0, 2, (N, T) if readout == "each" else N)
    assert check_recurrent(net, x, y) < TOL


@pytest.mark.parametrize("forget_bias", [0.0, 1.0])
def test_lstm_bptt_whatever_the_forget_bias(forget_bias):
    net, x, y = make_net("lstm", "last", "linear", forget_bias=forget_bias, seed=2)
    assert net.cell.b[H : 2 * H].mean() == pytest.approx(forget_bias, abs=0.5)  # moved by N(0, 0.3) noise only
    assert check_recurrent(net, x, y) < TOL


def test_a_long_sequence_whose_gradient_vanishes_is_checked_too():
    """T = 40: entries of dWh from the early steps are tiny; the comparison is absolute below the floor."""
    net = RecurrentNet("rnn", D, H, 1, readout="last", dtype="float64", learn_init_state=True, seed=3)
    r = np.random.default_rng(3)
    x, y = r.normal(size=(N, 40, D)), r.normal(size=(N, 1))
    assert check_recurrent(net, x, y) < TOL
    net.loss_and_grads(x, y)
    assert net.measure_steps().through_time_ratio < 1e-3  # it really vanishes


def test_check_recurrent_refuses_float32_and_leaves_the_parameters_as_they_were():
    net32 = RecurrentNet("lstm", D, H, 2)
    with pytest.raises(ValueError, match="float64"):
        check_recurrent(net32, np.zeros((N, T, D)), np.zeros((N, 2)))
    net, x, y = make_net("gru")
    before = [p.copy() for _, p, _ in net.params()]
    check_recurrent(net, x, y)
    for (_, p, _), p0 in zip(net.params(), before):
        np.testing.assert_array_equal(p, p0)


def test_backward_twice_gives_the_same_gradients_not_twice_them():
    net, x, y = make_net("lstm", "each", "softmax")
    net.loss_and_grads(x, y)
    first = [g.copy() for _, _, g in net.params()]
    net.loss_and_grads(x, y)
    for (_, _, g), g0 in zip(net.params(), first):
        np.testing.assert_array_equal(g, g0)


def test_public_backward_equals_loss_and_grads():
    """forward + loss.backward + backward(dlogits) with batch-first dlogits, as a trainer would call them."""
    for readout, loss in (("last", "linear"), ("each", "softmax")):
        net, x, y = make_net("gru", readout, loss)
        net.loss_and_grads(x, y)
        expected = [g.copy() for _, _, g in net.params()]
        logits = net.forward(x)
        N_, O = logits.shape[0], logits.shape[-1]
        if readout == "each":
            net.loss.forward(logits.reshape(-1, O), y.reshape(-1))
            net.backward(net.loss.backward().reshape(N_, T, O))
        else:
            net.loss.forward(logits, y)
            net.backward(net.loss.backward())
        for (_, _, g), g0 in zip(net.params(), expected):
            np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-15)


# --- clipping: the optimiser's step is the finite-difference gradient, scaled to the clip norm ------------------

CLIP_CASES = list(itertools.product(["rnn", "lstm", "gru"], ["last", "each"], [False, True]))
CLIP_IDS = [f"{c}-{r}-clip{int(k)}" for c, r, k in CLIP_CASES]


@pytest.mark.parametrize(("cell", "readout", "clip"), CLIP_CASES, ids=CLIP_IDS)
def test_sgd_step_is_the_finite_difference_gradient_clipped_to_the_norm(cell, readout, clip):
    loss = "softmax" if readout == "each" else "linear"
    net, x, y = make_net(cell, readout, loss, seed=4)
    params = net.params()
    numeric = [numerical_gradient(lambda: net.compute_loss(x, y), p) for _, p, _ in params]
    total = float(np.sqrt(sum(np.sum(g * g) for g in numeric)))
    max_norm = total / 3 if clip else 0.0  # 0: clipping off
    lr = 0.1
    opt = make_optimiser("sgd", params, lr, clip=max_norm)
    before = [p.copy() for _, p, _ in params]
    net.loss_and_grads(x, y)
    opt.step()
    scale = max_norm / total if clip else 1.0
    assert opt.last_clip_scale == pytest.approx(scale, rel=1e-6)
    for (_, p, _), p0, g in zip(params, before, numeric):
        assert rel_error((p0 - p) / lr, scale * g, 1e-5) < TOL
    moved = np.sqrt(sum(np.sum((p0 - p) ** 2) for (_, p, _), p0 in zip(params, before))) / lr
    assert moved == pytest.approx(max_norm if clip else total, rel=1e-6)  # the step's norm is the clip norm


# --- the checker fails on wrong gradients ---------------------------------------------------------------------


class ForgetSlipLSTM(LSTMCell):
    """The forget gate's derivative 1 % too large."""

    def step_forward(self, s):
        super().step_forward(s)
        self.buf["D"][s, self.hidden : 2 * self.hidden] *= 1.01


class TransposedWhRNN(RNNCell):
    def backward(self, dh_out):
        super().backward(dh_out)
        self.dWh[...] = self.dWh.T.copy()


class TransposedWhLSTM(LSTMCell):
    """Each gate's (H, H) block of dWh transposed."""

    def backward(self, dh_out):
        super().backward(dh_out)
        H = self.hidden
        for j in range(4):
            blk = self.dWh[:, j * H : (j + 1) * H]
            blk[...] = blk.T.copy()


class NoThroughTimeRNN(RNNCell):
    """Truncated to one step: dL/dh_{t-1} loses the da Wh^T term."""

    def step_backward(self, s, dnext_h, dprev_h):
        super().step_backward(s, dnext_h, dprev_h)
        dprev_h[...] = 0


class NoCellCarryLSTM(LSTMCell):
    """dL/dc_{t-1} = dc * f dropped: the cell state's own path through time, the LSTM's whole point."""

    def step_backward(self, s, dnext_h, dprev_h):
        super().step_backward(s, dnext_h, dprev_h)
        self.buf["dc"][...] = 0


class NoDirectPathGRU(GRUCell):
    """dprev_h without its dnext_h * z term (the update gate's direct path through time)."""

    def step_backward(self, s, dnext_h, dprev_h):
        super().step_backward(s, dnext_h, dprev_h)
        dprev_h -= dnext_h * self.buf["G"][s, self.hidden : 2 * self.hidden]


FAULTS = [
    ("lstm", ForgetSlipLSTM, "cell.Wx"),
    ("rnn", TransposedWhRNN, "cell.Wh"),
    ("lstm", TransposedWhLSTM, "cell.Wh"),
    ("rnn", NoThroughTimeRNN, "cell.Wh"),
    ("lstm", NoCellCarryLSTM, "cell.c0"),
    ("gru", NoDirectPathGRU, "cell.h0"),
]


@pytest.mark.parametrize(("cell", "faulty", "caught_in"), FAULTS, ids=[f[1].__name__ for f in FAULTS])
@pytest.mark.parametrize("readout", ["last", "each"])
def test_the_checker_fails_on_a_wrong_bptt(cell, faulty, caught_in, readout):
    net, x, y = make_net(cell, readout, "softmax" if readout == "each" else "linear", seed=5)
    assert check_recurrent(net, x, y) < TOL  # the same net, data and checker pass when the BPTT is right
    net.cell.__class__ = faulty
    errors = recurrent_errors(net, x, y)
    assert max(errors.values()) > 10 * TOL
    assert errors[caught_in] > 10 * TOL, errors
