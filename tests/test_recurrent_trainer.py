"""Recurrent networks in the product, trainer level: the Config's recurrent fields, the RecurrentTrainer's snapshots
(axis "time", one entry per time step), rebuilds and live changes, changes that cross between the MLP and a cell,
divergence, and recordings of a recurrent run. Small shapes (T 12, hidden 8): every test runs in well under a second.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradtui.doctor import Doctor
from gradtui.engine import Change, Config, ConfigError, RecurrentTrainer, Trainer, apply_change, make_trainer
from gradtui.engine.config import MLP_FIELDS, RECURRENT_FIELDS, RECURRENT_PRESET, fits_in_memory, switch_model
from gradtui.engine.names import CELL_NAMES, RNN_ACTIVATION_NAMES, TASK_INFO, TASK_SHAPES
from gradtui.engine.recurrent import CELLS, RNN_ACTIVATIONS
from gradtui.engine.recurrent_trainer import HIST_STEPS, hist_steps
from gradtui.engine.tasks import TASKS, make_task
from gradtui.record import Recorder, Recording, load_recording
from gradtui.replay import RecordingSource
from gradtui.source import Seek

SMALL = dict(seq_len=12, width=8, probe_size=16, batch_size=8)
GATES = {"rnn": [], "lstm": ["input", "forget", "output", "candidate"], "gru": ["reset", "update", "candidate"]}


def small(model: str = "lstm", **kw) -> Config:
    return Config.for_model(model, **{**SMALL, **kw})


# ---- the Config -----------------------------------------------------------------------------------------------------
def test_the_pure_python_names_match_the_engines_registries():
    assert tuple(CELLS) == CELL_NAMES
    assert tuple(TASK_INFO) == tuple(TASKS)
    assert RNN_ACTIVATION_NAMES == RNN_ACTIVATIONS
    for name, (inputs, outputs, loss) in TASK_SHAPES.items():
        task = make_task(name, 20)
        assert (task.input_dim, task.output_dim, task.loss) == (inputs, outputs, loss)


def test_recurrent_fields_are_checked_for_recurrent_models_only_and_the_mlps_for_the_mlp_only():
    with pytest.raises(ConfigError, match="cannot use maxout"):
        Config(model="rnn", activation="maxout")
    Config(model="lstm", activation="maxout")  # the LSTM's gates are its own: the activation is not used
    with pytest.raises(ConfigError, match="seq_len must be between 10 and 1000"):
        Config(model="gru", seq_len=5)
    with pytest.raises(ConfigError, match="copy task needs seq_len >= 11"):
        Config(model="lstm", task="copy", seq_len=10)
    with pytest.raises(ConfigError, match="unknown model"):
        Config(model="transformer")
    with pytest.raises(ConfigError, match="recurrent_init"):
        Config(model="rnn", recurrent_init="nonsense")
    Config(model="mlp", seq_len=5)  # not the MLP's: not checked
    Config(model="lstm", depth=0, dataset="nonsense")  # not the LSTM's
    with pytest.raises(ConfigError, match="seq_len must be a whole number"):
        Config(model="mlp", seq_len="5")  # every field's type is checked, whatever the model


def test_why_not_says_which_fields_do_not_apply():
    lstm, mlp = Config(model="lstm"), Config()
    assert all(lstm.why_not(f) for f in MLP_FIELDS) and all(not mlp.why_not(f) for f in MLP_FIELDS)
    assert all(mlp.why_not(f) for f in RECURRENT_FIELDS)
    assert "an LSTM has one recurrent layer" in lstm.why_not("batchnorm")
    assert "no forget gate" in Config(model="gru").why_not("forget_bias") and not lstm.why_not("forget_bias")
    assert "sigmoid gates" in lstm.why_not("activation") and not Config(model="rnn").why_not("activation")


def test_summary_preset_and_switching_models():
    c = Config.for_model("lstm")
    assert c.summary() == "lstm h32 adding T=100 adam lr=0.003 clip 1"
    assert (
        Config.for_model("rnn", activation="relu", recurrent_init="identity")
        .summary()
        .startswith("rnn relu h32 identity adding")
    )
    assert "forget bias 0" in c.replace(forget_bias=0.0).summary()
    rnn = switch_model(c.replace(lr=0.01), "rnn")  # between cells: nothing else changes (a fair comparison)
    assert rnn.model == "rnn" and rnn.lr == 0.01 and rnn.width == 32
    mlp = switch_model(c, "mlp")  # across: the MLP's own settings for the shared fields
    assert mlp.model == "mlp" and all(getattr(mlp, k) == getattr(Config(), k) for k in RECURRENT_PRESET)
    back = switch_model(mlp.replace(depth=4), "gru")
    assert back.depth == 4 and all(getattr(back, k) == v for k, v in RECURRENT_PRESET.items())


def test_memory_estimate_grows_with_the_sequence_and_refuses_in_words():
    short, long = Config.for_model("lstm", seq_len=100), Config.for_model("lstm", seq_len=1000)
    assert 5 * short.estimate_bytes() < long.estimate_bytes()
    with pytest.raises(ConfigError, match=r"sequence length \(1000\)"):
        fits_in_memory(long, available=long.estimate_bytes() // 2)


# ---- the trainers ---------------------------------------------------------------------------------------------------
def test_make_trainer_picks_the_class_and_trainer_refuses_a_recurrent_config():
    assert isinstance(make_trainer(small("gru")), RecurrentTrainer)
    assert isinstance(make_trainer(Config(depth=2, width=4, samples=40, probe_size=8)), Trainer)
    with pytest.raises(ConfigError, match="make_trainer"):
        Trainer(small("lstm"))
    with pytest.raises(ConfigError, match="make_trainer"):
        RecurrentTrainer(Config())


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("model", CELL_NAMES)
def test_a_snapshot_of_every_cell_and_task_has_the_documented_shape(model, task):
    t = make_trainer(small(model, task=task))
    first = t.snapshot()
    assert first.step == 0 and np.isfinite([e.signal_norm for e in first.entries]).all()  # measured dry at step 0
    t.step()
    t.step(measure=True)
    s = t.snapshot()
    T, H = 12, 8
    assert s.axis == "time" and s.flow_key == "signal_norm" and s.meta.model == model
    assert [e.name for e in s.entries] == [f"t={i}" for i in range(1, T + 1)]
    assert [e.index for e in s.entries] == list(range(1, T + 1))
    assert all(e.kind == model and e.units == H for e in s.entries)
    signal = np.array([s.flow(e) for e in s.entries])
    assert np.isfinite(signal).all() and (signal > 0).all()
    assert s.vanishing_ratio == pytest.approx(signal[0] / signal[-1])
    assert all(math.isnan(e.grad_norm) and math.isnan(e.update_ratio) for e in s.entries)  # shared weights
    assert [p.name for p in s.params][:3] == ["cell.Wx", "cell.Wh", "cell.b"] and s.params[-1].name == "out.b"
    assert all(p.grad_norm > 0 and p.update_ratio > 0 for p in s.params)  # a measured step: updated
    assert s.output_grad_norm == next(p.grad_norm for p in s.params if p.name == "out.W")
    assert [g.name for g in s.gates] == GATES[model]
    for g in s.gates:
        assert g.steps is not None and g.steps.shape == (T,) and 0 <= g.low + g.high <= 1
        assert g.mean == pytest.approx(g.steps.mean())
    assert s.baseline_loss == pytest.approx(make_task(task, T).baseline)
    classification = task != "adding"
    assert (s.accuracy is not None) == classification == (s.test_accuracy is not None)
    cell_norm = [e.cell_norm for e in s.entries]
    assert np.isfinite(cell_norm).all() if model == "lstm" else np.isnan(cell_norm).all()
    for e in s.entries:
        assert 0 <= e.saturation <= 1 and math.isfinite(e.mean) and e.std >= 0
        assert e.hist is not None and e.hist.counts.sum() == 16 * H  # T 12 <= 32: every step's histogram
        assert (e.pre_hist is None) == (model == "gru") and (e.deriv is None) == (model == "gru")
        assert e.dead is None  # tanh units cannot die
        assert e.act is not None and e.act.name == "tanh"


@pytest.mark.parametrize("model", CELL_NAMES)
def test_measure_gradient_is_the_through_time_part_of_measure_steps(model):
    t = make_trainer(small(model))
    x, y = t.task.sample(8, np.random.default_rng(0))
    t.net.loss_and_grads(x, y)
    signal, ratio, cell_norm = t.net.measure_gradient()
    full = t.net.measure_steps()
    assert np.array_equal(signal, full.signal) and ratio == full.through_time_ratio
    assert (cell_norm is None) == (full.cell_norm is None)
    if cell_norm is not None:
        assert np.array_equal(cell_norm, full.cell_norm)


def test_histograms_are_kept_for_32_evenly_spaced_steps_with_the_first_and_the_last():
    kept = hist_steps(100)
    assert len(kept) == HIST_STEPS and kept[0] == 0 and kept[-1] == 99 and np.all(np.diff(kept) >= 3)
    assert list(hist_steps(12)) == list(range(12))
    s = make_trainer(small("rnn", seq_len=80)).snapshot()
    with_hist = [e.index for e in s.entries if e.hist is not None]
    assert len(with_hist) == HIST_STEPS and with_hist[0] == 1 and with_hist[-1] == 80
    assert all(e.pre_hist is None for e in s.entries if e.hist is None)


def test_gates_are_the_definitions_over_the_probe_set():
    t = make_trainer(small("lstm", seq_len=20, probe_size=32))
    for _ in range(5):
        t.step()
    s = t.snapshot()
    t.net.forward(t.x_probe, train=False)  # the probe forward again: the cell's buffers hold its gates
    for g, (_, values, (lo, hi)) in zip(s.gates, t.net.cell.gate_values()):
        edge = 0.05 * (hi - lo)
        assert g.low == pytest.approx(np.mean(values < lo + edge))
        assert g.high == pytest.approx(np.mean(values > hi - edge))
        assert g.steps == pytest.approx(values.mean(axis=(1, 2)), rel=1e-5)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def plain_gates(net, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every gate at every step, (T, N, H), from a forward written out in plain NumPy from the cell's weights (not
    the engine's buffers): the LSTM's i, f, o, g, the GRU's r, z, n (PyTorch's convention, b_hn inside r)."""
    cell = net.cell
    N, T, _ = x.shape
    H = cell.hidden
    h = np.broadcast_to(cell.h0, (N, H)).astype(np.float64)
    c = np.zeros((N, H))
    out: dict[str, list[np.ndarray]] = {}
    for t in range(T):
        if cell.kind == "lstm":
            a = x[:, t] @ cell.Wx + h @ cell.Wh + cell.b
            i, f, o = (_sigmoid(a[:, k * H : (k + 1) * H]) for k in range(3))
            g = np.tanh(a[:, 3 * H :])
            c = f * c + i * g
            h = o * np.tanh(c)
            step = {"input": i, "forget": f, "output": o, "candidate": g}
        else:
            xa = x[:, t] @ cell.Wx + cell.b
            ha = h @ cell.Wh
            ha[:, 2 * H :] += cell.bhn
            r = _sigmoid(xa[:, :H] + ha[:, :H])
            z = _sigmoid(xa[:, H : 2 * H] + ha[:, H : 2 * H])
            n = np.tanh(xa[:, 2 * H :] + r * ha[:, 2 * H :])
            h = (1 - z) * n + z * h
            step = {"reset": r, "update": z, "candidate": n}
        for name, v in step.items():
            out.setdefault(name, []).append(v)
    return {name: np.stack(v) for name, v in out.items()}


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_gate_saturation_per_time_step_is_the_share_shut_and_open_at_each_step(model):
    # normal:1.0 recurrent weights on the temporal-order task: gates that saturate more and more through time
    t = make_trainer(small(model, seq_len=20, width=32, probe_size=16, task="order", recurrent_init="normal:1.0",
                           dtype="float64"))  # fmt: skip
    t.step()
    s = t.snapshot()
    gates = plain_gates(t.net, t.x_probe)
    assert [g.name for g in s.gates] == list(gates)
    varied = 0
    for g in s.gates:
        v = gates[g.name]
        lo, hi = (-0.9, 0.9) if g.name == "candidate" else (0.05, 0.95)
        shut, open_ = np.mean(v < lo, axis=(1, 2)), np.mean(v > hi, axis=(1, 2))  # per step, over (N, H)
        assert g.low_steps is not None and g.high_steps is not None and g.low_steps.shape == (20,)
        assert np.abs(g.low_steps - shut).max() <= 0.0005 + 1e-12, g.name  # kept in thousandths
        assert np.abs(g.high_steps - open_).max() <= 0.0005 + 1e-12, g.name
        assert np.array_equal(g.low_steps * 1000, np.round(g.low_steps * 1000))
        assert g.saturation_steps == pytest.approx(g.low_steps + g.high_steps)
        assert g.low == pytest.approx(shut.mean()) and g.high == pytest.approx(open_.mean())  # the overall shares
        varied += np.ptp(shut) > 0.05 and np.ptp(open_) > 0.05
    assert varied >= 2  # the figures do change from step to step: a per-step share, not one share repeated


