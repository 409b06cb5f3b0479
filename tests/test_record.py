"""Snapshot <-> JSON lines: exact round trips, non-finite numbers, damaged and foreign files."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
from conftest import LAYER_KEYS, TOP_KEYS  # the documented JSON-lines keys (README)

from gradtui.engine import Boundary, Change, Config, Divergence, Event, LayerStats, Snapshot, Trainer
from gradtui.record import (
    SCHEMA,
    Recorder,
    RecordingError,
    load_recording,
    snapshot_from_dict,
    snapshot_to_dict,
)

TINY = dict(depth=3, width=6, samples=80, batch_size=16, probe_size=40, hist_bins=8)


# ---- helpers ----------------------------------------------------------------------------------------------------
def same_number(a, b) -> bool:
    """Equal as numbers, the same type, NaN equal to NaN, and the same sign of zero."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
        and bool(np.array_equal(np.signbit(a), np.signbit(b)))
    )


def same_value(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and same_array(a, b)
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return same_number(a, b)
    return a == b


def assert_same_snapshot(a: Snapshot, b: Snapshot, *, events: bool = True) -> None:
    """Every field of a Snapshot (and of its LayerStats and its Boundary) survives exactly."""
    for f in dataclasses.fields(Snapshot):
        if f.name == "events" and not events:
            continue
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if f.name == "layers":
            assert len(va) == len(vb)
            for la, lb in zip(va, vb):
                for lf in dataclasses.fields(LayerStats):
                    x, y = getattr(la, lf.name), getattr(lb, lf.name)
                    assert same_value(x, y), f"layer {la.index} {lf.name}: {x!r} != {y!r}"
        elif f.name == "boundary":
            assert (va is None) == (vb is None)
            if va is not None:
                for bf in dataclasses.fields(Boundary):
                    x, y = getattr(va, bf.name), getattr(vb, bf.name)
                    if isinstance(x, np.ndarray):
                        assert x.dtype == y.dtype and same_array(x, y), f"boundary.{bf.name}"
                    elif isinstance(x, tuple):
                        assert all(same_number(p, q) for p, q in zip(x, y)), f"boundary.{bf.name}"
                    else:
                        assert same_value(x, y), f"boundary.{bf.name}: {x!r} != {y!r}"
        else:
            assert same_value(va, vb), f"{f.name}: {va!r} != {vb!r}"


def through_json(d: dict) -> dict:
    return json.loads(json.dumps(d, allow_nan=False))


def layer(index: int = 1, units: int = 4, **kw) -> LayerStats:
    values = dict(
        index=index,
        units=units,
        grad_norm=1e-3,
        bias_grad_norm=1e-4,
        signal_norm=1e-3,
        update_ratio=1e-3,
        dead=0,
        saturation=0.0,
        mean=0.1,
        std=0.2,
        hist_edges=np.linspace(0.0, 1.0, 5),
        hist_counts=np.array([1, 2, 3, 4], dtype=np.int64),
        pre_edges=np.linspace(-1.0, 1.0, 5),
        pre_counts=np.array([4, 3, 2, 1], dtype=np.int64),
        deriv=np.array([0.1, 0.2, 0.2, 0.1]),
        dead_since=np.full(units, -1, dtype=np.int64),
    )
    values.update(kw)
    return LayerStats(**values)


@pytest.fixture(scope="module")
def snapshots() -> list[Snapshot]:
    """A short real run with several events: start, a live change and a rebuild."""
    t = Trainer(Config(**TINY))
    out = list(t.run(20, every=10))
    t.apply(Change("lr", 0.05))
    out += list(t.run(10, every=5))
    t.apply(Change("activation", "relu"))
    out += list(t.run(10, every=10))
    return out


# ---- the dict ---------------------------------------------------------------------------------------------------
def test_documented_keys(snapshots):
    d = snapshot_to_dict(snapshots[-1])
    assert set(d) >= TOP_KEYS
    assert d["schema"] == SCHEMA
    assert d["config"] == snapshots[-1].config.to_dict()
    assert [l["index"] for l in d["layers"]] == [1, 2, 3]
    for l in d["layers"]:
        assert set(l) >= LAYER_KEYS
        assert set(l["hist"]) == {"edges", "counts"} and set(l["pre_hist"]) == {"edges", "counts"}
        assert len(l["hist"]["edges"]) == len(l["hist"]["counts"]) + 1
    assert "run" not in d
    assert snapshot_to_dict(snapshots[-1], run={"name": "a"})["run"] == {"name": "a"}
    json.dumps(d, allow_nan=False)  # strict JSON


def test_events_since(snapshots):
    s = snapshots[-1]
    seqs = [e.seq for e in s.events]
    assert len(seqs) == 3
    assert [e["seq"] for e in snapshot_to_dict(s)["events"]] == seqs
    assert [e["seq"] for e in snapshot_to_dict(s, events_since=seqs[0])["events"]] == seqs[1:]
    assert snapshot_to_dict(s, events_since=seqs[-1])["events"] == []


def test_round_trip_of_a_real_run_is_exact(snapshots):
    for s in snapshots:
        assert_same_snapshot(s, snapshot_from_dict(through_json(snapshot_to_dict(s))))


def test_round_trip_regression_and_float64():
    t = Trainer(Config(**{**TINY, "dataset": "sine", "dtype": "float64", "activation": "tanh"}))
    (s,) = t.run(5, every=5)
    assert s.accuracy is None and s.test_accuracy is None
    d = through_json(snapshot_to_dict(s))
    assert d["accuracy"] is None
    assert_same_snapshot(s, snapshot_from_dict(d))


def test_round_trip_of_a_diverged_run():
    t = Trainer(Config(**{**TINY, "lr": 1e4, "activation": "linear", "init": "normal:1"}))
    s = list(t.run(50, every=10))[-1]
    assert s.diverged is not None
    d = through_json(snapshot_to_dict(s))
    assert set(d["diverged"]) == {"step", "layer", "what", "message"}
    assert_same_snapshot(s, snapshot_from_dict(d))


def test_non_finite_numbers_are_legal_json_and_read_back():
    weird = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1e308, 1 / 3])
    lay = layer(
        grad_norm=math.nan,
        bias_grad_norm=math.inf,
        signal_norm=-math.inf,
        update_ratio=-0.0,
        mean=5e-324,
        std=0.1 + 0.2,
        deriv=weird,
        hist_edges=np.array([-np.inf, 0.0, 1.0, 2.0, np.inf]),
        dead_since=np.array([-1, 0, 2**40, 7], dtype=np.int64),
    )
    s = Snapshot(
        step=2**40,
        run_step=3,
        loss=math.inf,
        accuracy=0.5,
        test_loss=math.nan,
        test_accuracy=None,
        config=Config(depth=1, width=4),
        layers=(lay,),
        events=(Event(1, 0, "start", 'start: \u03b1 "quoted" \\ line\nbreak'),),
        vanishing_ratio=math.nan,
        diverged=Divergence(3, None, "loss", "diverged at step 3: the loss went non-finite"),
        paused=True,
        steps_per_sec=-math.inf,
        output_grad_norm=1e-36,
    )
    d = snapshot_to_dict(s)
    text = json.dumps(d, allow_nan=False)  # would raise on a NaN/inf literal
    assert "NaN" not in text and "Infinity" not in text
    assert d["loss"] == "inf" and d["test_loss"] is None and d["steps_per_sec"] == "-inf"
    assert d["layers"][0]["grad_norm"] is None
    assert d["layers"][0]["deriv"][:3] == [None, "inf", "-inf"]
    assert_same_snapshot(s, snapshot_from_dict(json.loads(text)))


