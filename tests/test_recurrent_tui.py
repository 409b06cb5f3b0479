"""Recurrent networks in the dashboard: it opens on an LSTM (as ``gradtui --model lstm`` builds it), switches cells and
back to the MLP live, every new key on every model (and the refusals, in words), the gates panel, RNN and LSTM twins
side by side, and every panel of every cell x task drawn at four terminal sizes with no line longer than its panel.

Snapshots of small real runs (hidden 8, 16 probe sequences) are shown on a FakeSource where no trainer is needed;
the live tests run a real trainer (thread mode, capped) and wait for snapshots, never sleep."""

from __future__ import annotations

import functools

import pytest
from uitest import FakeSource, fake_app, live_app, rendered, show, wait_for

from gradtui.cli.parser import build_parser, config_from_args
from gradtui.engine import Config, Snapshot, make_trainer
from gradtui.engine.recurrent_trainer import hist_steps
from gradtui.source import ApplyChange, SetRuns
from gradtui.tui.screens.compare import CompareScreen
from gradtui.tui.screens.live import LiveScreen
from gradtui.tui.widgets.activations import ActivationStrips, LayerHistogram
from gradtui.tui.widgets.boundary import BoundaryPanel
from gradtui.tui.widgets.compare import CompareDiff
from gradtui.tui.widgets.flow import GradientFlow
from gradtui.tui.widgets.gates import GatesPanel
from gradtui.tui.widgets.status import AlertsLine, KeyBar, StatusBar

SMALL = dict(width=8, probe_size=16, batch_size=8)
SIZES = [(60, 16), (80, 24), (120, 40), (200, 60)]


@functools.cache
def snapshot_of(model: str, task: str = "adding", seq_len: int = 12, steps: int = 3, **kw) -> Snapshot:
    """A real snapshot of a small recurrent run, after ``steps`` measured steps."""
    t = make_trainer(Config.for_model(model, task=task, seq_len=seq_len, **{**SMALL, **kw}))
    for _ in range(steps):
        t.step(measure=True)
    return t.snapshot()


def lstm() -> Snapshot:
    return snapshot_of("lstm")


def alert_line(app) -> str:
    return rendered(app.dashboard.query_one(AlertsLine))


def sent_changes(source: FakeSource) -> list[tuple[str, object]]:
    return [(c.change.field, c.change.value) for c in source.of(ApplyChange)]


# ---- the live dashboard -----------------------------------------------------------------------------------------
async def test_the_dashboard_opens_on_an_lstm_as_the_command_line_builds_it():
    config = config_from_args(build_parser().parse_args(["--model", "lstm", "--seq-len", "20"]))
    async with live_app(size=(120, 40), configs=[config.replace(probe_size=16)]) as (app, pilot):
        s = await wait_for(app, lambda s: s.axis == "time")
        assert isinstance(app.dashboard, LiveScreen) and s.config.model == "lstm" and len(s.entries) == 20
        await pilot.pause()
        assert " lstm " in rendered(app.dashboard.query_one(StatusBar))
        assert "h32" in rendered(app.dashboard.query_one(StatusBar))
        gates = app.dashboard.query_one(GatesPanel)
        assert gates.display and not app.dashboard.query_one(BoundaryPanel).display
        assert "forget" in rendered(gates) and app.dashboard.query_one(GradientFlow).border_title.startswith(
            "Gradient through time"
        )


async def test_m_switches_cells_live_and_back_to_the_mlp():
    async with live_app(size=(120, 40), seq_len=20) as (app, pilot):  # an MLP; seq_len waits for a cell
        assert app.dashboard.snap.axis == "layer"
        await pilot.press("m")
        assert app.dashboard.config.model == "rnn" and app.dashboard.config.width == 32  # the cell's own settings
        s = await wait_for(app, lambda s: s.config.model == "rnn" and s.axis == "time")
        assert len(s.entries) == 20 and s.events[-1].text == "model mlp -> rnn (rebuilt)"
        await pilot.press("m")
        s = await wait_for(app, lambda s: s.config.model == "lstm")
        assert [g.name for g in s.gates] == ["input", "forget", "output", "candidate"]
        await pilot.pause()
        assert app.dashboard.query_one(GatesPanel).display
        await pilot.press("M", "M")  # back through the RNN to the MLP
        s = await wait_for(app, lambda s: s.config.model == "mlp")
        assert s.axis == "layer" and s.config.depth == 4 and s.config.width == Config().width
        await pilot.pause()
        assert app.dashboard.query_one(BoundaryPanel).display and not app.dashboard.query_one(GatesPanel).display


