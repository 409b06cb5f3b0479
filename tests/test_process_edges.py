"""The process edges of the dashboard: signals and the terminal, a crash, a trainer that dies, the trainer's log.

The real ``gradtui`` runs in a pseudo-terminal (tests/ptyterm.py): ``q``, ``ctrl+c``, SIGTERM and SIGHUP must all
end it promptly with status 0, its trainer gone, the terminal given back with the very bytes a ``q`` exit writes
(leave the alternate screen ``ESC[?1049l``, show the cursor ``ESC[?25h``, ...). A crash exits 3 with one line
naming a crash log. In-process (Pilot) on the real process-mode session: a trainer killed with SIGKILL is said on
the status and alerts lines, and ``ctrl+r`` starts a new one.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from conftest import make_snapshot
from ptyterm import Term, after_restore, gradtui_argv, restore_block
from uitest import WAIT, fake_app, ready, rendered, show, wait_for

from gradtui.engine import Config
from gradtui.record import load_recording
from gradtui.session import Session
from gradtui.tui.app import EXIT_CRASH, GradTUI
from gradtui.tui.widgets.status import AlertsLine, StatusBar

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty and /proc: Linux")

FLAGS = ["--depth", "3", "--width", "8", "--samples", "100", "--speed", "200", "--fps", "10"]
CRASH_LINE = re.compile(r"gradtui: the dashboard crashed \(RuntimeError: a bug in a panel\); details in (\S+)\r?\n")


def trainer_logs(folder: Path) -> list[Path]:
    return sorted(folder.glob("gradtui-trainer-*.log"))


def run_in_pty(tmp: Path, finish, *args: str, script: str | None = None) -> tuple[int, bytes, Term]:
    """Start gradtui in a pty with TMPDIR=tmp, wait for a snapshot on screen, ``finish(term)``, wait for the exit."""
    term = Term(gradtui_argv(*FLAGS, *args, script=script), env={**os.environ, "TMPDIR": str(tmp)}, cwd=tmp)
    try:
        term.ready()
        t0 = time.monotonic()
        finish(term)
        rc = term.wait()
        assert time.monotonic() - t0 < 10, "the exit took more than 10 s"
        assert term.wait_group_gone() == [], "a process of the dashboard's group (the trainer?) outlived it"
        return rc, term.output, term
    finally:
        term.close()


@pytest.fixture(scope="module")
def q_exit(tmp_path_factory) -> tuple[int, bytes, Path]:
    """The reference: the bytes a q exit writes."""
    tmp = tmp_path_factory.mktemp("q")
    rc, out, _ = run_in_pty(tmp, lambda t: t.write(b"q"))
    return rc, out, tmp


def test_q_exits_0_gives_the_terminal_back_and_leaves_no_trainer_log(q_exit):
    rc, out, tmp = q_exit
    assert rc == 0
    block = restore_block(out)
    assert b"\x1b[?1049l" in block and b"\x1b[?25h" in block  # the alternate screen left, the cursor shown
    assert after_restore(out).strip() == ""  # nothing to say after a clean run
    assert trainer_logs(tmp) == []  # its log was empty: removed


@pytest.mark.parametrize(
    "how",
    [signal.SIGTERM, signal.SIGHUP, b"\x03"],
    ids=["SIGTERM", "SIGHUP", "ctrl+c"],
)
def test_sigterm_sighup_and_ctrl_c_end_it_as_q_does(q_exit, tmp_path, how):
    def record_then_end(term: Term) -> None:
        term.write(b"R")  # a recording in progress is closed as q closes it
        deadline = time.monotonic() + WAIT
        while not any(p.stat().st_size for p in tmp_path.glob("gradtui-step*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.05)
        term.write(how) if isinstance(how, bytes) else term.signal(how)

    rc, out, _ = run_in_pty(tmp_path, record_then_end)
    assert rc == 0
    assert restore_block(out) == restore_block(q_exit[1])  # the very bytes that q writes
    assert after_restore(out).strip() == ""
    assert trainer_logs(tmp_path) == [] and list(tmp_path.glob("gradtui-crash-*")) == []
    (recording,) = tmp_path.glob("gradtui-step*.jsonl")
    snaps, warnings = load_recording(recording)
    assert snaps and warnings == []
    assert recording.read_text().splitlines()[-1] == '{"schema":2,"end":true}'  # ended, not cut off


def test_sigterm_while_the_dashboard_starts_still_gives_the_terminal_back(q_exit, tmp_path):
    """The moment the terminal enters the alternate screen, before the dashboard has drawn anything."""
    term = Term(gradtui_argv(*FLAGS), env={**os.environ, "TMPDIR": str(tmp_path)}, cwd=tmp_path)
    try:
        term.wait_for(re.compile(re.escape(b"\x1b[?1049h")))
        term.signal(signal.SIGTERM)
        rc = term.wait()
        assert term.wait_group_gone() == []
        out = term.output
    finally:
        term.close()
    assert rc == 0
    assert restore_block(out) == restore_block(q_exit[1])
    assert trainer_logs(tmp_path) == []


def test_a_dashboard_killed_outright_leaves_no_trainer_and_no_log(tmp_path):
    """SIGKILL: nothing of gradtui runs to clean up; the trainer sees its pipe close, ends, and removes its empty
    log itself. (The terminal stays as it was: nothing can restore it then.)"""
    term = Term(gradtui_argv(*FLAGS), env={**os.environ, "TMPDIR": str(tmp_path)}, cwd=tmp_path)
    try:
        term.ready()
        assert len(trainer_logs(tmp_path)) == 1
        term.signal(signal.SIGKILL)
        assert term.wait() == -signal.SIGKILL
        assert term.wait_group_gone() == []
    finally:
        term.close()
    assert trainer_logs(tmp_path) == []


CRASHING = """
import sys
from gradtui.cli import main

