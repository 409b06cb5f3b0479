"""What keeps the dashboard's event loop free for the keys while it trains: busy panels due at the same redraw
are drawn one after another, each in a turn of its own; what the app holds for its whole life is out of the
garbage collector's sight while it runs, and back in it after."""

from __future__ import annotations

import gc
import weakref

from conftest import make_boundary, make_snapshot
from uitest import fake_app, settle, show

from gradtui.tui.widgets.base import STAGGER


async def test_busy_panels_due_together_are_drawn_one_after_another(monkeypatch):
    async with fake_app(snap=make_snapshot(step=10, paused=False, boundary=make_boundary())) as (app, pilot, _):
        busy = [p for p in app.dashboard.panels if p.MAX_HZ]
        assert len(busy) >= 3
        for p in busy:
            monkeypatch.setattr(p, "_drawn_at", -1e9)  # each due now
        snap = make_snapshot(step=20, loss=0.25, paused=False, boundary=make_boundary(classes=3))
        show(app, snap)
        drawn_now = [p for p in busy if p._drawn is not None and p.snap is snap and p._drawn[1] == p.view_key(p.view)]
        waiting = [p for p in busy if p._timer is not None]
        assert len(drawn_now) == 1 and len(waiting) >= 2  # one now; the others queued, STAGGER apart
        assert STAGGER > 0

        def all_drawn() -> bool:
            return all(p._timer is None and p._drawn is not None and p._drawn[1] == p.view_key(p.view) for p in busy)

        await settle(pilot, all_drawn, turns=200)
        assert "loss 0.25" in app.dashboard.query_one("LossChart").render().plain


async def test_the_app_freezes_what_it_holds_while_it_runs_and_thaws_it_after():
    before = gc.get_freeze_count()
    async with fake_app(snap=make_snapshot()) as (app, pilot, _):
        assert gc.get_freeze_count() > before  # Textual, Rich, the widgets: not walked by each full collection
    assert gc.get_freeze_count() == 0  # a process that goes on (the tests) collects them again


async def test_the_screen_of_a_mode_left_behind_is_collected():
    """The live screen was frozen with everything else at mount; after a fork it is garbage, and a mode switch
    thaws, collects and freezes again, so that forking and unforking all day does not keep every old screen."""
    async with fake_app(snap=make_snapshot()) as (app, pilot, _):
        old = weakref.ref(app.dashboard)
        await pilot.press("f")
        await pilot.pause()
        assert type(app.dashboard).__name__ == "CompareScreen"
        for _ in range(100):  # (the app collects it REFREEZE_AFTER seconds after the switch)
            if old() is None:
                break
            await pilot.pause(0.02)
        assert old() is None


async def test_a_live_change_keeps_the_busy_panels_pace_and_a_rebuild_does_not():
    """``l`` trains the same network on: the busy panels wait for their turn; a new activation is another
    network, drawn at once (its figures never sit beside the old network's)."""
    first = make_snapshot(step=10, paused=False)
    async with fake_app(snap=first) as (app, pilot, _):
        chart = app.dashboard.query_one("LossChart")
        faster = first.config.replace(lr=first.config.lr * 2)
        show(app, make_snapshot(step=20, loss=0.25, paused=False, config=faster))
        assert chart._timer is not None and chart._drawn[1] != chart.view_key(chart.view)  # within its half second
        rebuilt = first.config.replace(activation="tanh")
        show(app, make_snapshot(step=30, loss=0.125, paused=False, config=rebuilt))
        assert chart._drawn[1] == chart.view_key(chart.view)  # at once
        assert "loss 0.125" in chart._drawn[2].plain