def test_dead_relu_units_are_found_per_step():
    t = make_trainer(small("rnn", activation="relu"))
    t.net.cell.b[:3] = -100.0  # three units whose pre-activation is negative at every step of every sequence
    s = t.snapshot()
    for e in s.entries:
        assert e.dead is not None and list(e.dead.units[:3]) == [0, 1, 2] and e.act is not None and e.act.can_die


def test_rebuild_when_the_sequence_length_or_the_cell_changes_and_lr_is_live():
    t = make_trainer(small("rnn"))
    for _ in range(3):
        t.step()
    net = t.net
    t.apply(Change("lr", 0.01))
    assert t.net is net and t.opt.lr == 0.01 and t.run_step == 3  # live: the same network trains on
    t.apply(Change("seq_len", 20))
    s = t.snapshot()
    assert len(s.entries) == 20 and s.run_step == 0 and s.step == 3 and s.config.lr == 0.01
    assert s.events[-1].text == "seq_len 12 -> 20 (rebuilt)"
    t.apply(Change("model", "gru"))
    s = t.snapshot()
    assert [g.name for g in s.gates] == GATES["gru"] and s.entries[0].kind == "gru" and s.config.lr == 0.01
    with pytest.raises(ConfigError, match="MLP setting"):
        t.apply(Change("depth", 3))
    with pytest.raises(ConfigError, match="no forget gate"):
        t.apply(Change("forget_bias", 0.0))
    with pytest.raises(ConfigError, match="apply_change"):
        t.apply(Change("model", "mlp"))


