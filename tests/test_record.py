"""Recordings (schema 2, and the reader of schema 1): the documented keys, exact round trips of real runs, blocks
only when they changed, random access, the end marker, the previous release's files, and every kind of file a
user can throw at the reader or the writer."""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import SCHEMA_KEYS, make_snapshot

import gradtui.record as record
from gradtui.engine import Change, Config, Entry, GateStats, Hist, Snapshot, Trainer
from gradtui.engine.activations import derivative_curve
from gradtui.engine.stats import share_of
from gradtui.record import (
    Recorder,
    Recording,
    RecordingError,
    RecordingWriteError,
    load_recording,
)

DATA = Path(__file__).parent / "data"
TINY = dict(depth=3, width=6, samples=80, batch_size=16, probe_size=40, hist_bins=8)

# What a recording keeps of a Snapshot. Everything not named here is exact (bit for bit, NaN as NaN, the sign of
# zero, array dtypes and shapes): steps, seq, counts, histogram ranges (hence edges), dead units and their steps,
# accuracies, the config and meta, events, the divergence, the boundary (its confidence is kept in tenths by the
# trainer itself), activations, speed_cap, baseline_loss, and f' at the bins' centres (derived again exactly).
# The figures below are written at the run's precision: all 17 digits for a float64 run (exact), 8 significant
# digits for a float32 run; steps_per_sec always at 4.
SNAPSHOT_AT_PRECISION = {"loss", "test_loss", "vanishing_ratio", "output_grad_norm"}
ENTRY_AT_PRECISION = {"grad_norm", "bias_grad_norm", "signal_norm", "update_ratio", "saturation", "mean", "std",
                      "cell_norm"}  # fmt: skip
STORED_DERIV_AT_PRECISION = True  # f' of an activation with learned slopes (PReLU) is stored, at the run's precision


# ---- comparing snapshots ----------------------------------------------------------------------------------------
def rounded(x: float, digits: int | None) -> float:
    if digits is None or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def same_float(live: float, read: float, digits: int | None = None) -> bool:
    want = rounded(float(live), digits)
    read = float(read)
    if math.isnan(want) or math.isnan(read):
        return math.isnan(want) and math.isnan(read)
    return want == read and math.copysign(1, want) == math.copysign(1, read)


def same_array(live: np.ndarray | None, read: np.ndarray | None, digits: int | None = None) -> bool:
    if live is None or read is None:
        return live is None and read is None
    if digits is not None:
        live = np.array([rounded(x, digits) for x in np.asarray(live, dtype=np.float64)])
    return (
        live.dtype == read.dtype
        and live.shape == read.shape
        and bool(np.array_equal(live, read, equal_nan=live.dtype.kind == "f"))
        and bool(np.array_equal(np.signbit(live), np.signbit(read)) if live.dtype.kind == "f" else True)
    )


