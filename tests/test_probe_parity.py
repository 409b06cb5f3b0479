"""gradtui.probe measures what the engine measures: parity both ways, in float64 to 1e-6.

1. A torch copy of an engine network (same weights, same batch) probed by gradtui.probe gives the engine's own
   per-layer figures: gradient, bias-gradient and signal norms, update ratios, histogram counts and ranges, f' at
   the bin centres, dead units, saturation, mean and std.
2. On a model the engine cannot build -- convolutions, batch norm, in-place ReLU, a residual block -- the probe's
   figures equal direct torch computations of the same definitions (design.md section 2).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import gradtui  # noqa: E402
from gradtui.engine import Config, Trainer  # noqa: E402
from gradtui.engine.stats import SATURATION_FRACTION, histogram, output_range, symmetric_range  # noqa: E402

TOL = 1e-6
ENGINE_TO_TORCH = {
    "relu": lambda w: nn.ReLU(),
    "tanh": lambda w: nn.Tanh(),
    "sigmoid": lambda w: nn.Sigmoid(),
    "leaky_relu": lambda w: nn.LeakyReLU(0.01),
    "prelu": lambda w: nn.PReLU(w, init=0.25),
    "elu": lambda w: nn.ELU(),
    "selu": lambda w: nn.SELU(),
    "gelu": lambda w: nn.GELU(),
    "swish": lambda w: nn.SiLU(),
    "softplus": lambda w: nn.Softplus(),
    "hardswish": lambda w: nn.Hardswish(),
    "relu6": lambda w: nn.ReLU6(),
}


def _close(a: float, b: float, tol: float = TOL) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-300)


def _torch_copy(t: Trainer, activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for b in t.net.blocks:
        W, bias = b.dense.W, b.dense.b
        lin = nn.Linear(W.shape[0], W.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(bias.copy()))
        layers += [lin, ENGINE_TO_TORCH[activation](W.shape[1]).double()]
    out = nn.Linear(t.net.out.W.shape[0], t.net.out.W.shape[1]).double()
    with torch.no_grad():
        out.weight.copy_(torch.from_numpy(t.net.out.W.T.copy()))
        out.bias.copy_(torch.from_numpy(t.net.out.b.copy()))
    return nn.Sequential(*layers, out)


@pytest.mark.parametrize("activation", sorted(ENGINE_TO_TORCH))
def test_a_torch_copy_of_an_engine_network_gets_the_engine_figures(activation):
    # one batch = the whole training set = the probe set: the engine's step and its probe-set pass see the same data
    bias_init = {"relu": -0.6, "relu6": -0.6, "hardswish": -3.3}.get(activation, 0.0)  # some dead units to compare
    c = Config(activation=activation, depth=4, width=12, dtype="float64", samples=240, batch_size=65536,
               probe_size=100_000, seed=3, lr=0.5, bias_init=bias_init, init="he")  # fmt: skip
    t = Trainer(c)
    model = _torch_copy(t, activation)
    before = t.snapshot()  # step 0: the gradients of the first batch (no update) and the probe set at init
    t.step(measure=True)
    after = t.snapshot()  # step 1: the same gradients, and the update ratios of that step
    X, y = torch.from_numpy(t.X), torch.from_numpy(t.y).long()
    opt = torch.optim.SGD(model.parameters(), lr=c.lr)
    with gradtui.probe(model, opt, every=1, dead_window=1) as p:
        loss = nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        snap = p.step(loss=loss)
    assert snap is not None
    assert [e.name for e in snap.entries] == ["0", "2", "4", "6", "8"]  # Linear+act paired; the output layer last
    assert _close(snap.loss, after.loss)
    assert _close(snap.entries[-1].grad_norm, after.output_grad_norm)
    for mine, eng, eng1 in zip(snap.entries, before.entries, after.entries):
        assert mine.kind == "linear" and mine.units == eng.units
        assert mine.act == eng.act  # the engine's own ActivationInfo: max |f'|, can_die, bounds, derivable
        for key in ("grad_norm", "bias_grad_norm", "signal_norm"):
            assert _close(getattr(mine, key), getattr(eng1, key)), (mine.name, key)
        assert _close(mine.update_ratio, eng1.update_ratio), mine.name
        assert np.array_equal(mine.hist.counts, eng.hist.counts), mine.name
        assert np.array_equal(mine.pre_hist.counts, eng.pre_hist.counts), mine.name
        assert np.allclose(mine.hist.edges, eng.hist.edges, rtol=TOL, atol=0)
        assert np.allclose(mine.pre_hist.edges, eng.pre_hist.edges, rtol=TOL, atol=0)
        assert np.allclose(mine.deriv, eng.deriv, rtol=1e-6, atol=1e-9)
        assert _close(mine.saturation, eng.saturation)
        assert _close(mine.mean, eng.mean) and _close(mine.std, eng.std)
        if eng.dead is None:
            assert mine.dead is None
        else:
            assert mine.dead is not None and np.array_equal(mine.dead.units, eng.dead.units)
    assert _close(snap.vanishing_ratio, before.vanishing_ratio)
    if bias_init:
        assert sum(e.dead_count for e in snap.entries) > 0  # the comparison above covered some dead units


# ---- 2. a model the engine cannot build ------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.out = nn.ReLU(inplace=True)

    def forward(self, x):
        h = self.relu(self.bn1(self.conv1(x)))
        return self.out(self.bn2(self.conv2(h)) + x)


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.act = nn.ReLU(inplace=True)
        self.block = Block(6)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 4)
        self.head_act = nn.Tanh()

    def forward(self, x):
        x = self.block(self.act(self.bn(self.conv(x))))
        return self.head_act(self.fc(self.pool(x).flatten(1)))


def _reference(model: ConvNet, x, y, lr: float):
    """The figures by hand: the same forward, written out without in-place ops, with every z and h kept."""
    m = copy.deepcopy(model)
    kept: dict[str, tuple] = {}

    def act(name, z, f):
        h = f(z)
        h.retain_grad()
        kept[name] = (z.detach().clone(), h)
        return h

    relu = torch.relu
    h0 = act("bn", m.bn(m.conv(x)), relu)
    h1 = act("block.bn1", m.block.bn1(m.block.conv1(h0)), relu)
    z2 = m.block.bn2(m.block.conv2(h1))
    z2.retain_grad()
    h3 = act("block.out", z2 + h0, relu)
    z4 = m.fc(m.pool(h3).flatten(1))
    out = act("fc", z4, torch.tanh)
    loss = nn.functional.mse_loss(out, y)
    loss.backward()
    grads = {name: {n: p.grad.detach().clone() for n, p in mod.named_parameters(recurse=False)}
             for name, mod in m.named_modules() if list(mod.parameters(recurse=False))}  # fmt: skip
    weights = {name: {n: p.detach().clone() for n, p in mod.named_parameters(recurse=False) if n == "weight"}
               for name, mod in m.named_modules() if list(mod.parameters(recurse=False))}  # fmt: skip
    with torch.no_grad():
        for p in m.parameters():
            p -= lr * p.grad
    after = {name: {n: p.detach().clone() for n, p in mod.named_parameters(recurse=False) if n == "weight"}
             for name, mod in m.named_modules() if list(mod.parameters(recurse=False))}  # fmt: skip
    return kept, grads, weights, after, z2.grad, loss.item()


def _norm(ts) -> float:
    return math.sqrt(sum(float((t.double() ** 2).sum()) for t in ts))


def test_probe_figures_equal_direct_torch_computations_on_a_conv_residual_model():
    torch.manual_seed(0)
    model = ConvNet().double()
    x = torch.randn(5, 3, 7, 7, dtype=torch.float64)
    y = torch.rand(5, 4, dtype=torch.float64) * 2 - 1
    lr = 0.05
    kept, grads, w0, w1, z2_grad, ref_loss = _reference(model, x, y, lr)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    with gradtui.probe(model, opt, every=1, dead_window=1) as p:
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        snap = p.step(loss=loss)
    by = {e.name: e for e in snap.entries}
    # forward order; each activation joins the module whose output it consumes; the sum's ReLU stands alone
    assert [e.name for e in snap.entries] == [
        "conv", "bn", "block.conv1", "block.bn1", "block.conv2", "block.bn2", "block.out", "fc",
    ]  # fmt: skip
    kinds = {e.name: e.kind for e in snap.entries}
    assert kinds == {"conv": "conv", "bn": "norm", "block.conv1": "conv", "block.bn1": "norm", "block.conv2": "conv",
                     "block.bn2": "norm", "block.out": "activation", "fc": "linear"}  # fmt: skip
    assert by["bn"].units == 6 and by["fc"].units == 4 and by["block.out"].units == 6
    assert _close(snap.loss, ref_loss)
    for name, g in grads.items():
        e = by[name]
        assert _close(e.grad_norm, _norm([v for k, v in g.items() if k != "bias"])), name
        bias = [v for k, v in g.items() if k == "bias"]
        assert _close(e.bias_grad_norm, _norm(bias)) if bias else math.isnan(e.bias_grad_norm)
        dw = _norm([w1[name][k] - w0[name][k] for k in w0[name]])
        assert _close(e.update_ratio, dw / _norm(w0[name].values())), name
    n = x.shape[0]
    for name, (z, h) in kept.items():
        e = by[name]
        assert _close(e.signal_norm, float(h.grad.double().norm()) / math.sqrt(n)), name
        hn, zn = h.detach().numpy(), z.numpy()
        edges, counts = histogram(hn, 32, *output_range(e.act, hn))
        pre_edges, pre_counts = histogram(zn, 32, *symmetric_range(zn))
        assert np.array_equal(e.hist.counts, counts) and np.allclose(e.hist.edges, edges, rtol=TOL), name
        assert np.array_equal(e.pre_hist.counts, pre_counts) and np.allclose(e.pre_hist.edges, pre_edges), name
        assert _close(e.mean, float(hn.mean())) and _close(e.std, float(hn.std())), name
        if name == "fc":  # tanh: f' = 1 - tanh^2, saturated below 5 % of 1; its units cannot die
            d = 1 - np.tanh(zn) ** 2
            assert e.dead is None
        else:  # ReLU: f'(z) = [z > 0]; a unit is a channel, dead when z <= 0 at every example and position
            d = (zn > 0).astype(float)
            dead = np.flatnonzero(~(zn > 0).any(axis=(0, 2, 3)))
            assert np.array_equal(e.dead.units, dead), name
        assert _close(e.saturation, float(np.mean(np.abs(d) < SATURATION_FRACTION * e.act.max_deriv))), name
    # the unpaired modules get the signal at their own output: bn2's output is z2 (before the residual sum)
    assert _close(by["block.bn2"].signal_norm, float(z2_grad.norm()) / math.sqrt(n))
    assert by["block.bn2"].hist is None and by["conv"].act is None


def test_the_device_range_rounding_is_the_engines():
    # the probe bins on the device with ranges rounded out as the engine's (string-based) round_out rounds them:
    # the same doubles, so that its counts are the engine's and the host reports the edges it binned with
    from gradtui.engine.stats import round_out
    from gradtui.probe import _measure as M

    rng = np.random.default_rng(0)
    m = np.concatenate([
        10.0 ** rng.uniform(-20, 20, 20_000),  # log-uniform over 40 decades
        [1e-3, 0.1, 1.0, 9.99, 9.995, 10.0, 0.449, 0.44849756, 999.0, 999.5, 1e20, 123456.0],  # exact decimals, edges
        np.nextafter([0.1, 1.0, 10.0, 0.449], 0), np.nextafter([0.1, 1.0, 10.0, 0.449], 2),
    ])  # fmt: skip
    got = M.round_out(torch.from_numpy(m)).numpy()
    want = np.array([round_out(float(v)) for v in m])
    assert np.array_equal(got, want), m[got != want][:5]
    assert np.all(got >= m)
    specials = torch.tensor([0.0, float("inf"), float("-inf")], dtype=torch.float64)
    assert M.round_out(specials).tolist() == [0.0, float("inf"), float("-inf")]
