"""Issue 4: twins in lockstep with shared initialisation, replay cursor, CSV export."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest

from gradtui.engine import Config, Trainer
from gradtui.export import export_csv
from gradtui.record import Recorder, Recording, load_recording
from gradtui.replay import RecordingSource
from gradtui.session import Session
from gradtui.source import ApplyChange, Pause, Play, PlaySpeed, Seek, SeekBy, SeekEvent, SetRuns

SMALL = dict(depth=3, width=8, samples=300, probe_size=64, seed=3)


def _wait_snaps(session: Session, pred, timeout: float = 20.0):
    """Poll until snapshots satisfying ``pred`` arrive (the session's own pipe wakes us: no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if session._conn.poll(0.2):
            update = session.poll()
            snaps, problems = update.snapshots, update.problems
            assert not problems, problems
            if snaps is not None and pred(snaps):
                return snaps
    raise AssertionError("no matching snapshots in time")


def test_twins_share_initial_weights_and_batches_where_shapes_match():
    a = Trainer(Config(activation="relu", **SMALL))
    b = Trainer(Config(activation="sigmoid", **SMALL))
    for la, lb in zip(a.net.blocks, b.net.blocks):
        np.testing.assert_array_equal(la.dense.W, lb.dense.W)
    np.testing.assert_array_equal(a.net.out.W, b.net.out.W)
    xa, _ = a._next_batch()
    xb, _ = b._next_batch()
    np.testing.assert_array_equal(xa, xb)
    # maxout doubles the affine width: the first layer's shape differs, so its weights are its own
    m = Trainer(Config(activation="maxout", **SMALL))
    assert m.net.blocks[0].dense.W.shape != a.net.blocks[0].dense.W.shape


def test_twins_step_in_lockstep_and_pause_alone():
    configs = [Config(activation="relu", **SMALL), Config(activation="tanh", **SMALL)]
    session = Session(configs, mode="thread", hz=50).start()
    try:
        snaps = _wait_snaps(session, lambda s: s[0].step > 50)
        assert [s.config.activation for s in snaps] == ["relu", "tanh"]
        assert snaps[0].step == snaps[1].step  # lockstep: the same step counter in every snapshot
        session.send(Pause(True, 1))
        paused = _wait_snaps(session, lambda s: s[1].paused)
        later = _wait_snaps(session, lambda s: s[0].step > paused[0].step + 20)
        assert later[1].step == paused[1].step  # run B stands still while A trains on
        assert later[0].step > later[1].step
    finally:
        session.close()


def test_set_runs_restarts_twins_from_the_seed():
    session = Session(Config(**SMALL), mode="thread", hz=50).start()
    try:
        _wait_snaps(session, lambda s: s[0].step > 30)
        session.send(SetRuns((Config(**SMALL), Config(activation="elu", **SMALL))))
        snaps = _wait_snaps(session, lambda s: len(s) == 2)
        assert snaps[0].step == snaps[1].step < 30
        assert snaps[1].config.activation == "elu"
    finally:
        session.close()


def _recording(tmp_path, steps=60, every=10, **kw):
    trainer = Trainer(Config(**{**SMALL, **kw}))
    path = tmp_path / "run.jsonl"
    live = list(trainer.run(steps, every=every))
    with Recorder(path) as rec:
        for s in live:
            rec.write(s)
    return live, path


def test_replay_cursor_play_step_seek_and_events(tmp_path):
    live, path = _recording(tmp_path)
    snaps, warnings = load_recording(path)
    assert not warnings and len(snaps) == len(live)
    now = [0.0]
    r = RecordingSource(Recording(path), rate=10, clock=lambda: now[0])
    first = r.poll()
    assert first.snapshots[0].step == live[0].step
    assert first.rebuild and [s.step for s in first.passed] == [live[0].step]  # the first: history from scratch
    assert r.poll().snapshots is None  # nothing new until the cursor moves
    r.send(SeekBy(1))
    u = r.poll()
    assert u.snapshots[0].step == live[1].step and not u.rebuild and [s.step for s in u.passed] == [live[1].step]
    r.send(Play(True))  # play: 10 snapshots a second at speed 1
    now[0] += 0.25
    u = r.poll()
    assert u.snapshots[0].step == live[3].step
    assert [s.step for s in u.passed] == [live[2].step, live[3].step]  # every snapshot passed, for the charts
    r.send(PlaySpeed(1))
    assert r.speed == 2.0
    r.send(Seek(-1))
    u = r.poll()
    assert u.snapshots[0].step == live[-1].step
    assert not u.rebuild and u.passed[-1].step == live[-1].step  # forward: the points in between are kept
    r.send(Seek(0))
    u = r.poll()
    assert u.rebuild and [s.step for s in u.passed] == [live[0].step]  # back: rebuilt up to the cursor
    r.send(ApplyChange(None))
    assert "cannot be changed" in r.poll().problems[0].text  # changes are refused in words


def test_replay_seek_event_jumps_to_a_change(tmp_path):
    from gradtui.engine import Change

    trainer = Trainer(Config(**SMALL))
    snaps = list(trainer.run(30, every=10))
    trainer.apply(Change("lr", 0.5))
    snaps += list(trainer.run(30, every=10))
    path = tmp_path / "r.jsonl"
    with Recorder(path) as rec:
        for s in snaps:
            rec.write(s)
    r = RecordingSource(Recording(path))
    r.poll()
    r.send(SeekEvent(1))
    current = r.poll().snapshots[0]
    assert current.step >= 30 and current.config.lr == 0.5


def _read(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_export_csv_is_tidy(tmp_path):
    live, path = _recording(tmp_path)
    snaps, _ = load_recording(path)
    layers, steps, events = export_csv(snaps, tmp_path / "out")
    rows = _read(layers)
    assert rows[0].keys() == {"step", "run", "layer", "metric", "value"}
    assert len(rows) == len(snaps) * SMALL["depth"] * 9
    g = [r for r in rows if r["metric"] == "grad_norm" and r["layer"] == "L1" and r["step"] == str(live[-1].step)]
    assert float(g[0]["value"]) == pytest.approx(live[-1].layers[0].grad_norm, rel=1e-7)  # float32's precision
    srows = _read(steps)
    assert {r["metric"] for r in srows} >= {"loss", "test_accuracy", "vanishing_ratio"}
    erows = _read(events)
    assert erows[0]["kind"] == "start"


@pytest.mark.parametrize("n", [1, 4])
def test_serve_handles_one_to_four_runs(n):
    configs = [Config(activation=a, **SMALL) for a in ["relu", "sigmoid", "tanh", "gelu"][:n]]
    session = Session(configs, mode="thread", hz=50).start()
    try:
        snaps = _wait_snaps(session, lambda s: s[0].step > 5)
        assert len(snaps) == n and len({s.step for s in snaps}) == 1
    finally:
        session.close()


@pytest.mark.parametrize(
    "configs",
    [
        [Config(activation="relu", **SMALL), Config(activation="tanh", **SMALL)],
        [Config(**SMALL), Config.for_model("gru", width=8, seq_len=10, batch_size=16, probe_size=16, seed=3)],
    ],
    ids=["relu-tanh", "mlp-gru"],
)
def test_headless_compare_and_the_dashboards_twins_agree_at_the_same_step(configs):
    """``gradtui compare``'s loop (cli.headless.Headless) and the dashboard's trainer session run the same
    lockstep steps from the same seed: at every step both measured, the same figures, exactly."""
    from gradtui.cli.headless import Headless

    steps = 120
    headless: dict[int, tuple] = {}
    h = Headless(configs, None, threads=1)

    def keep(i, first):
        headless[first.step] = tuple(h.last)

    h.train(steps, 1, on_snapshot=keep)
    session = Session(configs, mode="thread", hz=50, speed_cap=400, threads=1).start()
    seen = []
    try:
        while True:
            snaps = _wait_snaps(session, lambda s: True)
            if snaps[0].step > steps:
                break
            seen.append(snaps)
    finally:
        session.close()
    matched = [(snaps, headless[snaps[0].step]) for snaps in seen if snaps[0].step in headless]
    assert len(matched) >= 3, [s[0].step for s in seen]
    measured = tested = 0
    for live, head in matched:
        for a, b in zip(live, head):
            assert a.step == b.step and a.run == b.run and a.summary == b.summary
            # figures of the weights at that step (the train loss is a mean since the last snapshot: the two
            # loops snapshot at different steps, so it is not compared)
            # (a figure the dashboard's pacer carried from an earlier step says so: its test_step, probe_step)
            if a.test_step == b.test_step:
                assert a.test_loss == b.test_loss and a.test_accuracy == b.test_accuracy
                tested += a.test_step == a.step
            if a.probe_step == b.probe_step:
                assert a.accuracy == b.accuracy
                np.testing.assert_array_equal([e.mean for e in a.entries], [e.mean for e in b.entries])
            if a.grad_step == a.step == b.grad_step:
                ga, gb = [e.grad_norm for e in a.entries], [e.grad_norm for e in b.entries]
                np.testing.assert_array_equal(ga, gb)
                measured += all(np.isfinite(ga))
    assert measured > 0 and tested > 0  # gradient and test figures were compared at some step
