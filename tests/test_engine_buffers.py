"""The engine's speed paths: parameters in one flat array, the optimisers' whole-array updates, and work arrays
reused from step to step (also when the batch size changes live)."""

from __future__ import annotations

import numpy as np
import pytest

from gradtui.engine import Change, Config, Trainer
from gradtui.engine.gradcheck import check_network
from gradtui.engine.optim import flat_layout, make_optimiser

SMALL = dict(depth=3, width=6, samples=200, dataset="spiral")


def test_every_parameter_and_gradient_is_a_view_into_one_flat_array_each():
    t = Trainer(Config(activation="prelu", batchnorm=True, **SMALL))
    net = t.net
    params = net.params()
    assert sum(p.size for _, p, _ in params) == net.flat_params.size == net.flat_grads.size
    for _, p, g in params:
        assert np.shares_memory(p, net.flat_params) and np.shares_memory(g, net.flat_grads)
    layout = flat_layout(params)
    assert layout is not None and layout[0] is net.flat_params and layout[1] is net.flat_grads
    # the weight matrices (and only they) lie in the weight spans
    in_span = np.zeros(net.flat_params.size, dtype=bool)
    for a, b in layout[2]:
        in_span[a:b] = True
    for kind, p, _ in params:
        start = (p.__array_interface__["data"][0] - net.flat_params.__array_interface__["data"][0]) // p.itemsize
        assert in_span[start : start + p.size].all() == (kind == "W")
        assert in_span[start : start + p.size].any() == (kind == "W")


def test_separate_arrays_are_not_taken_for_a_flat_layout():
    r = np.random.default_rng(0)
    W, b = r.normal(size=(3, 2)), r.normal(size=2)
    assert flat_layout([("W", W, np.zeros_like(W)), ("b", b, np.zeros_like(b))]) is None
    P, G = np.zeros(8), np.zeros(8)
    gappy = [("W", P[:6].reshape(3, 2), G[:6].reshape(3, 2)), ("b", P[7:], G[7:])]  # P[6] belongs to nobody
    assert flat_layout(gappy) is None
    shifted = [("W", P[:6].reshape(3, 2), G[2:8].reshape(3, 2)), ("b", P[6:], G[:2])]  # offsets differ
    assert flat_layout(shifted) is None


def copies(params):
    """The same parameters and gradients in separate arrays (so the optimiser takes its per-parameter path)."""
    return [(k, p.copy(), g.copy()) for k, p, g in params]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize(("weight_decay", "clip"), [(0.0, 0.0), (0.3, 0.0), (0.0, 1e-3), (0.2, 1e-3)])
def test_the_flat_update_equals_the_per_parameter_update(optimizer, weight_decay, clip):
    t = Trainer(Config(activation="tanh", dtype="float64", **SMALL))
    net = t.net
    net.loss_and_grads(t.X[:32], t.y[:32])
    flat = make_optimiser(optimizer, net.params(), 0.05, weight_decay, clip, 0.9)
    separate_params = copies(net.params())
    separate = make_optimiser(optimizer, separate_params, 0.05, weight_decay, clip, 0.9)
    assert flat.flat is not None and separate.flat is None
    for _ in range(3):  # several steps: momentum and Adam carry state
        flat.step()
        separate.step()
        assert flat.last_clip_scale == pytest.approx(separate.last_clip_scale, rel=1e-12)
    for (_, p, _), (_, q, _) in zip(net.params(), separate_params):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)


def test_weight_copies_are_copies_of_each_blocks_weights():
    t = Trainer(Config(activation="relu", **SMALL))
    before = t.net.weight_copies()
    for b, w in zip(t.net.blocks, before):
        np.testing.assert_array_equal(w, b.dense.W)
        assert not np.shares_memory(w, b.dense.W)
    t.step()
    assert any(not np.array_equal(w, b.dense.W) for b, w in zip(t.net.blocks, before))


@pytest.mark.parametrize("activation", ["relu", "gelu", "prelu", "maxout", "swish", "hardswish", "rrelu"])
@pytest.mark.parametrize("residual", [False, True])
def test_gradients_stay_right_when_the_batch_size_changes_between_calls(activation, residual):
    """Work arrays are made per batch size: the finite-difference check passes on 16, then 7, then 16 examples."""
    t = Trainer(Config(activation=activation, dtype="float64", residual=residual, **SMALL))
    for n in (16, 7, 16):
        x, y = t.X[:n], t.y[:n]
        assert check_network(t, x, y, per_param=4) < 1e-4


def test_a_live_batch_size_change_trains_on_batches_of_the_new_size():
    t = Trainer(Config(activation="relu", batch_size=32, **SMALL))
    assert t.step()
    assert t._next_batch()[0].shape[0] == 32
    t.apply(Change("batch_size", 20))
    xb, yb = t._next_batch()
    assert xb.shape[0] == 20 and yb.shape[0] == 20
    for _ in range(5):
        assert t.step()
    # the batch is the permutation's slice of the data, whatever buffer it was gathered into
    idx = t._perm[t._pos - 20 : t._pos]
    np.testing.assert_array_equal(t._last_batch[0], t.X[idx])


def test_a_twin_on_fresh_arrays_takes_the_same_steps():
    """Reused buffers leave no trace: training, snapshots in between (eval passes over other shapes), and a twin that
    never measures end with the same weights."""
    cfg = Config(activation="gelu", depth=4, width=16, samples=300, batch_size=40)
    a, b = Trainer(cfg), Trainer(cfg)
    for i in range(30):
        assert a.step(measure=i % 7 == 0)
        if i % 7 == 0:
            a.snapshot()
        assert b.step()
    for pa, pb in zip(a.net.params(), b.net.params()):
        np.testing.assert_array_equal(pa[1], pb[1])


def test_weight_deltas_are_the_change_of_each_blocks_weights():
    t = Trainer(Config(activation="relu", **SMALL))
    before = t.net.weight_copies()
    kept = [w.copy() for w in before]
    t.step()
    deltas = t.net.weight_deltas(before)
    for b, w0, d in zip(t.net.blocks, kept, deltas):
        np.testing.assert_array_equal(d, b.dense.W - w0)
    separate = [w.copy() for w in kept]  # not views of one flat copy: a plain subtraction, the copies untouched
    deltas = t.net.weight_deltas(separate)
    for b, w0, d, s in zip(t.net.blocks, kept, deltas, separate):
        np.testing.assert_array_equal(d, b.dense.W - w0)
        np.testing.assert_array_equal(s, w0)


def test_params_finite_sees_nan_and_inf_in_any_parameter_but_not_huge_finite_ones():
    t = Trainer(Config(activation="prelu", batchnorm=True, **SMALL))
    assert t.net.params_finite()
    for _, p, _ in t.net.params():
        p.ravel()[0] = np.finfo(p.dtype).max  # float32 sums of these would overflow; the weights are finite
    assert t.net.params_finite()
    for bad in (np.nan, np.inf):
        for _, p, _ in t.net.params():
            old = p.ravel()[-1]
            p.ravel()[-1] = bad
            assert not t.net.params_finite()
            p.ravel()[-1] = old
