"""Sequence tasks: deterministic from the seed, the shapes a RecurrentNet expects, and baselines that hold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradtui.engine.recurrent import RecurrentNet
from gradtui.engine.tasks import TASKS, AddingProblem, CopyTask, TemporalOrder, make_task

TASK_CASES = [("adding", 50), ("order", 60), ("copy", 30)]


@pytest.mark.parametrize(("name", "length"), TASK_CASES)
def test_the_same_seed_gives_the_same_data_and_streams_differ(name, length):
    task = make_task(name, length)
    a, b = task.test_set(20, seed=3), task.test_set(20, seed=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    other = task.test_set(20, seed=4)
    assert not np.array_equal(a[0], other[0])
    train = next(task.batches(20, seed=3))
    assert not np.array_equal(train[0], a[0])  # training, test and probe sets come from different streams
    assert not np.array_equal(task.probe_set(20, seed=3)[0], a[0])
    stream = task.batches(20, seed=3)
    first, second = next(stream), next(stream)
    assert not np.array_equal(first[0], second[0])  # a fresh batch every time
    np.testing.assert_array_equal(next(task.batches(20, seed=3))[0], first[0])  # and the same stream again


@pytest.mark.parametrize(("name", "length"), TASK_CASES)
def test_shapes_dtypes_and_a_net_built_from_the_task(name, length):
    task = make_task(name, length)
    x, y = task.sample(7, np.random.default_rng(0))
    assert x.shape == (7, length, task.input_dim) and x.dtype == np.float32
    assert task.sample(2, np.random.default_rng(0), dtype="float64")[0].dtype == np.float64
    if task.loss == "linear":
        assert y.shape == (7, task.output_dim) and y.dtype == np.float32
    else:
        assert y.dtype == np.int64 and y.shape == ((7, length) if task.readout == "each" else (7,))
        assert y.min() >= 0 and y.max() < task.output_dim
    net = RecurrentNet("lstm", task.input_dim, 8, task.output_dim, readout=task.readout, loss=task.loss)
    assert math.isfinite(net.loss_and_grads(x, y))


def test_adding_problem_inputs_and_targets():
    task = AddingProblem(40)
    x, y = task.sample(500, np.random.default_rng(1))
    values, marks = x[:, :, 0], x[:, :, 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(np.unique(marks)) == {0.0, 1.0}
    assert (marks.sum(axis=1) == 2).all()
    assert (marks[:, :20].sum(axis=1) == 1).all() and (marks[:, 20:].sum(axis=1) == 1).all()  # one in each half
    np.testing.assert_allclose(y[:, 0], (values * marks).sum(axis=1), rtol=1e-6)
    assert task.input_dim == 2 and task.output_dim == 1 and task.readout == "last" and task.loss == "linear"


def test_adding_baseline_mse_is_one_sixth_on_a_large_sample():
    task = make_task("adding", 100)
    assert task.baseline == 1 / 6
    _, y = make_task("adding", 10).sample(200_000, np.random.default_rng(2), dtype="float64")  # any T: short, cheap
    mse_of_the_mean = float(np.mean((y - 1.0) ** 2))
    assert mse_of_the_mean == pytest.approx(1 / 6, abs=2e-3)  # its standard error is 4.4e-4
    assert float(y.mean()) == pytest.approx(1.0, abs=5e-3)  # 1 is indeed the mean
    # and an untrained net that outputs a constant scores the baseline plus the constant's squared bias
    x, y32 = task.sample(4000, np.random.default_rng(3))
    net = RecurrentNet("lstm", 2, 4, 1)
    net.W[...] = 0
    net.b[...] = 1.0
    assert net.compute_loss(x, y32) == pytest.approx(1 / 6, abs=0.012)


def test_temporal_order_sequences():
    task = TemporalOrder(100)
    assert task.positions() == ((10, 20), (50, 60))  # Hochreiter & Schmidhuber's ranges at T = 100
    x, y = task.sample(2000, np.random.default_rng(4))
    sym = x.argmax(axis=2)
    assert (x.sum(axis=2) == 1).all()  # one-hot
    assert (sym[:, 0] == 6).all() and (sym[:, -1] == 7).all()  # B ... E
    relevant = (sym == 4) | (sym == 5)
    assert (relevant.sum(axis=1) == 2).all()
    assert (relevant[:, 10:21].sum(axis=1) == 1).all() and (relevant[:, 50:61].sum(axis=1) == 1).all()
    t1 = np.argmax(relevant, axis=1)
    t2 = 99 - np.argmax(relevant[:, ::-1], axis=1)
    rows = np.arange(len(y))
    np.testing.assert_array_equal(y, 2 * (sym[rows, t1] == 5) + (sym[rows, t2] == 5))  # XX XY YX YY
    counts = np.bincount(y, minlength=4) / len(y)
    np.testing.assert_allclose(counts, 0.25, atol=0.03)
    # the baseline is the entropy of that distribution
    p = np.bincount(y, minlength=4) / len(y)
    assert -np.sum(p * np.log(p)) == pytest.approx(task.baseline, abs=0.01)
    assert task.baseline == pytest.approx(math.log(4)) and task.baseline_accuracy == 0.25
    assert TemporalOrder(10).positions() == ((1, 2), (5, 6))


def test_copy_sequences_and_their_memoryless_baseline():
    task = CopyTask(40, symbols=5, alphabet=8)
    x, y = task.sample(3000, np.random.default_rng(5))
    sym = x.argmax(axis=2)
    assert task.input_dim == 10 and task.output_dim == 9 and task.readout == "each"
    assert ((sym[:, :5] >= 1) & (sym[:, :5] <= 8)).all()
    assert (sym[:, 5:34] == 0).all() and (sym[:, 34] == 9).all() and (sym[:, 35:] == 0).all()
    np.testing.assert_array_equal(y[:, -5:], sym[:, :5])  # recall the symbols, in order
    assert (y[:, :-5] == 0).all()
    # the baseline: the cross-entropy of the per-step marginal of the targets, measured
    ce = 0.0
    for t in range(40):
        p = np.bincount(y[:, t], minlength=9) / len(y)
        ce -= np.sum(p[p > 0] * np.log(p[p > 0]))
    assert ce / 40 == pytest.approx(task.baseline, rel=0.01)
    assert task.baseline == pytest.approx(5 * math.log(8) / 40)
    assert task.baseline_accuracy == pytest.approx((35 + 5 / 8) / 40)


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_explains_its_baseline(name):
    task = make_task(name, 100)
    assert task.baseline > 0 and task.baseline_note and task.label


def test_bad_lengths_and_options_are_refused_in_words():
    with pytest.raises(ValueError, match="10..1000"):
        make_task("adding", 9)
    with pytest.raises(ValueError, match="10..1000"):
        make_task("adding", 1001)
    make_task("adding", 10), make_task("adding", 1000)
    with pytest.raises(ValueError, match="integer"):
        make_task("order", 50.0)
    with pytest.raises(ValueError, match="length >= 21"):
        make_task("copy", 20, symbols=10)
    with pytest.raises(ValueError, match="unknown task"):
        make_task("parity")
