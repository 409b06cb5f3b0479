"""Issue 4 in the dashboard: replay controls (Pilot), live == replay at the same step, compare and fork keys,
and a recording killed mid-write still loads."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
from rich.text import Text
from uitest import FakeSource, live_app, ready, show

from gradtui.engine import Change, Config, Trainer
from gradtui.record import Recorder, Recording, load_recording
from gradtui.replay import RecordingSource
from gradtui.tui.app import GradTUI
from gradtui.tui.screens.compare import CompareScreen
from gradtui.tui.widgets.base import Panel
from gradtui.tui.widgets.flow import GradientFlow
from gradtui.tui.widgets.status import StatusBar

SMALL = dict(depth=4, width=12, samples=400, probe_size=96, seed=1)
WAIT = 20


def _recorded(tmp_path):
    """A live run with a change in the middle, recorded to a file; returns (live snapshots, loaded snapshots)."""
    t = Trainer(Config(**SMALL))
    live = list(t.run(40, every=10))
    t.apply(Change("activation", "relu"))
    live += list(t.run(40, every=10))
    path = tmp_path / "r.jsonl"
    with Recorder(path) as rec:
        for s in live:
            rec.write(s)
    loaded, warnings = load_recording(path)
    assert not warnings
    return live, loaded


def _screen_text(app) -> dict[str, str]:
    out = {}
    for panel in app.dashboard.query(Panel):
        r = panel.render()
        out[panel.id] = r.plain if isinstance(r, Text) else str(r)
    return out


async def test_replay_shows_what_the_live_dashboard_showed(tmp_path):
    live, loaded = _recorded(tmp_path)
    live_app = GradTUI(FakeSource(config=live[0].config), fps=50, color="truecolor")
    async with live_app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        for s in live:
            show(live_app, s)
        await pilot.pause()
        live_view = _screen_text(live_app)
    replay_app = GradTUI(RecordingSource(Recording(tmp_path / "r.jsonl")), fps=50, color="truecolor")
    async with replay_app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        await asyncio.wait_for(replay_app.wait_for_snapshot(), WAIT)
        await pilot.press("end")
        await asyncio.wait_for(replay_app.wait_for_snapshot(lambda s: s.step == live[-1].step), WAIT)
        await pilot.pause()
        replay_view = _screen_text(replay_app)
    assert live_view.keys() == replay_view.keys()
    for name in live_view:
        assert replay_view[name] == live_view[name], f"panel {name} differs between live and replay"


async def test_replay_transport_keys(tmp_path):
    _, loaded = _recorded(tmp_path)
    session = RecordingSource(Recording(tmp_path / "r.jsonl"))
    app = GradTUI(session, fps=50)
    steps = [s.step for s in loaded]
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await asyncio.wait_for(app.wait_for_snapshot(), WAIT)
        assert app.dashboard.snap.step == steps[0]
        await pilot.press("right")
        assert app.dashboard.snap.step == steps[1]
        await pilot.press("right", "right", "left")
        assert app.dashboard.snap.step == steps[2]
        await pilot.press("end")
        assert app.dashboard.snap.step == steps[-1]
        await pilot.press("home")
        assert app.dashboard.snap.step == steps[0]
        assert len(app.dashboard.history.points) == 1  # back at the start: the charts hold only what came before
        await pilot.press("e")  # the next event: the switch to relu
        assert app.dashboard.snap.config.activation == "relu"
        assert app.dashboard.snap.step == next(s.step for s in loaded if s.config.activation == "relu")
        await pilot.press("E")
        assert app.dashboard.snap.config.activation == "sigmoid"
        await pilot.press("greater_than_sign", "greater_than_sign")
        assert session.speed == 4.0
        await pilot.press("less_than_sign")
        assert session.speed == 2.0
        await pilot.press("space")
        assert session.playing and "▶ playing" in app.dashboard.query_one(StatusBar).render().plain
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: s.step == steps[-1]), WAIT)  # plays to the end
        assert not session.playing
        await pilot.press("a")  # changing a recording is refused, in words
        await pilot.pause()
        assert "recording: it cannot be changed" in app.dashboard.query_one("#alerts").render().plain
        assert app.dashboard.snap.config.activation == "relu"


async def test_fork_compare_target_and_unfork():
    async with live_app(size=(140, 44), **SMALL) as (app, pilot):
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: s.run_step > 0), WAIT)
        await pilot.press("f")
        d = app.dashboard
        assert isinstance(d, CompareScreen) and len(d.configs) == 2 and d.target == 1
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: len(d.snaps) == 2), WAIT)
        await pilot.press("a")  # changes the twin only
        assert [c.activation for c in d.configs] == ["sigmoid", "tanh"]
        await asyncio.wait_for(
            app.wait_for_snapshot(lambda s: [x.config.activation for x in d.snaps] == ["sigmoid", "tanh"]), WAIT
        )
        a, b = d.snaps
        assert a.step == b.step  # lockstep
        flows = list(d.query(GradientFlow))
        assert len(flows) == 2 and flows[1].snap.config.activation == "tanh"
        assert "gradient of" in d.query_one("#compare-diff").render().plain
        assert "keys change run B" in app.dashboard.query_one(StatusBar).render().plain
        await pilot.press("t")
        assert d.target == 0
        await pilot.press("space")  # pause run A alone
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: d.snaps[0].paused), WAIT)
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: d.snaps[1].step > d.snaps[0].step + 5), WAIT)
        assert "q" in app.dashboard.query_one("#keybar").render().plain  # the key bar survives the fork
        await pilot.press("F")
        assert not isinstance(app.dashboard, CompareScreen) and app.dashboard.config.activation == "sigmoid"
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: s.run == ""), WAIT)
        assert "? help" in app.dashboard.query_one("#keybar").render().plain


def test_a_recording_killed_mid_write_still_loads(tmp_path):
    path = tmp_path / "killed.jsonl"
    cmd = [sys.executable, "-m", "gradtui", "run", "--depth", "3", "--width", "8", "--steps", "10000000",
           "--every", "1", "--record", str(path)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (path.exists() and path.read_bytes().count(b"\n") >= 12):  # until it is well into writing
            assert proc.poll() is None, "the run ended early"
            assert time.monotonic() < deadline, "the recording did not grow"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    snaps, warnings = load_recording(path)
    assert len(snaps) > 10
    assert len(warnings) <= 1  # at most the line being written was lost
    assert [s.step for s in snaps] == sorted(s.step for s in snaps)


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"\x00\x01 not json\n", "not a gradtui recording")])
def test_replay_cli_refuses_bad_files_in_one_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    r = subprocess.run([sys.executable, "-m", "gradtui", "replay", str(path)], capture_output=True, text=True)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


async def test_r_records_what_the_dashboard_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with live_app(**SMALL) as (app, pilot):
        await pilot.press("R")
        assert app.recorder is not None
        path = tmp_path / app.recorder.path
        first = app.recorder.lines
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: app.recorder.lines >= first + 3), WAIT)
        await pilot.press("a")  # a change while recording: kept as an event
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: s.config.activation == "tanh"), WAIT)
        await pilot.press("R")
        assert app.recorder is None
    snaps, warnings = load_recording(path)
    assert not warnings and len(snaps) >= 4
    assert any(e.kind == "change" and "tanh" in e.text for e in snaps[-1].events)


def _gradtui(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradtui", *args], capture_output=True, text=True, cwd=cwd)


def test_compare_headless_table_and_jsonl_with_runs(tmp_path):
    out = tmp_path / "twins.jsonl"
    r = _gradtui("compare", "relu", "sigmoid", "--depth", "6", "--width", "16", "--samples", "300", "--steps", "60",
                 "--every", "20", "--jsonl", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "A:relu" in r.stdout and "B:sigmoid" in r.stdout and "the gradient of" in r.stdout
    snaps, _ = load_recording(out)
    assert [s.run for s in snaps] == ["A", "B"] * 4
    assert [s.step for s in snaps] == [0, 0, 20, 20, 40, 40, 60, 60]  # lockstep, from the initial state
    r = _gradtui("replay", str(out), "--run", "C")
    assert r.returncode == 2 and "no run 'C'" in r.stderr


def test_export_cli_writes_tables_pandas_style(tmp_path):
    rec = tmp_path / "r.jsonl"
    assert _gradtui("run", "--depth", "3", "--steps", "40", "--every", "10", "--record", str(rec)).returncode == 0
    r = _gradtui("export", str(rec), "--csv", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    header = (tmp_path / "out" / "layers.csv").read_text().splitlines()[0]
    assert header == "step,run,layer,metric,value"
    r = _gradtui("export", str(tmp_path / "missing.jsonl"), "--csv", str(tmp_path / "x"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_a_compare_recording_keeps_each_runs_events_apart(tmp_path):
    out = tmp_path / "twins.jsonl"
    r = _gradtui("compare", "relu", "tanh", "--depth", "3", "--samples", "300", "--steps", "20", "--every", "10",
                 "--jsonl", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    snaps, _ = load_recording(out)
    for s in snaps:
        starts = [e for e in s.events if e.kind == "start"]
        assert len(starts) == 1 and s.config.activation in starts[0].text


async def test_twins_share_one_log_scale():
    from conftest import make_snapshot

    relu = make_snapshot(config=Config(activation="relu", depth=4, width=16), run="A")
    tiny = {i: {"grad_norm": 10.0 ** (-12 + i)} for i in range(1, 5)}  # 1e-11 .. 1e-8: a vanishing twin
    sig = make_snapshot(config=Config(activation="sigmoid", depth=4, width=16), layer_overrides=tiny, run="B")
    app = GradTUI(FakeSource(runs=[relu.config, sig.config]), fps=50)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        show(app, relu, sig)
        await pilot.pause()
        flows = list(app.dashboard.query(GradientFlow))
        assert flows[0].view.scale == flows[1].view.scale and flows[0].view.scale[0] <= -11
        axes = [f.render().plain.splitlines()[-1] for f in flows]  # the axis line: the same decades on both
        assert axes[0].split()[:2] == axes[1].split()[:2]
        # equal gradients draw equal bars: run A's top layer is 1e-1.5 .. ; B's 1e-8 is much shorter
        bar = [
            len(line.split()[1])
            for line in (flows[0].render().plain.splitlines()[1], flows[1].render().plain.splitlines()[1])
        ]
        assert bar[0] > bar[1]