def test_apply_change_crosses_between_the_mlp_and_a_cell_and_the_timeline_goes_on():
    mlp = Config(depth=3, width=8, samples=100, probe_size=16)
    t = make_trainer(mlp, run="B")
    for _ in range(4):
        t.step()
    same = apply_change(t, Change("lr", 0.05))
    assert same is t
    r = apply_change(t, Change("model", "lstm"))
    assert isinstance(r, RecurrentTrainer) and r.run_name == "B" and r.step_count == 4 and r.run_step == 0
    assert r.config.depth == 3 and r.config.width == RECURRENT_PRESET["width"]
    assert r.events[-1].kind == "change" and r.events[-1].text == "model mlp -> lstm (rebuilt)"
    assert [e.kind for e in r.events].count("start") == 1  # one timeline, started once
    r.step()
    s = r.snapshot()
    assert s.axis == "time" and s.step == 5 and s.run_step == 1 and s.seq > 0
    back = apply_change(r, Change("model", "mlp"))
    assert isinstance(back, Trainer) and back.config.depth == 3 and back.config.width == Config().width
    assert back.snapshot().axis == "layer" and back.step_count == 5


def test_an_exploding_rnn_without_clipping_is_reported_not_raised():
    c = small("rnn", activation="relu", recurrent_init="normal:1.0", clip=0.0, optimizer="sgd", lr=0.1, seq_len=60)
    t = make_trainer(c)
    steps = [t.step(measure=True) for _ in range(3)]
    assert steps[-1] is False and t.diverged is not None
    s = t.snapshot()
    assert s.diverged is not None and "diverged at step" in s.diverged.message
    assert s.events[-1].kind == "diverged" and "clip" in s.events[-1].text
    d = Doctor()
    d.observe(s)
    assert d.diagnose()[0].key == "diverged"
    t.apply(Change("clip", 1.0))  # any change after a divergence rebuilds
    assert t.diverged is None and t.step()