def same_hist(a: Hist | None, b: Hist | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return same_array(a.edges, b.edges) and same_array(a.counts, b.counts)


def assert_same_entry(a: Entry, b: Entry, digits: int | None, where: str) -> None:
    for f in dataclasses.fields(Entry):
        x, y = getattr(a, f.name), getattr(b, f.name)
        w = f"{where} {a.name}.{f.name}"
        if f.name in ENTRY_AT_PRECISION:
            assert same_float(x, y, digits), (w, x, y)
        elif f.name in ("hist", "pre_hist"):
            assert same_hist(x, y), w
        elif f.name == "deriv":
            stored = a.act is not None and not a.act.derivable
            assert same_array(x, y, digits if stored and STORED_DERIV_AT_PRECISION else None), (w, x, y)
        elif f.name == "dead":
            assert (x is None) == (y is None), w
            if x is not None:
                assert same_array(x.units, y.units) and same_array(x.since, y.since), w
        else:
            assert x == y and type(x) is type(y), (w, x, y)


def assert_same_snapshot(a: Snapshot, b: Snapshot, digits: int | None = None, where: str = "") -> None:
    """``b`` (read from a recording) is ``a`` (live), field by field, at the precision documented above."""
    for f in dataclasses.fields(Snapshot):
        x, y = getattr(a, f.name), getattr(b, f.name)
        w = f"{where} step {a.step} {f.name}"
        if f.name in SNAPSHOT_AT_PRECISION:
            assert same_float(x, y, digits), (w, x, y)
        elif f.name == "steps_per_sec":
            assert same_float(x, y, 4), (w, x, y)
        elif f.name == "entries":
            assert len(x) == len(y), w
            for e, g in zip(x, y):
                assert_same_entry(e, g, digits, w)
        elif f.name == "boundary":
            assert (x is None) == (y is None), w
            if x is not None:
                for k in ("classes", "confidence", "curve_x", "curve_y", "points", "labels"):
                    assert same_array(getattr(x, k), getattr(y, k)), (w, k)
                assert x.extent == y.extent and x.step == y.step, w
        elif f.name == "gates":
            assert len(x) == len(y), w
            for g, h in zip(x, y):
                assert g.name == h.name and same_hist(g.hist, h.hist), w
                for k in ("mean", "low", "high"):
                    assert same_float(getattr(g, k), getattr(h, k), digits), (w, k)
                assert (g.steps is None) == (h.steps is None), w
                if g.steps is not None:
                    assert all(same_float(p, q, digits) for p, q in zip(g.steps, h.steps)), (w, "steps")
                for k in ("low_steps", "high_steps"):  # kept in thousandths by the trainer: exact
                    assert same_array(getattr(g, k), getattr(h, k)), (w, k)
        elif f.name == "params":  # a recurrent run's parameter arrays: figures at the run's precision
            assert [p.name for p in x] == [p.name for p in y], w
            for p, q in zip(x, y):
                assert same_float(p.grad_norm, q.grad_norm, digits) and same_float(
                    p.update_ratio, q.update_ratio, digits
                ), (w, p, q)
        elif f.name == "meta":
            assert dataclasses.replace(x, lr=0.0) == dataclasses.replace(y, lr=0.0) and same_float(x.lr, y.lr), w
        elif isinstance(x, float):
            assert same_float(x, y), (w, x, y)
        else:
            assert x == y, (w, x, y)


# ---- real runs --------------------------------------------------------------------------------------------------
def engine_run(dtype: str = "float64", activation: str = "tanh", **config) -> list[Snapshot]:
    """A real run with everything a recording must keep: the start, a live lr change, a paused snapshot with a
    speed cap, a rebuild (activation), a reset, and a divergence (linear units at lr 100)."""
    t = Trainer(Config(**{**TINY, "dtype": dtype, "activation": activation, **config}))
    snaps = [t.snapshot(boundary=True)]
    snaps += list(t.run(20, every=5))
    t.apply(Change("lr", 0.05))
    snaps += list(t.run(10, every=5))
    t.step(measure=True)
    snaps.append(t.snapshot(probe=False, paused=True, speed_cap=40.0, steps_per_sec=123.456789))
    t.apply(Change("activation", "relu"))
    snaps += list(t.run(10, every=5))
    t.apply(Change("reset"))
    snaps += list(t.run(10, every=5))
    t.apply(Change("activation", "linear"))
    t.apply(Change("lr", 100.0))
    snaps += list(t.run(100, every=5))
    assert snaps[-1].diverged is not None  # the run really diverged
    return snaps


def write(path: Path, snaps: list[Snapshot]) -> Path:
    with Recorder(path) as rec:
        for s in snaps:
            rec.write(s)
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]


def probe_snapshot(**fields) -> Snapshot:
    """A source without an engine config (the PyTorch probe): a recurrent axis with cell norms and gates."""
    base = make_snapshot(depth=3, width=4)
    entries = tuple(dataclasses.replace(e, name=f"t={e.index}", kind="lstm", cell_norm=0.5 / e.index,
                                        deriv=derivative_curve(e.act.name, e.pre_hist.centres))
                    for e in base.entries)  # fmt: skip
    gate_hist = Hist.from_range(0.0, 1.0, np.array([3, 0, 5, 9], dtype=np.int64))
    shares = share_of(np.array([[[100, 0, 250], [0, 200, 400]], [[300, 1000, 0], [0, 0, 1]]]))  # thousandths
    gates = (GateStats("forget", 0.6, 0.1, 0.2, gate_hist, np.array([0.5, 0.6, 0.7]), *shares[0]),
             GateStats("input", 0.4, 0.3, 0.0, None, np.array([0.4, 0.4, 0.4]), *shares[1]))  # fmt: skip
    values = dict(config=None, source="probe", axis="time", entries=entries, gates=gates, grad_step=99,
                  speed_cap=None)  # fmt: skip
    return base.replace(**{**values, **fields})