def test_run_tag_reads_back_into_extra(snapshots):
    d = through_json(snapshot_to_dict(snapshots[0], run="run-7"))
    s = snapshot_from_dict(d)
    assert s.extra == {"run": "run-7"}
    assert snapshot_to_dict(s)["run"] == "run-7"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("layers"), "layers"),
        (lambda d: d.update(step="7"), "step"),
        (lambda d: d.update(loss=True), "loss"),
        (lambda d: d["layers"][0].update(dead_since=[1.5]), "dead_since"),
        (lambda d: d["layers"][0]["hist"].update(edges=["x"]), "edges"),
        (lambda d: d.update(config={"depth": 0}), "config"),
        (lambda d: d["config"].update(init=5), "config"),
        (lambda d: d.update(schema="1"), "schema"),
    ],
)
def test_bad_dicts_raise_recording_error(snapshots, mutate, message):
    d = through_json(snapshot_to_dict(snapshots[0]))
    mutate(d)
    with pytest.raises(RecordingError, match=message) as info:
        snapshot_from_dict(d)
    assert "\n" not in str(info.value)


# ---- files ------------------------------------------------------------------------------------------------------
def record(path, snapshots, **kw) -> None:
    with Recorder(path, **kw) as rec:
        for s in snapshots:
            rec.write(s)


