"""The dashboard's keys, on the real app and a real trainer (thread mode): each key changes the configuration the
app wants at once, the trainer reports it in a snapshot, and the panels show it. No sleeps: every wait is for a
snapshot (``wait_for``, which fails after a timeout instead of hanging) or for the UI to settle (``pilot.pause``)."""

from __future__ import annotations

import pytest
from uitest import live_app, rendered, wait_for

from gradtui.engine import ACTIVATIONS, Change
from gradtui.source import ApplyChange
from gradtui.tui.screens.modals import ActivationPicker
from gradtui.tui.widgets.activations import LayerHistogram
from gradtui.tui.widgets.flow import GradientFlow
from gradtui.tui.widgets.heatmap import GradientHeatmap
from gradtui.tui.widgets.status import AlertsLine, StatusBar

# key, field, value after one press (from depth 4, width 16, xavier, sgd, lr 0.1, spiral, sigmoid), status text
CHANGES = [
    ("a", "activation", "tanh", " tanh "),
    ("A", "activation", "linear", " linear "),
    ("plus", "depth", 5, "5×16"),
    ("minus", "depth", 3, "3×16"),
    ("right_square_bracket", "width", 32, "4×32"),
    ("left_square_bracket", "width", 8, "4×8"),
    ("i", "init", "xavier_uniform", "init xavier_uniform"),
    ("I", "init", "he_uniform", "init he_uniform"),
    ("b", "batchnorm", True, "BN on"),
    ("r", "residual", True, "res on"),
    ("o", "optimizer", "momentum", "momentum lr 0.1"),
    ("l", "lr", 0.2, "lr 0.2"),
    ("L", "lr", 0.05, "lr 0.05"),
    ("d", "dataset", "moons", "moons"),
    ("D", "dataset", "sine", "sine"),
]
LIVE_FIELDS = {"lr", "optimizer"}


def change_events(snap):
    return [e for e in snap.events if e.kind == "change"]


@pytest.mark.parametrize(("key", "field", "value", "status"), CHANGES, ids=[c[0] for c in CHANGES])
async def test_key_changes_the_engine_config(key, field, value, status):
    async with live_app() as (app, pilot):
        before = await wait_for(app, lambda s: s.run_step > 0)
        await pilot.press(key)
        assert getattr(app.dashboard.config, field) == value  # the desired config, at once
        assert status in rendered(app.dashboard.query_one(StatusBar))
        s = await wait_for(app, lambda s: s.config == app.dashboard.config)
        assert getattr(s.config, field) == value
        last = change_events(s)[-1]
        assert last.text.startswith(field)
        if field in LIVE_FIELDS:  # live: the same network goes on training
            assert "rebuilt" not in last.text
            assert s.run_step > before.run_step and s.step == s.run_step
        else:
            assert last.text.endswith("(rebuilt)")
            assert s.step - s.run_step == last.step  # run_step restarted at the change
        await pilot.pause()
        assert status in rendered(app.dashboard.query_one(StatusBar))


async def test_every_activation_in_turn():
    names = list(ACTIVATIONS)
    async with live_app() as (app, pilot):
        assert app.dashboard.snap.config.activation == names[0]
        for name in names[1:] + names[:1]:
            await pilot.press("a")
            assert app.dashboard.config.activation == name
            s = await wait_for(app, lambda s, name=name: s.config.activation == name)
            assert s.layers and all(layer.hist.counts.sum() > 0 for layer in s.layers)
            await pilot.pause()
            assert f" {name} " in rendered(app.dashboard.query_one(StatusBar))
            hist = app.dashboard.query_one(LayerHistogram)
            assert rendered(hist).splitlines()[0].split()[1] == name  # its headline: the layer, its activation
            assert hist.border_title.startswith("Selected layer")


async def test_depth_up_and_down_and_to_50_layers():
    async with live_app() as (app, pilot):
        await pilot.press("plus")
        assert (await wait_for(app, lambda s: s.config.depth == 5)).depth == 5
        await pilot.press("minus")
        assert (await wait_for(app, lambda s: s.config.depth == 4)).depth == 4
        while app.dashboard.config.depth < 50:
            await pilot.press("plus")
        assert app.dashboard.config.depth == 50
        s = await wait_for(app, lambda s: s.config.depth == 50)
        assert len(s.layers) == 50
        await pilot.pause()
        flow = app.dashboard.query_one(GradientFlow)
        text = rendered(flow)
        rows = [line for line in text.splitlines() if line[1:2] == "L"]
        assert 1 < len(rows) < 50
        assert rows[0][1:].startswith("L50 ") and rows[-1][1:].startswith("L1 ")
        assert f"{len(rows)} of 50 layers" in flow.border_title


async def test_learning_rate_is_live():
    async with live_app() as (app, pilot):
        before = await wait_for(app, lambda s: s.run_step > 0)
        await pilot.press("l", "l")
        assert app.dashboard.config.lr == 0.5
        s = await wait_for(app, lambda s: s.config.lr == 0.5)
        assert s.run_step > before.run_step and s.step == s.run_step  # never rebuilt
        assert [e.kind for e in s.events] == ["start", "change", "change"]
        assert not any("rebuilt" in e.text for e in s.events)


