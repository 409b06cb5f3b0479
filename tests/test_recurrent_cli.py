"""Recurrent networks on the command line: ``gradtui run --model ...``, ``gradtui compare rnn lstm``, ``gradtui check``
of a recurrent configuration (and the checker failing on a wrong BPTT), and the flags that do not apply."""

from __future__ import annotations

import numpy as np
import pytest

from gradtui import cli
from gradtui.cli.parser import build_parser, config_from_args
from gradtui.engine import Config
from gradtui.engine.config import RECURRENT_PRESET
from gradtui.engine.gradcheck import check_recurrent_report
from gradtui.engine.recurrent import RecurrentNet
from gradtui.engine.tasks import make_task
from gradtui.record import load_recording


def test_model_flags_start_from_the_cells_own_settings_unless_given():
    c = config_from_args(build_parser().parse_args(["--model", "lstm", "--seq-len", "50"]))
    assert c.model == "lstm" and c.seq_len == 50 and all(getattr(c, k) == v for k, v in RECURRENT_PRESET.items())
    c = config_from_args(build_parser().parse_args(["--model", "rnn", "--width", "64", "--lr", "0.01"]))
    assert (c.width, c.lr, c.optimizer) == (64, 0.01, "adam")
    assert config_from_args(build_parser().parse_args([])) == Config()


def test_run_prints_the_step_table_the_parameters_the_gates_and_the_diagnosis(capsys, tmp_path):
    path = tmp_path / "lstm.jsonl"
    args = ["run", "--model", "lstm", "--task", "adding", "--seq-len", "50", "--steps", "50", "--every", "25"]
    assert cli.main([*args, "--jsonl", str(path)]) == 0
    out = capsys.readouterr().out
    assert "lstm h32 adding T=50 adam lr=0.003 clip 1" in out
    assert "(20 of 50 steps)" in out and "signal" in out and "|c_t|" in out
    assert "cell.Wh" in out and "out.W" in out  # the parameters' table
    assert "forget" in out and "candidate" in out  # the gates' table
    assert "through-time ratio" in out and "baseline 0.167" in out
    assert "diagnosis: " in out
    snaps, warnings = load_recording(path)
    assert not warnings and [s.step for s in snaps] == [0, 25, 50]
    assert all(s.axis == "time" and len(s.entries) == 50 and s.params for s in snaps)


def test_compare_rnn_and_lstm_headless(capsys):
    assert cli.main(["compare", "rnn", "lstm", "--steps", "20", "--every", "10"]) == 0
    out = capsys.readouterr().out
    assert "A:rnn signal" in out and "B:lstm signal" in out
    assert "t=1: " in out and "× the gradient of" in out
    assert "A rnn tanh h32 adding T=100" in out and "B lstm h32 adding T=100" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "--model", "lstm", "--depth", "3"], "--depth: depth is an MLP setting"),
        (["run", "--seq-len", "50"], "--seq-len: seq_len applies to recurrent models only"),
        (["run", "--model", "gru", "--forget-bias", "0"], "the GRU has no forget gate"),
        (["run", "--model", "rnn", "--activation", "maxout"], "cannot use maxout"),
        (["compare", "relu", "lstm", "--steps", "1"], "not both"),
        (["compare", "relu", "tanh", "--model", "lstm", "--steps", "1"], "an LSTM has sigmoid gates"),
        (["compare", "rnn", "lstm", "--depth", "3", "--steps", "1"], "--depth: depth is an MLP setting"),
    ],
)
def test_flags_that_do_not_apply_are_refused_in_one_line(capsys, argv, words):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradtui: error:") and words in err and len(err.strip().splitlines()) == 1


def test_a_flag_of_one_run_of_a_compare_is_taken(capsys):
    # the activation is the vanilla RNN's: an LSTM twin ignores it
    assert cli.main(["compare", "rnn", "lstm", "--activation", "relu", "--seq-len", "10", "--steps", "2"]) == 0
    assert "A rnn relu h32 adding T=10" in capsys.readouterr().out


