"""What crosses the trainer's pipe, and what the recorder writes: the decision boundary only when it is new (never
another run's after the runs change), a boundary kept when a recomputation comes out the same, and ``seq`` that
never goes back within a source."""

from __future__ import annotations

import json
import threading
import time
from multiprocessing import Pipe
from multiprocessing.connection import Connection

import numpy as np

from gradtui.engine import Change, Config, Trainer
from gradtui.engine.trainer import same_boundary
from gradtui.record import Recorder
from gradtui.session import Ack, Session, Snapshots, Stop, serve
from gradtui.source import ApplyChange, SetRuns

MLP = Config(depth=3, width=8, samples=300, probe_size=64, seed=3)
LSTM = Config.for_model("lstm", width=8, seq_len=10, batch_size=16, probe_size=16, seed=3)
WAIT = 30.0


def _recv(conn: Connection, pred, timeout: float = WAIT) -> list[Snapshots]:
    """The trainer's Snapshots messages (each acknowledged, as the UI does) up to the first that satisfies
    ``pred``; the pipe's own poll wakes us."""
    got: list[Snapshots] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not conn.poll(0.2):
            continue
        msg = conn.recv()
        if isinstance(msg, Snapshots):
            got.append(msg)
            conn.send(Ack())
            if pred(msg):
                return got
    raise AssertionError("no matching snapshots in time")