# ---- the documented keys ----------------------------------------------------------------------------------------
def test_the_documented_keys_are_the_keys_written(tmp_path):
    """docs/schema.md (included in the README) names every key the writer writes, and only those."""
    paths = [
        write(tmp_path / "engine.jsonl", engine_run("float32", "prelu")),
        write(tmp_path / "sine.jsonl", engine_run("float32", dataset="sine")),
        write(tmp_path / "probe.jsonl", [probe_snapshot(), probe_snapshot(step=101, probe_step=101)]),
    ]
    a, b = Trainer(Config(**TINY), run="A"), Trainer(Config(**TINY, activation="relu"), run="B")
    write(tmp_path / "twins.jsonl", [a.snapshot(boundary=True), b.snapshot(boundary=True)])
    paths.append(tmp_path / "twins.jsonl")
    seen: dict[str, set[str]] = {}

    def saw(section: str, d: dict) -> None:
        assert isinstance(d, dict), section
        seen.setdefault(section, set()).update(d)

    for path in paths:
        for d in lines(path):
            saw("line", d)
            if d.get("end"):
                continue
            saw("grads", d["grads"])
            if "diverged" in d:
                saw("diverged", d["diverged"])
                saw("line.diverged", d["diverged"])
            if "layout" in d:
                saw("layout", d["layout"])
                for act in d["layout"]["acts"]:
                    saw("layout.acts", act)
                if "writer" in d["layout"]:
                    saw("layout.writer", d["layout"]["writer"])
            if "config" in d:
                saw("settings", {k: 1 for k in ("config", "meta") if k in d})
                saw("settings.meta", d["meta"])
                if d["config"] is not None:
                    assert set(d["config"]) == {f.name for f in dataclasses.fields(Config)}
            if "probe" in d:
                saw("probe", d["probe"])
                saw("array", d["probe"]["counts"])
                for g in d["probe"].get("gates", []):
                    saw("probe.gates", g)
            if "test" in d:
                saw("test", d["test"])
            if "boundary" in d:
                saw("boundary", d["boundary"])
                for v in d["boundary"].values():
                    if isinstance(v, dict):
                        saw("array", v)
            for e in d.get("events", []):
                saw("events", e)
    assert {k: frozenset(v) for k, v in seen.items()} == SCHEMA_KEYS


def test_every_line_starts_with_the_indexed_prefix(tmp_path):
    path = write(tmp_path / "r.jsonl", engine_run("float32"))
    raw = path.read_bytes().splitlines()
    for line in raw[:-1]:
        d = json.loads(line)
        assert line.startswith(b'{"schema":2,"seq":%d,"step":%d,"has":"%s",' % (d["seq"], d["step"], d["has"].encode()))
    assert raw[-1] == b'{"schema":2,"end":true}'


# ---- round trips ------------------------------------------------------------------------------------------------
def test_a_float64_run_round_trips_exactly(tmp_path):
    live = engine_run("float64")
    read, warnings = load_recording(write(tmp_path / "r.jsonl", live))
    assert not warnings and len(read) == len(live)
    for a, b in zip(live, read):
        assert_same_snapshot(a, b, digits=None)
    # the run had what strict JSON cannot write as a number: NaN (null) and infinity ("inf"), and huge figures
    text = (tmp_path / "r.jsonl").read_text()
    assert '"inf"' in text and "null" in text and read[-1].diverged is not None and read[-1].loss > 1e100


def test_a_float32_run_round_trips_to_8_digits(tmp_path):
    live = engine_run("float32", "prelu")  # PReLU's learned slopes: f' is stored, not derived
    assert any(e.act is not None and not e.act.derivable for e in live[0].entries)
    read, warnings = load_recording(write(tmp_path / "r.jsonl", live))
    assert not warnings and len(read) == len(live)
    for a, b in zip(live, read):
        assert_same_snapshot(a, b, digits=8)
    # 8 digits is a rounding, not a truncation to float32: a figure that needs fewer digits is still exact
    assert read[0].entries[0].grad_norm == float(f"{live[0].entries[0].grad_norm:.8g}")


