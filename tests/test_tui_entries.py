"""Panels draw only from what the snapshot says: a snapshot of named, unequal entries of mixed kinds -- as the
PyTorch probe writes for a user's model: a convolution, a norm layer with no activation, linear layers of
different widths, a lone activation -- renders every panel, with the entries' own names, units and activations,
and nothing from an engine registry (no Config at all)."""

from __future__ import annotations

import math

import numpy as np
from conftest import make_layer
from uitest import FakeSource, fake_app, rendered, show

from gradtui.engine import ActivationInfo, DeadUnits, Entry, Hist, RunMeta, Snapshot
from gradtui.engine.activations import make_activation
from gradtui.tui.widgets.activations import ActivationStrips, LayerHistogram
from gradtui.tui.widgets.base import Panel
from gradtui.tui.widgets.boundary import BoundaryPanel
from gradtui.tui.widgets.flow import GradientFlow
from gradtui.tui.widgets.heatmap import GradientHeatmap
from gradtui.tui.widgets.losschart import LossChart
from gradtui.tui.widgets.units import UnitsPanel


def gelu_like() -> ActivationInfo:
    """An activation the engine does not know by this name: the panels must use what it says about itself."""
    return ActivationInfo(name="QuickGELU", label="QuickGELU", formula="x sigmoid(1.702 x)", max_deriv=1.2,
                          can_die=False, derivable=False)  # fmt: skip


def mixed() -> Snapshot:
    relu = ActivationInfo.of(make_activation("relu", 1, np.dtype(np.float64)))
    conv = make_layer(1, 32, name="backbone.conv1", kind="conv", grad_norm=3e-4, dead=4)
    norm = Entry(name="backbone.bn1", kind="norm", units=32, index=2, grad_norm=2e-3, bias_grad_norm=1e-3)
    fc1 = make_layer(3, 512, name="encoder.layers.2.mlp.fc1", kind="linear", grad_norm=1e-2, dead=100)
    lone = Entry(
        name="encoder.act", kind="activation", units=7, index=4, act=gelu_like(),
        hist=Hist.from_range(-1, 1, np.array([1, 5, 9, 5, 1])), pre_hist=Hist.from_range(-3, 3, np.array([2, 8, 2])),
        deriv=np.array([0.1, 1.0, 0.1]), saturation=0.02, mean=0.1, std=0.4,
    )  # fmt: skip
    head = Entry(name="head", kind="linear", units=10, index=5, grad_norm=0.5, act=relu, dead=DeadUnits.none())
    # an LSTM's gates, as entries of their own: a sigmoid gate in [0, 1] and the tanh candidate in [-1, 1] (their
    # units cannot die: no dead figures)
    sigmoid = ActivationInfo.of(make_activation("sigmoid", 1, np.dtype(np.float64)))
    tanh = ActivationInfo.of(make_activation("tanh", 1, np.dtype(np.float64)))
    forget = Entry(
        name="decoder.lstm.gate.forget", kind="lstm gate", units=24, index=6, grad_norm=4e-3, act=sigmoid,
        hist=Hist.from_range(0, 1, np.array([30, 4, 2, 4, 60])), pre_hist=Hist.from_range(-6, 6, np.array([5, 20, 5])),
        deriv=np.array([0.01, 0.25, 0.01]), saturation=0.9, mean=0.62, std=0.4,
    )  # fmt: skip
    candidate = Entry(
        name="decoder.lstm.gate.candidate", kind="lstm gate", units=24, index=7, grad_norm=6e-3, act=tanh,
        hist=Hist.from_range(-1, 1, np.array([3, 10, 20, 10, 3])), pre_hist=Hist.from_range(-2, 2, np.array([4, 9, 4])),
        deriv=np.array([0.3, 1.0, 0.3]), saturation=0.05, mean=0.01, std=0.3,
    )  # fmt: skip
    return Snapshot(
        step=1200, run_step=1200, loss=0.7, accuracy=None, test_loss=math.nan, test_accuracy=None, config=None,
        entries=(conv, norm, fc1, lone, head, forget, candidate), axis="module", source="probe", paused=True,
        meta=RunMeta(model="torch", summary="TinyNet 0.2M params, AdamW lr 3e-4", optimizer="AdamW", lr=3e-4),
    )  # fmt: skip