def _wait(session: Session, pred, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if session._conn is not None and session._conn.poll(0.2):
            snaps = session.poll().snapshots
            if snaps is not None and pred(snaps):
                return snaps
    raise AssertionError("no matching snapshots in time")


def _serving(configs):
    ours, theirs = Pipe()
    worker = threading.Thread(target=serve, args=(theirs, configs, 50.0, 400.0, 1), daemon=True)
    worker.start()
    return ours, worker


def _stop(conn: Connection, worker: threading.Thread) -> None:
    conn.send(Stop())
    worker.join(10)
    assert not worker.is_alive()


# ---- the boundary across the pipe ---------------------------------------------------------------------------------
def test_the_server_leaves_out_only_the_boundary_it_sent_last_and_never_a_missing_one():
    conn, worker = _serving([MLP, LSTM])
    try:
        before = _recv(conn, lambda m: m.snapshots[0].step > 40)
        sent = {}
        for m in before:
            mlp, lstm = m.snapshots
            assert not m.same_boundary[1] and lstm.boundary is None  # the LSTM has none: nothing to put back
            if m.same_boundary[0]:
                assert mlp.boundary is None and sent  # left out: the one sent before stands
            elif mlp.boundary is not None:
                sent[0] = mlp.boundary
        assert sent and any(m.same_boundary[0] for m in before)  # a boundary went, and was then left out
        # unfork to the LSTM alone: run 0 is now a run without a boundary
        conn.send(SetRuns((LSTM,)))
        after = _recv(conn, lambda m: len(m.snapshots) == 1)
        last = after[-1]
        assert last.snapshots[0].config.model == "lstm"
        assert last.same_boundary == (False,) and last.snapshots[0].boundary is None
    finally:
        _stop(conn, worker)


def test_after_an_unfork_the_session_shows_no_boundary_of_the_old_run():
    session = Session([MLP, LSTM], mode="thread", hz=50, speed_cap=400).start()
    try:
        snaps = _wait(session, lambda s: s[0].boundary is not None and s[0].step > 20)
        assert snaps[1].boundary is None
        _wait(session, lambda s: s[0].boundary is not None)  # the MLP's boundary restored while it stays
        session.send(SetRuns((LSTM,)))
        lstm = _wait(session, lambda s: len(s) == 1 and s[0].config.model == "lstm")
        assert lstm[0].boundary is None
        later = _wait(session, lambda s: s[0].step > lstm[0].step)
        assert later[0].boundary is None
    finally:
        session.close()


def test_the_session_forgets_the_old_runs_boundaries_when_the_runs_change():
    """A batch still in flight from before SetRuns (or a trainer that wrongly says "same") cannot make the new run
    show the old one's boundary: the session drops what it remembered when it sends SetRuns."""
    session = Session([MLP], mode="thread", hz=50, speed_cap=400).start()
    try:
        old = _wait(session, lambda s: s[0].boundary is not None)[0]
        session.send(SetRuns((LSTM,)))
        claim = Snapshots((old.replace(boundary=None, config=LSTM),), (True,))
        assert session._restore_boundaries(claim)[0].boundary is None
    finally:
        session.close()


def test_a_change_of_model_sends_no_stale_boundary():
    session = Session(MLP, mode="thread", hz=50, speed_cap=400).start()
    try:
        _wait(session, lambda s: s[0].boundary is not None)
        session.send(ApplyChange(Change("model", "lstm")))
        snap = _wait(session, lambda s: s[0].config.model == "lstm")[0]
        assert snap.boundary is None
    finally:
        session.close()


# ---- an unchanged boundary is kept ----------------------------------------------------------------------------------
def _boundary_blocks(path) -> list[dict]:
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    return [d["boundary"] for d in lines if d.get("boundary")]


def test_a_boundary_that_comes_out_the_same_is_the_same_object_and_is_recorded_once(tmp_path):
    t = Trainer(MLP.replace(lr=1e-9))  # steps far too small to move any prediction or confidence level
    first = t.snapshot(boundary=True)
    path = tmp_path / "r.jsonl"
    with Recorder(path) as rec:
        rec.write(first)
        for _ in range(5):
            for _ in range(3):
                t.step()
            s = t.snapshot(boundary=True)
            assert s.boundary is first.boundary  # kept: nothing new to send or store
            rec.write(s)
    assert len(_boundary_blocks(path)) == 1


def test_a_boundary_that_changed_is_new_and_every_recorded_one_differs_from_the_last(tmp_path):
    t = Trainer(MLP)  # sigmoid, lr 0.1: it learns slowly, and many recomputed boundaries come out the same
    path = tmp_path / "r.jsonl"
    shown = []
    with Recorder(path) as rec:
        for _ in range(60):
            for _ in range(5):
                t.step()
            s = t.snapshot(boundary=True)
            shown.append(s.boundary)
            rec.write(s)
    distinct = [b for i, b in enumerate(shown) if i == 0 or b is not shown[i - 1]]
    assert len(distinct) > 1  # it did learn: some boundaries are new
    for a, b in zip(distinct, distinct[1:]):
        assert not same_boundary(a, b)  # a new object is a different boundary
    blocks = _boundary_blocks(path)
    assert len(blocks) == len(distinct)
    # and no boundary line repeats the one before it
    keys = [(tuple(b["extent"]), json.dumps(b.get("classes")), json.dumps(b.get("confidence"))) for b in blocks]
    assert all(k1 != k2 for k1, k2 in zip(keys, keys[1:]))


def test_same_boundary_compares_what_is_drawn():
    t = Trainer(MLP)
    a = t._compute_boundary()
    b = t._compute_boundary()
    assert a is not b and same_boundary(a, b)
    assert not same_boundary(a, None) and not same_boundary(None, None)
    flipped = a.classes.copy()
    flipped[0, 0] = 1 - flipped[0, 0]
    assert not same_boundary(a, b.__class__(**{**b.__dict__, "classes": flipped}))
    assert not same_boundary(a, b.__class__(**{**b.__dict__, "extent": (0.0, 1.0, 0.0, 1.0)}))
    conf = np.array(a.confidence, copy=True)
    conf[0, 0] = 0.0 if conf[0, 0] else 1.0
    assert not same_boundary(a, b.__class__(**{**b.__dict__, "confidence": conf}))


# ---- seq ------------------------------------------------------------------------------------------------------------
def test_seq_never_goes_back_across_set_runs():
    conn, worker = _serving([MLP])
    try:
        got = _recv(conn, lambda m: m.snapshots[0].seq > 5)
        conn.send(SetRuns((MLP, MLP.replace(activation="tanh"))))  # fork: new twins
        got += _recv(conn, lambda m: len(m.snapshots) == 2 and m.snapshots[0].run_step > 10)
        conn.send(SetRuns((LSTM,)))  # unfork, to another model
        got += _recv(conn, lambda m: len(m.snapshots) == 1 and m.snapshots[0].config.model == "lstm")
        conn.send(ApplyChange(Change("model", "mlp")))  # a change of model: a new trainer, the same timeline
        got += _recv(conn, lambda m: m.snapshots[0].config.model == "mlp")
    finally:
        _stop(conn, worker)
    assert [len(m.snapshots) for m in got].count(2) > 0
    # every batch takes one snapshot of every run: each number is above every number of the batches before it
    for before, after in zip(got, got[1:]):
        assert min(s.seq for s in after.snapshots) > max(s.seq for s in before.snapshots), (before, after)
