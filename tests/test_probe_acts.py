"""Every way an activation can be written, against direct torch computations: the module forms with default and
other parameters (LeakyReLU 0.2, ELU alpha 0.5, Softplus beta 2, GELU approximate="tanh", RReLU in eval mode), the
in-place variants of every activation that has an ``inplace`` argument, and the ``F.*`` / ``torch.*`` /
``Tensor.*`` call forms. The reference: f'(z) by autograd, histograms with the engine's ranges, dead units (f' = 0
for every example), saturation (|f'| < 5 % of the largest slope), mean and std of h -- in float64."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import gradtui  # noqa: E402
from gradtui.engine.stats import SATURATION_FRACTION, histogram, output_range, symmetric_range  # noqa: E402

Act = Callable[[torch.Tensor], torch.Tensor]

MODULES: dict[str, Callable[[], nn.Module]] = {
    "ReLU": nn.ReLU, "LeakyReLU(0.2)": lambda: nn.LeakyReLU(0.2), "RReLU eval": nn.RReLU,
    "RReLU(0.1, 0.3) eval": lambda: nn.RReLU(0.1, 0.3), "ELU(alpha=0.5)": lambda: nn.ELU(alpha=0.5),
    "ELU": nn.ELU, "SELU": nn.SELU, "GELU": nn.GELU, "GELU(tanh)": lambda: nn.GELU(approximate="tanh"),
    "SiLU": nn.SiLU, "Hardswish": nn.Hardswish, "ReLU6": nn.ReLU6, "Softplus(beta=2)": lambda: nn.Softplus(beta=2),
    "Softplus": nn.Softplus, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh, "Hardtanh(0, 6)": lambda: nn.Hardtanh(0, 6),
}  # fmt: skip
INPLACE: dict[str, Callable[[], nn.Module]] = {
    "ReLU(inplace)": lambda: nn.ReLU(inplace=True), "LeakyReLU(0.2, inplace)": lambda: nn.LeakyReLU(0.2, True),
    "RReLU(inplace) eval": lambda: nn.RReLU(inplace=True), "ELU(0.5, inplace)": lambda: nn.ELU(0.5, inplace=True),
    "SELU(inplace)": lambda: nn.SELU(inplace=True), "SiLU(inplace)": lambda: nn.SiLU(inplace=True),
    "Hardswish(inplace)": lambda: nn.Hardswish(inplace=True), "ReLU6(inplace)": lambda: nn.ReLU6(inplace=True),
    "Hardtanh(0, 6, inplace)": lambda: nn.Hardtanh(0.0, 6.0, inplace=True),
}  # fmt: skip
CALLS: dict[str, Act] = {
    "F.relu": F.relu, "F.relu_": F.relu_, "torch.relu": torch.relu, "Tensor.relu_": torch.Tensor.relu_,
    "F.leaky_relu 0.2": lambda z: F.leaky_relu(z, 0.2), "F.leaky_relu_ 0.2": lambda z: F.leaky_relu_(z, 0.2),
    "F.elu 0.5": lambda z: F.elu(z, alpha=0.5), "F.elu_": F.elu_, "F.selu": F.selu, "torch.selu": torch.selu,
    "F.gelu tanh": lambda z: F.gelu(z, approximate="tanh"), "F.gelu": F.gelu, "F.silu": F.silu,
    "F.hardswish": F.hardswish, "F.relu6": F.relu6, "F.hardtanh_ 0..6": lambda z: F.hardtanh_(z, 0.0, 6.0),
    "F.softplus beta 2": lambda z: F.softplus(z, beta=2), "F.rrelu eval": lambda z: F.rrelu(z, training=False),
    "F.rrelu_ eval": lambda z: F.rrelu_(z, 0.1, 0.3, training=False), "torch.sigmoid": torch.sigmoid,
    "Tensor.sigmoid_": torch.Tensor.sigmoid_, "torch.tanh": torch.tanh, "Tensor.tanh_": torch.Tensor.tanh_,
    "F.sigmoid": F.sigmoid,
}  # fmt: skip
# the same function without side effects, for the reference (an in-place call would overwrite z)
PURE: dict[str, Act] = {
    "F.relu_": F.relu, "Tensor.relu_": torch.relu, "F.leaky_relu_ 0.2": lambda z: F.leaky_relu(z, 0.2),
    "F.elu_": F.elu, "F.hardtanh_ 0..6": lambda z: F.hardtanh(z, 0.0, 6.0),
    "F.rrelu_ eval": lambda z: F.rrelu(z, 0.1, 0.3, training=False),
    "Tensor.sigmoid_": torch.sigmoid, "Tensor.tanh_": torch.tanh,
}  # fmt: skip


class Net(nn.Module):
    def __init__(self, act: nn.Module | None = None, fn: Act | None = None) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.lin1 = nn.Linear(6, 12)
        self.act = act
        self.fn = fn
        self.lin2 = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.lin1(x)
        h = self.act(z) if self.act is not None else self.fn(z)  # type: ignore[misc]
        return self.lin2(h)


def _pure(case: str, module: nn.Module | None) -> Act:
    """f without side effects: the module with inplace off, or the call's pure form."""
    if module is not None:
        if hasattr(module, "inplace"):
            import copy

            m = copy.deepcopy(module)
            m.inplace = False
            return m
        return module
    return PURE.get(case, CALLS[case])