def test_recorder_writes_one_flushed_line_per_snapshot(tmp_path, snapshots):
    path = tmp_path / "r.jsonl"
    rec = Recorder(path)
    rec.write(snapshots[0])
    assert path.read_text().count("\n") == 1  # on disk before close
    rec.write(snapshots[1])
    rec.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and rec.lines == 2
    first, second = (json.loads(l) for l in lines)
    assert [e["kind"] for e in first["events"]] == ["start"]
    assert second["events"] == []  # already written


def test_recorder_replaces_or_appends(tmp_path, snapshots):
    path = tmp_path / "r.jsonl"
    record(path, snapshots[:3])
    record(path, snapshots[:2])
    assert len(path.read_text().splitlines()) == 2
    record(path, snapshots[:1], append=True)
    assert len(path.read_text().splitlines()) == 3


def test_load_recording_round_trip_and_events_accumulate(tmp_path, snapshots):
    path = tmp_path / "r.jsonl"
    record(path, snapshots)
    loaded, warnings = load_recording(path)
    assert warnings == []
    assert len(loaded) == len(snapshots)
    for a, b in zip(snapshots, loaded):
        assert_same_snapshot(a, b)  # events included: each holds all events so far, like the live snapshot
    assert [e.kind for e in loaded[-1].events] == ["start", "change", "change"]


def test_truncated_tail_loads_complete_lines_with_a_warning(tmp_path, snapshots):
    path = tmp_path / "r.jsonl"
    record(path, snapshots[:4])
    data = path.read_bytes()
    cut = data.rfind(b"\n", 0, len(data) - 1) + 40  # 40 bytes into the 4th line
    path.write_bytes(data[:cut])
    loaded, warnings = load_recording(path)
    assert len(loaded) == 3
    assert len(warnings) == 1 and "line 4" in warnings[0] and "cut off" in warnings[0]
    for a, b in zip(snapshots, loaded):
        assert_same_snapshot(a, b)


def test_corrupt_middle_line_stops_there(tmp_path, snapshots):
    path = tmp_path / "r.jsonl"
    record(path, snapshots[:4])
    lines = path.read_text().splitlines()
    lines[1] = lines[1][: len(lines[1]) // 2] + "#garbage"
    path.write_text("\n".join(lines) + "\n")
    loaded, warnings = load_recording(path)
    assert len(loaded) == 1
    assert len(warnings) == 1 and "line 2" in warnings[0] and "2 lines after it" in warnings[0]


def test_strict_json_on_read(tmp_path, snapshots):
    path = tmp_path / "r.jsonl"
    record(path, snapshots[:2])
    lines = path.read_text().splitlines()
    lines[1] = re.sub(r'"steps_per_sec":[^,]+', '"steps_per_sec":NaN', lines[1])
    assert "NaN" in lines[1]
    path.write_text("\n".join(lines) + "\n")
    loaded, warnings = load_recording(path)
    assert len(loaded) == 1 and "line 2" in warnings[0]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"\n  \n", "empty"),
        (b"hello world\n", "not a gradtui recording"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a gradtui recording"),
        (b'{"some": "json"}\n', "not a gradtui recording"),
        (b'{"schema": 1, "step"', "no complete snapshot"),
    ],
)
def test_unreadable_files_raise(tmp_path, content, message):
    path = tmp_path / "r.jsonl"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=message) as info:
        load_recording(path)
    assert "\n" not in str(info.value)


def test_newer_schema_raises(tmp_path, snapshots):
    path = tmp_path / "r.jsonl"
    d = snapshot_to_dict(snapshots[0])
    d["schema"] = SCHEMA + 1
    path.write_text(json.dumps(d) + "\n")
    with pytest.raises(RecordingError, match="newer gradtui") as info:
        load_recording(path)
    assert "\n" not in str(info.value)


def test_missing_file_raises(tmp_path):
    with pytest.raises(RecordingError, match="cannot read"):
        load_recording(tmp_path / "nope.jsonl")
