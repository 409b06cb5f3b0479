"""`gradtui check`: the finite-difference checker on the user's own configuration."""

from __future__ import annotations

import pytest

from gradtui import cli
from gradtui.engine import gradcheck


@pytest.mark.parametrize("flags", [["--activation", "tanh"], ["--activation", "prelu", "--batchnorm", "--residual"]])
def test_check_passes_on_a_correct_network(capsys, flags):
    assert cli.main(["check", *flags, "--depth", "4", "--width", "8", "--samples", "100"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "largest relative error" in out


def test_check_fails_when_the_backward_is_wrong(capsys, monkeypatch):
    real = gradcheck.network_gradients

    def off_by_one_percent(net, x, y):
        return [(name, value, grad * 1.01) for name, value, grad in real(net, x, y)]

    monkeypatch.setattr(gradcheck, "network_gradients", off_by_one_percent)
    assert cli.main(["check", "--depth", "3", "--width", "8", "--samples", "100"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_check_refuses_bad_arguments_in_one_line(capsys):
    assert cli.main(["check", "--batch", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradtui: error:") and len(err.strip().splitlines()) == 1
