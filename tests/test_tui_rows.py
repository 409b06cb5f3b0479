"""Issue 10, items 2, 3 and 8 on the real app: one choice of rows for every panel (the first, the last, the selected
entry and every entry an alert names always among them; "n of N layers" where not all fit), figures from before a
rebuild marked as such, the key bar (`?` and `q` at every size), the speed cap keys, and the doctor's fix tried in
a twin."""

from __future__ import annotations

import math

import pytest
from conftest import make_snapshot
from uitest import fake_app, live_app, rendered, show, wait_for

from gradtui.engine import Config, Snapshot, Trainer
from gradtui.engine.pacing import Pacer
from gradtui.session import _Bucket
from gradtui.source import SetSpeedCap
from gradtui.tui.screens.compare import CompareScreen
from gradtui.tui.screens.live import next_cap
from gradtui.tui.widgets.activations import ActivationStrips
from gradtui.tui.widgets.base import Panel
from gradtui.tui.widgets.flow import GradientFlow
from gradtui.tui.widgets.heatmap import GradientHeatmap
from gradtui.tui.widgets.units import UnitsPanel

LISTING = (GradientFlow, GradientHeatmap, ActivationStrips, UnitsPanel)


def rows_of(panel: Panel) -> list[str]:
    """The entry names a panel lists, top to bottom: its rows start with a mark column (" ", "▶" selected, "!"
    named by an alert) and the name; the heatmap's rows (between its marker line and its legend) with the name."""
    lines = rendered(panel).splitlines()
    if isinstance(panel, GradientHeatmap):
        return [line.split()[0] for line in lines[1:-1]]
    names = []
    for line in lines:
        word = line[1:].split()
        if line[:1] in (" ", "▶", "!") and word and word[0].startswith("L") and word[0][1:].isdigit():
            names.append(word[0])
    return names


@pytest.mark.parametrize("size", [(120, 40), (160, 50), (100, 34)])
async def test_every_panel_shows_the_same_layers_with_the_selected_and_the_alerted_ones(size):
    # a deep net whose layer 23 has dead units: the doctor names it, so every panel must show it
    snap = make_snapshot(depth=40, config=Config(activation="relu", init="he", depth=40, width=16),
                         layer_overrides={23: dict(dead=12, dead_step=50)})  # fmt: skip
    async with fake_app(size=size, snap=snap) as (app, pilot, _):
        d = app.dashboard
        for _ in range(17):
            await pilot.press("up")  # select layer 18
        await pilot.pause()
        assert d.selected == 17
        assert any(a.entry == "L23" for a in d.alerts)  # the doctor names L23
        shown = [p for p in d.query(Panel) if isinstance(p, LISTING) and p.display and p.region.area]
        assert shown
        choices = {tuple(rows_of(p)) for p in shown}
        assert len(choices) == 1, choices  # one choice of layers for every panel
        names = set(next(iter(choices)))
        assert {"L1", "L40", "L18", "L23"} <= names
        assert len(names) < 40
        for p in shown:
            assert f"{len(names)} of 40 layers" in p.border_title, p.id


async def test_a_figure_from_before_a_rebuild_is_dimmed_and_says_from_which_step():
    # the trainer rebuilt at step 100 (run_step 0) but the probe figures are from step 90: of the old network
    snap = make_snapshot(step=100, run_step=0, probe_step=90, test_step=90)
    async with fake_app(snap=snap) as (app, pilot, _):
        strips = app.dashboard.query_one(ActivationStrips)
        assert "from step 90" in strips.border_title
        line = rendered(strips).splitlines()[0]
        assert line.strip()
        text = strips.render()
        assert any("dim" in str(span.style) for span in text.spans)
        loss_title = app.dashboard.query_one("#loss")
        show(app, make_snapshot(step=110, run_step=10))  # measured again on the new network: no mark
        await pilot.pause()
        assert "from step" not in strips.border_title
        assert loss_title is not None


def test_the_first_snapshot_after_a_rebuild_has_fresh_probe_and_test_figures():
    from gradtui.engine import Change

    t = Trainer(Config(depth=3, width=8, samples=300, probe_size=64))
    pacer = Pacer(hz=10, clock=iter(range(10**6)).__next__)
    for _ in range(5):
        t.step(measure=True)
        pacer.take(t)
    t.apply(Change("activation", "relu"))
    pacer.reset()
    s = pacer.take(t)
    assert s.run_step == 0 and s.probe_step >= s.build_step and s.test_step >= s.build_step
    assert not s.stale(s.probe_step) and not s.stale(s.test_step)


