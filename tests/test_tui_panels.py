"""The panels on hand-made snapshots (no trainer: a FakeSource, and snapshots handed to the screen directly), so that
every figure is known: what the alerts line, status bar and panels say about dead units, a divergence, vanishing
gradients, exact zeros, tiny and missing figures; and what the app does with the trainer's problems."""

from __future__ import annotations

import math

import pytest
from conftest import make_boundary, make_layer, make_snapshot, snapshot_series
from uitest import FakeSource, fake_app, painted, ready, rendered, show, wait_for

from gradtui.engine import Config, Divergence, Event
from gradtui.source import ApplyChange, Pause, Problem, StepOnce
from gradtui.tui.app import GradTUI
from gradtui.tui.history import History
from gradtui.tui.plot import Series, line_chart
from gradtui.tui.widgets.activations import ActivationStrips, LayerHistogram
from gradtui.tui.widgets.boundary import BoundaryPanel
from gradtui.tui.widgets.flow import GradientFlow
from gradtui.tui.widgets.heatmap import GradientHeatmap
from gradtui.tui.widgets.losschart import LossChart
from gradtui.tui.widgets.status import AlertsLine, StatusBar
from gradtui.tui.widgets.units import UnitsPanel

RELU = Config(activation="relu", init="he", depth=4, width=50, samples=400, probe_size=128)


def flow_row(text: str, layer: int) -> str:
    """The flow panel's row of ``layer`` (1-based)."""
    rows = [line for line in text.splitlines() if line[1:].startswith(f"L{layer} ")]
    assert len(rows) == 1, text
    return rows[0]


def alert_texts(app: GradTUI) -> list[str]:
    return [text for _, text in app.dashboard.query_one(AlertsLine).shown]


# ---- hand-made snapshots ------------------------------------------------------------------------------------------
def test_the_builders_make_valid_snapshots():
    s = make_snapshot(layer_overrides={2: dict(dead=5)})
    assert s.depth == 4 and s.layers[1].dead_count == 5 and s.layers[1].dead_fraction == 5 / 16
    for layer in s.layers:
        bins = layer.hist.bins
        assert layer.hist.edges.shape == (bins + 1,) and layer.pre_hist.edges.shape == (bins + 1,)
        assert layer.pre_hist.counts.shape == layer.deriv.shape == (bins,)
        assert layer.dead_since().shape == (layer.units,) and layer.dead_since().dtype.name == "int64"
        assert (layer.dead_since() >= 0).sum() == layer.dead_count
    with pytest.raises(ValueError):
        make_layer(1, 4, dead=5)


async def test_dead_units_in_the_alerts_and_the_units_panel():
    snap = make_snapshot(config=RELU, layer_overrides={2: dict(dead=19, dead_step=40)})
    async with fake_app(snap=snap) as (app, pilot, _):
        first = app.dashboard.alerts[0]
        assert first.key == "dead" and first.index == 2 and first.entry == "L2"  # 1-based, as Alert documents
        line = rendered(app.dashboard.query_one(AlertsLine))
        assert "38%" in line and "dead" in line and "layer 2" in line
        units = rendered(app.dashboard.query_one(UnitsPanel))
        assert units.startswith("dead 19/200 (9.5%)")
        assert "dead   19/50" in units and "38%" in units
        await pilot.press("up")  # select layer 2: its unit map and the histogram's dead count
        await pilot.pause()
        units = rendered(app.dashboard.query_one(UnitsPanel))
        assert "L2 units" in units and "first died at step 40" in units
        assert units.count("█") >= 19
        assert "dead 19/50" in rendered(app.dashboard.query_one(LayerHistogram))


async def test_divergence_in_the_alerts_status_and_flow():
    message = "diverged at step 812: layer 4's activations went NaN/Inf"
    snap = make_snapshot(step=812, diverged=Divergence(812, 4, "activations", message), vanishing_ratio=math.nan)
    async with fake_app(snap=snap) as (app, pilot, _):
        shown = app.dashboard.alerts
        assert shown[0].level == "error" and shown[0].key == "diverged"
        line = rendered(app.dashboard.query_one(AlertsLine))
        assert "812" in line and "layer 4" in line
        status = rendered(app.dashboard.query_one(StatusBar))
        assert "DIVERGED" in status and "paused" not in status
        assert rendered(app.dashboard.query_one(GradientFlow)).startswith("diverged at step 812")


