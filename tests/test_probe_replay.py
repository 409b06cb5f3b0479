"""A probe's recording in the rest of gradtui: it loads, ``gradtui watch`` follows it while it grows, the real
dashboard replays it (Pilot) with module paths shortened from the left, and the doctor reads it."""

from __future__ import annotations

import asyncio
import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from uitest import ready  # noqa: E402

import gradtui  # noqa: E402
from gradtui.doctor import diagnose_window  # noqa: E402
from gradtui.record import Recording, load_recording  # noqa: E402
from gradtui.replay import RecordingSource  # noqa: E402
from gradtui.tui.app import GradTUI  # noqa: E402
from gradtui.tui.widgets.base import Panel  # noqa: E402

WAIT = 20


class MLP(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, 2 * d)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(2 * d, d)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Layer(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.mlp = MLP(d)

    def forward(self, x):
        return x + self.mlp(self.norm(x))


class Model(nn.Module):
    def __init__(self, d: int = 8, depth: int = 6) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Linear(4, d)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(Layer(d) for _ in range(depth))
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        x = self.embed(x)
        for layer in self.encoder.layers:
            x = layer(x)
        return self.head(F.relu(x))


def _train(path, steps: int = 30, every: int = 5, probe=None):
    model = Model()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    p = probe or gradtui.probe(model, opt, every=every, out=str(path))
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x = torch.randn(32, 4, generator=g)
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        p.step(loss=loss)
    p.close()
    return p


def test_the_recording_loads_with_every_figure_the_probe_measured(tmp_path):
    path = tmp_path / "run.jsonl"
    p = _train(path)
    snaps, warnings = load_recording(path)
    assert not warnings
    assert [s.step for s in snaps] == [s.step for s in p.snapshots] == [1, 5, 10, 15, 20, 25, 30]
    for mine, read in zip(p.snapshots, snaps):
        assert read.source == "probe" and read.axis == "module" and read.config is None
        assert read.meta == mine.meta and "Model" in read.meta.summary and "AdamW lr 0.003" in read.meta.summary
        assert [e.name for e in read.entries] == [e.name for e in mine.entries]
        for a, b in zip(mine.entries, read.entries):
            assert (a.kind, a.units, a.act) == (b.kind, b.units, b.act)
            for key in ("grad_norm", "bias_grad_norm", "signal_norm", "update_ratio", "saturation", "mean", "std"):
                x, y = getattr(a, key), getattr(b, key)
                assert (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-7), (a.name, key)
            if a.hist is not None:
                assert a.hist.counts.tolist() == b.hist.counts.tolist()
                assert b.deriv is not None and len(b.deriv) == 32
        assert math.isclose(read.loss, mine.loss, rel_tol=1e-7)
    names = [e.name for e in snaps[-1].entries]
    assert names[:4] == ["embed", "encoder.layers.0.norm", "encoder.layers.0.mlp.fc1", "encoder.layers.0.mlp.fc2"]
    assert names[-2:] == ["relu", "head"]  # the inline F.relu of the root's forward (a lone activation), then head
    assert len(names) == 1 + 6 * 3 + 2


def test_gradtui_watch_follows_a_recording_the_probe_is_writing(tmp_path):
    path = tmp_path / "run.jsonl"
    model = Model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    p = gradtui.probe(model, opt, every=2, out=str(path))
    g = torch.Generator().manual_seed(1)

    def steps(n: int) -> None:
        for _ in range(n):
            x = torch.randn(16, 4, generator=g)
            loss = F.cross_entropy(model(x), (x[:, 0] > 0).long())
            opt.zero_grad()
            loss.backward()
            opt.step()
            p.step(loss=loss)

    steps(4)
    assert p.flush()
    source = RecordingSource(Recording(path, follow=True), follow=True, clock=iter(range(0, 10**6)).__next__)
    first = source.poll()
    assert first.snapshots and first.snapshots[-1].step == 4
    assert source.state().alive and source.length == 3  # steps 1, 2, 4
    steps(4)
    assert p.flush()
    later = source.poll()
    assert later.snapshots and later.snapshots[-1].step == 8 and source.length == 5
    p.close()
    source.poll()
    assert not source.state().alive and "finished" in source.state().note


async def test_the_dashboard_replays_a_probe_recording_with_module_paths_cut_from_the_left(tmp_path):
    path = tmp_path / "run.jsonl"
    _train(path)
    app = GradTUI(RecordingSource(Recording(path)), fps=50, color="truecolor")
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        await asyncio.wait_for(app.wait_for_snapshot(), WAIT)
        await pilot.press("end")
        snap = await asyncio.wait_for(app.wait_for_snapshot(lambda s: s.step == 30), WAIT)
        await pilot.press("up", "up")  # select the third entry: encoder.layers.0.mlp.fc1 (with its GELU)
        await pilot.pause()
        text = {}
        for panel in app.dashboard.query(Panel):
            r = panel.render()
            text[panel.id] = r.plain if hasattr(r, "plain") else str(r)
    flow = text["flow"]
    assert "…" in flow and "mlp.fc1" in flow  # long paths keep their end
    assert "encoder.layers.…" not in flow and "encoder.la…" not in flow  # never cut on the right
    assert "head" in flow and "embed" in flow
    assert snap.axis == "module"
    assert "(signal at encoder.layers.0.mlp.fc1 / relu)" in flow  # the hidden layers' ends, not the logits
    assert "gelu" in text["layerhist"] and "…" in text["layerhist"].splitlines()[0]
    assert "█" in text["strips"]  # histograms drawn


def test_the_doctor_reads_a_probe_recording(tmp_path):
    path = tmp_path / "run.jsonl"
    _train(path)
    snaps, _ = load_recording(path)
    alerts = diagnose_window(snaps)
    assert alerts  # at least its word that the network is healthy, or what is wrong
    for a in alerts:
        assert a.text and (a.fix is None or a.fix.changes == ())  # a user's model: fixes in words only


def test_the_readme_example_trains_and_records(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "examples" / "torch_probe.py"
    spec = importlib.util.spec_from_file_location("torch_probe_example", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = tmp_path / "runs" / "exp1.jsonl"  # its folder is made
    example.main(steps=40, every=20, out=str(out))
    snaps, warnings = load_recording(out)
    assert not warnings and [s.step for s in snaps] == [1, 20, 40]
    names = [e.name for e in snaps[-1].entries]
    assert "encoder.layers.3.mlp.fc1" in names and names[-1] == "head" and len(names) == 24
    assert snaps[-1].accuracy is not None
