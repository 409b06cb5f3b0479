"""The gradient-history heatmap's columns: the whole run fits, a column per snapshot while they fit, then a column
per stretch of 2^k steps; checked against a plain loop over the points, and for what a slow link needs (only the
newest column changes while the stretch stays)."""

from __future__ import annotations

import math

import numpy as np
from conftest import make_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from uitest import fake_app, rendered, show

from gradtui.engine import Event
from gradtui.tui.history import History, Point
from gradtui.tui.widgets.heatmap import GradientHeatmap, columns

VALUES = st.one_of(st.floats(-12, 3), st.sampled_from([math.inf, -math.inf, math.nan]))


def point(step: int, flow: list[float], seq: int = 0) -> Point:
    return Point(step, 1.0, math.nan, None, None, np.array(flow, dtype=np.float64), seq)


def columns_of(pts: list[Point], n: int, cols: int) -> tuple[np.ndarray, list[bool]]:
    """columns() on the arrays of these points (NaN where a point had fewer entries)."""
    m = np.full((len(pts), n), np.nan)
    for r, p in enumerate(pts):
        m[r, : len(p.log_flow)] = p.log_flow[:n]
    steps = np.array([p.step for p in pts], dtype=np.int64)
    return columns(steps, m, np.array([p.change_seq for p in pts], dtype=np.int64), cols)


def reference(pts: list[Point], n: int, cols: int) -> tuple[list[list[float]], list[bool]]:
    """The same columns, one point and one column at a time."""
    marks_pt = [False] + [b.change_seq > a.change_seq for a, b in zip(pts, pts[1:])]
    flows = [[float(p.log_flow[e]) if e < len(p.log_flow) else math.nan for e in range(n)] for p in pts]
    if len(pts) <= cols:
        return flows, marks_pt
    span = pts[-1].step - pts[0].step + 1
    stretch = 1
    while math.ceil(span / stretch) > cols:
        stretch *= 2
    width = (pts[-1].step - pts[0].step) // stretch + 1
    grid: list[list[float] | None] = [None] * width
    marks = [False] * width
    for c in range(width):
        inside = [k for k, p in enumerate(pts) if (p.step - pts[0].step) // stretch == c]
        if not inside:
            continue
        marks[c] = any(marks_pt[k] for k in inside)
        col = []
        for e in range(n):
            vals = [flows[k][e] for k in inside]
            finite = [v for v in vals if math.isfinite(v)]
            if math.inf in vals:
                col.append(math.inf)
            elif finite:
                col.append(sum(finite) / len(finite))
            elif -math.inf in vals:
                col.append(-math.inf)
            else:
                col.append(math.nan)
        grid[c] = col
    held: list[list[float]] = []
    for c in range(width):
        held.append(grid[c] if grid[c] is not None else held[-1])
    return held, marks


@st.composite
def runs(draw) -> tuple[list[Point], int, int]:
    n = draw(st.integers(1, 4))
    cols = draw(st.integers(1, 30))
    gaps = draw(st.lists(st.integers(0, 400), min_size=0, max_size=80))
    steps = [draw(st.integers(0, 50))]
    for g in gaps:
        steps.append(steps[-1] + g + 1)
    pts = []
    seq = 0
    for s in steps:
        seq += draw(st.integers(0, 1)) if draw(st.integers(0, 5)) == 0 else 0
        k = draw(st.integers(max(1, n - 1), n))  # a point from before a depth change has fewer entries
        pts.append(point(s, [draw(VALUES) for _ in range(k)], seq))
    return pts, n, cols


@settings(max_examples=300, deadline=None)
@given(runs())
def test_columns_match_a_plain_loop(run):
    pts, n, cols = run
    grid, marks = columns_of(pts, n, cols)
    want, want_marks = reference(pts, n, cols)
    assert grid.shape[0] <= cols and grid.shape == (len(want), n)
    np.testing.assert_array_equal(np.isnan(grid), np.isnan(np.array(want)))
    np.testing.assert_allclose(np.nan_to_num(grid), np.nan_to_num(np.array(want)), rtol=1e-12)
    assert marks == want_marks


def test_only_the_newest_column_changes_until_the_stretch_doubles():
    cols, n = 40, 3
    rng = np.random.default_rng(0)
    pts = [point(10 * k, list(rng.uniform(-8, 0, n))) for k in range(2000)]
    doublings = 0
    before = None
    for k in range(1, len(pts) + 1):
        grid, _ = columns_of(pts[:k], n, cols)
        if before is not None and k > cols:
            if grid.shape[0] < before.shape[0]:
                doublings += 1
            else:
                np.testing.assert_array_equal(grid[: before.shape[0] - 1], before[:-1])
        before = grid
    assert 1 <= doublings <= math.ceil(math.log2(20000 / cols))


def test_the_history_keeps_every_row_until_it_thins_the_old_ones():
    """The arrays hold what the snapshots said: steps, the figures, the flow (checked against the snapshots
    themselves), the newest RECENT rows as they came and the older ones every other."""
    h = History(recent=40, old=40)
    snaps = [make_snapshot(step=10 * k) for k in range(1, 31)]
    for s in snaps:
        h.add(s)
    assert [p.step for p in h.points] == [s.step for s in snaps]
    with np.errstate(divide="ignore"):
        want = np.log10([[s.flow(e) for e in s.entries] for s in snaps])
    np.testing.assert_array_equal(h.flows(len(snaps[0].entries)), want)
    steps, loss = h.series("loss")
    assert steps.tolist() == [s.step for s in snaps] and loss.tolist() == [s.loss for s in snaps]
    for k in range(31, 200):
        h.add(make_snapshot(step=10 * k))
        assert h.n - h.n_old <= 40 and h.n_old <= 40 and h.n <= h.cap
    got = [p.step for p in h.points]
    assert got == sorted(got) and got[-20:] == [10 * k for k in range(180, 200)]  # the newest as they came
    assert len(h.steps) == h.cap  # allocated once


def test_the_checker_can_fail():
    pts = [point(k, [float(k)]) for k in range(100)]
    want, _ = reference(pts, 1, 10)
    bad = [point(k, [float(k) + (k == 57)]) for k in range(100)]
    got, _ = columns_of(bad, 1, 10)
    assert not np.allclose(got, np.array(want))


async def test_a_long_run_fits_the_panel_and_keeps_its_change_mark():
    """500 snapshots, many more than the panel's columns: the whole run is drawn (first step to last in the
    legend), no wider than the panel, and the change made early on is still marked."""
    start = make_snapshot(step=10).events
    async with fake_app() as (app, pilot, _):
        for k in range(1, 500):
            events = start if k < 50 else (*start, Event(99, 500, "change", "lr 0.1 -> 0.2"))
            show(app, make_snapshot(step=10 * k, events=events))
        await pilot.pause()
        panel = app.dashboard.query_one(GradientHeatmap)
        text = rendered(panel)
        lines = text.splitlines()
        assert max(len(line.rstrip()) for line in lines) <= panel.content_size.width
        assert lines[0].count("▼") == 1
        assert lines[-1].rstrip().endswith(f"step 10…{10 * 499:,}")