async def test_vanishing_ratio_in_the_alerts_and_the_flow_headline():
    async with fake_app(snap=make_snapshot(vanishing_ratio=2e-7)) as (app, pilot, _):
        assert app.dashboard.alerts[0].key == "vanishing"
        assert "vanishing" in rendered(app.dashboard.query_one(AlertsLine))
        head = rendered(app.dashboard.query_one(GradientFlow)).splitlines()[0]
        assert head.startswith("vanishing ratio 2.0e-7")
        assert "2.0e-7" in painted(app.dashboard.query_one(GradientFlow))  # on the screen too


async def test_exact_zero_and_tiny_gradients_in_the_flow_panel():
    snap = make_snapshot(layer_overrides={1: dict(grad_norm=0.0, signal_norm=0.0), 2: dict(grad_norm=1e-36)})
    async with fake_app(snap=snap) as (app, pilot, _):
        text = rendered(app.dashboard.query_one(GradientFlow))
        one = flow_row(text, 1)
        assert one.split()[-3:] == ["0", "sig", "0"]  # not 0.0e+00
        assert "1.0e-36" in flow_row(text, 2)
        assert "e+00" not in text and "e0 " not in text
        assert text.splitlines()[-1].split()[0] == "1e-36"  # the axis starts at 1.0e-36 (an exact 0 is off it)


async def test_missing_figures_draw_a_dash_and_nothing_crashes():
    nan = math.nan
    missing = dict(grad_norm=nan, bias_grad_norm=nan, signal_norm=nan, update_ratio=nan, mean=nan, std=nan)
    snap = make_snapshot(
        loss=nan,
        accuracy=None,
        test_loss=nan,
        test_accuracy=None,
        vanishing_ratio=nan,
        steps_per_sec=nan,
        paused=False,
        layer_overrides={i: missing for i in range(1, 5)},
    )
    async with fake_app(snap=snap) as (app, pilot, _):
        show(app, make_snapshot(step=101, **{k: v for k, v in snap.__dict__.items() if k != "step"}))
        await pilot.pause()
        flow = rendered(app.dashboard.query_one(GradientFlow))
        assert flow.splitlines()[0] == "vanishing ratio —"
        assert flow_row(flow, 3).split()[-3:] == ["—", "sig", "—"]
        assert "μ     — σ     —" in rendered(app.dashboard.query_one(ActivationStrips))
        assert alert_texts(app) == ["no gradient measured yet on this network"]
        assert "steps/s" not in rendered(app.dashboard.query_one(StatusBar))
        for panel in app.dashboard.panels:
            rendered(panel)
            assert painted(panel).strip()
        assert app.is_running


async def test_infinite_figures_do_not_crash_the_panels():
    """An infinite gradient norm (log10 = +inf) once crashed the heatmap with an OverflowError."""
    inf = math.inf
    snap = make_snapshot(vanishing_ratio=inf, layer_overrides={3: dict(grad_norm=inf, signal_norm=inf)})
    async with fake_app(snap=snap) as (app, pilot, _):
        show(app, make_snapshot(step=101, vanishing_ratio=inf, layer_overrides={3: dict(grad_norm=inf)}))
        await pilot.pause()
        assert "inf" in flow_row(rendered(app.dashboard.query_one(GradientFlow)), 3)
        for panel in app.dashboard.panels:
            rendered(panel)
        assert app.is_running


async def test_heatmap_and_loss_chart_follow_the_history():
    async with fake_app() as (app, pilot, _):
        for snap in snapshot_series(12):
            show(app, snap)
        await pilot.pause()
        heat = rendered(app.dashboard.query_one(GradientHeatmap))
        assert heat.splitlines()[-1].rstrip().endswith("step 10…120")
        assert "▼" not in heat
        chart = rendered(app.dashboard.query_one(LossChart))
        assert chart.startswith("loss 0.233  test 0.256  acc 94%  test acc 70%")
        assert chart == rendered(app.dashboard.query_one(LossChart))  # drawing twice gives the same text


