"""The textbook behaviour through time, deterministic (seed 0, float32, as trained in the dashboard).

On the adding problem at T = 100 (baseline MSE 1/6), hidden 32, batch 64, Adam 3e-3, gradient clipping at norm 1:
an LSTM solves it (test MSE < 0.01 within 3,000 steps) while a tanh RNN of the same size does not (above 0.03 after
3,000 steps: Bengio et al. 1994, Hochreiter & Schmidhuber 1997); at initialisation the tanh RNN's gradient reaching
step 1 is below 1 % of that reaching step T; and a forget-gate bias of 1 learns faster than 0 (Gers et al. 2000,
Jozefowicz et al. 2015). Measured with an independent NumPy implementation: the LSTM crosses 0.01 at step
1,200-1,400 and the tanh RNN never does in 14,000 steps; this engine's LSTM crosses at 1,100-1,400 over seeds 0-2,
with bias 0 at 1,600-2,100.

Kept cheap: the test MSE is evaluated every 100 steps on one fixed set of 1,000 sequences, the LSTM run stops as
soon as it crosses 0.01, and the bias-0 run only goes as far as the bias-1 run needed.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradtui.blas import set_blas_threads
from gradtui.engine.optim import make_optimiser
from gradtui.engine.recurrent import RecurrentNet
from gradtui.engine.tasks import make_task

LENGTH, HIDDEN, BATCH, LR, CLIP, SEED = 100, 32, 64, 3e-3, 1.0, 0
STEPS, EVAL_EVERY, TEST_SIZE = 3000, 100, 1000
SOLVED, UNSOLVED = 0.01, 0.03

TASK = make_task("adding", LENGTH)


def make_net(cell: str, forget_bias: float = 1.0) -> RecurrentNet:
    return RecurrentNet(cell, TASK.input_dim, HIDDEN, TASK.output_dim, activation="tanh", forget_bias=forget_bias,
                        seed=SEED)  # fmt: skip


def train(net: RecurrentNet, steps: int, stop_below: float | None = None) -> list[tuple[int, float]]:
    """(step, test MSE) every EVAL_EVERY steps (and at ``steps``); stops at the first below ``stop_below``."""
    set_blas_threads(HIDDEN)
    opt = make_optimiser("adam", net.params(), LR, clip=CLIP)
    x_test, y_test = TASK.test_set(TEST_SIZE, SEED)
    history = []
    for step, (x, y) in enumerate(TASK.batches(BATCH, SEED), 1):
        net.loss_and_grads(x, y)
        opt.step()
        if step % EVAL_EVERY == 0 or step == steps:
            history.append((step, net.compute_loss(x_test, y_test)))
            if stop_below is not None and history[-1][1] < stop_below:
                break
        if step == steps:
            break
    return history


@pytest.fixture(scope="module")
def lstm_history() -> list[tuple[int, float]]:
    return train(make_net("lstm"), STEPS, stop_below=SOLVED)


def test_an_lstm_solves_the_adding_problem_at_t100_within_3000_steps(lstm_history):
    first_step, first = lstm_history[0]
    assert first > 0.1  # it starts at the baseline, 1/6: the crossing is learning, not luck
    step, mse = lstm_history[-1]
    assert mse < SOLVED, lstm_history
    assert step <= STEPS


def test_a_tanh_rnn_of_the_same_size_does_not(lstm_history):
    history = train(make_net("rnn"), STEPS)
    assert history[-1][0] == STEPS
    assert min(mse for _, mse in history) > UNSOLVED, history  # above 0.03 at every evaluation, and after 3,000


def test_at_initialisation_the_tanh_rnns_gradient_vanishes_through_time():
    x, y = next(TASK.batches(BATCH, SEED))
    rnn = make_net("rnn")
    rnn.loss_and_grads(x, y)
    stats = rnn.measure_steps()
    assert stats.through_time_ratio < 1e-2
    assert stats.signal[0] == pytest.approx(stats.through_time_ratio * stats.signal[-1])
    assert np.all(stats.signal > 0)  # tiny, not zero


def test_forget_bias_1_learns_faster_than_0(lstm_history):
    crossed_at = lstm_history[-1][0]
    history = train(make_net("lstm", forget_bias=0.0), crossed_at)  # the bias-1 run's steps, same data and weights
    assert history[-1][0] == crossed_at
    assert history[-1][1] > SOLVED, (crossed_at, history)  # not solved yet when bias 1 was
    # why: at initialisation f ~ sigmoid(0) = 1/2 halves the cell state's gradient at every step
    x, y = next(TASK.batches(BATCH, SEED))
    ratios = {}
    for bias in (0.0, 1.0):
        net = make_net("lstm", forget_bias=bias)
        net.loss_and_grads(x, y)
        ratios[bias] = net.measure_steps().through_time_ratio
    assert ratios[0.0] < 1e-6 * ratios[1.0]