def test_a_recording_of_a_recurrent_run_round_trips_and_replays(tmp_path):
    t = make_trainer(small("lstm", task="order"))
    snaps = [t.snapshot(), *t.run(20, every=5)]
    path = tmp_path / "lstm.jsonl"
    with Recorder(path) as rec:
        for s in snaps:
            rec.write(s)
    back, warnings = load_recording(path)
    assert not warnings and len(back) == len(snaps)
    for a, b in zip(snaps, back):
        assert b.axis == "time" and b.config == a.config and b.step == a.step
        assert [e.name for e in b.entries] == [e.name for e in a.entries]
        assert [p.name for p in b.params] == [p.name for p in a.params]
        assert [p.grad_norm for p in b.params] == pytest.approx([p.grad_norm for p in a.params], rel=1e-6)
        assert [e.signal_norm for e in b.entries] == pytest.approx([e.signal_norm for e in a.entries], rel=1e-6)
        assert [e.cell_norm for e in b.entries] == pytest.approx([e.cell_norm for e in a.entries], rel=1e-6)
        assert [g.name for g in b.gates] == [g.name for g in a.gates]
        assert b.gates[1].steps == pytest.approx(a.gates[1].steps, rel=1e-6)
        assert [e.hist is None for e in b.entries] == [e.hist is None for e in a.entries]
        assert b.baseline_loss == pytest.approx(math.log(4)) and b.accuracy == pytest.approx(a.accuracy)
    source = RecordingSource(Recording(path)).start()
    source.send(Seek(-1))
    shown = source.poll().snapshots
    assert shown is not None and shown[0].step == 20 and shown[0].axis == "time" and shown[0].params