async def test_a_change_between_two_snapshots_is_marked():
    config = make_snapshot().config
    events = (Event(1, 0, "start", "start"), Event(2, 15, "change", "lr 0.1 -> 0.2"))
    async with fake_app() as (app, pilot, _):
        show(app, make_snapshot(step=10, events=events[:1]))
        show(app, make_snapshot(step=20, events=events, config=config.replace(lr=0.2)))
        show(app, make_snapshot(step=30, events=events, config=config.replace(lr=0.2)))
        await pilot.pause()
        assert app.dashboard.history.change_steps() == [15]
        marks = rendered(app.dashboard.query_one(GradientHeatmap)).splitlines()[0]
        assert marks.strip() == "▼" and marks.index("▼") == 4  # over the second column (label width 3)


async def test_a_change_right_after_a_snapshot_is_marked():
    """The trainer takes commands just after sending a snapshot, so a change often carries that snapshot's step:
    the mark goes over the first snapshot that knows of the change, not by comparing steps."""
    config = make_snapshot().config
    events = (Event(1, 0, "start", "start"), Event(2, 10, "change", "lr 0.1 -> 0.2"))
    async with fake_app() as (app, pilot, _):
        show(app, make_snapshot(step=10, events=events[:1]))  # measured at step 10, then the change
        show(app, make_snapshot(step=20, events=events, config=config.replace(lr=0.2)))
        await pilot.pause()
        assert "▼" in rendered(app.dashboard.query_one(GradientHeatmap))


async def test_loss_chart_shows_the_last_snapshot_when_paused():
    """The chart redraws at most MAX_HZ times a second, but the last snapshot before a pause must be drawn."""
    async with fake_app() as (app, pilot, _):
        for snap in snapshot_series(3, paused=False):
            show(app, snap)
        await pilot.pause()
        chart = app.dashboard.query_one(LossChart)
        assert painted(chart).splitlines()[1].startswith("│ loss 0.625")
        show(app, make_snapshot(step=40, loss=0.123, paused=True))  # the trainer paused: the last one
        await pilot.pause()
        assert "loss 0.123" in rendered(chart)
        assert "loss 0.123" in painted(chart)


async def test_boundary_panel_draws_the_plane():
    async with fake_app(snap=make_snapshot(boundary=make_boundary())) as (app, pilot, _):
        text = rendered(app.dashboard.query_one(BoundaryPanel))
        assert "▀" in text and "•" in text
        show(app, make_snapshot(step=101))
        assert "drawing the boundary" in rendered(app.dashboard.query_one(BoundaryPanel))


# ---- problems from the trainer ------------------------------------------------------------------------------------
async def test_an_engine_problem_is_shown_and_the_app_goes_on():
    async with fake_app(snap=make_snapshot()) as (app, pilot, source):
        text = "engine error: FloatingPointError: overflow (network.py:88) - training paused"
        source.feed(None, [Problem(text)])
        app.poll()
        await pilot.pause()
        alerts = app.dashboard.query_one(AlertsLine)
        assert alerts.shown[0] == ("error", text)
        assert "engine error: FloatingPointError" in rendered(alerts)
        assert "engine error" in painted(alerts)
        source.feed(make_snapshot(step=101), [])
        app.poll()
        assert app.dashboard.snap.step == 101 and text in alert_texts(app)  # stays until the next message
        assert app.is_running


async def test_a_problem_arrives_with_a_snapshot_through_the_poll_timer():
    async with fake_app(snap=make_snapshot()) as (app, pilot, source):
        source.feed(make_snapshot(step=150), [Problem("the trainer stopped unexpectedly (log: x.log)", fatal=True)])
        await wait_for(app, lambda s: s.step == 150)
        assert "the trainer stopped unexpectedly (log: x.log)" in alert_texts(app)
        assert not source.queue


async def test_a_refused_change_shows_what_really_runs():
    async with fake_app(snap=make_snapshot()) as (app, pilot, source):
        await pilot.press("a")
        assert app.dashboard.config.activation != "relu" and source.of(ApplyChange)[-1].change.field == "activation"
        assert f" {app.dashboard.config.activation} " in rendered(app.dashboard.query_one(StatusBar))
        source.feed(None, [Problem("could not rebuild: out of memory")])
        app.poll()
        assert app.dashboard.config == app.dashboard.snap.config  # back to what the trainer runs
        show(app, make_snapshot(step=101))  # the trainer sends one after every command
        await pilot.pause()
        assert " relu " in rendered(app.dashboard.query_one(StatusBar))
        assert "rebuilding" not in rendered(app.dashboard.query_one(StatusBar))
        assert "could not rebuild: out of memory" in rendered(app.dashboard.query_one(AlertsLine))