def test_the_boundary_keeps_refreshing_while_training():
    """The pacer gives the probe pass and the boundary each their own budget: neither starves the other."""
    t = Trainer(Config(depth=3, width=8, samples=300, probe_size=64))
    now = [0.0]
    pacer = Pacer(hz=10, clock=lambda: now[0])
    boundary_steps, probe_steps = set(), set()
    for _ in range(60):
        for _ in range(3):
            t.step()
        now[0] += 1.0  # fake seconds, far longer than what a step really costs (which the pacer adds to them)
        if pacer.due():
            t.step(measure=True)
            s = pacer.take(t)
            boundary_steps.add(s.boundary.step if s.boundary is not None else None)
            probe_steps.add(s.probe_step)
    assert len(boundary_steps - {None}) >= 10 and len(probe_steps) >= 10


@pytest.mark.parametrize("size", [(60, 16), (80, 24), (120, 40), (220, 60)])
async def test_help_and_quit_are_in_the_key_bar_at_every_size(size):
    async with fake_app(size=size, snap=make_snapshot()) as (app, pilot, _):
        bar = rendered(app.dashboard.query_one("#keybar"))
        assert "? help" in bar and "q quit" in bar
        assert len(bar) <= size[0]
        status = rendered(app.dashboard.query_one("#status"))
        assert len(status) <= size[0] and "paused" in status or "⏸" in status


def test_speed_cap_steps_and_the_token_bucket():
    assert next_cap(None, 1) is None and next_cap(None, -1) == 5000
    assert next_cap(50, -1) == 20 and next_cap(50, 1) == 100 and next_cap(1, -1) == 1 and next_cap(5000, 1) is None
    bucket = _Bucket(10.0)
    now = bucket.last
    taken = sum(bucket.take(now + k * 0.01) for k in range(100))  # one second, polled every 10 ms
    assert 9 <= taken <= 11  # about 10 steps, plus the burst of one
    assert _Bucket(None).take(now) and _Bucket(None).wait(now) == 0


async def test_slower_and_faster_keys_cap_the_live_trainer():
    async with live_app(cap=None) as (app, pilot):
        await pilot.press("less_than_sign")
        assert app.source.state().speed_cap == 5000
        await pilot.press("less_than_sign", "less_than_sign")
        assert app.source.state().speed_cap == 1000
        s = await wait_for(app, lambda s: s.speed_cap == 1000)
        status = rendered(app.dashboard.query_one("#status"))
        assert "≤ 1000 steps/s" in status or "≤1000/s" in status
        while app.source.state().speed_cap is not None:
            await pilot.press("greater_than_sign")
        await wait_for(app, lambda s: s.speed_cap is None)
        assert s.steps_per_sec == s.steps_per_sec or math.isnan(s.steps_per_sec)


async def test_x_tries_the_doctors_fix_in_a_twin():
    async with live_app(size=(140, 44), depth=8, width=16, samples=300, probe_size=64) as (app, pilot):
        await wait_for(app, lambda s: s.run_step > 20)
        alerts = app.dashboard.alerts
        fixable = [a for a in alerts if a.fix is not None and a.fix.changes]
        assert fixable and fixable[0].key == "vanishing"  # the default sigmoid net: vanishing, fix ReLU + He
        await pilot.press("x")
        d = app.dashboard
        assert isinstance(d, CompareScreen) and d.target == 1
        expected = fixable[0].fix.apply(d.configs[0])
        assert d.configs[1] == expected and d.configs[0].activation == "sigmoid"
        shown: list[tuple[Snapshot, ...]] = []  # the pair on screen when the predicate held: a later one may
        # arrive before this coroutine runs again, so d.snaps is read in the predicate, not after the wait

        def fixed_twin_shown(s: Snapshot) -> bool:
            shown.append(d.snaps)
            return len(d.snaps) == 2 and d.snaps[1].config == expected

        await wait_for(app, fixed_twin_shown)
        a, b = shown[-1]
        assert a.step == b.step and a.config == d.configs[0]  # lockstep, from the same seed


async def test_x_says_why_when_there_is_no_fix_to_try():
    snap = make_snapshot(vanishing_ratio=0.5)  # healthy: nothing to fix
    async with fake_app(snap=snap) as (app, pilot, source):
        await pilot.press("x")
        await pilot.pause()
        assert "no fix to try" in rendered(app.dashboard.query_one("#alerts"))
        assert not isinstance(app.dashboard, CompareScreen)
        assert not source.of(SetSpeedCap)