def test_a_regression_run_round_trips_its_curve(tmp_path):
    live = engine_run("float64", dataset="sine")
    read, _ = load_recording(write(tmp_path / "r.jsonl", live))
    assert live[0].accuracy is None and live[0].boundary.curve_x is not None
    for a, b in zip(live, read):
        assert_same_snapshot(a, b)


def test_a_probe_source_round_trips_gates_and_cell_norms(tmp_path):
    live = [probe_snapshot(), probe_snapshot(step=101, probe_step=101, seq=2)]
    read, _ = load_recording(write(tmp_path / "r.jsonl", live))
    for a, b in zip(live, read):
        assert_same_snapshot(a, b, digits=8)
    assert read[0].config is None and read[0].axis == "time" and read[0].gates[0].hist.counts.tolist() == [3, 0, 5, 9]


def test_an_lstm_run_round_trips_its_gates_per_time_step(tmp_path):
    from gradtui.engine import make_trainer

    t = make_trainer(Config.for_model("lstm", seq_len=20, width=16, probe_size=16, task="order",
                                      recurrent_init="normal:1.0"))  # fmt: skip
    live = [t.snapshot(), *t.run(6, every=3)]
    assert any(np.ptp(g.low_steps) > 0 for g in live[0].gates)  # saturation that changes over time
    read, warnings = load_recording(write(tmp_path / "r.jsonl", live))
    assert not warnings and len(read) == len(live)
    for a, b in zip(live, read):
        assert_same_snapshot(a, b, digits=8)
        assert all(h.low_steps is not None and len(h.low_steps) == 20 for h in b.gates)


def test_a_recording_from_before_the_per_step_gate_shares_still_reads(tmp_path):
    from gradtui.engine import make_trainer

    t = make_trainer(Config.for_model("gru", seq_len=12, width=8, probe_size=8))
    live = [t.snapshot(), *t.run(4, every=2)]
    path = write(tmp_path / "r.jsonl", live)
    old = []
    for d in lines(path):  # as a writer without ``gate_sat`` wrote it
        if "probe" in d:
            assert "gate_sat" in d["probe"]
            del d["probe"]["gate_sat"]
        old.append(json.dumps(d, separators=(",", ":")))
    path.write_text("\n".join(old) + "\n")
    read, warnings = load_recording(path)
    assert not warnings and len(read) == len(live)
    for a, b in zip(live, read):
        assert [g.name for g in b.gates] == [g.name for g in a.gates]
        assert all(g.low_steps is None and g.high_steps is None and g.saturation_steps is None for g in b.gates)
        assert [g.low for g in b.gates] == [float(f"{g.low:.8g}") for g in a.gates]


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 2, 12)), np.zeros((3, 1, 12)), np.zeros((3, 2, 11)), np.full((3, 2, 12), 1001)]
)
def test_gate_shares_that_do_not_fit_are_refused_in_words(tmp_path, bad):
    from gradtui.engine import make_trainer

    t = make_trainer(Config.for_model("gru", seq_len=12, width=8, probe_size=8))
    path = write(tmp_path / "r.jsonl", [t.snapshot()])
    d = lines(path)[0]
    d["probe"]["gate_sat"] = record._enc_array(bad.astype("<u2"))
    path.write_text(json.dumps(d, separators=(",", ":")) + "\n")
    with pytest.raises(RecordingError, match="probe.gate_sat"):
        load_recording(path)


def test_twins_share_a_file_each_with_its_run_tag(tmp_path):
    a, b = Trainer(Config(**TINY), run="A"), Trainer(Config(**TINY, activation="relu"), run="B")
    live: dict[str, list[Snapshot]] = {"A": [], "B": []}
    path = tmp_path / "twins.jsonl"
    with Recorder(path) as rec:
        for _ in range(4):
            for t in (a, b):
                for _ in range(5):
                    t.step()
                t.step(measure=True)
                s = t.snapshot(boundary=True)
                live[t.run_name].append(s)
                rec.write(s)
        a.apply(Change("lr", 0.3))  # a change in one twin is an event of that twin only
        a.step(measure=True)
        live["A"].append(a.snapshot())
        rec.write(live["A"][-1])
    r = Recording(path)
    assert r.run_names() == ["A", "B"] and r.ended("A") and r.ended("B")
    for run, snaps in live.items():
        assert r.length(run) == len(snaps)
        for i, s in enumerate(snaps):
            assert_same_snapshot(s, r.snapshot(i, run), digits=8, where=run)
    assert [e.kind for e in r.snapshot(r.length("B") - 1, "B").events] == ["start"]
    read, _ = load_recording(path)
    assert [s.run for s in read] == ["A", "B"] * 4 + ["A"]  # file order