async def test_every_panel_renders_named_unequal_entries_of_mixed_kinds():
    snap = mixed()
    source = FakeSource(config=None)  # type: ignore[arg-type]
    async with fake_app(size=(160, 50), source=source) as (app, pilot, _):
        show(app, snap.replace(step=1100, run_step=1100, loss=0.9))  # two points: the loss chart draws a line
        show(app, snap)
        await pilot.pause()
        d = app.dashboard
        assert app.is_running and app.crash_log is None
        flow = rendered(d.query_one(GradientFlow))
        assert "module" in d.query_one(GradientFlow).border_title  # the title speaks of modules
        for name in ("backbone.conv1", "backbone.bn1", "encoder.act", "head"):
            assert name in flow or name[:8] in flow, name
        strips = rendered(d.query_one(ActivationStrips))
        bn = next(line for line in strips.splitlines() if "bn1" in line)
        assert "no activation here" in bn  # the norm layer has no activation, so no histogram
        head_line = next(line for line in strips.splitlines() if line[1:].startswith("head"))
        # the head has an activation (ReLU) but no histogram in this snapshot: said as such
        assert "no histogram" in head_line and "no activation" not in head_line
        for gate in ("forget", "candidate"):  # the gates' histograms, drawn as the strips of their entries
            line = next(line for line in strips.splitlines() if gate in line)
            assert "—" not in line and "μ" in line, line
        flow_gates = [line for line in flow.splitlines() if "forget" in line or "candidate" in line]
        assert len(flow_gates) == 2, flow  # and each has its row in the gradient flow
        loss = rendered(d.query_one(LossChart)).splitlines()
        assert loss[0].split() == ["loss", "0.7", "test", "—"]  # the newest loss; no test loss measured: —
        assert loss[1].startswith("0.900") and loss[-2].startswith("0.700")  # the axis spans the two losses
        assert loss[-1].split()[0] == "1100" and loss[-1].split()[-1] == "1200"  # over their steps
        assert sum("\u2801" <= ch <= "\u28ff" for line in loss[1:-1] for ch in line) > 20  # and the line is drawn
        boundary = rendered(d.query_one(BoundaryPanel))
        assert "no input plane for this model" in boundary  # a probe's module axis: nothing to draw, said so
        units = rendered(d.query_one(UnitsPanel))
        assert "cannot die" in units  # the norm layer and QuickGELU
        assert f"dead {4 + 100}/{32 + 512 + 10}" in units  # only the entries whose units can die are counted
        heat = rendered(d.query_one(GradientHeatmap))
        assert heat.strip()
        status = rendered(d.query_one("#status"))
        assert "TinyNet" in status
        # select every entry in turn: the selected-entry panel follows, whatever its kind
        for _ in range(len(snap.entries) - 1):
            await pilot.press("up")
            await pilot.pause()
            hist = rendered(d.query_one(LayerHistogram))
            sel = snap.entries[d.selected]
            first = hist.split()[0]
            assert sel.name.endswith(first.lstrip("…")), (first, sel.name)
            head = hist.splitlines()[0]
            room = d.query_one(LayerHistogram).content_size.width
            if sel.act is not None and sel.pre_hist is not None and len(head) + len(sel.act.name) + 2 <= room:
                assert sel.act.name in head  # shown whenever it fits
        await pilot.resize_terminal(120, 40)  # half as wide: the long path keeps its leaf
        await pilot.pause()
        short = rendered(d.query_one(GradientFlow))
        assert any(line[1:].startswith("…") and "mlp.fc1 " in line for line in short.splitlines()), short
        for panel in d.query(Panel):
            assert app.is_running, panel.id
