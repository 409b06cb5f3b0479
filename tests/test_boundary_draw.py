"""The decision boundary's drawing with the colours of the whole grid computed at once (``_blend_grid``) and the
points placed at once (``_points_at``) gives the same cells and styles as the per-cell code (``_cell``, ``_blend``)
and as a per-point loop written out here: for any classes, any confidence (NaN and both ends included), any points
(NaN, far off the plane, on its edges), float32 and float64."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rich.text import Text

from gradtui.engine.stats import Boundary
from gradtui.tui.draw import append_runs
from gradtui.tui.palette import palette_for
from gradtui.tui.widgets.boundary import BoundaryPanel, _blend_grid, _points_at

CONF = st.one_of(st.floats(0, 1, width=32), st.sampled_from([math.nan, 0.0, 1.0, 0.5, -0.1, 1.5]))
COORD = st.one_of(st.floats(-1.5, 1.5, width=32), st.sampled_from([math.nan, math.inf, -1.0, 1.0, 1e30, -1e30]))


def per_cell(cls, conf, pts, n_classes, pal, width, height) -> Text:
    """The drawing as ``_cell`` makes it, cell by cell."""
    out = Text(no_wrap=True, overflow="crop")
    for r in range(height):
        if r:
            out.append("\n")
        append_runs(out, (BoundaryPanel._cell(r, c, cls, conf, pts, n_classes, pal) for c in range(width)))
    return out


def points_loop(b: Boundary, width: int, height: int) -> dict[tuple[int, int], int]:
    """The points' cells, one point at a time (what the panel did before ``_points_at``)."""
    pts: dict[tuple[int, int], int] = {}
    x0, x1, y0, y1 = b.extent
    with np.errstate(all="ignore"):
        for (px, py), lab in zip(b.points, b.labels):
            fc, fr = (px - x0) / (x1 - x0) * width, (y1 - py) / (y1 - y0) * height
            if not (math.isfinite(fc) and math.isfinite(fr) and math.isfinite(lab)):
                continue
            c, r = int(fc), int(fr)
            if 0 <= c < width and 0 <= r < height:
                pts[(r, c)] = int(lab)
    return pts


@st.composite
def grids(draw):
    width, height = draw(st.integers(1, 12)), draw(st.integers(1, 6))
    n = draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    cls = draw(arrays(np.int64, (2 * height, width), elements=st.integers(0, n - 1)))
    conf = draw(arrays(dtype, (2 * height, width), elements=CONF))
    return width, height, n, cls, conf


@settings(max_examples=200, deadline=None)
@given(grids(), st.sampled_from(["truecolor", "256"]), st.data())
def test_the_grid_at_once_draws_what_the_cells_one_by_one_draw(grid, mode, data):
    width, height, n, cls, conf = grid
    pal = palette_for(mode)
    assert pal.blends
    keys = [(r, c) for r in range(height) for c in range(width)]
    pts = dict(data.draw(st.lists(st.tuples(st.sampled_from(keys), st.integers(0, n - 1)), max_size=6)))
    fast = Text(no_wrap=True, overflow="crop")
    BoundaryPanel._blended(fast, cls, conf, pts, n, pal, width, height)
    slow = per_cell(cls, conf, pts, n, pal, width, height)
    assert fast.plain == slow.plain
    assert fast.spans == slow.spans


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(COORD, COORD, st.integers(0, 9)), max_size=20),
    st.sampled_from([np.float32, np.float64]),
    st.integers(1, 60),
    st.integers(1, 20),
)
def test_the_points_at_once_land_where_one_by_one_they_land(points, dtype, width, height):
    xy = np.array([[x, y] for x, y, _ in points], dtype=dtype).reshape(-1, 2)
    labels = np.array([lab for *_, lab in points], dtype=np.int64)
    b = Boundary(extent=(-1.0, 1.0, -1.0, 1.0), classes=None, confidence=None, points=xy, labels=labels)
    assert _points_at(b, width, height) == points_loop(b, width, height)


def test_the_blend_is_the_per_cell_blend():
    """One grid by hand: the faded colours are ``_blend``'s, digit for digit (and the checker sees a change)."""
    from gradtui.tui.widgets.boundary import _blend

    pal = palette_for("truecolor")
    cls = np.array([[0, 1, 2]])
    conf = np.array([[1.0, 0.5, math.nan]], dtype=np.float32)
    got = _blend_grid(cls, conf, 3, pal.classes)
    want = [[_blend(pal.classes[k], float(c), 3) for k, c in zip(cls[0], conf[0])]]
    assert got == want
    assert _blend_grid(cls, conf, 2, pal.classes) != want  # another chance level: other colours