async def test_a_change_going_through_clears_the_old_message():
    async with fake_app(snap=make_snapshot()) as (app, pilot, source):
        app.dashboard.query_one(AlertsLine).say("an old problem")
        await pilot.press("o")
        assert app.dashboard.config.optimizer == "momentum"
        show(app, make_snapshot(step=101, config=app.dashboard.config))
        assert "an old problem" not in alert_texts(app)


async def test_space_after_a_stale_running_snapshot_still_resumes():
    async with fake_app(snap=make_snapshot(paused=False)) as (app, pilot, source):
        await pilot.press("space")
        show(app, make_snapshot(step=101, paused=False))  # already in flight when space was pressed
        show(app, make_snapshot(step=102, paused=True))
        await pilot.press("space")
        assert [c.paused for c in source.of(Pause)] == [True, False]
        await pilot.press("n")  # n pauses a running trainer first, then steps
        assert [c.paused for c in source.of(Pause)] == [True, False, True] and len(source.of(StepOnce)) == 1


async def test_two_spaces_before_the_trainer_answers_pause_then_resume():
    async with fake_app(snap=make_snapshot(paused=False)) as (app, pilot, source):
        await pilot.press("space", "space")
        assert [c.paused for c in source.of(Pause)] == [True, False]
        assert not app.dashboard.paused


async def test_space_resumes_a_trainer_that_paused_itself():
    """An engine error pauses the trainer without a key: the next space must resume it, not pause it again."""
    async with fake_app(snap=make_snapshot(paused=False)) as (app, pilot, source):
        source.feed(make_snapshot(step=101, paused=True), [Problem("engine error: boom - training paused")])
        app.poll()
        await pilot.press("space")
        assert [c.paused for c in source.of(Pause)] == [False]


async def test_a_poll_when_the_panels_are_gone_is_harmless():
    """Textual stops the app's timers only after closing its screens, so the poll timer can tick when the widgets
    are gone (it did: a NoMatches crash on quit in about one live test run in ten). Here the panels are removed
    and the timer's poll runs then."""
    source = FakeSource()
    app = GradTUI(source, fps=20)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        show(app, make_snapshot(step=1))
        await pilot.pause()
        await app.dashboard.query_one("#panels").remove()
        source.feed(make_snapshot(step=2))
        app.poll()  # what the interval timer does when it fires now
        await pilot.pause()
        assert app.is_running and app.return_code is None or app.return_code == 0
        await pilot.press("q")
    assert app.return_code == 0 and source.closed


# ---- plotext ------------------------------------------------------------------------------------------------------
def test_line_chart_is_deterministic_and_keeps_no_state_between_charts():
    xs = list(range(10, 130, 10))
    series = [Series("train", xs, [1 / (1 + 0.3 * k) for k in range(12)], "cyan")]
    series.append(Series("test", xs, [1.1 / (1 + 0.25 * k) for k in range(12)], "magenta", "•"))
    first = line_chart(50, 12, series, markers=[45], ylog=True)
    other = line_chart(30, 8, [Series("x", [1, 2, 3], [3.0, -1.0, 2.0], "red")], markers=[2])  # another chart between
    again = line_chart(50, 12, series, markers=[45], ylog=True)
    assert first.plain == again.plain and first.spans == again.spans
    assert other.plain != first.plain
    assert len(first.plain.splitlines()) == 12
    assert max(len(line) for line in first.plain.splitlines()) <= 50


def test_history_records_change_steps_and_clears_on_a_replay_jump():
    h = History()
    events = (Event(1, 0, "start", "start"), Event(2, 15, "change", "x"), Event(3, 25, "reset", "reset"))
    for step in (10, 20, 30):
        h.add(make_snapshot(step=step, events=events))
    assert h.change_steps() == [15, 25] and [p.step for p in h.points] == [10, 20, 30]
    h.add(make_snapshot(step=30, loss=0.1, events=events))  # same step: replaced
    assert len(h.points) == 3 and h.points[-1].loss == 0.1
    h.add(make_snapshot(step=5))  # time went backwards
    assert [p.step for p in h.points] == [5]