if __name__ == "__main__":  # (not in the trainer process, which runs this file as __mp_main__)
    from gradtui.tui.widgets.status import StatusBar

    real, drawn = StatusBar.render, []

    def render(self):
        if self.view is not None and self.view.snap is not None:
            drawn.append(1)
            if len(drawn) > 3:
                raise RuntimeError("a bug in a panel")
        return real(self)

    StatusBar.render = render
    sys.exit(main(sys.argv[1:]))
"""


def test_a_crash_exits_3_with_one_line_naming_the_crash_log_and_gives_the_terminal_back(q_exit, tmp_path):
    """No real crash is known (the fuzzers found none), so this one is injected: the launched process patches the
    status line's render to raise after a few frames, an exception that reaches Textual itself."""
    script = tmp_path / "crashing.py"
    script.write_text(CRASHING)
    term = Term(gradtui_argv(*FLAGS, script=str(script)), env={**os.environ, "TMPDIR": str(tmp_path)}, cwd=tmp_path)
    try:
        rc = term.wait()
        assert term.wait_group_gone() == []
        out = term.output
    finally:
        term.close()
    assert rc == EXIT_CRASH
    assert restore_block(out) == restore_block(q_exit[1])
    said = after_restore(out)
    m = CRASH_LINE.fullmatch(said)
    assert m, said  # exactly the one line
    log = Path(m[1])
    assert log.parent == tmp_path
    text = log.read_text()
    assert "Traceback" in text and "RuntimeError: a bug in a panel" in text
    assert trainer_logs(tmp_path) == []


WARNING_TRAINER = """
import sys
import warnings

import gradtui.session

if __name__ == "__mp_main__":  # the trainer process: it warns once, into its log
    real = gradtui.session.serve

    def serve(*args, **kw):
        warnings.warn("a warning from the trainer")
        return real(*args, **kw)

    gradtui.session.serve = serve

if __name__ == "__main__":
    from gradtui.cli import main

    sys.exit(main(sys.argv[1:]))
"""


def test_a_trainer_log_that_holds_something_is_kept_and_its_path_shown(tmp_path):
    script = tmp_path / "warning_trainer.py"
    script.write_text(WARNING_TRAINER)
    rc, out, _ = run_in_pty(tmp_path, lambda t: t.write(b"q"), script=str(script))
    assert rc == 0
    (log,) = trainer_logs(tmp_path)
    assert "a warning from the trainer" in log.read_text()
    assert after_restore(out).strip() == f"gradtui: the trainer wrote messages to {log}"


# ---- in process: crashes ----------------------------------------------------------------------------------------
async def test_a_snapshot_that_breaks_a_screen_is_a_crash_with_a_log(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    async with fake_app() as (app, pilot, source):
        broken = make_snapshot().replace(entries=None)  # a snapshot no screen can draw
        source.feed(broken)  # what the app's next poll hands over
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.02)
    assert app.return_code == EXIT_CRASH
    assert app.crash_log is not None and Path(app.crash_log).parent == tmp_path
    assert "Traceback" in Path(app.crash_log).read_text()
    assert source.closed  # the app's source (its trainer) is closed on the way out


