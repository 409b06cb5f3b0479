"""BPTT's zeroing of vanished gradient entries (gradtui.engine.recurrent: ZERO_BELOW, FLUSH_WATCH).

A gradient that has vanished into float32 subnormals makes x86 arithmetic many times slower; the cells zero da's
entries below ZERO_BELOW before the matrix products once the gradient is that small. These tests hold the claim that
this changes no weight: twins with the zeroing off train to the same bits, and the figures of measured steps are
those of the unzeroed backward.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gradtui.engine import Config, make_trainer
from gradtui.engine.recurrent import CELLS, FLUSH_WATCH, ZERO_BELOW, RecurrentNet

TINY = np.finfo(np.float32).tiny


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def subnormals(a: np.ndarray) -> int:
    m = np.abs(a)
    return int(((m > 0) & (m < TINY)).sum())


def vanishing_net(cell: str, zeroing: bool, exact: bool) -> RecurrentNet:
    """A net whose gradient vanishes fast back in time (recurrent weights of std 0.05, H = 16; the LSTM's forget
    gate near 0.12, the GRU's direct path z ~ 1/2 a step), run through a forward and a backward of T = 200 steps:
    step 1's dL/dh is far below float32's smallest normal."""
    net = RecurrentNet(cell, 2, 16, 1, recurrent_init="normal:0.05", dtype="float32", seed=3, forget_bias=-2.0)
    net.cell.flush_subnormals, net.cell.exact_figures = zeroing, exact
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 200, 2)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    net.loss_and_grads(x, y)
    return net


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("exact", [False, True])
def test_zeroing_changes_no_gradient_entry_that_could_move_a_weight(cell, exact):
    off, on = vanishing_net(cell, False, exact), vanishing_net(cell, True, exact)
    assert on.cell._flushing and not off.cell._flushing  # it did zero, and the twin did not
    assert subnormals(off.cell.buf["dH"]) > 0  # the case it is for: the plain backward holds subnormals
    if not exact:
        assert subnormals(on.cell.buf["dH"]) == 0  # below 1e-30 zeroed: the products make none either
    for (name, _, g_off), (_, _, g_on) in zip(off.params(), on.params()):
        # each entry differs by at most what T zeroed entries of ZERO_BELOW could add, and entries that a weight
        # update could feel (above 1e-20) are the same bits
        assert np.max(np.abs(g_off - g_on)) <= 200 * ZERO_BELOW, name
        big = np.abs(g_off) > 1e-20
        assert np.array_equal(g_off[big], g_on[big]), name


def test_a_normal_gradient_is_left_alone():
    """The same nets with orthogonal recurrent weights: the gradient does not vanish, nothing is zeroed, same bits."""
    nets = []
    for zeroing in (False, True):
        net = RecurrentNet("rnn", 2, 16, 1, dtype="float32", seed=3)
        net.cell.flush_subnormals, net.cell.exact_figures = zeroing, False
        rng = np.random.default_rng(0)
        net.loss_and_grads(rng.standard_normal((32, 30, 2)).astype(np.float32), np.ones((32, 1), np.float32))
        nets.append(net)
    dH = nets[1].cell.buf["dH"]
    assert not nets[1].cell._flushing and np.linalg.norm(dH[0]) > FLUSH_WATCH
    for (_, _, a), (_, _, b) in zip(nets[0].params(), nets[1].params()):
        assert np.array_equal(a, b)


def test_twin_trainers_with_and_without_zeroing_train_to_the_same_weights():
    """Adam (the recurrent default) divides by sqrt(v) + eps: the strongest test that zeroed entries move nothing.
    Every tenth step measured, as the dashboard does: both kinds of backward are exercised."""
    config = Config.for_model("rnn", seq_len=100, recurrent_init="normal:0.01", batch_size=32, probe_size=32)
    twins = []
    for zeroing in (False, True):
        t = make_trainer(config)
        t.net.cell.flush_subnormals = zeroing
        for i in range(60):
            t.step(measure=i % 10 == 0)
        twins.append(t)
    assert twins[1].net.cell._flushing  # the run was in the case the zeroing is for
    for (name, a, _), (_, b, _) in zip(twins[0].net.params(), twins[1].net.params()):
        assert np.array_equal(a, b), name
    # an unmeasured step zeroes what is below 1e-30: step 1's figure reads 0 ...
    assert twins[1].net.measure_steps().signal[0] == 0
    # ... and a measured step's figures are the unzeroed ones, down to step 1's 2e-35
    figs = []
    for t in twins:
        t.step(measure=True)
        figs.append(t.net.measure_steps().signal)
    assert 0 < figs[0][0] < ZERO_BELOW
    np.testing.assert_allclose(figs[1], figs[0], rtol=1e-6)


def test_float64_is_never_zeroed():
    net = RecurrentNet("rnn", 2, 16, 1, recurrent_init="normal:0.05", dtype="float64", seed=3)
    net.cell.exact_figures = False
    rng = np.random.default_rng(0)
    net.loss_and_grads(rng.standard_normal((8, 120, 2)), rng.standard_normal((8, 1)))
    assert not net.cell._flushing
    assert 0 < np.abs(net.cell.buf["dH"][0]).max() < ZERO_BELOW  # it had vanished that far: float64 keeps it
