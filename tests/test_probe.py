"""gradtui.probe on real training loops: mixed precision, no host synchronisation between written steps, the same
weights as without it, and bad input (no parameters, modules added later, NaN, an unwritable file) reported once
while the loop goes on."""

from __future__ import annotations

import math
import warnings

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from torch.overrides import TorchFunctionMode  # noqa: E402

import gradtui  # noqa: E402
from gradtui.probe import ProbeWarning  # noqa: E402


def mlp(width: int = 16, depth: int = 3, act=nn.ReLU, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(6, width), act()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), act()]
    return nn.Sequential(*layers, nn.Linear(width, 3))


def batch(step: int, n: int = 32):
    g = torch.Generator().manual_seed(1000 + step)
    return torch.randn(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def train(model, opt, steps: int, probe=None, scaler=None, autocast: bool = False, x_hook=None):
    for i in range(1, steps + 1):
        x, y = batch(i)
        if x_hook is not None:
            x = x_hook(i, x)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad()
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        if probe is not None:
            probe.step(loss=loss)


def _weight_grad_norms(model) -> dict[str, float]:
    return {name: float(torch.linalg.vector_norm(m.weight.grad, dtype=torch.float64))
            for name, m in model.named_modules() if isinstance(m, nn.Linear)}  # fmt: skip


# ---- mixed precision -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("use_scaler", [False, True])
def test_mixed_precision_reports_the_unscaled_gradients(use_scaler):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**14) if use_scaler else None
    with gradtui.probe(model, opt, every=1) as p:
        for i in range(1, 4):
            x, y = batch(i)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = model(x)
                assert out.dtype == torch.bfloat16  # the activations the probe measured were bfloat16
                loss = F.cross_entropy(out.float(), y)
            opt.zero_grad()
            if scaler is not None:
                scaler.scale(loss).backward()
                scale = scaler.get_scale()
                seen = _weight_grad_norms(model)  # what .grad holds after backward: scaled
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                scale = 1.0
                seen = _weight_grad_norms(model)
                opt.step()
            snap = p.step(loss=loss)
            for e in snap.entries:
                true = seen[e.name] / scale
                assert math.isclose(e.grad_norm, true, rel_tol=1e-6), (e.name, e.grad_norm, true)
                if use_scaler:
                    assert not math.isclose(e.grad_norm, seen[e.name], rel_tol=0.5)
            assert sum(int(e.hist.counts.sum()) for e in snap.entries if e.hist is not None) == 3 * 32 * 16
            assert snap.diverged is None


def test_a_step_the_grad_scaler_skips_is_not_a_divergence():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**127)
    before = [q.detach().clone() for q in model.parameters()]
    with gradtui.probe(model, opt, every=1) as p:
        x, y = batch(1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = 1e3 * F.cross_entropy(model(x).float(), y)  # scaled by 2^127, its gradients overflow to inf
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        p.step(loss=loss)
    assert scaler.get_scale() < 2.0**127
    snap = p.latest
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the scaler skipped the step
    assert snap.diverged is None
    assert all(math.isnan(e.grad_norm) for e in snap.entries)  # no gradient figures: none were final
    assert all(e.hist is not None for e in snap.entries if e.act is not None)


# ---- no host synchronisation between written steps --------------------------------------------------------------
_T = torch.Tensor
SYNCS = {_T.item, _T.tolist, _T.__bool__, _T.__float__, _T.__int__, _T.__index__, _T.numpy, _T.cpu, _T.nonzero,
         torch.nonzero, _T.bincount, torch.bincount, torch.masked_select, _T.masked_select, torch.unique, _T.unique,
         torch.histc, _T.histc}  # fmt: skip


class CountSyncs(TorchFunctionMode):
    """Counts the calls that would make a CUDA device wait for the host (a value read back, a shape that depends
    on values), while ``on``."""

    def __init__(self) -> None:
        super().__init__()
        self.on = False
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.on:
            to_cpu = func is _T.to and any(str(a) == "cpu" for a in (*args[1:], kwargs.get("device")))
            if func in SYNCS or to_cpu:
                self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **kwargs)


def _count_syncs(with_probe: bool, every: int = 5, steps: int = 12) -> tuple[list[str], list[str]]:
    """(calls on steps that are not written, calls on written steps)."""
    model = mlp(act=nn.GELU)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    p = gradtui.probe(model, opt, every=every) if with_probe else None
    quiet, written = [], []
    counter = CountSyncs()
    with counter:
        for i in range(1, steps + 1):
            counter.on, counter.calls = True, []
            x, y = batch(i)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if p is not None:
                p.step(loss=loss)
            (written if i == 1 or i % every == 0 else quiet).extend(counter.calls)
            counter.on = False
    if p is not None:
        p.close()
        assert len(p.snapshots) == 3
    return quiet, written


