"""No argv makes ``gradtui`` print a traceback: Hypothesis over every subcommand's real flags (read from the parser
itself), with valid and invalid values -- huge, negative, NaN, ±inf, empty, unicode, flag-like --, unknown flags,
repeated flags, ``--flag=value`` forms and abbreviations, run in-process through ``gradtui.cli.main``.

The dashboard is never opened (``cli._dashboard`` is replaced by a stub that records what it was given); valid
values of the costly flags are small, so every run trains a tiny network for a few steps. Checked: the exit status
is 0 or 2 -- or 1 where documented (``--fail-on-diverge``, check FAILED) --, a status 2 is exactly one line on
stderr, nothing ever says "Traceback" or "internal error", and no exception escapes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gradtui import cli
from gradtui.cli.parser import MAX_FPS, MIN_FPS, build_parser
from gradtui.engine import Config
from gradtui.engine.names import ACTIVATION_ALIASES, ACTIVATION_NAMES, DATASET_INFO, INIT_ALIASES, initialiser_names

PARSER = build_parser()
SUBPARSERS = next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction)).choices
SKIP = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def options(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if a.option_strings and not isinstance(a, SKIP)]


def positionals(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if not a.option_strings and not isinstance(a, SKIP)]


# valid values, kept cheap: a tiny network, a few steps (the values that cost time are only ever invalid here)
CHEAP: dict[str, list[str]] = {
    "depth": ["1", "2", "3"], "width": ["1", "4", "8"], "samples": ["20", "40", "60"], "batch_size": ["1", "8", "64"],
    "steps": ["0", "1", "3"], "every": ["1", "2", "1000000000"], "batch": ["1", "4", "4096"],
    "per_param": ["1", "3", "1000000"], "seed": ["0", "1", "4294967295"], "lr": ["0.1", "1e-05", "1000000"],
    "momentum": ["0", "0.5", "0.999999"], "weight_decay": ["0", "0.1", "10"], "clip": ["0", "1", "1e9"],
    "noise": ["0", "0.3", "10"], "bias_init": ["-10", "0", "10"], "tolerance": ["1e-300", "1e-4", "1"],
    "fps": ["0.5", "10", "30"], "speed": ["1", "1e6"], "run": ["A", "B", "C", ""],
    "activation": [*ACTIVATION_NAMES, *ACTIVATION_ALIASES], "dataset": list(DATASET_INFO),
    "init": [*[n.split(":")[0] for n in initialiser_names()], *INIT_ALIASES, "normal:0.1", "uniform:1", "normal:1e300"],
}  # fmt: skip
BAD = [
    "", " ", "-1", "-0", "0", "1e400", "-1e400", "nan", "NaN", "inf", "-inf", "1e30", "10000000000",
    "99999999999999999999999", "0x10", "1_000", " 3", "3.0", "5e-324", "-5e-324", "ü", "\u202e", "\udcff", "🙂",
    "\x1b[31m", "a" * 300, "--depth", "--", "=", "-", "-1e-9", "normal:", "normal:-1", "normal:nan", "he:2",
]  # fmt: skip
UNKNOWN = ["--bogus", "--dep", "--depth=", "--Depth", "--no-depth", "--batchnorm=yes", "-x", "--=", "--act", "--stps"]
ACTS = [*ACTIVATION_NAMES[:5], "silu", "foo", "", "RELU"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder to run in (relative paths land here), with recordings and non-recordings to read."""
    d = tmp_path_factory.mktemp("fuzz")
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["run", "--depth", "2", "--width", "4", "--samples", "40", "--steps", "2", "--every", "1",
                         "--jsonl", str(d / "rec.jsonl")]) == 0  # fmt: skip
        assert cli.main(["compare", "relu", "tanh", "--depth", "2", "--width", "4", "--samples", "40", "--steps", "1",
                         "--jsonl", str(d / "twins.jsonl")]) == 0  # fmt: skip
    (d / "empty.jsonl").write_text("")
    (d / "garbage.jsonl").write_text("not json\n")
    good = (d / "rec.jsonl").read_text()
    (d / "cut.jsonl").write_text(good[: len(good) // 2])
    (d / "file").write_text("a file, not a folder")
    (d / "adir").mkdir()
    return d


# paths relative to the work folder the tests run in
FILES = [
    "rec.jsonl", "rec.jsonl", "twins.jsonl", "empty.jsonl", "garbage.jsonl", "cut.jsonl", "missing.jsonl", "adir",
    "/dev/null", "", "ü.jsonl", "-", "file/x",
]  # fmt: skip
OUTPUTS = ["-", "out.jsonl", "/dev/full", "adir", "file/x.jsonl", "", "missing/x", "ü.jsonl"]
CSV_DIRS = ["csvout", "/dev/full", "file/sub", "", "adir"]


@st.composite
def value_for(draw, action: argparse.Action) -> str:
    good: list[str] = (
        list(action.choices)
        if action.choices
        else OUTPUTS
        if action.dest == "jsonl"
        else CSV_DIRS
        if action.dest == "csv"
        else CHEAP.get(action.dest, ["1"])
    )
    return draw(st.sampled_from(good) if draw(st.integers(0, 3)) else st.sampled_from(BAD))  # 1 in 4 bad


@st.composite
def option_tokens(draw, p: argparse.ArgumentParser) -> list[str]:
    """One option of ``p`` with its value (valid or not, ``--flag value`` or ``--flag=value``), or an unknown one."""
    if draw(st.integers(0, 9)) == 0:
        return [draw(st.sampled_from(UNKNOWN))]
    action = draw(st.sampled_from(options(p)))
    flag = draw(st.sampled_from(action.option_strings))
    if action.nargs == 0:  # store_true, --batchnorm/--no-batchnorm
        return [flag]
    value = draw(value_for(action))
    return [f"{flag}={value}"] if draw(st.booleans()) else [flag, value]


@st.composite
def argvs(draw, commands: list[str | None]) -> list[str]:
    command = draw(st.sampled_from(commands))
    p = PARSER if command is None else SUBPARSERS[command]
    base: list[str] = []
    if command in (None, "run", "compare", "check"):
        base = ["--depth", "2", "--width", "4", "--samples", "40", "--batch-size", "8"]
    if command == "run":
        base += ["--steps", "2"]
    pre = draw(st.lists(option_tokens(PARSER), max_size=2)) if command is not None else []
    body = draw(st.lists(option_tokens(p), max_size=5))
    pos: list[str] = []
    if command == "compare":
        pos = draw(st.lists(st.sampled_from(ACTS), max_size=5))
    elif command in ("replay", "watch", "export"):
        n = draw(st.sampled_from([1, 1, 1, 0, 2]))  # one FILE, mostly
        pos = draw(st.lists(st.sampled_from(FILES), min_size=n, max_size=n))
        if command == "export" and draw(st.integers(0, 3)):
            body.append(["--csv", draw(st.sampled_from(CSV_DIRS))])
    argv = [token for option in pre for token in option]
    argv += [] if command is None else [command]
    argv += base
    start = len(argv)
    argv += [token for option in body for token in option]
    at = draw(st.integers(start, len(argv)))  # positionals anywhere after the fixed part (between a flag and its
    argv[at:at] = pos  # value too: that is a mistake a person makes)
    return argv


def documented_status(argv: list[str], status: int, err: str) -> None:
    command = next((a for a in argv if a in SUBPARSERS), None)
    allowed = {0, 2}
    if command == "check" or (command == "run" and "--fail-on-diverge" in argv):
        allowed.add(1)
    assert status in allowed, (status, argv, err)


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    return status, out.getvalue(), err.getvalue()


def check_result(argv: list[str], status: int, out: str, err: str) -> None:
    assert isinstance(status, int)
    event(f"{next((a for a in argv if a in SUBPARSERS), 'dashboard')} -> {status}")  # --hypothesis-show-statistics
    documented_status(argv, status, err)
    for text in (out, err):
        assert "Traceback" not in text and "internal error" not in text, (argv, text[-2000:])
    if status == 2:
        assert err.count("\n") == 1 and err.startswith("gradtui: error: "), (argv, err)
    else:
        assert all(line.startswith("gradtui: warning: ") for line in err.splitlines()), (argv, err)


FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


@pytest.fixture
def stub(monkeypatch, workdir):
    """The dashboard replaced by a recorder of what it was given; run in the work folder."""
    calls: list[dict] = []

    def dashboard(ns, configs=None, *, source=None, warnings=None):
        calls.append(dict(ns=ns, configs=configs, source=source))
        return 0

    monkeypatch.setattr(cli, "_dashboard", dashboard)
    monkeypatch.chdir(workdir)
    return calls


@FUZZ
@given(argv=argvs(["run", "check"]))
def test_no_argv_of_run_or_check_breaks_the_cli(stub, argv):
    stub.clear()
    check_result(argv, *run_main(argv))


@FUZZ
@given(argv=argvs(["compare", None]))
def test_no_argv_of_compare_or_the_dashboard_breaks_the_cli(stub, argv):
    stub.clear()
    status, out, err = run_main(argv)
    check_result(argv, status, out, err)
    for call in stub:  # the dashboard got what it needs to start
        assert status == 0
        assert call["configs"] and all(isinstance(c, Config) for c in call["configs"])
        assert 1 <= len(call["configs"]) <= 4 and MIN_FPS <= call["ns"].fps <= MAX_FPS


@FUZZ
@given(argv=argvs(["replay", "watch", "export"]))
def test_no_argv_of_the_file_commands_breaks_the_cli(stub, workdir, argv):
    stub.clear()
    status, out, err = run_main(argv)
    check_result(argv, status, out, err)
    for call in stub:
        assert status == 0 and call["source"] is not None and call["configs"] is None
    assert (workdir / "file").is_file()  # nothing wrote through a file or replaced it