def _slope(f: Act, z: torch.Tensor) -> np.ndarray:
    zz = z.detach().clone().requires_grad_(True)
    (d,) = torch.autograd.grad(f(zz).sum(), zz)
    return d.numpy()


def _check(net: Net, f: Act) -> None:
    net = net.double().eval()  # eval: RReLU's slope is its mean, deterministic
    if isinstance(f, nn.Module):
        f = f.double().eval()
    g = torch.Generator().manual_seed(11)
    x = torch.randn(64, 6, generator=g, dtype=torch.float64) * 2
    with torch.no_grad():
        z = net.lin1(x)
        h = f(z.clone())
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    with gradtui.probe(net, opt, every=1, dead_window=1) as p:
        loss = net(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        snap = p.step(loss=loss)
    by = {e.name: e for e in snap.entries}
    e = by["lin1"]  # the activation joins the module whose output it consumes
    assert e.act is not None and e.hist is not None and e.pre_hist is not None
    zn, hn = z.numpy(), h.numpy()
    edges, counts = histogram(hn, 32, *output_range(e.act, hn))
    pre_edges, pre_counts = histogram(zn, 32, *symmetric_range(zn))
    assert np.array_equal(e.hist.counts, counts) and np.allclose(e.hist.edges, edges, rtol=1e-9)
    assert np.array_equal(e.pre_hist.counts, pre_counts) and np.allclose(e.pre_hist.edges, pre_edges, rtol=1e-9)
    assert e.mean == pytest.approx(float(hn.mean()), rel=1e-9, abs=1e-12)
    assert e.std == pytest.approx(float(hn.std()), rel=1e-9)
    grid = torch.linspace(-12, 12, 240_001, dtype=torch.float64)
    top = float(np.abs(_slope(f, grid)).max())  # the largest slope, found by autograd
    assert e.act.max_deriv == pytest.approx(top, rel=1e-3), e.act.name
    d = _slope(f, z)
    assert e.saturation == pytest.approx(float(np.mean(np.abs(d) < SATURATION_FRACTION * top)), abs=1e-12)
    dead = np.flatnonzero(np.all(d == 0, axis=0))
    if e.act.can_die:
        assert e.dead is not None and np.array_equal(e.dead.units, dead)
    else:
        assert e.dead is None and not len(dead)
    assert not math.isnan(e.grad_norm)


@pytest.mark.parametrize("case", [*MODULES, *INPLACE])
def test_activation_modules_against_direct_torch(case):
    module = (MODULES | INPLACE)[case]()
    _check(Net(act=module), _pure(case, module))


@pytest.mark.parametrize("case", list(CALLS))
def test_activation_calls_against_direct_torch(case):
    _check(Net(fn=CALLS[case]), _pure(case, None))


def test_the_inplace_forms_are_measured_before_they_overwrite_their_input():
    # the pre-activation histogram is of z, not of f(z) written over it: with ReLU in place, z < 0 is kept
    net = Net(act=nn.ReLU(inplace=True)).double()
    x = torch.randn(64, 6, dtype=torch.float64)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    with gradtui.probe(net, opt, every=1) as p:
        loss = net(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        snap = p.step(loss=loss)
    e = snap.entries[0]
    assert e.pre_hist.lo < 0 and e.pre_hist.counts[: len(e.pre_hist.counts) // 2].sum() > 0