async def test_pause_single_step_and_resume(monkeypatch):
    async with live_app() as (app, pilot):
        shown = []
        resolve = app.resolve
        monkeypatch.setattr(app, "resolve", lambda snap: (shown.append(snap), resolve(snap)))
        await wait_for(app, lambda s: s.run_step > 0)
        await pilot.press("space")
        assert app.dashboard.paused
        paused = await wait_for(app, lambda s: s.paused)
        k = paused.step
        assert "paused" in rendered(app.dashboard.query_one(StatusBar))
        await pilot.press("n")
        one = await wait_for(app, lambda s: s.step != k)
        assert one.step == k + 1 and one.paused
        await pilot.press("n")
        two = await wait_for(app, lambda s: s.step != k + 1)
        assert two.step == k + 2 and two.paused
        after_pause = [s.step for s in shown[shown.index(paused) :]]
        assert set(after_pause) == {k, k + 1, k + 2}
        assert after_pause == sorted(after_pause)
        await pilot.press("space")
        assert not app.dashboard.paused
        await wait_for(app, lambda s: not s.paused and s.step > k + 2)
        assert "training" in rendered(app.dashboard.query_one(StatusBar))


async def test_step_key_pauses_a_running_trainer():
    async with live_app() as (app, pilot):
        await wait_for(app, lambda s: s.run_step > 0)
        await pilot.press("n")
        assert app.dashboard.paused
        s = await wait_for(app, lambda s: s.paused)
        k = s.step
        await pilot.press("n")
        assert (await wait_for(app, lambda s: s.step != k)).step == k + 1


async def test_reset_rebuilds_from_the_seed():
    async with live_app() as (app, pilot):
        before = await wait_for(app, lambda s: s.run_step >= 50)
        await pilot.press("ctrl+r")
        s = await wait_for(app, lambda s: any(e.kind == "reset" for e in s.events))
        reset = [e for e in s.events if e.kind == "reset"][-1]
        assert reset.step >= before.step
        assert s.step - s.run_step == reset.step  # run_step counts from the reset again
        assert s.run_step < s.step
        assert s.config == before.config


async def test_a_change_while_training_is_marked_in_the_history():
    async with live_app() as (app, pilot):
        await wait_for(app, lambda s: s.run_step > 0 and len(app.dashboard.history.points) >= 2)
        assert app.dashboard.history.change_steps() == []
        await pilot.press("b")
        heatmap = app.dashboard.query_one(GradientHeatmap)
        await wait_for(app, lambda s: s.config.batchnorm and "▼" in rendered(heatmap))
        assert len(app.dashboard.history.change_steps()) == 1
        assert rendered(heatmap).splitlines()[0].count("▼") == 1


async def test_a_change_while_paused_is_marked_over_the_newest_column():
    async with live_app() as (app, pilot):
        await wait_for(app, lambda s: s.run_step > 0 and len(app.dashboard.history.points) >= 2)
        await pilot.press("space")
        paused = await wait_for(app, lambda s: s.paused)
        await pilot.press("r")
        heatmap = app.dashboard.query_one(GradientHeatmap)
        s = await wait_for(app, lambda s: s.config.residual)
        assert app.dashboard.history.change_steps() == [paused.step] and s.step == paused.step
        await pilot.pause()
        marks = rendered(heatmap).splitlines()[0]
        assert marks.rstrip().endswith("▼") and marks.count("▼") == 1
        await pilot.press("space")  # running again: the mark stays over its column
        await wait_for(app, lambda s: s.step > paused.step + 1)
        await pilot.pause()
        assert rendered(heatmap).splitlines()[0].count("▼") == 1


async def test_activation_picker_chooses_and_cancels():
    async with live_app() as (app, pilot):
        await pilot.press("p")
        assert isinstance(app.screen, ActivationPicker)
        await pilot.press("escape")
        assert not isinstance(app.screen, ActivationPicker)
        assert app.dashboard.config.activation == "sigmoid"
        await pilot.press("p", "down", "down", "enter")  # sigmoid -> tanh -> relu
        assert not isinstance(app.screen, ActivationPicker)
        assert app.dashboard.config.activation == "relu"
        s = await wait_for(app, lambda s: s.config.activation == "relu")
        assert change_events(s)[-1].text.startswith("activation sigmoid -> relu")


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_q_and_ctrl_c_quit_and_stop_the_trainer(key):
    async with live_app() as (app, pilot):
        session = app.source
        assert session.alive
        await pilot.press(key)
        assert not app.is_running
    assert app.return_code == 0
    assert not session.alive


async def test_engine_problem_from_the_trainer_is_shown():
    async with live_app() as (app, pilot):
        app.source.send(ApplyChange(Change("bogus", 1)))  # the trainer refuses it and reports a Problem
        alerts = app.dashboard.query_one(AlertsLine)
        await wait_for(app, lambda s: any("cannot be changed" in text for _, text in alerts.shown))
        await pilot.pause()
        assert "'bogus' cannot be changed" in rendered(alerts)
        assert app.is_running
