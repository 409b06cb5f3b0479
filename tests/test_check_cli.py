"""`gradtui check`: the finite-difference checker on the user's own configuration, and its kinks: an entry whose
central difference straddles a kink of a piecewise activation (ReLU at 0) is skipped and counted, never FAILED."""

from __future__ import annotations

import re

import pytest

from gradtui import cli
from gradtui.engine import Config, Trainer, gradcheck

SMALL = ["--depth", "4", "--width", "8", "--samples", "100"]
STRADDLES = ["--activation", "relu", "--seed", "1"]  # issue 10: said FAILED for a correct backward pass


def result(out: str) -> tuple[float, int | None, str]:
    """(largest relative error, entries skipped or None, OK/FAILED) from check's line."""
    m = re.search(r"largest relative error (\S+) .*: (OK|FAILED) \(tolerance", out)
    assert m, out
    skipped = re.search(r"; ([\d,]+) of ([\d,]+) entries skipped: their finite difference straddled a kink", out)
    return float(m[1]), int(skipped[1].replace(",", "")) if skipped else None, m[2]


@pytest.mark.parametrize("flags", [["--activation", "tanh"], ["--activation", "prelu", "--batchnorm", "--residual"]])
def test_check_passes_on_a_correct_network(capsys, flags):
    assert cli.main(["check", *flags, *SMALL]) == 0
    worst, _, verdict = result(capsys.readouterr().out)
    assert verdict == "OK" and worst < 1e-4


def test_check_fails_when_the_backward_is_wrong(capsys, monkeypatch):
    real = gradcheck.network_gradients

    def off_by_one_percent(net, x, y):
        return [(name, value, grad * 1.01) for name, value, grad in real(net, x, y)]

    monkeypatch.setattr(gradcheck, "network_gradients", off_by_one_percent)
    assert cli.main(["check", "--depth", "3", "--width", "8", "--samples", "100"]) == 1
    assert result(capsys.readouterr().out)[2] == "FAILED"


def test_a_relu_seed_whose_differences_straddle_a_kink_is_ok_with_the_kinks_skipped(capsys, monkeypatch):
    assert cli.main(["check", *STRADDLES]) == 0
    worst, skipped, verdict = result(capsys.readouterr().out)
    assert verdict == "OK" and worst < 1e-4 and skipped and skipped > 0
    # the same check without kink detection: it does straddle, and a naive check calls it FAILED
    monkeypatch.setattr(gradcheck, "KINKS", {})
    assert cli.main(["check", *STRADDLES]) == 1
    assert result(capsys.readouterr().out)[1:] == (None, "FAILED")


def test_the_checker_still_fails_on_a_wrong_gradient_where_it_skips_kinks(capsys, monkeypatch):
    real = gradcheck.network_gradients
    monkeypatch.setattr(
        gradcheck, "network_gradients", lambda net, x, y: [(n, v, g * 1.01) for n, v, g in real(net, x, y)]
    )
    assert cli.main(["check", *STRADDLES]) == 1
    _, skipped, verdict = result(capsys.readouterr().out)
    assert verdict == "FAILED" and skipped and skipped > 0


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "gelu", "swish", "softplus", "elu", "linear"])
def test_a_smooth_activation_skips_nothing(activation):
    t = Trainer(Config(activation=activation, dtype="float64", depth=4, width=8, samples=100, seed=1))
    r = gradcheck.check_network_report(t, t.X[:32], t.y[:32], per_param=6)
    assert r.skipped == 0 and r.checked == sum(min(6, p.size) for _, p, _ in t.net.params())
    assert r.worst < 1e-4


def test_every_entry_is_either_checked_or_skipped():
    t = Trainer(Config(activation="relu", dtype="float64", seed=1))
    r = gradcheck.check_network_report(t, t.X[:32], t.y[:32], per_param=6)
    assert r.checked + r.skipped == sum(min(6, p.size) for _, p, _ in t.net.params())
    assert r.skipped > 0 and r.worst < 1e-4


@pytest.mark.parametrize(
    "argv", [["--batch", "0"], ["--per-param", "-1"], ["--tolerance", "0"], ["--tolerance", "nan"], ["--batch", "x"]]
)
def test_check_refuses_bad_arguments_in_one_line(capsys, argv):
    assert cli.main(["check", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradtui: error:") and err.count("\n") == 1 and "Traceback" not in err
