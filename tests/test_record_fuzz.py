"""Fuzzing the reader and everything that draws what it reads (issue 10): real recordings, mutated line by line
and value by value. The loader either refuses a file in one line (RecordingError) or returns snapshots; every
snapshot it returns is drawn by every panel of the dashboard, read by the doctor and by the replay source,
without an exception. Deterministic (derandomized, no example database), about 30 s."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import make_snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradtui.doctor import Doctor
from gradtui.engine import Change, Config, GateStats, Hist, Snapshot, Trainer
from gradtui.engine.activations import derivative_curve
from gradtui.record import Recorder, Recording, RecordingError, load_recording
from gradtui.replay import RecordingSource
from gradtui.source import Seek, SeekBy, SeekEvent, SourceState
from gradtui.tui.history import History
from gradtui.tui.widgets.activations import ActivationStrips, LayerHistogram
from gradtui.tui.widgets.base import PanelView
from gradtui.tui.widgets.boundary import BoundaryPanel
from gradtui.tui.widgets.flow import GradientFlow
from gradtui.tui.widgets.heatmap import GradientHeatmap
from gradtui.tui.widgets.losschart import LossChart
from gradtui.tui.widgets.status import AlertsLine, StatusView, fit_fields, status_fields
from gradtui.tui.widgets.units import UnitsPanel

DATA = Path(__file__).parent / "data"
TINY = dict(depth=3, width=6, samples=80, batch_size=16, probe_size=40, hist_bins=8)
PANELS = (GradientFlow, GradientHeatmap, ActivationStrips, LayerHistogram, UnitsPanel, LossChart, BoundaryPanel)
SIZES = ((96, 24), (9, 2))


# ---- the recordings that are mutated ----------------------------------------------------------------------------
def _lines(snaps: list[Snapshot], tmp: Path) -> list[bytes]:
    """The recording of ``snaps``, the same bytes on every run (no wall-clock speed, a fixed writer)."""
    with Recorder(tmp) as rec:
        for s in snaps:
            rec.write(s.replace(steps_per_sec=100.0))
    lines = tmp.read_bytes().splitlines(keepends=True)
    for i, line in enumerate(lines):
        d = json.loads(line)
        if "writer" in d.get("layout", {}):
            d["layout"]["writer"] = {"pid": 1, "host": "fuzz"}
            lines[i] = (json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    return lines


def _probe_source() -> list[Snapshot]:
    base = make_snapshot(depth=3, width=4)
    entries = tuple(dataclasses.replace(e, name=f"t={e.index}", kind="lstm", cell_norm=0.5 / e.index,
                                        deriv=derivative_curve(e.act.name, e.pre_hist.centres))
                    for e in base.entries)  # fmt: skip
    gates = (GateStats("forget", 0.6, 0.1, 0.2, Hist.from_range(0.0, 1.0, np.array([3, 0, 5, 9]))),)
    s = base.replace(config=None, source="probe", axis="time", entries=entries, gates=gates)
    return [s, s.replace(step=110, probe_step=110, seq=2, run_step=110)]


@cache
def bases() -> dict[str, tuple[bytes, ...]]:
    import tempfile

    out: dict[str, tuple[bytes, ...]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d) / "r.jsonl"
        t = Trainer(Config(**TINY, activation="relu", init="he"))
        snaps = [t.snapshot(boundary=True), *t.run(10, every=5)]
        t.apply(Change("lr", 0.05))
        snaps += list(t.run(5, every=5))
        t.apply(Change("activation", "tanh"))
        snaps += [*t.run(5, every=5), t.snapshot(boundary=True, paused=True, speed_cap=20.0)]
        t.apply(Change("depth", 5))  # entries that change in number along the run
        snaps += list(t.run(5, every=5))
        out["spiral"] = tuple(_lines(snaps, tmp))
        t = Trainer(Config(**TINY, activation="linear", lr=100.0))
        out["diverged"] = tuple(_lines([t.snapshot(boundary=True), *t.run(50, every=5)], tmp))
        t = Trainer(Config(**TINY, dataset="sine", dtype="float64", activation="prelu"))
        out["sine"] = tuple(_lines([t.snapshot(boundary=True), *t.run(10, every=5)], tmp))
        out["probe"] = tuple(_lines(_probe_source(), tmp))
        a, b = Trainer(Config(**TINY), run="A"), Trainer(Config(**TINY, activation="elu"), run="B")
        out["twins"] = tuple(_lines([a.snapshot(boundary=True), b.snapshot(boundary=True), *a.run(5, every=5),
                                     *b.run(5, every=5)], tmp))  # fmt: skip
    for name in ("schema1_diverged.jsonl", "schema1_sine.jsonl", "schema1_compare.jsonl"):
        out[name] = tuple((DATA / name).read_bytes().splitlines(keepends=True))
    return out


# ---- mutations --------------------------------------------------------------------------------------------------
HUGE = [1e308, -1e308, 2**63, 2**64 + 1, -(2**63) - 1, 10**19, -1, 0, 1e-320, 4096, 2**31]
WRONG = [None, "x", "", "inf", "-inf", True, False, 1.5, [], {}, [None], [1, 2, 3], [[]], {"a": 1},
         "\x1b]0;pwned\x07", "\ud800", -0.0]  # fmt: skip
VALUES = HUGE + WRONG


def _paths(v: Any, path: tuple = ()) -> list[tuple]:
    """Every place in a JSON value (at most 4 items of each list: the first three and the last)."""
    out = [path]
    if isinstance(v, dict):
        for k, x in v.items():
            out += _paths(x, (*path, k))
    elif isinstance(v, list):
        for i in sorted({*range(min(3, len(v))), len(v) - 1} - {-1}):
            out += _paths(v[i], (*path, i))
    return out


def _set(v: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    v[path[0]] = _set(v[path[0]], path[1:], new)
    return v


def _get(v: Any, path: tuple) -> Any:
    for k in path:
        v = v[k]
    return v


def _reshape(old: Any, how: int) -> Any:
    """A wrong-shaped version of a list (or of a value): shorter, longer, nested, emptied."""
    if isinstance(old, list):
        return [old[:-1], old + old[-1:], [old], [], old * 50][how % 5]
    if isinstance(old, dict):
        return [{}, dict(list(old.items())[:-1]), [old], None, {**old, "shape": [2, 2, 2]}][how % 5]
    return [[old], [old, old], None, str(old), {"v": old}][how % 5]


@st.composite
def mutated(draw: Any) -> tuple[str, list[bytes]]:
    name = draw(st.sampled_from(sorted(bases())))
    lines = list(bases()[name])
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["value", "value", "value", "shape", "has", "delete", "duplicate", "swap",
                                     "truncate", "flip", "garbage"]))  # fmt: skip
        if kind in ("value", "shape", "has"):
            try:
                d = json.loads(lines[i])
            except ValueError:
                continue
            if kind == "has":
                if not isinstance(d, dict):
                    continue
                d["has"] = draw(st.text(alphabet="lcptbxe", max_size=8))
            else:
                paths = _paths(d)
                path = paths[draw(st.integers(0, len(paths) - 1))]
                new = draw(st.sampled_from(VALUES)) if kind == "value" else _reshape(_get(d, path), draw(st.integers()))
                d = _set(d, path, new)
            lines[i] = (json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n").encode(
                "utf-8", "surrogatepass"
            )
        elif kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif kind == "flip":
            k = draw(st.integers(0, max(0, len(lines[i]) - 1)))
            b = draw(st.sampled_from([b'"', b"{", b"}", b",", b"0", b"9", b"-", b"\x00", b"\xff", b"\n", b"e", b" "]))
            lines[i] = lines[i][:k] + b + lines[i][k + 1 :]
        else:
            lines.insert(i, draw(st.sampled_from([b"\n", b"[]\n", b"{}\n", b'{"schema":2}\n', b"null\n",
                                                  b'{"schema":2,"seq":1,"step":1,"has":""}\n'])))  # fmt: skip
    return name, lines


# ---- what must hold for every file --------------------------------------------------------------------------------
def one_line(text: str) -> None:
    assert text and "\n" not in text and "Traceback" not in text, text


def draw_everything(snaps: list[Snapshot]) -> None:
    """Every panel draws every snapshot (off-screen: ``draw`` on a PanelView), with the history a replay builds;
    the doctor diagnoses; the status line and the alerts line are laid out."""
    panels = [cls() for cls in PANELS]
    by_run: dict[str, list[Snapshot]] = {}
    for s in snaps:
        by_run.setdefault(s.run, []).append(s)
    for run_snaps in by_run.values():
        history = History()
        doctor = Doctor()
        for s in run_snaps:
            history.add(s)
            doctor.observe(s)
            alerts = doctor.diagnose()
            n = len(s.entries)
            view = PanelView(snap=s, history=history, selected=n - 1, rows=tuple(sorted({0, n - 1})))
            for p in panels:
                p.view = view
                p.title_note()
                for w, h in SIZES:
                    p.draw(w, h)
            for state in (SourceState(cursor=0, length=1), SourceState(alive=False, note="the writer finished")):
                for mode in ("replay", "watch"):
                    fit_fields(status_fields(StatusView(s.config, s, state, mode)), 80)
            line = AlertsLine()
            line.show(alerts)
            line.render()


def check(path: Path) -> str:
    try:
        snaps, warnings = load_recording(path)
    except RecordingError as e:
        one_line(str(e))
        return "refused"
    for w in warnings:
        one_line(w)
    assert snaps
    draw_everything(snaps)
    rec = Recording(path)  # the replay's way: by the index, each run, any order
    for run in rec.run_names():
        for i in reversed(range(rec.length(run))):
            try:
                rec.snapshot(i, run)
            except RecordingError as e:
                one_line(str(e))
        for follow in (False, True):  # replay, and watch (which also asks who wrote the file)
            src = RecordingSource(Recording(path, follow=follow), run=run, follow=follow)
            for command in (None, Seek(-1), SeekBy(-1), SeekEvent(-1), SeekEvent(1), Seek(0)):
                if command is not None:
                    src.send(command)
                update = src.poll()
                for p in update.problems:
                    one_line(p.text)
                src.state()
    return "loaded"


@settings(max_examples=200, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(mutated())
def test_a_mutated_recording_is_refused_in_one_line_or_drawn_without_an_exception(tmp_path_factory, case):
    _, lines = case
    path = tmp_path_factory.mktemp("fuzz") / "r.jsonl"
    path.write_bytes(b"".join(lines))
    check(path)


@pytest.mark.parametrize("name", sorted(bases()))
def test_the_unmutated_recordings_load_and_draw(tmp_path, name):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"".join(bases()[name]))
    assert check(path) == "loaded"


def _edit(lines: list[bytes], i: int, path: tuple, value: Any) -> list[bytes]:
    d = json.loads(lines[i])
    _set(d, path, value)
    return [*lines[:i], (json.dumps(d, separators=(",", ":")) + "\n").encode(), *lines[i + 1 :]]


def _handful() -> dict[str, list[bytes]]:
    b = {k: list(v) for k, v in bases().items()}
    spiral, sine, twins = b["spiral"], b["sine"], b["twins"]
    return {
        "a line deleted": spiral[:2] + spiral[3:],
        "a line twice": spiral[:3] + spiral[2:],
        "extreme figures": _edit(_edit(spiral, 1, ("loss",), 1e308), 2, ("grads", "update_ratio", 0), 1e-320),
        "a cut-off tail": sine[:-2] + [sine[-2][:100]],
        "lines swapped": [twins[0], twins[2], twins[1], *twins[3:]],
        "a damaged middle": spiral[:4] + [b"{" + spiral[4][1:60] + b"\n"] + spiral[5:],
    }


@pytest.mark.parametrize("name", sorted(_handful()))
async def test_a_damaged_recording_replays_in_the_real_dashboard(tmp_path, name):
    from uitest import ready

    from gradtui.tui.app import GradTUI

    path = tmp_path / "r.jsonl"
    path.write_bytes(b"".join(_handful()[name]))
    snaps, _ = load_recording(path)
    app = GradTUI(RecordingSource(Recording(path)), fps=50)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await asyncio.wait_for(app.wait_for_snapshot(), 20)
        for keys in [("end",), ("home",), ("right", "right"), ("e",), ("E",), ("2",), ("6",), ("down",)]:
            await pilot.press(*keys)
            await pilot.pause()
        await pilot.press("space")
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: s.step == snaps[-1].step), 20)  # plays to the end
    assert app.return_code in (None, 0) and getattr(app, "crash_log", None) is None


# what fuzzing found (each raised an exception other than RecordingError, or drew with one), kept as cases
FOUND = {
    "schema 1: a boundary that is a number": ("schema1_compare.jsonl", 0, ("boundary",), 5),
    "schema 1: an array dtype that is a list": ("schema1_compare.jsonl", 0, ("boundary", "classes", "dtype"), [1]),
    "schema 1: a 0-d label array": ("schema1_sine.jsonl", 0, ("boundary", "labels", "shape"), []),
    "activation bounds []": ("spiral", 0, ("layout", "acts", 0, "bounds"), []),
    "a loss of -1e308": ("spiral", 1, ("loss",), -1e308),
    "an update ratio of 1e-320": ("spiral", 1, ("grads", "update_ratio", 0), 1e-320),
    "an entry of 2**31 - 1 units": ("spiral", 0, ("layout", "entries", 0, 2), 2**31 - 1),
    "a plane 1e308 wide": ("spiral", 0, ("boundary", "extent"), [-1e308, 1e308, -1.0, 1.0]),
    "a plane of no height": ("spiral", 0, ("boundary", "extent"), [-1.0, 1.0, 0.5, 0.5]),
    "a writer that is a list": ("spiral", 0, ("layout", "writer"), [1, 2]),
    "a writer pid of 2**70": ("spiral", 0, ("layout", "writer", "pid"), 2**70),
    "schema 1: f' of -1e307 (the selected entry: the last)": (
        "schema1_sine.jsonl",
        0,
        ("layers", -1, "deriv", 3),
        -1e307,
    ),
    "a stored f' of 1e307 (the selected entry: the last)": ("sine", 1, ("probe", "deriv", -1, 3), 1e307),
    "a baseline loss of -inf": ("sine", 0, ("layout", "baseline_loss"), "-inf"),
    "a baseline loss of 0": ("sine", 0, ("layout", "baseline_loss"), 0.0),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_what_fuzzing_found(tmp_path, name):
    base, i, path, value = FOUND[name]
    lines = _edit(list(bases()[base]), i, path, value)
    if "pid" in name:  # the pid is looked up only for this host
        lines = _edit(lines, 0, ("layout", "writer", "host"), __import__("socket").gethostname())
    (tmp_path / "r.jsonl").write_bytes(b"".join(lines))
    check(tmp_path / "r.jsonl")