def test_no_host_synchronisation_between_written_steps():
    quiet_without, _ = _count_syncs(with_probe=False)
    quiet_with, written_with = _count_syncs(with_probe=True)
    assert quiet_with == quiet_without  # the probe added nothing between written steps
    assert written_with  # the counter does see the probe's reads: at the written steps (on the CPU, where free)


def test_on_a_device_the_measured_step_reads_nothing_back_before_the_written_step():
    # tensors on the "meta" device have no values: reading one raises. The whole measured step -- the forward's
    # activation statistics, the backward signal, the gradients and weight copies of the optimizer hook -- runs on
    # the path a GPU takes; only the written step's one read back fails, and the probe says so and steps aside.
    with torch.device("meta"):
        model = nn.Sequential(
            nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(64, 8), nn.GELU(),
            nn.Linear(8, 3), nn.Sigmoid(),
        )  # fmt: skip
        x = torch.randn(5, 3, 6, 6)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    p = gradtui.probe(model, opt, every=1)
    model(x).sum().backward()
    opt.step()
    assert p.broken is None  # nothing was read back while measuring
    with pytest.warns(ProbeWarning, match="writing a snapshot failed"):
        p.step()
    assert "meta" in p.broken
    model(x).sum().backward()  # the training goes on, unmeasured
    opt.step()
    p.step()
    p.close()


def test_the_written_step_copies_no_host_number_to_the_device(monkeypatch):
    # on a GPU, torch.tensor(x, device=...) is a host-to-device copy that waits for the queue: the written step
    # fills its constants in on the device instead (torch.full, Python scalars). The "meta" device takes the GPU's
    # path; every torch.tensor call made for a device other than the CPU is counted (torch.tensor is public API)
    made: list[str] = []
    real = torch.tensor

    def tensor(data, *args, **kwargs):
        out = real(data, *args, **kwargs)
        if out.device.type != "cpu":
            made.append(f"{data!r} on {out.device}")
        return out

    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.PReLU(), nn.Linear(8, 3), nn.Sigmoid())
        x = torch.randn(5, 6)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    p = gradtui.probe(model, opt, every=1)
    monkeypatch.setattr(torch, "tensor", tensor)
    loss = model(x).sum()
    loss.backward()
    opt.step()
    with pytest.warns(ProbeWarning, match="writing a snapshot failed"):
        p.step(loss=loss, accuracy=loss * 0)  # gathers every figure on the device, then fails to read them back
    assert "meta" in p.broken  # it got as far as the read
    assert made == []
    p.close()


# ---- the training is the same -----------------------------------------------------------------------------------
def test_a_training_loop_gives_exactly_the_same_weights_with_the_probe():
    def make():
        torch.manual_seed(5)
        return nn.Sequential(
            nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Flatten(),
            nn.Linear(4 * 4 * 4, 8), nn.GELU(), nn.Linear(8, 2),
        )  # fmt: skip

    def run(with_probe: bool):
        model = make()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        torch.manual_seed(7)
        p = gradtui.probe(model, opt, every=2) if with_probe else None
        for i in range(6):
            g = torch.Generator().manual_seed(i)
            x, y = torch.randn(8, 3, 6, 6, generator=g), torch.randint(0, 2, (8,), generator=g)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if p is not None:
                p.step(loss=loss)
        if p is not None:
            p.close()
            assert len(p.snapshots) == 4
        return model.state_dict()

    a, b = run(False), run(True)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ---- bad input ------------------------------------------------------------------------------------------------
def test_a_model_without_parameters_is_measured_by_its_activations():
    model = nn.Sequential(nn.Tanh(), nn.ReLU())
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProbeWarning)
        with gradtui.probe(model, every=1) as p:
            for i in range(1, 3):
                model(batch(i)[0])
                p.step()
    snap = p.latest
    assert [(e.name, e.kind) for e in snap.entries] == [("0", "activation"), ("1", "activation")]
    assert all(math.isnan(e.grad_norm) and e.hist is not None for e in snap.entries)
    assert math.isnan(snap.loss)


def test_a_model_with_nothing_to_measure_says_so_once():
    model = nn.Identity()
    with pytest.warns(ProbeWarning, match="nothing to record") as caught, gradtui.probe(model, every=1) as p:
        for i in range(1, 4):
            model(batch(i)[0])
            p.step()
    assert len([w for w in caught if issubclass(w.category, ProbeWarning)]) == 1
    assert not p.snapshots