# ---- blocks only when they changed ------------------------------------------------------------------------------
def test_a_line_carries_only_the_blocks_that_changed(tmp_path):
    t = Trainer(Config(**TINY))
    snaps = [t.snapshot(boundary=True)]  # the first line: everything
    t.step(measure=True)
    snaps.append(t.snapshot(probe=False))  # the same probe figures, the same boundary: grads only
    t.apply(Change("lr", 0.05))
    t.step(measure=True)
    snaps.append(t.snapshot(probe=False))  # a live change: the settings and its event
    t.step(measure=True)
    snaps.append(t.snapshot(probe=True))  # measured again: probe and test
    t.apply(Change("activation", "relu"))
    t.step(measure=True)
    snaps.append(t.snapshot(probe=False))  # a rebuild: a new layout with its figures, the settings, the event,
    t.step(measure=True)  # and "boundary":null (the new network has none yet)
    snaps.append(t.snapshot(probe=False, boundary=True))  # a new boundary, with its points (the old are forgotten)
    t.step(measure=True)
    snaps.append(t.snapshot(probe=False, boundary=True))  # a new boundary, the training points unchanged
    out = lines(write(tmp_path / "r.jsonl", snaps))[:-1]
    has = [set(d["has"]) for d in out]
    assert has == [set("lcptbxe"), set(), set("ce"), set("pt"), set("lcpteb"), set("bx"), set("b")]
    assert out[4]["boundary"] is None and snaps[4].boundary is None
    read, _ = load_recording(tmp_path / "r.jsonl")
    for a, b in zip(snaps, read):
        assert_same_snapshot(a, b, digits=8)
    assert read[1].boundary.points is not None  # carried forward from the first line


