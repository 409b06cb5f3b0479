"""The command line: ``gradtui run`` headless, the dashboard dispatch, one-line errors, outputs that fail, and what
``--help`` and ``--version`` load."""

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

import gradtui
from gradtui import cli
from gradtui.cli import headless, parser
from gradtui.engine import ACTIVATIONS, Config, ConfigError, Trainer, available_datasets
from gradtui.engine.config import fits_in_memory
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
    """(layer, units) of each row of the per-layer table (layers are named L1, L2, ...)."""
    return [(int(m[1]), int(m[2])) for m in re.finditer(r"^\s*L(\d+)\s+(\d+)\s+\S+e[-+]\d+\s", text, re.M)]


def one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("gradtui: error: "), err
    assert "Traceback" not in err
    return err


# ---- the real entry point ---------------------------------------------------------------------------------------
def test_version_subprocess():
    p = gradtui_process("--version")
    assert p.returncode == 0
    assert p.stdout.strip() == f"gradtui {gradtui.__version__}"


def test_help_and_version_load_neither_numpy_nor_textual_nor_rich():
    code = (
        "import sys, io, contextlib\n"
        "from gradtui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    codes = [main(a) for a in (['--version'], ['--help'], ['run', '--help'], ['check', '--help'])]\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'textual', 'rich'))\n"
        "print(codes, heavy)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.stdout.strip() == "[0, 0, 0, 0] []", p.stderr
    # --version alone is answered before the flags are even parsed
    code = (
        "import sys; from gradtui.cli import main; main(['--version']); "
        "print(sorted(set(sys.modules) & {'argparse', 'numpy', 'dataclasses', 'gradtui.engine'}))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.stdout.splitlines() == [f"gradtui {gradtui.__version__}", "[]"], p.stderr


def test_run_subprocess_writes_a_recording(tmp_path):
    out = tmp_path / "run.jsonl"
    p = gradtui_process("run", *TINY, "--steps", "50", "--every", "10", "--jsonl", str(out))
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    snaps, warnings_ = load_recording(out)
    assert warnings_ == []
    assert [s.step for s in snaps] == [0, 10, 20, 30, 40, 50]  # the initial state, then every 10 steps
    assert all(len(s.entries) == 3 and s.config.width == 8 for s in snaps)
    assert json.loads(out.read_text().splitlines()[-1]) == {"schema": 2, "end": True}  # it ended normally
    assert table_rows(p.stdout) == [(1, 8), (2, 8), (3, 8)]
    assert "diagnosis:" in p.stdout


def test_invalid_value_subprocess():
    p = gradtui_process("run", "--depth", "0")
    assert p.returncode == 2
    assert p.stdout == ""
    assert one_error_line(p.stderr).startswith("gradtui: error: depth must be between")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_exits_130_with_the_table(tmp_path):
    out = tmp_path / "run.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "gradtui", "run", *TINY, "--steps", "100000000", "--every", "20", "--jsonl", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (out.exists() and out.read_text().count("\n") >= 3) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    m = re.search(r"interrupted at step ([\d,]+)", stdout)
    assert m, stdout
    assert table_rows(stdout) == [(1, 8), (2, 8), (3, 8)]
    snapshots, warnings_ = load_recording(out)
    assert len(snapshots) >= 3 and warnings_ == []
    assert snapshots[-1].step == int(m[1].replace(",", ""))  # the state at the interrupt is recorded


def ctrl_c() -> None:
    """What a Ctrl-C does in the main thread: the SIGINT handler in place runs. Called here rather than sent with
    os.kill, whose handler runs at the interpreter's next check -- which may fall inside a gc callback (hypothesis
    installs one), where an exception is swallowed."""
    handler = signal.getsignal(signal.SIGINT)
    assert callable(handler)
    handler(signal.SIGINT, None)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("where", ["writing", "observing"])
def test_ctrl_c_inside_a_snapshot_stops_after_it_is_written(where):
    """Ctrl-C that arrives while a snapshot is being taken or written (the race the subprocess test above hits
    now and then) stops the run after the snapshot is whole and written, at a step boundary."""

    class Recorder:
        def __init__(self) -> None:
            self.steps: list[int] = []

        def write(self, s) -> None:
            if where == "writing" and s.step == 40:
                ctrl_c()
            self.steps.append(s.step)

    rec = Recorder()
    h = headless.Headless([Config(depth=3, width=8, samples=60, batch_size=16)], rec)  # type: ignore[arg-type]
    if where == "observing":
        observe = h.doctors[0].observe

        def observe_and_interrupt(s) -> None:
            if s.step == 40:
                ctrl_c()
            observe(s)

        h.doctors[0].observe = observe_and_interrupt  # type: ignore[method-assign]
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        h.train(1000, 20)
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    h.interrupted()
    assert rec.steps == [0, 20, 40]  # step 40 written whole, no step after it begun
    assert h.trainers[0].step_count == 40 and h.last[0].step == 40


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_second_ctrl_c_stops_at_once():
    """For a step that takes too long: the second Ctrl-C does not wait for the step boundary."""
    written: list[int] = []

    class Recorder:
        def write(self, s) -> None:
            if s.step == 40:
                ctrl_c()
                ctrl_c()  # raises here
            written.append(s.step)

    h = headless.Headless([Config(depth=3, width=8, samples=60, batch_size=16)], Recorder())  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        h.train(1000, 20)
    assert written == [0, 20]


# ---- in process -------------------------------------------------------------------------------------------------
def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"gradtui {gradtui.__version__}\n"


def test_help_documents_the_exit_statuses(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for status in ("0", "1", "2", "3", "70"):
        assert re.search(rf"^  {status} +\S", out, re.M), status
    assert "SIGTERM" in out and "crash log" in out


def test_run_prints_table_figures_and_diagnosis(capsys):
    assert cli.main(["run", *TINY, "--depth", "5", "--steps", "20", "--every", "10"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert table_rows(out) == [(i, 8) for i in range(1, 6)]
    for heading in ("layer", "units", "grad W", "grad b", "signal", "ΔW/W", "dead", "sat", "mean", "std"):
        assert heading in out
    assert re.search(r"step 20 +loss \S+ +accuracy [\d.]+% +test loss \S+ +test accuracy [\d.]+%", out)
    assert re.search(r"^diagnosis: \S", out, re.M)


def test_run_regression_has_no_accuracy(capsys):
    assert cli.main(["run", *TINY, "--dataset", "sine", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "test loss" in out and "accuracy" not in out


def test_jsonl_to_stdout_is_pure_json(capsys):
    assert cli.main(["run", *TINY, "--steps", "50", "--every", "10", "--jsonl", "-"]) == 0
    out, err = capsys.readouterr()
    docs = [json.loads(line) for line in out.splitlines()]
    assert all(d["schema"] == 2 for d in docs)
    assert [d["step"] for d in docs[:-1]] == [0, 10, 20, 30, 40, 50] and docs[-1].get("end") is True
    assert table_rows(err) == [(1, 8), (2, 8), (3, 8)] and "diagnosis:" in err


def test_every_is_clamped_to_steps_and_steps_0_is_the_initial_state(tmp_path):
    out = tmp_path / "a.jsonl"
    assert cli.main(["run", *TINY, "--steps", "7", "--jsonl", str(out)]) == 0  # --every 100 by default
    assert [s.step for s in load_recording(out)[0]] == [0, 7]
    assert cli.main(["run", *TINY, "--steps", "0", "--record", str(out)]) == 0  # the alias; replaces the file
    (s,), _ = load_recording(out)
    assert s.step == 0 and s.config.depth == 3


def test_record_alias_writes_a_loadable_recording(tmp_path):
    out = tmp_path / "rec.jsonl"
    assert cli.main(["run", *TINY, "--steps", "30", "--every", "10", "--record", str(out)]) == 0
    snapshots, warnings_ = load_recording(out)
    assert warnings_ == [] and [s.step for s in snapshots] == [0, 10, 20, 30]
    assert all(s.steps_per_sec > 0 for s in snapshots[1:])
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
    c = load_recording(out)[0][-1].config
    assert c.activation == "swish"  # the alias, canonical
    expected = dict(
        depth=2, width=5, init="normal:0.5", bias_init=0.1, batchnorm=True, residual=True, lr=0.03,
        optimizer="adam", momentum=0.8, weight_decay=0.001, clip=5.0, dataset="moons", samples=50, noise=0.2,
        batch_size=8, seed=3, dtype="float64", output="softmax",
    )  # fmt: skip
    assert {k: getattr(c, k) for k in expected} == expected


def test_flags_before_the_command_count_too(tmp_path):
    out = tmp_path / "a.jsonl"
    assert cli.main([*TINY, "--depth", "2", "run", "--steps", "1", "--jsonl", str(out)]) == 0
    assert load_recording(out)[0][0].config.depth == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--depth", "0"], "depth must be between 1 and"),
        (["--activation", "foo"], "unknown activation 'foo'"),
        (["--init", "normal"], "needs a value"),
        (["--lr", "-1"], "lr must be > 0"),
        (["--lr", "nan"], "argument --lr: not a number"),
        (["--lr", "1e400"], "lr must be a finite number"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--depth", "three"], "argument --depth: not a whole number"),
        (["--optimizer", "rmsprop"], "invalid choice"),
        (["--output", "sigmoid"], "sigmoid output needs 2 classes"),
        (["--steps", "-1"], "argument --steps: must be between 0 and"),
        (["--every", "0"], "argument --every: must be between 1 and"),
        (["--jsonl", ""], "argument --jsonl/--record: needs a path"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--dep", "3"], "unrecognized arguments: --dep"),  # no abbreviations
        (["--activation", "\x1b[31mred"], "unknown activation"),
    ],
)
def test_invalid_values_are_one_line(capsys, argv, message):
    assert cli.main(["run", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in one_error_line(err)
    assert "\x1b" not in err  # a value is quoted, never sent to the terminal as it is


def test_digits_without_scikit_learn_is_one_line(capsys):
    if "digits" in available_datasets():
        pytest.skip("scikit-learn is installed")
    assert cli.main(["run", "--dataset", "digits", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err == "gradtui: error: the digits dataset needs scikit-learn: pip install 'gradtui[digits]'\n"


@pytest.mark.parametrize(
    "argv",
    [["--depth", "0"], ["--fps", "0"], ["--fps", "31"], ["--fps", "nan"], ["--fps", "inf"], ["--color", "mauve"],
     ["--init", "he:2"], ["--speed", "0"]],
)  # fmt: skip
def test_invalid_dashboard_values_are_one_line(capsys, argv, monkeypatch):
    monkeypatch.setattr(cli, "_dashboard", None)  # the dashboard must not even be tried
    assert cli.main(argv) == 2
    one_error_line(capsys.readouterr().err)


def test_divergence_is_reported_not_raised(tmp_path, capsys):
    out = tmp_path / "a.jsonl"
    assert cli.main(["run", *TINY, *DIVERGES, "--steps", "100", "--every", "10", "--jsonl", str(out)]) == 0
    text = capsys.readouterr().out
    assert "DIVERGED: the run stopped at step" in text
    assert re.search(r"^diagnosis: diverged at step \d+: .* — lower the lr to \S+$", text, re.M)
    snaps, _ = load_recording(out)
    assert snaps[-1].diverged is not None and 1 <= snaps[-1].diverged.step < 100
    assert any(e.kind == "diverged" for e in snaps[-1].events)
    assert cli.main(["run", *TINY, *DIVERGES, "--steps", "100", "--fail-on-diverge"]) == 1


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_diverges_in_words_with_warnings_as_errors(capsys, activation):
    argv = ["run", *TINY, "--activation", activation, "--init", "normal:1", "--lr", "1e6", "--steps", "50"]
    argv += ["--dataset", "sine"]  # a regression: the output is unbounded, so every activation diverges
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cli.main([*argv, "--fail-on-diverge"]) == 1
    out, err = capsys.readouterr()
    assert err == "" and "DIVERGED" in out


def test_keyboard_interrupt_prints_the_last_snapshot(capsys, monkeypatch):
    real, calls = headless.step_together, []

    def interrupted(trainers, active, measure, **kw):
        calls.append(1)
        if len(calls) == 25:  # Ctrl-C after 24 steps
            raise KeyboardInterrupt
        return real(trainers, active, measure, **kw)

    monkeypatch.setattr(headless, "step_together", interrupted)
    assert cli.main(["run", *TINY, "--steps", "100", "--every", "10", "--jsonl", "-"]) == 130
    out, err = capsys.readouterr()
    steps = [json.loads(line).get("step") for line in out.splitlines()]
    assert steps == [0, 10, 20, 24, None]  # the state at the interrupt, then the end marker
    assert "interrupted at step 24" in err and table_rows(err) == [(1, 8), (2, 8), (3, 8)]


# ---- outputs that fail ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["missing_dir/run.jsonl", ".", "file/run.jsonl"])
def test_unwritable_jsonl_is_one_line(tmp_path, capsys, where):
    (tmp_path / "file").write_text("x")
    assert cli.main(["run", *TINY, "--steps", "1", "--jsonl", str(tmp_path / where)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_error_line(err).startswith("gradtui: error: cannot write ")


def test_a_refused_run_leaves_an_existing_jsonl_as_it_was(tmp_path, capsys, monkeypatch):
    out = tmp_path / "keep.jsonl"
    out.write_text("precious\n")

    def cannot_build(*a, **kw):
        raise ConfigError("this dataset cannot be made here")

    monkeypatch.setattr(headless, "make_trainer", cannot_build)
    assert cli.main(["run", *TINY, "--steps", "1", "--jsonl", str(out)]) == 2
    one_error_line(capsys.readouterr().err)
    assert out.read_text() == "precious\n"


@pytest.mark.parametrize(
    "argv",
    [["run", *TINY, "--steps", "1"], ["compare", "relu", "tanh", *TINY, "--steps", "1"], ["check", *TINY],
     ["--version"], ["--help"]],
    ids=["run", "compare", "check", "version", "help"],
)  # fmt: skip
def test_stdout_on_a_full_disk_is_one_line(capsys, monkeypatch, argv):
    with open("/dev/full", "w") as full:
        monkeypatch.setattr(sys, "stdout", full)
        status = cli.main(argv)
        monkeypatch.undo()
    assert status == 2
    assert (
        one_error_line(capsys.readouterr().err) == "gradtui: error: cannot write to stdout: No space left on device\n"
    )


def test_jsonl_to_stdout_on_a_full_disk_is_one_line(capsys, monkeypatch):
    with open("/dev/full", "w") as full:
        monkeypatch.setattr(sys, "stdout", full)
        status = cli.main(["run", *TINY, "--steps", "3", "--jsonl", "-"])
        monkeypatch.undo()
    assert status == 2
    assert "No space left on device" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "argv",
    [["check", *TINY], ["run", *TINY, "--steps", "1"], ["--version"], ["--help"]],
    ids=["check", "run", "version", "help"],
)
def test_a_reader_that_went_away_is_exit_141_and_silent(capsys, monkeypatch, argv):
    read, write = os.pipe()
    os.close(read)  # gradtui ... | head -0: the reader has gone
    with open(write, "w") as pipe:
        monkeypatch.setattr(sys, "stdout", pipe)
        status = cli.main(argv)
        monkeypatch.undo()
    assert status == 141
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_stdout_that_cannot_encode_the_table_gets_escapes_not_a_crash(monkeypatch, encoding):
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding)  # PYTHONIOENCODING=ascii, a Latin-1 terminal
    monkeypatch.setattr(sys, "stdout", stream)
    status = cli.main(["run", *TINY, "--steps", "1"])
    stream.flush()
    monkeypatch.undo()
    assert status == 0
    assert "\\u0394W/W" in raw.getvalue().decode(encoding)  # the Delta of the table, escaped as stderr does


# ---- a bug in gradtui -------------------------------------------------------------------------------------------
def test_a_bug_is_one_line_naming_a_crash_log_with_the_traceback(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again

    def buggy(*a, **kw):
        raise ZeroDivisionError("a bug\nover two lines")

    monkeypatch.setattr(headless, "report", buggy)
    assert cli.main(["run", *TINY, "--steps", "1"]) == cli.EXIT_SOFTWARE
    err = capsys.readouterr().err
    m = re.fullmatch(r"gradtui: internal error \(ZeroDivisionError: a bug over two lines\); details in (\S+)\n", err)
    assert m, err
    log = Path(m[1])
    assert log.parent == tmp_path and "Traceback" in log.read_text() and "a bug" in log.read_text()


def test_a_bug_when_no_crash_log_can_be_written_is_still_one_line(capsys, monkeypatch):
    def no_room(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tempfile.mkstemp", no_room)
    monkeypatch.setattr(headless, "report", lambda *a, **kw: 1 / 0)
    assert cli.main(["run", *TINY, "--steps", "1"]) == cli.EXIT_SOFTWARE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ZeroDivisionError" in err and "no crash log could be written" in err


# ---- memory -----------------------------------------------------------------------------------------------------
def test_a_configuration_too_large_for_memory_is_refused_before_anything_is_allocated(capsys, monkeypatch):
    def must_not_build(*a, **kw):
        raise AssertionError("the trainer was built")

    monkeypatch.setattr(headless, "make_trainer", must_not_build)
    monkeypatch.setattr(cli, "_dashboard", lambda ns, configs: pytest.fail("the dashboard was opened"))
    huge = ["--width", "1024", "--depth", "100", "--samples", "1000000", "--batch-size", "65536"]
    for argv in (["run", *huge], ["check", *huge], ["compare", "relu", "tanh", *huge, "--steps", "1"], huge):
        assert cli.main(argv) == 2
        assert "of memory and" in one_error_line(capsys.readouterr().err)


def test_twins_memory_adds_up(capsys, monkeypatch):
    one = Config().estimate_bytes()
    available = int(one * 3)  # one run fits (with the 20 % margin), four do not
    fits_in_memory(Config(), available=available)
    with pytest.raises(ConfigError, match="these 4 runs together need"):
        fits_in_memory([Config()] * 4, available=available)
    monkeypatch.setattr("gradtui.engine.config.available_memory", lambda: available)
    monkeypatch.setattr(cli, "_dashboard", lambda ns, configs: pytest.fail("the dashboard was opened"))
    assert cli.main(["compare", "relu", "tanh", "elu", "gelu"]) == 2
    assert "4 runs together" in one_error_line(capsys.readouterr().err)


# ---- Config's own checks ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [dict(batchnorm="no"), dict(residual=1), dict(depth=3.0), dict(depth=True), dict(lr="0.1"), dict(activation=None),
     dict(seed=1.5), dict(gelu_approximate="yes")],
    ids=lambda kw: ",".join(f"{k}={v!r}" for k, v in kw.items()),
)  # fmt: skip
def test_config_checks_the_type_of_every_field(kw):
    with pytest.raises(ConfigError) as info:
        Config(**kw)
    (field,) = kw
    assert str(info.value).startswith(f"{field} must be ")


def test_config_takes_numpy_numbers_as_plain_ones():
    np = pytest.importorskip("numpy")
    c = Config(depth=np.int64(3), lr=np.float32(0.5), seed=np.uint32(7))
    assert (c.depth, c.lr, c.seed) == (3, 0.5, 7)
    assert (type(c.depth), type(c.lr), type(c.seed)) == (int, float, int)


# ---- --momentum is Adam's beta1 (help and code agree) ----------------------------------------------------------
def test_the_help_says_momentum_is_adams_beta1(capsys):
    assert cli.main(["run", "--help"]) == 0
    help_ = " ".join(capsys.readouterr().out.split())
    assert re.search(r"--momentum X .*Adam's beta1", help_)


def test_adam_uses_momentum_as_beta1():
    """Two Adam runs that differ only in --momentum move the weights differently from the second step on (the first
    step is the same for any beta1: the bias correction makes it lr * g / |g|). With gradients +g then -g and beta1
    b, the second step moves each weight by lr (1 - b) / (1 + b) -- the definition of Adam's first moment."""
    import numpy as np

    from gradtui.engine.optim import make_optimiser

    for b in (0.0, 0.5):
        w = np.array([1.0])
        g = np.array([0.0])
        opt = make_optimiser("adam", [("W", w, g)], lr=0.1, momentum=b)
        g[:] = 2.0
        opt.step()
        before = w.copy()
        g[:] = -2.0
        opt.step()
        np.testing.assert_allclose(w - before, 0.1 * (1 - b) / (1 + b), rtol=1e-6)
    runs = [Trainer(Config(optimizer="adam", momentum=m, depth=2, width=4, samples=40)) for m in (0.0, 0.5)]
    for t in runs:
        for _ in range(3):
            t.step()
    assert runs[0].snapshot().loss != runs[1].snapshot().loss


# ---- the dashboard dispatch -------------------------------------------------------------------------------------
@pytest.fixture
def fake_app(monkeypatch):
    """The dashboard's module replaced by one whose run_app records how it was called; a terminal pretended."""
    calls = []
    module = types.ModuleType("gradtui.tui.app")

    def run_app(config, *, fps, color, **kw):
        calls.append(dict(config=config, fps=fps, color=color, color_system=os.environ.get("TEXTUAL_COLOR_SYSTEM")))
        calls[-1]["no_color"] = os.environ.get("NO_COLOR")
        calls[-1]["textual_fps"] = os.environ.get("TEXTUAL_FPS")
        calls[-1].update(kw)
        return 0

    module.run_app = run_app
    module.replay_app = lambda source, **kw: calls.append(dict(source=source, **kw)) or 0
    monkeypatch.setitem(sys.modules, "gradtui.tui.app", module)
    monkeypatch.setattr(cli, "_has_terminal", lambda: True)
    monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "sentinel")  # restored after the test
    monkeypatch.setenv("NO_COLOR", "")
    monkeypatch.delenv("NO_COLOR")
    return calls


def test_the_dashboard_refreshes_at_120_hz_unless_the_user_says_otherwise(fake_app, monkeypatch):
    monkeypatch.delenv("TEXTUAL_FPS", raising=False)  # (restored after the test)
    assert cli.main([]) == 0
    assert fake_app[-1]["textual_fps"] == "120"  # the frame showing a key's effect waits half as long for its tick
    monkeypatch.setenv("TEXTUAL_FPS", "30")
    assert cli.main([]) == 0
    assert fake_app[-1]["textual_fps"] == "30"


def test_dashboard_gets_the_config_and_view_flags(fake_app):
    assert cli.main(["--activation", "relu", "--depth", "4", "--fps", "4", "--color", "16", "--speed", "50"]) == 0
    (call,) = fake_app
    assert call["config"].activation == "relu" and call["config"].depth == 4
    assert call["config"].width == Config().width  # a flag not given keeps Config's default
    assert (call["fps"], call["color"], call["color_system"], call["speed_cap"]) == (4.0, "16", "standard", 50.0)


def test_dashboard_defaults(fake_app):
    assert cli.main([]) == 0
    (call,) = fake_app
    assert call["config"] == Config()
    assert (call["fps"], call["color"], call["color_system"]) == (parser.DEFAULT_FPS, "auto", "sentinel")
    assert parser.MIN_FPS <= call["fps"] <= parser.MAX_FPS


def test_compare_without_steps_opens_the_dashboard_with_twins(fake_app):
    assert cli.main(["compare", "relu", "tanh", "--depth", "3"]) == 0
    (call,) = fake_app
    assert [c.activation for c in call["config"]] == ["relu", "tanh"] and {c.depth for c in call["config"]} == {3}


def test_replay_opens_the_dashboard_on_the_recording(fake_app, tmp_path):
    rec = tmp_path / "r.jsonl"
    assert cli.main(["run", *TINY, "--steps", "2", "--every", "1", "--jsonl", str(rec)]) == 0
    assert cli.main(["replay", str(rec), "--fps", "5"]) == 0
    (call,) = fake_app
    assert call["source"].recording.length() == 3 and call["fps"] == 5.0


def test_no_terminal_is_one_line_and_exit_1(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "__stdin__", io.StringIO())  # not a terminal
    monkeypatch.setitem(sys.modules, "gradtui.tui.app", None)  # and nothing of the dashboard is loaded
    assert cli.main(["--depth", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gradtui: error: the dashboard needs a terminal")


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

    assert set(parser.TEXTUAL_COLOR_SYSTEMS.values()) <= set(COLOR_SYSTEMS)


def test_dashboard_missing_is_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gradtui.tui.app", None)
    monkeypatch.setattr(cli, "_has_terminal", lambda: True)
    assert cli.main(["--depth", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gradtui: error: the dashboard cannot start")


def test_textual_is_not_imported_before_the_color_is_set():
    code = (
        "import sys, gradtui.cli, gradtui.cli.headless, gradtui.cli.files, gradtui.record, gradtui.doctor, "
        "gradtui.blas, gradtui.session; "
        "print(sorted(m for m in ('textual', 'textual.constants') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.stdout.strip() == "[]", p.stderr


# ---- every activation x initialiser x batch norm, without a warning ---------------------------------------------
@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("init", ["he", "xavier_uniform", "normal:1"])
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
