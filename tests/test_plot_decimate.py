"""The loss chart's points are thinned to at most two per bucket of x (plot.decimate), so that drawing costs the
same however long the run: every bucket keeps its lowest and highest point, in order, and nothing else moves."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gradtui.tui.plot import Series, decimate, line_chart


def extremes_kept(xs, ys, kx, ky, buckets: int) -> bool:
    """Does (kx, ky) keep, in every bucket of x, the lowest and highest y of (xs, ys), and at most two points?"""
    lo, hi = xs[0], xs[-1]
    b = np.minimum(((np.array(xs) - lo) / (hi - lo) * buckets).astype(int), buckets - 1)
    kb = np.minimum(((np.array(kx) - lo) / (hi - lo) * buckets).astype(int), buckets - 1)
    for j in set(b.tolist()):
        inside = [y for y, bj in zip(ys, b) if bj == j]
        kept = [y for y, bj in zip(ky, kb) if bj == j]
        if min(inside) not in kept or max(inside) not in kept or len(kept) > 2:
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=600),
    st.integers(1, 40),
    st.integers(1, 5),
)
def test_each_bucket_keeps_its_lowest_and_highest_point(ys, buckets, stride):
    xs = [float(stride * k) for k in range(len(ys))]
    kx, ky = decimate(xs, ys, xs[0], xs[-1], buckets)
    kept = list(zip(kx, ky))
    pairs = set(zip(xs, ys))
    assert all(p in pairs for p in kept) and kx == sorted(kx)  # a subsequence, in order
    if len(xs) > 2 * buckets and xs[-1] > xs[0]:
        assert len(kx) <= 2 * buckets and extremes_kept(xs, ys, kx, ky, buckets)
    else:
        assert (kx, ky) == (xs, ys)


def test_a_spike_in_a_long_history_is_still_drawn():
    xs = list(range(20000))
    ys = [1.0] * 20000
    ys[12345] = 50.0
    chart = line_chart(40, 10, [Series("train", xs, ys, None, "x")]).plain
    flat = line_chart(40, 10, [Series("train", xs, [1.0] * 20000, None, "x")]).plain
    assert chart != flat  # the one high point changes the drawing
    kx, ky = decimate(xs, ys, 0, 19999, 80)
    assert 50.0 in ky and len(kx) <= 160


def test_the_checker_can_fail():
    """Keeping every other point (a plain thinning) loses a bucket's peak, and the check says so."""
    ys = [0.0, 5.0, 1.0, 2.0] * 50
    xs = [float(k) for k in range(len(ys))]
    assert not extremes_kept(xs, ys, xs[::2], ys[::2], 4)
    assert extremes_kept(xs, ys, *decimate(xs, ys, xs[0], xs[-1], 4), 4)