# ---- random access ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cache, blocks", [(256, 64), (3, 1)])
def test_random_access_equals_sequential_decoding(tmp_path, monkeypatch, cache, blocks):
    path = write(tmp_path / "r.jsonl", engine_run("float32"))
    monkeypatch.setattr(Recording, "CACHE", cache)  # 3 and 1: the LRU caches evict all the time
    monkeypatch.setattr(Recording, "BLOCKS", blocks)
    sequential = Recording(path)
    n = sequential.length()
    seq = [sequential.snapshot(i) for i in range(n)]
    order = list(range(n))
    random.Random(0).shuffle(order)
    shuffled = Recording(path)
    for i in order + order[: n // 2]:  # twice over half of them: from the cache, or decoded again
        assert_same_snapshot(seq[i], shuffled.snapshot(i), where=f"snapshot {i}")
    assert len(shuffled._cache) <= cache and len(shuffled._blocks) <= blocks
    with pytest.raises(IndexError):
        shuffled.snapshot(n)
    assert shuffled.steps() == [s.step for s in seq]
    assert shuffled.event_indices() == [i for i in range(n) if i == 0 or seq[i].events[-1] != seq[i - 1].events[-1]]


# ---- the end marker ---------------------------------------------------------------------------------------------
def test_the_end_marker_is_written_on_close_and_only_then(tmp_path):
    snaps = engine_run("float32")[:3]
    path = tmp_path / "r.jsonl"
    rec = Recorder(path)
    for s in snaps:
        rec.write(s)
    r = Recording(path, follow=True)
    assert r.length() == 3 and not r.ended()  # a writer still writing (or killed): no end marker
    rec.close()
    r.refresh()
    assert r.ended() and r.length() == 3
    assert path.read_bytes().splitlines()[-1] == b'{"schema":2,"end":true}'
    rec.close()  # closing twice writes nothing more
    assert path.read_bytes().count(b'"end":true') == 1


# ---- schema 1 (gradtui 0.1) -------------------------------------------------------------------------------------
def _num(v):
    return math.nan if v is None else {"inf": math.inf, "-inf": -math.inf}.get(v, v)


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("schema1_*.jsonl")))
def test_the_previous_releases_recordings_load(name):
    raw = lines(DATA / name)
    read, warnings = load_recording(DATA / name)
    assert not warnings and len(read) == len(raw)
    events: dict[str, list] = {}
    boundary: dict[str, object] = {}
    for d, s in zip(raw, read):
        run = d.get("run") or ""
        assert s.run == run and s.step == d["step"] and s.run_step == d["run_step"]
        assert s.config == Config.from_dict(d["config"])
        for k in ("loss", "test_loss", "vanishing_ratio", "output_grad_norm"):
            assert same_float(_num(d[k]), getattr(s, k)), k
        assert s.accuracy == d["accuracy"] and s.test_accuracy == d["test_accuracy"]
        assert (s.diverged is None) == (d["diverged"] is None)
        if d["diverged"] is not None:
            assert s.diverged.message == d["diverged"]["message"] and s.diverged.layer == d["diverged"]["layer"]
        events.setdefault(run, []).extend(e["text"] for e in d["events"])
        assert [e.text for e in s.events] == events[run]  # every event so far, of this run only
        assert len(s.entries) == len(d["layers"])
        for e, layer in zip(s.entries, d["layers"]):
            assert e.units == layer["units"] and e.index == layer["index"]
            for k in ("grad_norm", "bias_grad_norm", "signal_norm", "update_ratio", "saturation", "mean", "std"):
                assert same_float(_num(layer[k]), getattr(e, k)), k
            assert e.hist.counts.tolist() == layer["hist"]["counts"]
            assert e.hist.edges.tolist() == layer["hist"]["edges"]
            assert e.pre_hist.counts.tolist() == layer["pre_hist"]["counts"]
            assert e.deriv.tolist() == [_num(x) for x in layer["deriv"]]
            assert e.dead_since().tolist() == layer["dead_since"] and e.dead_count == layer["dead"]
        if d.get("boundary"):
            boundary[run] = d["boundary"]
        b = boundary.get(run)
        assert (s.boundary is None) == (b is None)
        if b is not None:  # carried forward to the lines without one
            assert list(s.boundary.extent) == b["extent"] and s.boundary.step == b["step"]
    if name == "schema1_compare.jsonl":
        r = Recording(DATA / name)
        assert r.run_names() == ["A", "B"] and [r.length(x) for x in "AB"] == [2, 2]
        assert r.snapshot(1, "B").config.activation == "sigmoid" and r.snapshot(1, "B").boundary is not None


# ---- damaged and foreign files ----------------------------------------------------------------------------------
@pytest.fixture
def good(tmp_path) -> Path:
    return write(tmp_path / "good.jsonl", engine_run("float32")[:6])


def one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text and "Traceback" not in text and text
    return text