def test_modules_added_after_attaching_become_entries():
    model = mlp(depth=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with gradtui.probe(model, opt, every=2) as p:
        train(model, opt, 4, probe=p)
        assert [e.name for e in p.latest.entries] == ["0", "2"]
        extra = nn.Linear(3, 3)
        model.append(nn.Tanh())
        model.append(extra)
        opt.add_param_group({"params": extra.parameters()})
        train(model, opt, 4, probe=p)
    snap = p.latest
    assert [e.name for e in snap.entries] == ["0", "2", "4"]
    assert snap.entries[1].act is not None and snap.entries[1].act.name == "tanh"  # the new Tanh joined "2"
    assert snap.entries[2].grad_norm > 0 and snap.entries[2].update_ratio > 0
    assert any(e.kind == "change" and "4" in e.text for e in snap.events)


def test_non_finite_values_are_a_divergence_reported_once_and_the_loop_goes_on():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)

    def poison(i, x):
        if i == 3:
            x = x.clone()
            x[0, 0] = math.nan
        return x

    with pytest.warns(ProbeWarning, match="diverged at step 3") as caught, gradtui.probe(model, opt, every=1) as p:
        train(model, opt, 6, probe=p, x_hook=poison)
    assert len([w for w in caught if issubclass(w.category, ProbeWarning)]) == 1
    assert p.steps == 6 and len(p.snapshots) == 6
    d = p.latest.diverged
    assert d is not None and d.step == 3 and d.what == "activations" and d.name == "0" and d.layer == 1
    assert p.snapshots[1].diverged is None
    assert any(e.kind == "diverged" for e in p.latest.events)


def test_non_finite_gradients_name_the_first_module():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.warns(ProbeWarning, match="gradients"), gradtui.probe(model, opt, every=1) as p:
        x, y = batch(1)
        out = model(x)
        out.register_hook(lambda g: torch.full_like(g, math.inf))  # the gradient reaching the output is inf
        F.cross_entropy(out, y).backward()
        opt.step()
        p.step()
    d = p.latest.diverged
    assert d is not None and d.what == "gradients" and d.name == "0"


@pytest.mark.parametrize("where", ["a directory", "a full disk"])
def test_an_unwritable_recording_is_reported_once_and_training_goes_on(tmp_path, where):
    out = str(tmp_path) if where == "a directory" else "/dev/full"
    if where == "a full disk" and not __import__("os").path.exists(out):
        pytest.skip("no /dev/full here")
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.warns(ProbeWarning, match="cannot write") as caught, gradtui.probe(model, opt, every=2, out=out) as p:
        train(model, opt, 10, probe=p)
    assert len([w for w in caught if issubclass(w.category, ProbeWarning)]) == 1
    assert p.steps == 10 and len(p.snapshots) == 6  # measured all the same, kept in memory


def test_a_figure_that_is_not_a_number_is_said_once_and_left_out():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.warns(ProbeWarning, match="takes numbers") as caught, gradtui.probe(model, opt, every=1) as p:
        for i in range(1, 4):
            x, y = batch(i)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            p.step(loss=loss, test_loss="n/a")
    assert len([w for w in caught if issubclass(w.category, ProbeWarning)]) == 1
    assert p.broken is None and math.isfinite(p.latest.loss) and p.latest.entries[0].hist is not None


def test_usage_errors_are_raised_at_attach_time():
    with pytest.raises(TypeError, match="nn.Module"):
        gradtui.probe(object())
    with pytest.raises(ValueError, match="every"):
        gradtui.probe(mlp(), every=0)


def test_test_figures_and_accuracy_are_shown_with_the_step_they_were_taken_at():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with gradtui.probe(model, opt, every=5) as p:
        for i in range(1, 11):
            x, y = batch(i)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            acc = (logits.argmax(1) == y).float().mean()
            p.step(loss=loss, accuracy=acc, test_loss=0.5 if i == 3 else None, test_accuracy=0.8 if i == 3 else None)
    first, second, third = p.snapshots
    assert first.test_step == 1 and math.isnan(first.test_loss) and first.test_accuracy is None
    assert second.test_step == 3 and second.test_loss == 0.5 and second.test_accuracy == 0.8
    assert third.test_step == 3 and third.step == 10
    assert 0 <= third.accuracy <= 1
    assert third.meta.model == "torch" and "Sequential" in third.meta.summary and third.meta.optimizer == "SGD"


def test_non_finite_weights_come_first_as_in_the_engine():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)

    def poison(i, x):
        if i == 2:
            with torch.no_grad():
                model[2].weight[0, 0] = math.inf  # the second Linear: activations after it go non-finite too
        return x

    with pytest.warns(ProbeWarning, match="weights"), gradtui.probe(model, opt, every=1) as p:
        train(model, opt, 3, probe=p, x_hook=poison)
    d = p.latest.diverged
    assert d is not None and (d.step, d.what, d.name) == (2, "weights", "2")