# ---- every key on every model -----------------------------------------------------------------------------------
KEYS_ON = {
    # model: [(key, field, value)] of the keys that change it
    "lstm": [("g", "forget_bias", 0.0), ("right_curly_bracket", "seq_len", 20), ("left_curly_bracket", "seq_len", 10),
             ("c", "clip", 0.0), ("m", "model", "gru"), ("M", "model", "rnn"), ("d", "task", "order"),
             ("i", "recurrent_init", "identity"), ("right_square_bracket", "width", 16)],
    "rnn": [("a", "activation", "relu"), ("A", "activation", "sigmoid"), ("m", "model", "lstm"),
            ("M", "model", "mlp"), ("D", "task", "copy")],
    "gru": [("m", "model", "mlp"), ("c", "clip", 0.0), ("l", "lr", 0.005)],
}  # fmt: skip
REFUSED_ON = {
    # model: [(key, the words of the refusal)]
    "lstm": [("b", "batchnorm is an MLP setting: an LSTM has one recurrent layer"), ("r", "residual is an MLP setting"),
             ("plus", "{ and } change the sequence length T"), ("minus", "depth is an MLP setting"),
             ("a", "an LSTM has sigmoid gates and tanh"), ("p", "an LSTM has sigmoid gates and tanh")],
    "gru": [("g", "the GRU has no forget gate"), ("a", "a GRU has sigmoid gates and tanh")],
    "rnn": [("g", "the vanilla RNN has no forget gate"), ("b", "a vanilla RNN has one recurrent layer")],
    "mlp": [("right_curly_bracket", "seq_len applies to recurrent models only"),
            ("left_curly_bracket", "m switches to a recurrent model"),
            ("g", "forget_bias applies to recurrent models")],
}  # fmt: skip


@pytest.mark.parametrize("model", list(KEYS_ON))
async def test_the_new_keys_change_a_recurrent_run(model):
    snap = snapshot_of(model)
    for key, field, value in KEYS_ON[model]:
        async with fake_app(snap=snap) as (app, pilot, source):
            await pilot.press(key)
            assert sent_changes(source) == [(field, value)], key
            assert getattr(app.dashboard.config, field) == value, key  # the desired config, at once


@pytest.mark.parametrize("model", list(REFUSED_ON))
async def test_keys_that_do_not_apply_say_why(model):
    snap = snapshot_of(model) if model != "mlp" else None
    async with fake_app(snap=snap) as (app, pilot, source):
        if snap is None:  # the default hand-made MLP snapshot
            from conftest import make_snapshot

            show(app, make_snapshot())
            await pilot.pause()
        for key, words in REFUSED_ON[model]:
            await pilot.press(key)
            await pilot.pause()
            assert words in alert_line(app), (key, alert_line(app))
        assert not source.of(ApplyChange) and app.dashboard.config == app.dashboard.snap.config


async def test_the_key_bar_shows_the_keys_of_the_model():
    async with fake_app(size=(200, 40), snap=lstm()) as (app, pilot, _):
        bar = rendered(app.dashboard.query_one(KeyBar))
        assert " m " in bar and " } " in bar and " g " in bar and " b " not in bar and " + " not in bar
    from conftest import make_snapshot

    async with fake_app(size=(200, 40), snap=make_snapshot()) as (app, pilot, _):
        bar = rendered(app.dashboard.query_one(KeyBar))
        assert " m " in bar and " b " in bar and " } " not in bar and " g " not in bar


async def test_clip_on_an_mlp_and_the_status_line_of_a_cell():
    from conftest import make_snapshot

    async with fake_app(snap=make_snapshot()) as (app, pilot, source):
        await pilot.press("c")
        assert sent_changes(source) == [("clip", 1.0)] and "clip 1" in rendered(app.dashboard.query_one(StatusBar))
    async with fake_app(size=(160, 40), snap=lstm()) as (app, pilot, _):
        status = rendered(app.dashboard.query_one(StatusBar))
        for part in (" lstm ", "h8 ", "adding T=12 ", "forget bias 1 ", "clip 1 ", "adam lr 0.003"):
            assert part in status, part