def test_a_cut_off_last_line_is_ignored_with_a_warning(good):
    data = good.read_bytes().splitlines(keepends=True)[:-1]  # no end marker: a killed writer
    good.write_bytes(b"".join(data[:5]) + data[5][: len(data[5]) // 2])
    read, warnings = load_recording(good)
    assert len(read) == 5 and len(warnings) == 1 and "line 6 is cut off" in warnings[0]


def test_a_corrupt_middle_line_ends_the_recording_there(good):
    data = good.read_bytes().splitlines(keepends=True)
    data[3] = b'{"schema":2,"seq":4,' + b"\x00garbage\n"
    good.write_bytes(b"".join(data))
    read, warnings = load_recording(good)
    assert len(read) == 3 and len(warnings) == 1 and "line 4" in warnings[0]


@pytest.mark.parametrize(
    "old, new, what",
    [
        (b'"loss":', b'"loss":NaN,"x":', "not strict JSON"),
        (b'"loss":', b'"loss":1e999,"x":', "too large"),
        (b'"run_step":', b'"run_step":123456789012345678901234567890,"x":', "more than 20 digits"),
        (b'"loss":', b'"loss":Infinity,"x":', "not strict JSON"),
    ],
)
def test_strict_json_only(good, old, new, what):
    data = good.read_bytes().splitlines(keepends=True)
    data[2] = data[2].replace(old, new, 1)
    good.write_bytes(b"".join(data))
    read, warnings = load_recording(good)
    assert len(read) == 2 and what in warnings[0] and "line 3" in warnings[0]
    data[0] = data[2]  # the first line: nothing to load
    good.write_bytes(b"".join(data))
    with pytest.raises(RecordingError, match=what) as e:
        load_recording(good)
    one_line(e.value)


def test_a_newer_schema_is_refused_in_one_line(good):
    data = good.read_bytes().splitlines(keepends=True)
    data[1] = data[1].replace(b'{"schema":2,', b'{"schema":3,', 1)
    good.write_bytes(b"".join(data))
    with pytest.raises(RecordingError, match="newer gradtui.*schema 3") as e:
        Recording(good)
    one_line(e.value)


def test_files_that_are_not_recordings(tmp_path):
    cases = {
        "empty": (tmp_path / "empty.jsonl", "is empty"),
        "missing": (tmp_path / "missing.jsonl", "No such file"),
        "directory": (tmp_path, "is a directory"),
        "not json": (tmp_path / "text.jsonl", "not a gradtui recording: line 1"),
        "blank": (tmp_path / "blank.jsonl", "holds no snapshot"),
        "dev zero": (Path("/dev/zero"), "not a regular file"),
    }
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "text.jsonl").write_text("hello\nworld\n")
    (tmp_path / "blank.jsonl").write_bytes(b"\n \n\r\n" * 1000)
    for name, (path, message) in cases.items():
        with pytest.raises(RecordingError) as e:
            load_recording(path)
        assert message in one_line(e.value), name


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            Recording(fifo)
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            outcome.append(e)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # it blocked opening the FIFO: free it (a writer that closes at once) and fail
        with open(fifo, "wb"):
            pass
        worker.join(5)
        pytest.fail("opening a FIFO blocked")
    assert isinstance(outcome[0], RecordingError) and "not a regular file" in one_line(outcome[0])


def test_a_file_larger_than_the_limit_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as f:
        f.truncate(record.MAX_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(RecordingError, match="gradtui reads recordings of up to 4 GB") as e:
        Recording(big)
    one_line(e.value)


def test_a_line_longer_than_the_limit_is_damage(good, monkeypatch):
    monkeypatch.setattr(record, "MAX_LINE_BYTES", 8192)  # our own limit (64 MB), small here
    data = good.read_bytes().splitlines(keepends=True)
    assert max(len(line) for line in data) < 8192
    long = b'{"x":"' + b"y" * 9000 + b'"}\n'
    good.write_bytes(long + b"".join(data))
    with pytest.raises(RecordingError, match="line 1 is longer than 8 KB") as e:
        Recording(good)
    one_line(e.value)
    good.write_bytes(data[0] + long + b"".join(data[1:]))
    r = Recording(good)
    assert r.length() == 1 and "line 2 is longer than 8 KB" in r.warnings[0]
    good.write_bytes(data[0] + b"z" * 20000)  # a long cut-off tail, no newline at all
    r = Recording(good)
    assert r.length() == 1 and "line 2 is longer than 8 KB" in r.warnings[0]


# ---- writing ----------------------------------------------------------------------------------------------------
def test_a_full_disk_raises_once_then_the_recorder_is_silent():
    snaps = engine_run("float32")[:3]
    rec = Recorder("/dev/full")  # every write: ENOSPC
    with pytest.raises(RecordingWriteError, match="No space left on device") as e:
        rec.write(snaps[0])
    one_line(e.value)
    assert rec.broken and isinstance(e.value, OSError)
    rec.write(snaps[1])  # broken: nothing more is tried, nothing raised
    rec.close()  # the end marker is not written either, and closing does not raise


def test_a_full_disk_mid_recording_keeps_what_was_written(tmp_path):
    """A stream that fills up after some lines (as a disk does): the lines before it load."""
    snaps = engine_run("float32")
    path = tmp_path / "r.jsonl"

    class FillingUp:
        name = str(path)

        def __init__(self) -> None:
            self.f = open(path, "w", encoding="utf-8")  # noqa: SIM115
            self.room = sum(len(line) for line in _lines_of(snaps[:4])) + 100

        def write(self, text: str) -> int:
            if len(text) > self.room:
                self.f.write(text[: self.room])  # a partial write, then the disk is full
                self.room = 0
                self.f.flush()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.room -= len(text)
            return self.f.write(text)

        def flush(self) -> None:
            self.f.flush()

    stream = FillingUp()
    rec = Recorder(stream)  # type: ignore[arg-type]
    failures = 0
    for s in snaps:
        try:
            rec.write(s)
        except RecordingWriteError:
            failures += 1
    rec.close()
    stream.f.close()
    assert failures == 1
    read, warnings = load_recording(path)
    assert len(read) == 4 and len(warnings) == 1 and "cut off" in warnings[0]
    for a, b in zip(snaps, read):
        assert_same_snapshot(a, b, digits=8)


def _lines_of(snaps: list[Snapshot]) -> list[str]:
    st = record._RunState()
    return [record.encode_line(s, st) + "\n" for s in snaps]


def test_unwritable_targets_are_one_line_errors(tmp_path):
    (tmp_path / "a-file").write_text("x")
    for target, message in [
        (tmp_path, "is a directory"),
        (tmp_path / "no" / "such" / "dir.jsonl", "No such file or directory"),
        (tmp_path / "a-file" / "r.jsonl", "Not a directory"),
    ]:
        with pytest.raises(RecordingWriteError) as e:
            Recorder(target)
        assert message in one_line(e.value) and str(target) in str(e.value)


def test_hostile_text_is_written_as_valid_utf8_and_read_back_safe(tmp_path):
    evil = "\x1b]0;pwned\x07\x1b[2J\u202e\x00\ud800 end"
    s = make_snapshot().replace(run="R" + evil, events=(dataclasses.replace(make_snapshot().events[0], text=evil),))
    path = write(tmp_path / "r.jsonl", [s])
    path.read_bytes().decode("utf-8")  # valid UTF-8, the lone surrogate escaped
    read, _ = load_recording(path)
    for text in (read[0].run, read[0].events[0].text):
        assert not any(c in text for c in "\x1b\x07\u202e\x00\ud800") and text.endswith(" end")


def _file_size_limit(limit: int):
    def apply() -> None:  # in the child: writing past ``limit`` bytes fails with EFBIG, as a full disk does
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_headless_a_failing_record_target_is_one_line_and_exit_2_and_what_was_written_loads(tmp_path):
    path = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "gradtui", "run", "--depth", "3", "--width", "8", "--steps", "100000", "--every", "5",
           "--record", str(path)]  # fmt: skip
    r = subprocess.run(cmd, preexec_fn=_file_size_limit(40_000), capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert (
        len(r.stderr.strip().splitlines()) == 1 and f"cannot write {path}" in r.stderr and "Traceback" not in r.stderr
    )
    read, warnings = load_recording(path)
    assert len(read) >= 2 and len(warnings) <= 1  # at most the line being written is lost
    assert path.stat().st_size <= 40_000


async def test_the_dashboard_says_when_its_recording_fails(tmp_path, monkeypatch):
    from uitest import fake_app, show

    import gradtui.tui.app as app_module

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()  # the working folder was removed: R cannot create its file there
    snap = make_snapshot(step=100, paused=False)
    async with fake_app(snap=snap) as (app, pilot, _):
        await pilot.press("R")
        assert app.recorder is None
        assert "cannot write gradtui-step100.jsonl" in app.dashboard.query_one("#alerts").render().plain
        monkeypatch.setattr(app_module, "Recorder", lambda path: Recorder("/dev/full"))  # a disk that is full
        await pilot.press("R")
        assert app.recorder is not None
        show(app, snap.replace(step=101))
        await pilot.pause()
        assert app.recorder is None  # stopped, and said so
        text = app.dashboard.query_one("#alerts").render().plain
        assert "recording stopped: cannot write /dev/full: No space left on device" in text


@pytest.mark.parametrize("target, message", [("/dev/full", "No space left on device"), ("DIR", "is a directory"),
                                             ("DIR/no/such/r.jsonl", "No such file or directory")])  # fmt: skip
def test_headless_an_unwritable_jsonl_target_is_one_line_and_exit_2(tmp_path, target, message):
    target = target.replace("DIR", str(tmp_path))
    cmd = [sys.executable, "-m", "gradtui", "run", "--depth", "3", "--width", "8", "--steps", "20", "--every", "5",
           "--jsonl", target]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and message in r.stderr and f"cannot write {target}" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