def test_check_of_a_gru_as_the_user_types_it(capsys):
    assert cli.main(["check", "--model", "gru"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gru h32 adding T=100") and "OK" in out
    assert "over 7 parameter arrays: cell.Wx, cell.Wh, cell.b, cell.b_hn, cell.h0, out.W, out.b (" in out


@pytest.mark.parametrize("model", ["lstm", "rnn"])
def test_check_passes_on_the_other_cells(capsys, model):
    assert cli.main(["check", "--model", model, "--seq-len", "30", "--per-param", "4"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and f"{model} " in out and "batch 32 of T=30" in out


def checked_arrays(out: str) -> list[str]:
    """The parameter arrays check's line names: "over 7 parameter arrays: cell.Wx, ..., out.b (6 entries each"."""
    return out.split(" parameter arrays: ", 1)[1].split(" (", 1)[0].split(", ")


@pytest.mark.parametrize(("model", "states"), [("lstm", ["cell.h0", "cell.c0"]), ("gru", ["cell.h0"]),
                                               ("rnn", ["cell.h0"])])  # fmt: skip
def test_check_covers_the_initial_state_and_names_every_array(capsys, model, states):
    assert cli.main(["check", "--model", model, "--seq-len", "10", "--per-param", "4"]) == 0
    out = capsys.readouterr().out
    names = checked_arrays(out)
    assert "OK" in out and all(n in names for n in states) and f"over {len(names)} parameter arrays" in out
    assert names[:3] == ["cell.Wx", "cell.Wh", "cell.b"] and names[-2:] == ["out.W", "out.b"]


@pytest.mark.parametrize("state", ["h0", "c0"])
def test_check_fails_on_a_wrong_initial_state_gradient(capsys, monkeypatch, state):
    from gradtui.engine.recurrent import LSTMCell

    real = LSTMCell.init_state_gradients

    def skewed(self):  # the BPTT right, then the initial state's gradient off by half
        real(self)
        getattr(self, f"d{state}")[...] *= 1.5

    monkeypatch.setattr(LSTMCell, "init_state_gradients", skewed)
    assert cli.main(["check", "--model", "lstm", "--seq-len", "10", "--per-param", "4"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_init_sets_a_cells_input_weights_and_readout_and_leaves_the_recurrent_ones_alone(capsys, tmp_path):
    from gradtui.engine import make_trainer
    from gradtui.engine.init import init_weights
    from gradtui.engine.network import STREAM_WEIGHTS, rng_for
    from gradtui.engine.recurrent import PART_INPUT

    path = tmp_path / "he.jsonl"
    argv = ["run", "--model", "lstm", "--init", "he", "--seq-len", "10", "--steps", "4", "--every", "2"]
    assert cli.main([*argv, "--jsonl", str(path)]) == 0
    out = capsys.readouterr().out
    assert "lstm h32 init he adding T=10" in out
    snaps, _ = load_recording(path)
    assert snaps[-1].config.init == "he" and snaps[-1].step == 4
    he = make_trainer(config_from_args(build_parser().parse_args(["--model", "lstm", "--init", "he"])))
    default = make_trainer(config_from_args(build_parser().parse_args(["--model", "lstm"])))
    assert default.config.init == "xavier_uniform"
    cell, H = he.net.cell, he.net.hidden
    for j in range(4):  # every gate block of Wx: He normal, N(0, 2 / fan_in), from its own stream
        want = init_weights("he", cell.input_dim, H, rng_for(0, STREAM_WEIGHTS, PART_INPUT, j + 1))
        assert np.array_equal(cell.Wx[:, j * H : (j + 1) * H], want.astype(np.float32))
    assert not np.allclose(cell.Wx, default.net.cell.Wx) and not np.allclose(he.net.W, default.net.W)
    assert np.array_equal(cell.Wh, default.net.cell.Wh)  # the recurrent weights: recurrent_init's (orthogonal)


class SkewedBPTT(RecurrentNet):
    """A BPTT whose recurrent-weight gradient is off by 1 %: what the checker must catch."""

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, train: bool = True) -> float:
        loss = super().loss_and_grads(x, y, train)
        self.cell.dWh *= 1.01
        return loss


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_recurrent_checker_fails_on_a_wrong_gradient_and_passes_the_right_one(cell):
    task = make_task("adding", 20)
    x, y = task.sample(8, np.random.default_rng(0), "float64")
    kw = dict(cell=cell, input_dim=2, hidden=6, output_dim=1, dtype="float64", seed=0)
    assert check_recurrent_report(RecurrentNet(**kw), x, y).worst < 1e-6
    wrong = check_recurrent_report(SkewedBPTT(**kw), x, y)
    assert wrong.worst > 1e-3 and wrong.checked > 0


def test_the_checker_skips_differences_across_a_relu_kink():
    task = make_task("adding", 20)
    x, y = task.sample(8, np.random.default_rng(1), "float64")
    net = RecurrentNet("rnn", 2, 6, 1, activation="relu", dtype="float64", seed=0)
    every = check_recurrent_report(net, x, y, per_param=None, h=1e-1)  # a step wide enough to cross kinks
    assert every.skipped > 0 and every.checked + every.skipped == sum(p.size for _, p, _ in net.params())
