"""The command line: ``gradtui run`` headless, the dashboard dispatch, and one-line errors."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import pytest
from conftest import LAYER_KEYS, TOP_KEYS  # the documented JSON-lines keys (README)

import gradtui
from gradtui import cli
from gradtui.engine import ACTIVATIONS, available_datasets
from gradtui.record import load_recording

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--depth", "3", "--width", "8", "--samples", "60", "--batch-size", "16"]
DIVERGES = ["--activation", "linear", "--init", "normal:1", "--lr", "1e4"]


def gradtui_process(*args: str, **kw) -> subprocess.CompletedProcess:
    """The real entry point, ``python -m gradtui``, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "gradtui", *args], capture_output=True, text=True, env=env, timeout=60, **kw
    )


def table_rows(text: str) -> list[tuple[int, int]]:
    """(layer, units) of each row of the per-layer table."""
    return [(int(m[1]), int(m[2])) for m in re.finditer(r"^\s+(\d+)\s+(\d+)\s+\S+e[-+]\d\d\s", text, re.M)]


# ---- the real entry point ---------------------------------------------------------------------------------------
def test_version_subprocess():
    p = gradtui_process("--version")
    assert p.returncode == 0
    assert p.stdout.strip() == f"gradtui {gradtui.__version__}"


def test_run_subprocess_writes_jsonl(tmp_path):
    out = tmp_path / "run.jsonl"
    p = gradtui_process("run", *TINY, "--steps", "50", "--every", "10", "--jsonl", str(out))
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    lines = out.read_text().splitlines()
    assert len(lines) == 5
    for i, line in enumerate(lines, 1):
        d = json.loads(line)
        assert set(d) >= TOP_KEYS
        assert d["step"] == 10 * i
        assert len(d["layers"]) == 3
        assert all(set(l) >= LAYER_KEYS for l in d["layers"])
    assert table_rows(p.stdout) == [(1, 8), (2, 8), (3, 8)]
    assert "diagnosis:" in p.stdout


def test_invalid_value_subprocess():
    p = gradtui_process("run", "--depth", "0")
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("gradtui: error: depth must be between")
    assert "Traceback" not in p.stderr


def test_divergence_subprocess():
    p = gradtui_process("run", *TINY, *DIVERGES, "--steps", "100", "--every", "10")
    assert p.returncode == 0
    assert "Traceback" not in p.stdout + p.stderr
    assert "DIVERGED" in p.stdout and "lower the learning rate" in p.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_exits_130_with_the_table(tmp_path):
    out = tmp_path / "run.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "gradtui", "run", *TINY, "--steps", "100000000", "--every", "20", "--jsonl", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (out.exists() and out.read_text().count("\n") >= 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted at step" in stdout
    assert table_rows(stdout) == [(1, 8), (2, 8), (3, 8)]
    snapshots, warnings_ = load_recording(out)
    assert len(snapshots) >= 2 and warnings_ == []


# ---- in process -------------------------------------------------------------------------------------------------
def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"gradtui {gradtui.__version__}\n"