async def test_up_and_down_move_between_the_steps_that_have_histograms():
    snap = snapshot_of("lstm", seq_len=200, steps=1)
    kept = list(hist_steps(200))
    async with fake_app(size=(120, 40), snap=snap) as (app, pilot, _):
        assert app.dashboard.selected == 0
        await pilot.press("up")
        assert app.dashboard.selected == kept[1]
        await pilot.press("up", "down", "down")
        assert app.dashboard.selected == 0
        hist = rendered(app.dashboard.query_one(LayerHistogram))
        assert hist.startswith("t=1  tanh") and "c count" in hist
        strips = rendered(app.dashboard.query_one(ActivationStrips))
        assert "not kept at this step" not in strips  # the rows shown are the steps with histograms


# ---- the gates panel, twins -------------------------------------------------------------------------------------
async def test_the_gates_panel_draws_each_cells_gates_and_parameters():
    for model, gates in (("lstm", ["input", "forget", "output", "candidate"]), ("gru", ["reset", "update"])):
        async with fake_app(size=(160, 50), snap=snapshot_of(model)) as (app, pilot, _):
            text = rendered(app.dashboard.query_one(GatesPanel))
            lines = text.splitlines()
            assert lines[1].split()[:4] == ["gate", "mean", "shut", "open"]
            assert all(any(line.startswith(g) for line in lines) for g in gates), text
            assert ("‖c_t‖/√N" in text) == (model == "lstm")
            assert "Wh" in text and "out.W" in text
    async with fake_app(size=(160, 50), snap=snapshot_of("rnn")) as (app, pilot, _):
        text = rendered(app.dashboard.query_one(GatesPanel))
        assert text.startswith("h_t = f(x_t Wx + h_{t-1} Wh + b)  (no gates)") and "Wh" in text


async def test_the_gates_panel_draws_each_gates_shut_and_open_shares_through_time():
    from dataclasses import replace

    import numpy as np

    from gradtui.tui.draw import LEVELS

    real = snapshot_of("lstm", seq_len=40)
    rising = np.linspace(0.0, 1.0, 40)  # the forget gate shuts more and more through time, and never opens
    gates = tuple(replace(g, low_steps=rising, high_steps=np.zeros(40)) if g.name == "forget" else g
                  for g in real.gates)  # fmt: skip
    async with fake_app(size=(120, 40), snap=real.replace(gates=gates)) as (app, pilot, _):
        lines = rendered(app.dashboard.query_one(GatesPanel)).splitlines()
        assert lines[1].split()[4:7] == ["mean(t)", "shut(t)", "open(t)"]
        forget = next(line for line in lines if line.startswith("forget")).split()
        shut, opened = forget[5], forget[6]
        heights = [LEVELS.index(c) for c in shut]
        assert heights[0] == 1 and heights[-1] == 8 and heights == sorted(heights)  # ▁ at step 1 .. █ at step 40
        assert set(opened) == {"▁"}
    older = tuple(replace(g, low_steps=None, high_steps=None) for g in real.gates)  # a recording without them
    async with fake_app(size=(120, 40), snap=real.replace(gates=older)) as (app, pilot, _):
        lines = rendered(app.dashboard.query_one(GatesPanel)).splitlines()
        assert lines[1].split()[4:] == ["over", "t"] and "shut(t)" not in lines[1]


async def test_rnn_and_lstm_twins_side_by_side_from_the_same_data():
    rnn, lstm_ = snapshot_of("rnn", seq_len=40), snapshot_of("lstm", seq_len=40)
    rnn, lstm_ = rnn.replace(run="A"), lstm_.replace(run="B")
    source = FakeSource(runs=[rnn.config, lstm_.config])
    async with fake_app(size=(140, 44), source=source) as (app, pilot, _):
        assert isinstance(app.dashboard, CompareScreen)
        show(app, rnn, lstm_)
        await pilot.pause()
        diff = app.dashboard.query_one(CompareDiff)
        assert diff.border_title.startswith("Per-step difference")
        text = rendered(diff)
        assert text.splitlines()[0].split()[:3] == ["step", "A:rnn", "B:lstm"]
        assert "t=1: " in text and "× the gradient of" in text


