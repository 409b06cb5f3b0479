"""Outputs that fail: a ``--jsonl`` target or a dashboard recording on a full disk, a directory, a path under a
file, a disk that fills in the middle of a run. Headless: one line and exit status 2. In the dashboard: a message
in the alerts line, the recording stops, the app goes on. Either way, what was written stays readable."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import snapshot_series
from uitest import fake_app, rendered, show

from gradtui import cli
from gradtui.record import load_recording
from gradtui.tui.widgets.status import AlertsLine, StatusBar

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--depth", "3", "--width", "8", "--samples", "60", "--batch-size", "16"]
COMMANDS = {"run": ["run"], "compare": ["compare", "relu", "tanh"]}
IGNORES_SIGXFSZ = signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN  # CPython does: writes then fail with EFBIG


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("gradtui: error: ") and "Traceback" not in err, err
    return err


# ---- headless ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("target", ["/dev/full", "adir", "afile/x.jsonl", "missing/x.jsonl"])
def test_an_unwritable_jsonl_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, command, target):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("a file")
    assert cli.main([*COMMANDS[command], *TINY, "--steps", "3", "--jsonl", target]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no table for a run whose recording failed: the failure is the news
    assert one_line(err).startswith(f"gradtui: error: cannot write {target}")
    assert (tmp_path / "afile").read_text() == "a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions: /dev/full and directories cover it")
def test_a_jsonl_in_a_folder_without_write_permission_is_one_line(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert cli.main(["run", *TINY, "--steps", "1", "--jsonl", str(locked / "x.jsonl")]) == 2
    finally:
        locked.chmod(0o700)
    assert "Permission denied" in one_line(capsys.readouterr().err)


def _limited(limit: int):
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    return preexec


@pytest.mark.skipif(not IGNORES_SIGXFSZ, reason="SIGXFSZ is not ignored here: the limit would kill the process")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_disk_that_fills_mid_run_is_one_line_and_the_lines_written_load(tmp_path, command):
    out = tmp_path / "run.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    p = subprocess.run(
        [sys.executable, "-m", "gradtui", *COMMANDS[command], *TINY, "--steps", "500", "--every", "1",
         "--jsonl", str(out)],
        capture_output=True, text=True, env=env, timeout=120, preexec_fn=_limited(120_000),
    )  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert one_line(p.stderr).startswith(f"gradtui: error: cannot write {out}: File too large")
    assert "the lines written are kept" in p.stderr
    assert out.stat().st_size <= 120_000
    snaps, warnings = load_recording(out)
    assert len(snaps) >= 2  # what was written loads ...
    assert len(warnings) <= 1 and all("is cut off" in w for w in warnings)  # ... but for at most the cut last line
    assert [s.step for s in snaps] == sorted(s.step for s in snaps)


# ---- in the dashboard ---------------------------------------------------------------------------------------------
def alerts_text(app) -> str:
    return rendered(app.dashboard.query_one(AlertsLine))


async def test_a_recording_that_cannot_be_opened_is_a_message_and_the_app_goes_on(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()  # the folder the dashboard runs in was removed: nothing can be created in it
    snaps = snapshot_series(3)
    async with fake_app(snap=snaps[0]) as (app, pilot, _):
        await pilot.press("R")
        assert app.recorder is None and app.is_running
        assert "cannot write gradtui-step10.jsonl" in alerts_text(app)
        show(app, snaps[1])
        await pilot.pause()
        assert app.is_running and app.dashboard.snap is snaps[1]


@pytest.mark.skipif(not IGNORES_SIGXFSZ, reason="SIGXFSZ is not ignored here: the limit would kill the process")
async def test_a_disk_that_fills_while_recording_stops_the_recording_with_a_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    snaps = snapshot_series(6)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    async with fake_app(snap=snaps[0]) as (app, pilot, _):
        await pilot.press("R")
        assert app.recorder is not None
        path = tmp_path / app.recorder.path
        show(app, snaps[1])
        show(app, snaps[2])
        await pilot.pause()
        assert "● REC 2" in rendered(app.dashboard.query_one(StatusBar))  # R records from the next snapshot on
        try:
            resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + 10, hard))  # the disk is full now
            show(app, snaps[3])
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        await pilot.pause()
        assert app.recorder is None and app.is_running
        text = alerts_text(app)
        assert "recording stopped: cannot write" in text and "File too large" in text
        assert "REC" not in rendered(app.dashboard.query_one(StatusBar))
        show(app, snaps[4])  # the dashboard goes on
        await pilot.pause()
        assert app.dashboard.snap is snaps[4]
    recorded, warnings = load_recording(path)
    assert [s.step for s in recorded] == [s.step for s in snaps[1:3]]  # what was written stays readable
    assert len(warnings) == 1 and "is cut off" in warnings[0]


async def test_recording_never_overwrites_an_earlier_recording(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    earlier = tmp_path / "gradtui-step10.jsonl"
    earlier.write_text("an earlier recording\n")
    snaps = snapshot_series(2)
    async with fake_app(snap=snaps[0]) as (app, pilot, _):
        await pilot.press("R")
        assert app.recorder is not None and app.recorder.path == "gradtui-step10-2.jsonl"
        show(app, snaps[1])
        await pilot.press("R")
    assert earlier.read_text() == "an earlier recording\n"
    assert [s.step for s in load_recording(tmp_path / "gradtui-step10-2.jsonl")[0]] == [20]