async def test_an_exception_that_reaches_textual_is_a_crash_with_a_log_too(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    def broken_render(self):
        raise RuntimeError("a bug in a panel")

    with pytest.raises(RuntimeError, match="a bug in a panel"):  # Pilot re-raises it for the test's sake
        async with fake_app() as (app, pilot, _):
            monkeypatch.setattr(StatusBar, "render", broken_render)
            show(app, make_snapshot(step=7))
            app.dashboard.query_one(StatusBar).refresh()
            await pilot.pause()
    assert app.return_code == EXIT_CRASH
    assert "RuntimeError: a bug in a panel" in Path(app.crash_log).read_text()


# ---- in process: a trainer that dies ----------------------------------------------------------------------------
def status_text(app: GradTUI) -> str:
    return rendered(app.dashboard.query_one(StatusBar))


def alerts_text(app: GradTUI) -> str:
    return rendered(app.dashboard.query_one(AlertsLine))


async def until(pilot, condition, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        await pilot.pause(0.05)


async def test_a_killed_trainer_is_said_and_ctrl_r_starts_a_new_one(tmp_path):
    before = set(mp.active_children())
    config = Config(depth=3, width=8, samples=200, probe_size=64, seed=0)
    session = Session(config, mode="process", speed_cap=300, log_dir=str(tmp_path)).start()
    (trainer,) = set(mp.active_children()) - before
    try:
        app = GradTUI(session, fps=20)
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            await wait_for(app, lambda s: s.step > 0, timeout=60)  # the child process has started up
            await pilot.press("plus")  # a change of the settings (depth 3 -> 4) before it dies
            await wait_for(app, lambda s: s.config.depth == 4)
            os.kill(trainer.pid, signal.SIGKILL)
            await until(pilot, lambda: "trainer stopped" in status_text(app), "the status line says it stopped")
            assert "training" not in status_text(app)
            assert "the trainer stopped unexpectedly" in alerts_text(app) and "ctrl+r" in alerts_text(app)
            shown = status_text(app)
            await pilot.press("a")  # a change while the trainer is dead: refused, in words; nothing recorded
            await pilot.pause()
            assert "not running" in alerts_text(app) and "ctrl+r" in alerts_text(app)
            assert status_text(app) == shown and app.dashboard.config.activation == config.activation
            assert session.configs[0].activation == config.activation
            last = app.last_snapshot
            await pilot.press("ctrl+r")
            assert session.alive
            new = await wait_for(app, lambda s: s is not last and s.step > 0, timeout=60)
            await wait_for(app, lambda s: s.step > new.step)  # snapshots flow again
            assert new.config.depth == 4  # the new trainer runs the settings the dashboard shows
            await until(pilot, lambda: "▶ training" in status_text(app), "the status line says it trains")
            assert "rebuilding" not in status_text(app)
            shown = app.dashboard.config
            assert f" {new.config.activation} " in status_text(app) and shown == new.config  # what runs is shown
    finally:
        session.close()
    assert not session.alive
    assert trainer_logs(tmp_path) == []  # both logs were empty: removed


async def test_a_change_sent_to_a_dead_trainer_is_not_what_a_restart_starts(tmp_path):
    """The session refuses a change while its trainer is dead and does not record it: a restart starts what ran
    (what the dashboard, told "not running", still shows)."""
    from gradtui.engine import Change
    from gradtui.source import ApplyChange, Restart

    before = set(mp.active_children())
    config = Config(depth=2, width=4, samples=40, probe_size=16, seed=0, activation="relu")
    session = Session(config, mode="process", log_dir=str(tmp_path)).start()
    (trainer,) = set(mp.active_children()) - before

    async def snapshot() -> object:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            u = session.poll()
            if u.snapshots:
                return u.snapshots[0]
            await asyncio.sleep(0.05)
        raise AssertionError("no snapshot from the trainer process")

    try:
        first = await snapshot()
        os.kill(trainer.pid, signal.SIGKILL)
        trainer.join(10)
        session.poll()
        assert not session.alive
        session.send(ApplyChange(Change("activation", "tanh")))
        problems = session.poll().problems
        assert any("not running" in p.text for p in problems)
        assert session.configs[0].activation == "relu"
        session.send(Restart())
        assert session.alive
        again = await snapshot()
        assert again.config.activation == "relu"
        assert again.seq > first.seq  # Snapshot.seq never goes back within the session, not even over a restart
    finally:
        session.close()


async def test_the_trainer_log_exists_while_it_runs_and_goes_when_empty(tmp_path):
    session = Session(Config(depth=2, width=4, samples=40), mode="process", log_dir=str(tmp_path)).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (u := session.poll()).snapshots:
            await asyncio.sleep(0.05)
        assert u.snapshots, "no snapshot from the trainer process"
        assert len(trainer_logs(tmp_path)) == 1  # while it runs, its log exists ...
    finally:
        session.close()
    assert trainer_logs(tmp_path) == [] and session.kept_log is None  # ... and goes when it was empty
