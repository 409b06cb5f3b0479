"""``gradtui watch`` end to end (issue 7): the real dashboard on a recording that another process is writing. The
cursor follows new snapshots, a half-written last line waits until it is complete, ← and End leave and resume
following, and the status line says when the writer stopped (its end marker, or its process gone)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from uitest import ready

from gradtui.record import Recording
from gradtui.replay import RecordingSource
from gradtui.tui.app import GradTUI
from gradtui.tui.widgets.status import AlertsLine, StatusBar

WRITER = Path(__file__).parent / "recording_writer.py"
WAIT = 30.0


class Writer:
    """tests/recording_writer.py in its own process; ``await do("write 3")`` returns (step, lines written)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, path: Path) -> Writer:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), *sys.path])}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(WRITER), str(path), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env=env,
        )  # fmt: skip
        return cls(proc)

    async def do(self, command: str) -> tuple[int, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        reply = await asyncio.wait_for(self.proc.stdout.readline(), WAIT)
        _, step, lines = reply.split()
        return int(step), int(lines)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), WAIT)


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` (the app runs meanwhile) until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def status(app: GradTUI) -> str:
    return app.dashboard.query_one(StatusBar).render().plain


def looked(rec: Recording, path: Path) -> Callable[[], bool]:
    """The source has looked at the file since it reached its present size."""
    size = path.stat().st_size
    return lambda: rec.seen_bytes == size


async def test_watch_follows_a_recording_being_written(tmp_path):
    path = tmp_path / "live.jsonl"
    writer = await Writer.start(path)
    try:
        await writer.do("write 3")
        rec = Recording(path, follow=True)
        source = RecordingSource(rec, follow=True)
        app = GradTUI(source, fps=50)
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            await until(lambda: app.dashboard.snap is not None and app.dashboard.snap.seq == 3, "the newest snapshot")
            assert "following" in status(app) and "3/3" in status(app)

            step, _ = await writer.do("write 2")  # new snapshots: the cursor follows
            await until(lambda: app.dashboard.snap.step == step, "the new snapshots")
            assert "5/5" in status(app)

            await writer.do("half")  # half a line: not a snapshot yet, and not an error
            await until(looked(rec, path), "a look at the half-written line")
            await pilot.pause()
            assert source.length == 5 and app.dashboard.snap.step == step and "5/5" in status(app)
            assert not app.dashboard.query_one(AlertsLine).message and not rec.warnings
            step, _ = await writer.do("rest")  # complete: the sixth snapshot
            await until(lambda: app.dashboard.snap.step == step, "the completed line")
            assert "6/6" in status(app)

            await pilot.press("left")  # looking back: no longer following
            shown = app.dashboard.snap.step
            assert "watching" in status(app) and "5/6" in status(app)
            await writer.do("write 2")
            await until(lambda: source.length == 8, "two more snapshots")
            await pilot.pause()
            assert app.dashboard.snap.step == shown and "5/8" in status(app)  # the cursor stays where it was
            await pilot.press("end")  # following again
            step, _ = await writer.do("write 1")
            await until(lambda: app.dashboard.snap.step == step, "following again")
            assert "following" in status(app) and "9/9" in status(app)

            await writer.do("close")  # the end marker
            await until(lambda: "writer stopped" in status(app), "the writer's end")
            assert "the writer finished" in status(app)
    finally:
        await writer.kill()


async def test_watch_says_when_a_killed_writer_has_stopped(tmp_path):
    path = tmp_path / "killed.jsonl"
    writer = await Writer.start(path)
    try:
        await writer.do("write 2")
        app = GradTUI(RecordingSource(Recording(path, follow=True), follow=True), fps=50)
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            await until(lambda: app.dashboard.snap is not None and "following" in status(app), "following")
            pid = writer.proc.pid
            os.kill(pid, signal.SIGKILL)  # no end marker
            await writer.kill()  # reaped: the pid is gone
            await until(lambda: "writer stopped" in status(app), "the killed writer's end")
            assert f"pid {pid}" in status(app)
    finally:
        await writer.kill()


async def test_watch_waits_for_a_file_that_does_not_exist_yet(tmp_path):
    path = tmp_path / "later.jsonl"
    rec = Recording(path, follow=True)  # no error: watch waits for the writer to start
    app = GradTUI(RecordingSource(rec, follow=True), fps=50)
    writer = None
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await until(lambda: "waiting for the file to appear" in status(app), "the waiting note")
        path.write_bytes(b"")  # created, still empty
        await until(looked(rec, path), "a look at the empty file")
        await until(lambda: "waiting for the first snapshot" in status(app), "the empty-file note")
        writer = await Writer.start(path)
        try:
            step, _ = await writer.do("write 2")
            await until(lambda: app.dashboard.snap is not None and app.dashboard.snap.step == step, "the snapshots")
            assert "following" in status(app) and "2/2" in status(app)
        finally:
            await writer.kill()


async def test_watch_says_so_when_a_damaged_line_arrives(tmp_path):
    path = tmp_path / "damaged.jsonl"
    writer = await Writer.start(path)
    try:
        step, _ = await writer.do("write 2")
        rec = Recording(path, follow=True)
        app = GradTUI(RecordingSource(rec, follow=True), fps=50)
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            await until(lambda: app.dashboard.snap is not None and app.dashboard.snap.step == step, "following")
            await writer.do("garbage")
            await writer.do("write 1")  # nothing after a damaged line is read
            await until(looked(rec, path), "a look at the damaged line")
            alerts = app.dashboard.query_one(AlertsLine)
            await until(lambda: alerts.message is not None and "line 3" in alerts.message[1], "the warning")
            assert app.dashboard.snap.step == step and "2/2" in status(app)
    finally:
        await writer.kill()


class FakeClock:
    """The watch source's clock, moved by the test: no real time passes for a writer to fall quiet."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def remote_recording_lines(n: int) -> list[bytes]:
    """``n`` snapshot lines of a small real run, as a writer on another machine wrote them: its layout names
    another host, and a pid that is not alive here (it must not be looked up on this machine)."""
    import json
    import tempfile

    from gradtui.engine import Config, Trainer
    from gradtui.record import Recorder

    trainer = Trainer(Config(depth=3, width=6, samples=80, batch_size=16, probe_size=40, hist_bins=8))
    with tempfile.TemporaryDirectory() as tmp:
        made = Path(tmp) / "made.jsonl"
        rec = Recorder(made)
        for _ in range(n):
            trainer.step(measure=True)
            rec.write(trainer.snapshot(boundary=True))
        rec._file.close()  # no end marker: the writer is still (or was) at work
        lines = made.read_bytes().splitlines(keepends=True)
    first = json.loads(lines[0])
    first["layout"]["writer"] = {"pid": 2**22 + 4321, "host": "another-box.example"}
    lines[0] = json.dumps(first, separators=(",", ":")).encode() + b"\n"
    return lines


def test_a_quiet_writer_on_another_machine_may_have_stopped(tmp_path):
    path = tmp_path / "remote.jsonl"
    lines = remote_recording_lines(8)
    clock = FakeClock()
    path.write_bytes(b"".join(lines[:2]))
    source = RecordingSource(Recording(path, follow=True), follow=True, clock=clock)
    source.poll()
    for line in lines[2:6]:  # a line a second (the usual interval): 20 of them is the longer wait, 20 s
        with path.open("ab") as f:
            f.write(line)
        clock.t += 1.0
        source.poll()
    assert source.length == 6
    assert source.state().note == "following" and source.state().alive  # its pid is not looked for here
    clock.t += 19.0
    source.poll()
    assert source.state().note == "following"  # 19 s: within 20 usual intervals
    clock.t += 2.0
    source.poll()
    state = source.state()
    assert not state.alive and state.note == "no new snapshot for 21 s: the writer may have stopped"
    with path.open("ab") as f:  # it was only slow: a new line, and it is followed again
        f.write(lines[6])
    clock.t += 1.0
    source.poll()
    assert source.length == 7 and source.state().alive and source.state().note == "following"


def test_a_fast_writer_counts_as_stopped_after_ten_quiet_seconds(tmp_path):
    path = tmp_path / "fast.jsonl"
    lines = remote_recording_lines(6)
    clock = FakeClock()
    path.write_bytes(lines[0])
    source = RecordingSource(Recording(path, follow=True), follow=True, clock=clock)
    source.poll()
    for line in lines[1:]:  # a line every 0.3 s: 20 intervals are 6 s, so the floor of 10 s applies
        with path.open("ab") as f:
            f.write(line)
        clock.t += 0.3
        source.poll()
    assert source.length == 6
    clock.t += 9.5
    source.poll()
    assert source.state().alive
    clock.t += 1.0
    source.poll()
    assert not source.state().alive and "the writer may have stopped" in source.state().note


async def test_the_dashboard_says_a_quiet_remote_writer_may_have_stopped(tmp_path):
    path = tmp_path / "remote.jsonl"
    lines = remote_recording_lines(3)
    path.write_bytes(b"".join(lines))
    clock = FakeClock()
    app = GradTUI(RecordingSource(Recording(path, follow=True), follow=True, clock=clock), fps=50)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await until(lambda: app.dashboard.snap is not None and "following" in status(app), "following")
        clock.t += 30.0  # half a minute without a line, on the source's clock
        await until(lambda: "writer stopped" in status(app), "the quiet writer's note")
        assert "may have stopped" in status(app)