def test_a_line_without_params_still_loads(tmp_path):
    t = make_trainer(small("rnn"))
    path = tmp_path / "rnn.jsonl"
    with Recorder(path) as rec:
        rec.write(t.snapshot())
    text = path.read_text().replace('"params":', '"params_renamed":')
    path.write_text(text)
    back, _ = load_recording(path)
    assert back[0].params == () and back[0].axis == "time"


def test_the_pacer_takes_a_recurrent_runs_probe_pass_at_the_share_it_reports():
    """benchmarks/bench_rnn.py reads ``Pacer.part_share`` to tell how often the probe pass runs: it is the share the
    Pacer schedules it by (a pass costing c seconds waits c / share), not a copy of the budget."""
    from gradtui.engine.pacing import COLD_CACHES, Pacer

    now = [0.0]
    probes: list[bool] = []

    class Costly:  # what the Pacer reads of a trainer; a probe pass costs 0.1 s of the fake clock
        has_boundary = False
        measure_seconds = 0.0

        def snapshot(self, *, probe: bool, boundary: bool, **kw):
            probes.append(probe)
            now[0] += 0.1 if probe else 0.0

    pacer = Pacer(clock=lambda: now[0])
    share = pacer.part_share(has_boundary=False)
    # the budget less the cheap half's fifth, halved for the cold caches a pass leaves behind (COLD_CACHES)
    assert share == pytest.approx(pacer.budget * 4 / 5 / COLD_CACHES) and pacer.part_share(True) == pytest.approx(
        share / 2
    )
    pacer.take(Costly(), force_probe=True)  # at 0: the pass costs 0.1 s, so the next one waits 0.1 / share
    for t in (0.1 / share - 0.05, 0.1 / share + 0.05):
        now[0] = t
        pacer.take(Costly())
    assert probes == [True, False, True]
