"""SVG layout snapshots (pytest-textual-snapshot; baselines in tests/__snapshots__/, regenerate with
``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at them). Hand-made snapshots on a FakeSource, so
nothing depends on the clock or the machine: no training, paused, no steps/s. They break on Textual upgrades (the
version is pinned in the test extras): assert on state in the other test files first; keep these few.

One layout per colour mode that the issue names: truecolor (the dashboard, the compact views), 16 colours and none.
"""

from __future__ import annotations

import dataclasses

import pytest
from conftest import make_boundary, make_snapshot, snapshot_series
from uitest import FakeSource, ready, show

from gradtui.engine import Divergence, Event
from gradtui.tui.app import GradTUI

EVENTS = (Event(1, 0, "start", "start"), Event(2, 55, "change", "lr 0.1 -> 0.2"))


@pytest.fixture(autouse=True)
def _colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)


def dashboard(color: str = "truecolor") -> GradTUI:
    return GradTUI(FakeSource(config=make_snapshot().config), fps=20, color=color)


def showing(*snaps):
    async def run_before(pilot) -> None:
        await ready(pilot)
        show(pilot.app, *snaps[:1])
        for snap in snaps[1:]:
            show(pilot.app, snap)
        await pilot.pause()

    return run_before


SERIES = [  # the change at step 55 first reaches the dashboard with the snapshot of step 60
    dataclasses.replace(s, events=EVENTS if s.step >= 60 else EVENTS[:1])
    for s in snapshot_series(12, boundary=make_boundary(), layer_overrides={2: dict(dead=5)}, vanishing_ratio=0.02)
]


def test_dashboard_120x40(snap_compare):
    assert snap_compare(dashboard(), terminal_size=(120, 40), run_before=showing(*SERIES))


def test_compact_80x24_loss_view(snap_compare):
    assert snap_compare(dashboard(), terminal_size=(80, 24), press=["5"], run_before=showing(*SERIES))


def test_compact_80x24_diverged(snap_compare):
    message = "diverged at step 812: layer 4's activations went NaN/Inf"
    snap = make_snapshot(step=812, diverged=Divergence(812, 4, "activations", message), vanishing_ratio=float("nan"))
    assert snap_compare(dashboard(), terminal_size=(80, 24), run_before=showing(snap))


def test_dashboard_16_colours_120x40(snap_compare):
    assert snap_compare(dashboard("16"), terminal_size=(120, 40), run_before=showing(*SERIES))


def test_dashboard_no_colour_120x40(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")  # what --color none sets before the app starts
    assert snap_compare(dashboard("none"), terminal_size=(120, 40), run_before=showing(*SERIES))