def test_run_prints_table_figures_and_diagnosis(capsys):
    assert cli.main(["run", *TINY, "--depth", "5", "--steps", "20", "--every", "10"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert table_rows(out) == [(i, 8) for i in range(1, 6)]
    for heading in ("layer", "units", "grad W", "grad b", "signal", "ΔW/W", "dead", "sat", "mean", "std"):
        assert heading in out
    assert re.search(r"step 20 +loss \S+ +accuracy \d+% +test loss \S+ +test accuracy \d+%", out)
    assert re.search(r"^diagnosis: \S", out, re.M)


def test_run_regression_has_no_accuracy(capsys):
    assert cli.main(["run", *TINY, "--dataset", "sine", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "test loss" in out and "accuracy" not in out


def test_jsonl_to_stdout_is_pure_json(capsys):
    assert cli.main(["run", *TINY, "--steps", "50", "--every", "10", "--jsonl", "-"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 5
    docs = [json.loads(line) for line in lines]
    assert [d["step"] for d in docs] == [10, 20, 30, 40, 50]
    assert [e["kind"] for e in docs[0]["events"]] == ["start"] and docs[1]["events"] == []
    assert table_rows(err) == [(1, 8), (2, 8), (3, 8)] and "diagnosis:" in err


def test_every_is_clamped_to_steps_and_steps_0_is_the_initial_state(tmp_path):
    out = tmp_path / "a.jsonl"
    assert cli.main(["run", *TINY, "--steps", "7", "--jsonl", str(out)]) == 0  # --every 100 by default
    assert [json.loads(l)["step"] for l in out.read_text().splitlines()] == [7]
    assert cli.main(["run", *TINY, "--steps", "0", "--record", str(out)]) == 0  # the alias; replaces the file
    (s,), _ = load_recording(out)
    assert s.step == 0 and s.config.depth == 3


def test_record_alias_writes_a_loadable_recording(tmp_path, capsys):
    out = tmp_path / "rec.jsonl"
    assert cli.main(["run", *TINY, "--steps", "30", "--every", "10", "--record", str(out)]) == 0
    snapshots, warnings_ = load_recording(out)
    assert warnings_ == [] and [s.step for s in snapshots] == [10, 20, 30]
    assert all(s.steps_per_sec > 0 for s in snapshots)
    assert snapshots[0].config.width == 8


def test_config_flags_reach_the_config(tmp_path):
    out = tmp_path / "a.jsonl"
    flags = [
        "--activation", "silu", "--depth", "2", "--width", "5", "--init", "normal:0.5", "--bias-init", "0.1",
        "--batchnorm", "--residual", "--lr", "0.03", "--optimizer", "adam", "--momentum", "0.8",
        "--weight-decay", "0.001", "--clip", "5", "--dataset", "moons", "--samples", "50", "--noise", "0.2",
        "--batch-size", "8", "--seed", "3", "--dtype", "float64", "--output", "softmax",
    ]  # fmt: skip
    assert cli.main(["run", *flags, "--steps", "2", "--jsonl", str(out)]) == 0
    c = json.loads(out.read_text())["config"]
    assert c["activation"] == "swish"  # the alias, canonical
    expected = dict(
        depth=2, width=5, init="normal:0.5", bias_init=0.1, batchnorm=True, residual=True, lr=0.03,
        optimizer="adam", momentum=0.8, weight_decay=0.001, clip=5.0, dataset="moons", samples=50, noise=0.2,
        batch_size=8, seed=3, dtype="float64", output="softmax",
    )  # fmt: skip
    assert {k: c[k] for k in expected} == expected


def test_flags_before_the_command_count_too(tmp_path):
    out = tmp_path / "a.jsonl"
    assert cli.main([*TINY, "--depth", "2", "run", "--steps", "1", "--jsonl", str(out)]) == 0
    assert json.loads(out.read_text())["config"]["depth"] == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--depth", "0"], "depth must be between 1 and"),
        (["--activation", "foo"], "unknown activation 'foo'"),
        (["--init", "normal"], "needs a value"),
        (["--lr", "-1"], "lr must be > 0"),
        (["--lr", "nan"], "lr must be a finite number"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--depth", "three"], "argument --depth: invalid int value"),
        (["--optimizer", "rmsprop"], "invalid choice"),
        (["--output", "sigmoid"], "sigmoid output needs 2 classes"),
        (["--steps", "-1"], "--steps must be 0 or more"),
        (["--every", "0"], "--every must be 1 or more"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_invalid_values_are_one_line(capsys, argv, message):
    assert cli.main(["run", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("gradtui: error: ")
    assert message in err
    assert "Traceback" not in err


def test_digits_without_scikit_learn_is_one_line(capsys):
    if "digits" in available_datasets():
        pytest.skip("scikit-learn is installed")
    assert cli.main(["run", "--dataset", "digits", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err == "gradtui: error: the digits dataset needs scikit-learn: pip install 'gradtui[digits]'\n"


@pytest.mark.parametrize("argv", [["--depth", "0"], ["--fps", "0"], ["--color", "mauve"], ["--init", "he:2"]])
def test_invalid_dashboard_values_are_one_line(capsys, argv, monkeypatch):
    monkeypatch.setitem(sys.modules, "gradtui.tui.app", None)  # the dashboard must not even be tried
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gradtui: error: ")


@pytest.mark.parametrize("where", ["missing_dir/run.jsonl", "."])
def test_unwritable_jsonl_is_a_usage_error(tmp_path, capsys, where):
    assert cli.main(["run", *TINY, "--steps", "1", "--jsonl", str(tmp_path / where)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("gradtui: error: cannot write ")


def test_divergence_is_reported_not_raised(tmp_path, capsys):
    out = tmp_path / "a.jsonl"
    assert cli.main(["run", *TINY, *DIVERGES, "--steps", "100", "--every", "10", "--jsonl", str(out)]) == 0
    text = capsys.readouterr().out
    assert "DIVERGED: the run stopped at step" in text
    assert re.search(r"^diagnosis: diverged at step \d+: .* — lower the learning rate$", text, re.M)
    last = json.loads(out.read_text().splitlines()[-1])
    assert last["diverged"]["step"] >= 1 and last["step"] < 100
    assert any(e["kind"] == "diverged" for l in out.read_text().splitlines() for e in json.loads(l)["events"])
    assert cli.main(["run", *TINY, *DIVERGES, "--steps", "100", "--fail-on-diverge"]) == 1


def test_keyboard_interrupt_prints_the_last_snapshot(capsys, monkeypatch):
    real_run = cli.Trainer.run

    def interrupted_run(self, steps, every=0):
        for i, s in enumerate(real_run(self, steps, every)):
            yield s
            if i == 1:
                self.step()  # one more step, then Ctrl-C
                raise KeyboardInterrupt

    monkeypatch.setattr(cli.Trainer, "run", interrupted_run)
    assert cli.main(["run", *TINY, "--steps", "100", "--every", "10", "--jsonl", "-"]) == 130
    out, err = capsys.readouterr()
    assert [json.loads(l)["step"] for l in out.splitlines()] == [10, 20, 21]  # the state at the interrupt
    assert "interrupted at step 21" in err and table_rows(err) == [(1, 8), (2, 8), (3, 8)]


# ---- the dashboard dispatch -------------------------------------------------------------------------------------
@pytest.fixture
def fake_app(monkeypatch):
    calls = []
    module = types.ModuleType("gradtui.tui.app")

    def run_app(config, *, fps, color, **kw):
        calls.append(dict(config=config, fps=fps, color=color, color_system=os.environ.get("TEXTUAL_COLOR_SYSTEM")))
        calls[-1]["no_color"] = os.environ.get("NO_COLOR")
        return 0

    module.run_app = run_app
    monkeypatch.setitem(sys.modules, "gradtui.tui.app", module)
    monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "sentinel")  # restored after the test
    monkeypatch.setenv("NO_COLOR", "")
    monkeypatch.delenv("NO_COLOR")
    return calls


def test_dashboard_gets_the_config_and_view_flags(fake_app):
    assert cli.main(["--activation", "relu", "--depth", "4", "--fps", "4", "--color", "16"]) == 0
    (call,) = fake_app
    assert call["config"].activation == "relu" and call["config"].depth == 4
    assert call["config"].width == cli.Config().width  # a flag not given keeps Config's default
    assert (call["fps"], call["color"], call["color_system"]) == (4.0, "16", "standard")


def test_dashboard_defaults(fake_app):
    assert cli.main([]) == 0
    (call,) = fake_app
    assert call["config"] == cli.Config()
    assert (call["fps"], call["color"], call["color_system"]) == (cli.DEFAULT_FPS, "auto", "sentinel")


@pytest.mark.parametrize(
    "choice, system, no_color",
    [("truecolor", "truecolor", None), ("256", "256", None), ("16", "standard", None), ("none", None, "1")],
)
def test_apply_color(choice, system, no_color):
    env = {"NO_COLOR": "1"} if choice != "none" else {}
    cli.apply_color(choice, env)
    assert env.get("TEXTUAL_COLOR_SYSTEM") == system
    assert env.get("NO_COLOR") == no_color  # an explicit colour system overrides NO_COLOR, as no-color.org asks


def test_color_names_are_textual_and_rich_ones():
    from rich.console import COLOR_SYSTEMS

    assert set(cli.TEXTUAL_COLOR_SYSTEMS.values()) <= set(COLOR_SYSTEMS)


def test_dashboard_missing_is_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gradtui.tui.app", None)
    assert cli.main(["--depth", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gradtui: error: the dashboard cannot start")


def test_textual_is_not_imported_before_the_color_is_set():
    code = (
        "import sys, gradtui.cli, gradtui.record, gradtui.diagnose, gradtui.blas; "
        "print(sorted(m for m in ('textual', 'textual.constants') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.stdout.strip() == "[]", p.stderr


# ---- every activation x initialiser x batch norm, without a warning ---------------------------------------------
@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("init", ["he", "xavier_uniform", "orthogonal", "lecun", "normal:1"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_combination_runs_without_a_warning(capsys, activation, init, batchnorm):
    argv = ["run", "--activation", activation, "--init", init, "--depth", "3", "--width", "4", "--samples", "40"]
    argv += ["--batch-size", "8", "--steps", "5", "--every", "5", "--batchnorm" if batchnorm else "--no-batchnorm"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "diagnosis:" in out


# ---- BLAS threads (gradtui run sets them first) -----------------------------------------------------------------
def test_blas_threads_by_width():
    from threadpoolctl import threadpool_info

    from gradtui import blas

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    assert blas.blas_threads_for(127) == 1
    assert blas.blas_threads_for(128) == min(2, os.cpu_count() or 1)
    assert blas.set_blas_threads(256) == min(2, os.cpu_count() or 1)
    assert blas.set_blas_threads(8) == 1
    assert blas_threads() <= {1}
    assert blas.set_blas_threads(64) == 1  # the same count: nothing to do