def test_a_reader_that_dies_is_reported_once_and_training_goes_on(tmp_path):
    import os

    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so that the writer can open the pipe
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.warns(ProbeWarning, match="cannot write") as caught:
        p = gradtui.probe(model, opt, every=1, out=str(fifo))
        train(model, opt, 1, probe=p)
        assert p.flush()  # the first line is in the pipe
        assert b'"schema":2' in os.read(reader, 1 << 16)
        os.close(reader)  # the reader dies
        train(model, opt, 5, probe=p)
        p.flush()
        train(model, opt, 2, probe=p)
        p.close()
    assert len([w for w in caught if issubclass(w.category, ProbeWarning)]) == 1
    assert p.steps == 8 and len(p.snapshots) == 8


def test_a_warnings_filter_set_to_error_does_not_stop_the_loop(capsys):
    """With ``warnings.simplefilter("error")`` a warning raises: the probe's one report must not reach the loop."""
    import os

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")

    def run(out):
        model = mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        if out is None:
            train(model, opt, 10)
            return model.state_dict(), None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with gradtui.probe(model, opt, every=2, out=out) as p:
                train(model, opt, 10, probe=p)
        return model.state_dict(), p

    plain, _ = run(None)
    probed, p = run("/dev/full")
    assert p.steps == 10 and len(p.snapshots) == 6
    assert all(torch.equal(plain[k], probed[k]) for k in plain)
    err = capsys.readouterr().err
    assert err.count("gradtui.probe:") == 1 and "cannot write" in err  # reported once, on stderr instead


def test_prelu_slopes_get_their_gradient_and_update_ratio(tmp_path):
    """A PReLU's learned slopes are a parameter array of their own (its entry is the layer before it, whose W is
    the Linear's): ||dL/da|| and ||delta a|| / ||a|| as torch computes them, in the snapshot and the recording."""
    from gradtui.record import load_recording

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.PReLU(8), nn.Linear(8, 8), nn.PReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    out = tmp_path / "prelu.jsonl"
    with gradtui.probe(model, opt, every=1, out=str(out)) as p:
        for i in range(1, 3):
            x, y = batch(i)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            before = {k: model[k].weight.detach().clone().double() for k in (1, 3)}
            grads = {k: float(torch.linalg.vector_norm(model[k].weight.grad.double())) for k in (1, 3)}
            linear = float(torch.linalg.vector_norm(model[0].weight.grad.double()))
            opt.step()
            p.step(loss=loss)
    params = {q.name: q for q in p.latest.params}
    assert set(params) == {"1.weight", "3.weight"}
    for k in (1, 3):
        after = model[k].weight.detach().double()
        ratio = float(torch.linalg.vector_norm(after - before[k]) / torch.linalg.vector_norm(before[k]))
        assert params[f"{k}.weight"].grad_norm == pytest.approx(grads[k], rel=1e-6)
        assert params[f"{k}.weight"].update_ratio == pytest.approx(ratio, rel=1e-6)
    assert grads[1] > 0
    assert p.latest.entries[0].grad_norm == pytest.approx(linear, rel=1e-6)  # the paired entry: the Linear's W
    snaps, _ = load_recording(out)
    read = {q.name: q for q in snaps[-1].params}
    assert set(read) == set(params)
    for name, q in params.items():
        assert read[name].grad_norm == pytest.approx(q.grad_norm, rel=1e-6)
        assert read[name].update_ratio == pytest.approx(q.update_ratio, rel=1e-6)


def test_a_blocked_reader_drops_snapshots_says_so_once_and_the_loop_goes_on(tmp_path):
    """The writer's queue is bounded: while its thread is stuck in a write (a stream whose write waits on an
    event), the training loop never waits; what does not fit is dropped, counted and reported once."""
    import io
    import threading

    from gradtui.probe._writer import QUEUE
    from gradtui.record import load_recording

    class Stuck(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.entered, self.gate = threading.Event(), threading.Event()

        def write(self, s: str) -> int:
            self.entered.set()
            assert self.gate.wait(30), "never released"
            return super().write(s)

    stream = Stuck()
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    extra = 5
    with pytest.warns(ProbeWarning, match="behind") as caught:
        p = gradtui.probe(model, opt, every=1, out=stream)
        train(model, opt, 1, probe=p)
        assert stream.entered.wait(30)  # the writer thread is now inside write(), and stays there
        train(model, opt, QUEUE + extra, probe=p)  # QUEUE snapshots wait in the queue, the rest are dropped
        assert p.steps == QUEUE + extra + 1 and len(p.snapshots) == QUEUE + extra + 1
        stream.gate.set()
        assert p.flush()
        p.close()
    said = [str(w.message) for w in caught if issubclass(w.category, ProbeWarning)]
    assert len(said) == 1 and "not written" in said[0], said  # at the first one dropped, and not again
    path = tmp_path / "copy.jsonl"
    path.write_text(stream.getvalue())
    snaps, _ = load_recording(path)
    assert [s.step for s in snaps] == list(range(1, QUEUE + 2))  # the first and the queued ones, in order