async def test_x_tries_the_lstm_the_doctor_proposes_for_a_forgetting_rnn_in_a_twin():
    snap = snapshot_of("rnn", seq_len=100, steps=1, width=32)
    async with fake_app(size=(140, 44), snap=snap) as (app, pilot, source):
        alert = app.dashboard.alerts[0]
        assert alert.key == "vanishing" and alert.text.endswith("switch to an LSTM")
        await pilot.press("x")
        await pilot.pause()
        runs = source.of(SetRuns)[-1].configs
        assert [c.model for c in runs] == ["rnn", "lstm"] and runs[1].seq_len == 100 and runs[1].width == 32
        assert isinstance(app.dashboard, CompareScreen)


async def test_x_tries_an_lstm_with_forget_bias_1_and_clipping_after_g_and_c_turned_them_off():
    # g (forget bias 0) and c (clipping off) on an LSTM, then M back to the RNN: the twin's LSTM gets them back
    snap = snapshot_of("rnn", seq_len=100, steps=1, width=32, forget_bias=0.0, clip=0.0)
    async with fake_app(size=(140, 44), snap=snap) as (app, pilot, source):
        alert = app.dashboard.alerts[0]
        assert alert.key == "vanishing" and alert.text.endswith("switch to an LSTM (forget-gate bias 1, clip 1)")
        await pilot.press("x")
        await pilot.pause()
        runs = source.of(SetRuns)[-1].configs
        assert [(c.model, c.forget_bias, c.clip) for c in runs] == [("rnn", 0.0, 0.0), ("lstm", 1.0, 1.0)]


# ---- every panel, every cell x task, four sizes -----------------------------------------------------------------
def all_snapshots() -> list[Snapshot]:
    snaps = [snapshot_of(m, t) for m in ("rnn", "lstm", "gru") for t in ("adding", "order", "copy")]
    snaps.append(snapshot_of("rnn", activation="relu"))  # dead units can be counted
    snaps.append(snapshot_of("lstm", seq_len=300, steps=1))  # many steps: rows chosen, histograms of 32
    return snaps


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_every_panel_draws_every_cell_and_task_within_its_width(size):
    snaps = all_snapshots()
    async with fake_app(size=size, snap=snaps[0]) as (app, pilot, _):
        for snap in snaps:
            show(app, snap)
            await pilot.pause()
            for view in "123456":
                if app.dashboard.compact:
                    await pilot.press(view)
                    await pilot.pause()
                for panel in app.dashboard.panels:
                    width = panel.content_size.width
                    if width < 4 or panel.content_size.height < 1:
                        continue  # not shown in this layout
                    lines = rendered(panel).splitlines()
                    too_long = [line for line in lines if len(line) > width]
                    assert not too_long, (type(panel).__name__, snap.summary, size, too_long[:2])
                if not app.dashboard.compact:
                    break


async def test_a_recording_of_an_lstm_replays_with_its_gates(tmp_path):
    from gradtui.record import Recorder, Recording
    from gradtui.replay import RecordingSource
    from gradtui.tui.app import GradTUI
    from gradtui.tui.screens.replay import ReplayScreen

    t = make_trainer(Config.for_model("lstm", seq_len=12, **SMALL))
    path = tmp_path / "lstm.jsonl"
    with Recorder(path) as rec:
        for s in [t.snapshot(), *t.run(10, every=5)]:
            rec.write(s)
    app = GradTUI(RecordingSource(Recording(path)), fps=20)
    async with app.run_test(size=(140, 44)) as pilot:
        from uitest import ready

        await ready(pilot)
        await pilot.press("end")
        s = await wait_for(app, lambda s: s.step == 10)
        await pilot.pause()
        assert isinstance(app.dashboard, ReplayScreen) and s.axis == "time" and s.params
        gates = app.dashboard.query_one(GatesPanel)
        assert gates.display and "forget" in rendered(gates) and "Wh" in rendered(gates)
