"""The probe: gradtui's measurements on a user's own PyTorch training run (design.md section 5, "The probe").

How a step is measured, and what it costs:

- ``probe.step()`` counts the user's steps. The first one and every ``every``-th one are *measured* and written;
  between them the probe costs a few flag checks (its forward hooks on the root module, the optimizer's step
  hooks) and, when the loss is a tensor, a few scalar device ops (its running sum, its first non-finite step) --
  no host synchronisation.
- A measured step's forward (the first forward with autograd on after the previous written step) runs with
  temporary hooks on every submodule (to know which module produced which tensor, and where a call happens) and a
  ``TorchFunctionMode`` that sees every activation *call* -- ``nn.ReLU``, ``F.gelu`` in a ``forward``, a Hugging
  Face ``GELUActivation`` alike. The input z is measured before the call (so an in-place ReLU is read before it
  overwrites z), the output h after it. Tensor hooks on the entries' outputs take the backward signal.
- Gradients are read in an optimizer step pre-hook (after a ``GradScaler`` has unscaled them and after clipping),
  where the weights are also copied (on the device) for the update ratio, computed in ``probe.step``.
- ``probe.step`` of a measured step gathers every figure into one float64 tensor and reads it back once (on the
  CPU, where it is free, a few scalars are read while measuring, see ``_measure``); under ``torch.distributed``
  three collectives combine the ranks first. The snapshot goes to a writer thread.

Every hook body catches everything: a failure is reported once (a ``ProbeWarning``), the probe disables itself, and
the training goes on; the recording keeps what was written.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings
import weakref
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.overrides import TorchFunctionMode

from ..engine.stats import (
    SATURATION_FRACTION,
    ActivationInfo,
    DeadUnits,
    Divergence,
    Entry,
    Event,
    Hist,
    ParamFigures,
    RunMeta,
    Snapshot,
    round_out,
)
from ..fmt import safe_text, setting
from . import _measure as M
from ._acts import Call, lookup
from ._writer import Writer

__all__ = ["Probe", "ProbeWarning", "probe"]

Tensor = torch.Tensor
F64 = torch.float64
BINS = 32
NAME_LIMIT = 200

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_LINEAR = (nn.Linear, nn.Bilinear)
_NORM_CHANNELS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm,
                  nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)  # fmt: skip
_NORM = (*_NORM_CHANNELS, nn.LayerNorm, nn.LocalResponseNorm, *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()))
_ACT_MODULES = (nn.PReLU,)  # activations with parameters: not "parametrised modules" of their own
PARAM = "\x00"  # the key prefix of a parameter array reported on its own (a PReLU's slopes: Snapshot.params)


class ProbeWarning(RuntimeWarning):
    """Something the probe could not do (a file it cannot write, a hook that failed): said once; training goes on."""


def _kind(m: nn.Module) -> str:
    if isinstance(m, _LINEAR):
        return "linear"
    if isinstance(m, _CONV):
        return "conv"
    if isinstance(m, _NORM):
        return "norm"
    if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
        return "embedding"
    if isinstance(m, nn.LSTM):
        return "lstm"
    if isinstance(m, nn.GRU):
        return "gru"
    if isinstance(m, nn.RNN):
        return "rnn"
    if isinstance(m, nn.MultiheadAttention):
        return "attention"
    return "module"


def _channel_axis(m: nn.Module, ndim: int) -> int:
    """The axis of a module's output that holds its units: channels (1) for convolutions and their norms, the last
    axis otherwise (a Linear's features, also in (batch, tokens, features))."""
    if ndim >= 3 and isinstance(m, (*_CONV, *_NORM_CHANNELS)):
        return 1
    return ndim - 1


def _own_params(m: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in m.named_parameters(recurse=False) if p.requires_grad]


def _parametrised(m: nn.Module) -> bool:
    return not isinstance(m, _ACT_MODULES) and any(p.requires_grad for p in m.parameters(recurse=False))


def _is_bias(name: str) -> bool:
    return name == "bias" or name.startswith("bias_") or name.endswith("_bias")


def _human(n: int) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / DataParallel (its names have no "module." prefix)."""
    while isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    return model


# ---- what is known about an entry across steps ----------------------------------------------------------------
@dataclass
class _Spec:
    name: str
    kind: str
    units: int
    module: weakref.ReferenceType[nn.Module] | None  # the parametrised module whose gradients it reports
    act: ActivationInfo | None = None
    call: Call | None = None  # the activation call last measured (its f' curve)
    dead_run: np.ndarray | None = None  # measured steps in a row on which each unit was dead
    dead_first: np.ndarray | None = None  # the step each unit's run of dead measurements began
    measured: int = 0  # measurements of its units so far


# ---- what one measured step gathers (device tensors) -------------------------------------------------------------
@dataclass
class _ActRec:
    call: Call
    units: int
    axis: int
    n_examples: int
    z_m: Tensor  # max |z| over the finite entries: the pre-activation histogram's range
    numel: int
    sat: Tensor
    alive: Tensor | None = None
    z_finite: bool | None = None  # every z was finite (None: not looked at, on a GPU)
    h_finite: bool | None = None
    z_bad: Tensor | None = None  # entries that were not finite (counted by the histograms)
    h_a: Tensor | None = None  # what the output histogram's range depends on (M.range_of)
    h_n: int = 0
    h_s1: Tensor | None = None
    h_s2: Tensor | None = None
    h_bad: Tensor | None = None
    pre_counts: Tensor | None = None
    counts: Tensor | None = None
    z_keep: Tensor | None = None  # kept until probe.step when the ranks' ranges must be combined first
    h_keep: Tensor | None = None
    alpha_mean: Tensor | None = None
    rng_slot: int = -1  # where its ranges sit in the ranks' MAX reduction


@dataclass
class _StepData:
    step: int
    acts: dict[str, _ActRec] = field(default_factory=dict)
    outputs: dict[str, Tensor] = field(default_factory=dict)  # the tensor whose gradient is the entry's signal
    signal: dict[str, Tensor] = field(default_factory=dict)  # ||dL/dh||^2
    batch: dict[str, int] = field(default_factory=dict)
    grads: dict[str, tuple[Tensor, Tensor | None]] = field(default_factory=dict)  # (||dW||^2, ||db||^2)
    before: dict[str, list[tuple[Tensor, Tensor]]] = field(default_factory=dict)  # (param, copy before the step)
    forward_seen: bool = False
    grads_read: bool = False
    read_after_step: bool = False
    stepped: bool = False


class _Forward:
    """The state of one measured forward: the module stack, who produced which tensor, lone-call names."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, nn.Module]] = []
        self.producers: dict[int, tuple[str, Tensor, int]] = {}  # id(tensor) -> (entry name, tensor, unit axis)
        self.lone: dict[str, int] = {}
        self.handles: list[Any] = []


class _Mode(TorchFunctionMode):
    def __init__(self, probe: Probe) -> None:
        super().__init__()
        self.probe = probe

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        p = self.probe
        if p._fwd is None:
            return func(*args, **kwargs)
        try:
            call = lookup(func, args, kwargs)
        except Exception as e:  # noqa: BLE001
            p._fail("reading an activation's arguments", e)
            call = None
        if call is None:
            return func(*args, **kwargs)
        pending = None
        try:
            pending = p._act_before(call, args[0])
        except Exception as e:  # noqa: BLE001
            p._fail("measuring an activation's input", e)
        out = func(*args, **kwargs)
        if pending is not None:
            try:
                p._act_after(pending, out)
            except Exception as e:  # noqa: BLE001
                p._fail("measuring an activation's output", e)
        return out


class Probe:
    """See ``gradtui.probe.probe``. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | Iterable[torch.optim.Optimizer] | None = None,
        *,
        every: int = 50,
        out: str | os.PathLike[str] | IO[str] | None = None,
        run: str = "",
        dead_window: int = 4,
        update_ratio: bool = True,
        keep: int = 1000,
        process_group: Any = None,
        summary: str | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"gradtui.probe needs a torch.nn.Module, not {type(model).__name__}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a whole number of steps, 1 or more (not {every!r})")
        if isinstance(dead_window, bool) or not isinstance(dead_window, int) or dead_window < 1:
            raise ValueError(f"dead_window must be 1 or more (not {dead_window!r})")
        if optimizer is None:
            opts: list[torch.optim.Optimizer] = []
        elif isinstance(optimizer, torch.optim.Optimizer):
            opts = [optimizer]
        else:
            opts = list(optimizer)
        self.model = _unwrap(model)
        self.optimizers = opts
        self.every = every
        self.out = out
        self.run = run
        self.dead_window = dead_window
        self.update_ratio = update_ratio
        self.snapshots: deque[Snapshot] = deque(maxlen=keep)
        self.steps = 0  # probe.step calls so far
        self.broken: str | None = None  # why the probe disabled itself
        self._group = process_group
        self._world, self._rank = 1, 0
        if dist.is_available() and dist.is_initialized():
            self._world = dist.get_world_size(process_group)
            self._rank = dist.get_rank(process_group)
        self._specs: dict[str, _Spec] = {}
        self._names: dict[int, str] = {}
        self._armed = True  # the next step is measured (the first one is)
        self._data: _StepData | None = _StepData(1)
        self._fwd: _Forward | None = None
        self._mode: _Mode | None = None
        self._said: set[str] = set()
        self._pending: list[tuple[str, str]] = []  # (key, message) from hooks, said on the training thread
        self._events: list[Event] = []
        self._event_seq = 0
        self._seq = 0
        self._diverged: Divergence | None = None
        self._loss_sum: Any = 0.0
        self._loss_n = 0
        self._loss_bad: Any = -1  # the first step whose loss was not finite (a device tensor when losses are)
        self._acc_sum: Any = 0.0  # the accuracies given since the last written step: a running (device) sum
        self._acc_n = 0
        self._test: tuple[int, Any, Any] | None = None
        self._last_grads: tuple[int, dict[str, tuple[float, float, float, float]]] | None = None
        self._last_time = time.perf_counter()
        self._last_step = 0
        self._closed = False
        self._written: set[str] = set()  # the entry names written so far
        meta_summary, opt_name, lr = self._describe(model, summary)
        self.meta = RunMeta(model="torch", summary=meta_summary, optimizer=opt_name, lr=lr)
        self._event("start", f"start: {meta_summary}", 0)
        self._writer = Writer(out) if out is not None and self._rank == 0 else None
        self._handles: list[Any] = [
            self.model.register_forward_pre_hook(self._root_pre),
            self.model.register_forward_hook(self._root_post, always_call=True),
        ]
        for opt in opts:
            self._handles.append(opt.register_step_pre_hook(self._opt_pre))
            self._handles.append(opt.register_step_post_hook(self._opt_post))

    # ---- describing the run ---------------------------------------------------------------------------------------
    def _describe(self, model: nn.Module, summary: str | None) -> tuple[str, str, float]:
        inner = self.model
        n = sum(p.numel() for p in inner.parameters() if p.requires_grad)
        opt_name, lr = "", math.nan
        if self.optimizers:
            opt = self.optimizers[0]
            opt_name = type(opt).__name__
            try:
                lr = float(opt.param_groups[0]["lr"])
            except (KeyError, IndexError, TypeError, ValueError):
                lr = math.nan
        if summary is None:
            summary = f"{type(inner).__name__} {_human(n)} params"
            if opt_name:
                summary += f", {opt_name}" + (f" lr {setting(lr)}" if math.isfinite(lr) else "")
        return safe_text(summary, 200), opt_name, lr

    def _event(self, kind: str, text: str, step: int) -> None:
        self._event_seq += 1
        self._events.append(Event(self._event_seq, step, kind, safe_text(text, 500)))
        del self._events[:-500]

    # ---- saying things once -----------------------------------------------------------------------------------------
    def _say(self, key: str, message: str) -> None:
        """Report once per key, on the training thread (called from probe.step, or directly from its own code)."""
        if key in self._said:
            return
        self._said.add(key)
        text = f"gradtui.probe: {message}"
        try:  # a warnings filter set to "error" (or a broken showwarning) must not stop the training loop
            warnings.warn(text, ProbeWarning, stacklevel=4)
        except Exception:  # noqa: BLE001 - reporting must never raise into the user's loop
            with contextlib.suppress(Exception):  # no stderr either: stay silent rather than crash
                sys.stderr.write(text + "\n")

    def _fail(self, where: str, e: BaseException) -> None:
        """A hook failed: stop measuring for good (the training goes on) and say why, once."""
        if self.broken is None:
            self.broken = f"{where} failed ({type(e).__name__}: {safe_text(str(e), 200)})"
            self._pending.append(("broken", f"{self.broken}; the probe stopped measuring, training goes on"))
            self._event("error", f"probe stopped: {self.broken}", self.steps + 1)
        self._end_forward()
        self._data = None
        self._armed = False

    def _flush_messages(self) -> None:
        pending, self._pending = self._pending, []
        for key, message in pending:
            self._say(key, message)
        w = self._writer
        if w is not None:
            if w.problem is not None:
                self._say("write", f"{w.problem}; the run goes on (snapshots are kept in probe.snapshots)")
            if w.dropped:
                self._say("dropped", f"the recording is behind (a slow disk or a blocked reader): {w.dropped} "
                                     "snapshot(s) were not written")  # fmt: skip

    # ---- the forward of a measured step ---------------------------------------------------------------------------
    def _root_pre(self, module: nn.Module, args: Any) -> None:
        if self._armed and self._fwd is None:
            self.begin_forward()

    def _root_post(self, module: nn.Module, args: Any, output: Any) -> None:
        if self._fwd is not None:
            self.end_forward(output)

    def begin_forward(self) -> None:
        """Start measuring a forward now, if this step is measured and none was yet. The root module's forward
        pre-hook calls it; call it yourself (or let an adapter) when the training forward does not go through
        ``model(...)`` -- a LightningModule's ``training_step`` calling ``self.net(x)``."""
        if not self._armed or self._fwd is not None:
            return
        try:
            data = self._data
            if data is None or data.forward_seen or not torch.is_grad_enabled():
                return
            data.forward_seen = True
            fwd = _Forward()
            names = {}
            for name, m in self.model.named_modules():
                names[id(m)] = name
                if m is not self.model:
                    fwd.handles.append(m.register_forward_pre_hook(self._mod_pre))
                    fwd.handles.append(m.register_forward_hook(self._mod_post, always_call=True))
            self._names = names
            fwd.stack.append(("", self.model))
            self._fwd = fwd
            self._mode = _Mode(self)
            self._mode.__enter__()
        except Exception as e:  # noqa: BLE001
            self._fail("starting a measured forward", e)

    def end_forward(self, output: Any = None) -> None:
        """End the measured forward (the root module's forward hook calls it; ``output``: the root's output)."""
        if self._fwd is None:
            return
        try:
            fwd = self._fwd
            if output is not None and _parametrised(self.model):
                self._produced("", self.model, output, fwd)
            self._end_forward()
            self._signal_hooks()
        except Exception as e:  # noqa: BLE001
            self._fail("ending a measured forward", e)

    def _end_forward(self) -> None:
        fwd, self._fwd = self._fwd, None
        if self._mode is not None:
            mode, self._mode = self._mode, None
            with contextlib.suppress(Exception):  # the mode stack was changed by someone else: nothing to undo
                mode.__exit__(None, None, None)
        if fwd is not None:
            for h in fwd.handles:
                h.remove()
            fwd.producers.clear()

    def _mod_pre(self, module: nn.Module, args: Any) -> None:
        fwd = self._fwd
        if fwd is not None:
            fwd.stack.append((self._names.get(id(module), "?"), module))

    def _mod_post(self, module: nn.Module, args: Any, output: Any) -> None:
        fwd = self._fwd
        if fwd is None:
            return
        try:
            if fwd.stack and fwd.stack[-1][1] is module:
                fwd.stack.pop()
            if _parametrised(module):
                self._produced(self._names.get(id(module), "?"), module, output, fwd)
        except Exception as e:  # noqa: BLE001
            self._fail("recording a module's output", e)

    def _spec_for(self, name: str, module: nn.Module | None, units: int, kind: str | None = None) -> _Spec:
        spec = self._specs.get(name)
        if spec is None:
            spec = _Spec(
                name=name, kind=kind or (_kind(module) if module is not None else "activation"), units=units,
                module=weakref.ref(module) if module is not None else None,
            )  # fmt: skip
            self._specs[name] = spec
        return spec

    def _produced(self, name: str, module: nn.Module, output: Any, fwd: _Forward) -> None:
        data = self._data
        if data is None or not isinstance(output, torch.Tensor) or output.dim() < 1:
            if data is not None and name not in self._specs:
                self._spec_for(name, module, self._weight_units(module))
            return
        axis = _channel_axis(module, output.dim())
        spec = self._spec_for(name, module, int(output.shape[axis]))
        if spec.units != output.shape[axis] and spec.act is None:
            spec.units = int(output.shape[axis])
        fwd.producers[id(output)] = (name, output, axis)
        if name not in data.outputs:
            data.outputs[name] = output

    @staticmethod
    def _weight_units(module: nn.Module) -> int:
        if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
            return int(module.embedding_dim)
        w = getattr(module, "weight", None)
        if isinstance(w, torch.Tensor) and w.dim() >= 1:
            return int(w.shape[0])
        return sum(p.numel() for p in module.parameters(recurse=False))

    # ---- activation calls -------------------------------------------------------------------------------------------
    def _owner(self, call: Call, z: Tensor) -> tuple[str, nn.Module | None, int, str | None]:
        """The entry an activation call belongs to: (name, parametrised module or None, unit axis, kind)."""
        fwd, data = self._fwd, self._data
        assert fwd is not None and data is not None
        hit = fwd.producers.get(id(z))
        if hit is not None and hit[1] is z:
            name, _, axis = hit
            if name not in data.acts:
                spec = self._specs[name]
                return name, spec.module() if spec.module is not None else None, axis, None
        where, inner = fwd.stack[-1] if fwd.stack else ("", self.model)
        axis = self._guess_axis(z, fwd)
        if _parametrised(inner) and where not in data.acts and inner is not self.model:
            return where, inner, axis, None  # the module's own activation
        leaf = next(iter(inner.children()), None) is None and inner is not self.model
        base = where if leaf else (f"{where}:{call.fname}" if where else call.fname)
        k = fwd.lone.get(base, 0) + 1
        fwd.lone[base] = k
        return (base if k == 1 else f"{base}#{k}"), None, axis, "activation"

    @staticmethod
    def _guess_axis(z: Tensor, fwd: _Forward) -> int:
        """A lone activation's unit axis: that of the last module output of the same rank (channels after a
        convolution or its norm), else the last axis."""
        for _, t, axis in reversed(fwd.producers.values()):
            if t.dim() == z.dim():
                return axis
        return z.dim() - 1

    def _act_before(self, call: Call, z: Tensor) -> tuple[str, _ActRec] | None:
        data = self._data
        if data is None or self._fwd is None:
            return None
        name, module, axis, kind = self._owner(call, z)
        if name in data.acts:
            return None  # a second call into the same entry: the first one is measured
        units = int(z.shape[axis])
        spec = self._spec_for(name, module, units, kind)
        if spec.act is None or spec.act != call.info:
            spec.act = call.info
        spec.call = call
        if spec.units != units:
            spec.units = units
            spec.dead_run = spec.dead_first = None
        zd = z.detach()
        numel = zd.numel()
        alive = sat = None
        if call.alive_above is not None:  # the units that can die: f' != 0 somewhere, per unit
            alive = M.alive_from_max(zd, axis, call.alive_above)
        elif call.nonzero is not None:
            dims = tuple(i for i in range(zd.dim()) if i != axis)
            nz = call.nonzero(zd)
            alive = (torch.any(nz, dim=dims) if dims else nz).to(F64)
            del nz
        if call.binary and call.nonzero is not None:  # f' is 0 or 1: saturated exactly where it is 0
            sat = numel - torch.count_nonzero(call.nonzero(zd)).to(F64)
        else:
            d = call.deriv(zd)
            sat = torch.count_nonzero(d.abs() < SATURATION_FRACTION * call.info.max_deriv).to(F64)
            del d
        zs = M.scan(zd)
        rec = _ActRec(
            call=call, units=units, axis=axis, n_examples=int(z.shape[0]) if z.dim() > 1 else 1,
            z_m=M.abs_max(zs), numel=numel, sat=sat, alive=alive, z_finite=zs.finite,
        )  # fmt: skip
        if call.alpha is not None:
            rec.alpha_mean = call.alpha.detach().to(F64).mean()
        if self._world > 1:  # the histogram waits for the ranks' common range
            rec.z_keep = zd.clone() if call.inplace else zd
        else:
            rec.pre_counts, rec.z_bad = M.hist_counts(zd, *M.sym_range(rec.z_m), BINS, zs.finite)
        return name, rec

    def _act_after(self, pending: tuple[str, _ActRec], out: Any) -> None:
        data = self._data
        if data is None or not isinstance(out, torch.Tensor):
            return
        name, rec = pending
        h = out.detach()
        info = rec.call.info
        hs = M.scan(h)
        rec.h_a, rec.h_finite = M.range_param(info, hs), hs.finite
        rec.h_n = h.numel()
        rec.h_s1, rec.h_s2 = M.moments(h)
        if self._world > 1:
            rec.h_keep = h
        else:
            rec.counts, rec.h_bad = M.hist_counts(h, *M.out_range(info, rec.h_a), BINS, hs.finite)
        data.acts[name] = rec
        data.outputs[name] = out  # the signal of a paired entry is dL/dh at the activation's output

    # ---- backward: the signal ---------------------------------------------------------------------------------------
    def _signal_hooks(self) -> None:
        data = self._data
        if data is None or not torch.is_grad_enabled():
            return
        for name, t in data.outputs.items():
            if t.requires_grad and t.dim() >= 1:
                data.batch[name] = int(t.shape[0]) if t.dim() > 1 else 1
                t.register_hook(self._signal_hook(name, data))
        data.outputs = {}

    def _signal_hook(self, name: str, data: _StepData) -> Any:
        def hook(g: Tensor) -> None:
            try:
                if name not in data.signal:
                    data.signal[name] = M.sq_norm(g)
            except Exception as e:  # noqa: BLE001
                self._fail("reading a backward signal", e)

        return hook

    # ---- the optimizer step: gradients where they are final ---------------------------------------------------------
    def _opt_pre(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        data = self._data
        if data is None or data.grads_read or self.broken is not None:
            return
        try:
            if not data.forward_seen:  # a closure (LBFGS): forward and backward run inside step()
                data.read_after_step = True
                return
            self.before_optimizer_step()
        except Exception as e:  # noqa: BLE001
            self._fail("reading the gradients", e)

    def _opt_post(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        data = self._data
        if data is None or self.broken is not None:
            return
        data.stepped = True
        if data.read_after_step and not data.grads_read:
            try:
                self._read_grads(data, copy=False)
            except Exception as e:  # noqa: BLE001
                self._fail("reading the gradients", e)

    def before_optimizer_step(self) -> None:
        """Read the gradients now (and copy the weights for the update ratio) if this step is measured. The
        optimizer hook calls it; framework adapters call it where their gradients are final (Lightning's
        ``on_before_optimizer_step``, Hugging Face's ``on_pre_optimizer_step``)."""
        data = self._data
        if data is None or data.grads_read or self.broken is not None:
            return
        try:
            self._read_grads(data, copy=self.update_ratio)
        except Exception as e:  # noqa: BLE001
            self._fail("reading the gradients", e)

    def _param_entries(self) -> list[tuple[str, nn.Module]]:
        """Every parametrised module (an entry; modules that never ran forward are added at the end)."""
        out = []
        for name, m in self.model.named_modules():
            if _parametrised(m):
                self._spec_for(name, m, self._weight_units(m))
                out.append((name, m))
        return out

    def _read_grads(self, data: _StepData, copy: bool) -> None:
        for name, m in self._param_entries():
            w_sq: Tensor | None = None
            b_sq: Tensor | None = None
            saw_bias = False
            before: list[tuple[Tensor, Tensor]] = []
            for pname, p in _own_params(m):
                bias = _is_bias(pname)
                saw_bias = saw_bias or bias
                if p.grad is not None:
                    sq = M.sq_norm(p.grad)
                    if bias:
                        b_sq = sq if b_sq is None else b_sq + sq
                    else:
                        w_sq = sq if w_sq is None else w_sq + sq
                if copy and not bias:
                    before.append((p, p.detach().clone()))
            if w_sq is None and b_sq is None:
                continue
            zero = torch.zeros((), dtype=F64, device=(w_sq if w_sq is not None else b_sq).device)  # type: ignore[union-attr]
            data.grads[name] = (w_sq if w_sq is not None else zero * math.nan, b_sq if saw_bias else None)
            if before:
                data.before[name] = before
        for name, m in self.model.named_modules():  # a PReLU's slopes: not an entry's W (its entry is the layer
            if not isinstance(m, _ACT_MODULES):  # it follows, as in the engine), so a parameter array of their own
                continue
            for pname, p in _own_params(m):
                if p.grad is not None:
                    key = PARAM + (f"{name}.{pname}" if name else pname)
                    data.grads[key] = (M.sq_norm(p.grad), None)
                    if copy:
                        data.before[key] = [(p, p.detach().clone())]
        data.grads_read = True

    # ---- the user's step ------------------------------------------------------------------------------------------
    def step(
        self,
        loss: Any = None,
        *,
        accuracy: Any = None,
        test_loss: Any = None,
        test_accuracy: Any = None,
    ) -> Snapshot | None:
        """Count one training step (call it after ``optimizer.step()``). ``loss``: this step's training loss (a
        tensor or a number; the recording shows the mean since the last line). ``accuracy``: of this step's batch
        (the mean since the last line). ``test_loss`` / ``test_accuracy``: figures of a held-out set, when you
        have them (shown from then on, with the step they were taken at). Returns the snapshot when this step was
        written, else None."""
        if self._closed:
            return None
        self.steps += 1
        n = self.steps
        try:
            self._take_loss(loss, n)
            if accuracy is not None:
                a = _number(accuracy)
                self._acc_sum = self._acc_sum + (a.to(F64) if isinstance(a, torch.Tensor) else a)
                self._acc_n += 1
            if test_loss is not None or test_accuracy is not None:
                self._test = (n, _number(test_loss), _number(test_accuracy))
        except (TypeError, ValueError, RuntimeError) as e:  # a figure that is not a number: said once, left out
            self._pending.append(("figures", f"probe.step() takes numbers or one-element tensors ({e}): left out"))
        snap = None
        if self._due(n):
            self._end_forward()  # a forward that raised leaves nothing behind
            try:
                snap = self._write(n)
            except Exception as e:  # noqa: BLE001
                self._fail("writing a snapshot", e)
        if self.broken is None:
            self._armed = self._due(n + 1)
            if self._armed:
                self._data = _StepData(n + 1)
        self._flush_messages()
        return snap

    def _due(self, n: int) -> bool:
        return n == 1 or n % self.every == 0

    def _take_loss(self, loss: Any, n: int) -> None:
        if loss is None:
            return
        if isinstance(loss, torch.Tensor):
            if not loss.is_floating_point() and not loss.dtype.is_complex and loss.dtype == torch.bool:
                raise TypeError("the loss is a boolean tensor")
            value = loss.detach().to(F64).reshape(-1).mean()
            bad = ~torch.isfinite(value)
            if not isinstance(self._loss_bad, torch.Tensor):
                self._loss_bad = torch.full((), self._loss_bad, dtype=torch.int64, device=value.device)
            self._loss_bad = torch.where(bad & (self._loss_bad < 0), n, self._loss_bad)
        else:
            value = float(loss)  # type: ignore[assignment]
            if not math.isfinite(value):
                if isinstance(self._loss_bad, torch.Tensor):
                    self._loss_bad = torch.where(self._loss_bad < 0, n, self._loss_bad)
                elif self._loss_bad < 0:
                    self._loss_bad = n
        self._loss_sum = self._loss_sum + value
        self._loss_n += 1

    # ---- a written step ---------------------------------------------------------------------------------------------
    def _write(self, n: int) -> Snapshot | None:
        data = self._data if self._data is not None and self._data.step == n else None
        if data is not None and not data.grads_read and not self.optimizers:
            self._read_grads(data, copy=False)  # no optimizer given: the gradients are still there
        names = list(self._specs)
        combine = False
        if self._world > 1:  # the ranks combine only figures laid out alike (one small collective says so)
            signed = names + ([k for k in data.grads if k.startswith(PARAM)] if data is not None else [])
            combine = _same_everywhere(self._signature(data, signed), self._group, self._device(data))
            if not combine:
                self._pending.append(("ranks", "the ranks measured different modules (a branch taken on one "
                                               "rank?): the figures written are rank 0's own"))  # fmt: skip
        pack = _Pack((self._group if self._group is not None else _WORLD) if combine else None)
        loss_slots = self._pack_loss(pack, self._device(data))
        if data is not None:
            self._pack_step(data, names + [k for k in data.grads if k.startswith(PARAM)], pack)
        figures = pack.read()
        snap = self._snapshot(n, data, names, pack, figures, loss_slots)
        self._data = None
        if snap is None:
            return None
        self.snapshots.append(snap)
        if self._writer is not None:
            self._writer.put(snap)
        return snap

    def _device(self, data: _StepData | None) -> torch.device:
        for t in (self._loss_sum, self._loss_bad):
            if isinstance(t, torch.Tensor):
                return t.device
        if data is not None:
            for a in data.acts.values():
                return a.z_m.device
            for g in data.grads.values():
                return g[0].device
        p = next(self.model.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def _pack_loss(self, pack: _Pack, dev: torch.device) -> tuple[int, int, int]:
        def t(x: Any) -> Tensor:  # a Python number is filled in on the device: no host-to-device copy
            return x.to(dev, F64).reshape(()) if isinstance(x, torch.Tensor) else torch.full((), float(x), dtype=F64,
                                                                                             device=dev)  # fmt: skip

        bad = self._loss_bad
        first_bad = torch.where(t(bad) > 0, t(bad), math.inf)
        sums = pack.add("sum", torch.stack([t(self._loss_sum), t(self._loss_n)]))
        worst = pack.add("max", (-first_bad).reshape(1))  # MAX of -step: the earliest bad step of any rank
        acc = pack.add("rep", torch.stack([t(self._acc_sum), t(self._acc_n)]))  # this rank's, as before
        self._loss_sum, self._loss_n = 0.0, 0
        self._acc_sum, self._acc_n = 0.0, 0
        return sums, worst, acc

    def _signature(self, data: _StepData | None, names: list[str]) -> int:
        """What this rank measured, as a number: the ranks combine only figures laid out alike."""
        if data is None:
            return zlib.crc32(b"none") & 0x7FFFFFFF
        parts = []
        for name in names:
            a = data.acts.get(name)
            g = data.grads.get(name)
            act = None if a is None else (a.units, a.call.info.name, a.alive is not None)
            parts.append((name, act, None if g is None else g[1] is not None, name in data.signal, name in data.before))
        return zlib.crc32(repr(parts).encode()) & 0x7FFFFFFF

    def _pack_step(self, data: _StepData, names: list[str], pack: _Pack) -> None:
        combine = pack.group is not None
        world = self._world if combine else 1
        kept = [r for r in data.acts.values() if r.z_keep is not None and r.h_keep is not None and r.h_a is not None]
        if combine:
            for rec in kept:
                assert rec.h_a is not None
                rec.rng_slot = pack.add("max", torch.stack([rec.z_m, rec.h_a]))
        pack.reduce_max()  # the ranks' common ranges (and the loss's first bad step)
        for rec in kept:  # the histograms over them
            if combine:
                rec.z_m, rec.h_a = pack.reduced(rec.rng_slot).unbind()
            assert rec.z_keep is not None and rec.h_keep is not None and rec.h_a is not None
            rec.pre_counts, rec.z_bad = M.hist_counts(rec.z_keep, *M.sym_range(rec.z_m), BINS, rec.z_finite)
            info = rec.call.info
            rec.counts, rec.h_bad = M.hist_counts(rec.h_keep, *M.out_range(info, rec.h_a), BINS, rec.h_finite)
            rec.z_keep = rec.h_keep = None
        for name in names:
            a = data.acts.get(name)
            if a is not None and a.counts is not None and a.pre_counts is not None:
                assert a.h_s1 is not None and a.h_s2 is not None and a.h_bad is not None and a.z_bad is not None
                assert a.h_a is not None
                dev = a.z_m.device
                num = torch.stack([torch.full((), float(v), dtype=F64, device=dev) for v in (a.numel, a.h_n,
                                                                                            a.n_examples)])  # fmt: skip
                scalars = torch.stack([a.sat, a.z_bad, a.h_bad, a.h_s1, a.h_s2])
                alive = a.alive if a.alive is not None else num[:0]
                pack.slot(name, "act", pack.add("sum", torch.cat([num, scalars, a.pre_counts, a.counts, alive])))
                pack.slot(name, "rng", pack.add("rep", torch.stack([a.z_m, a.h_a])))
                if a.alpha_mean is not None:
                    pack.slot(name, "alpha", pack.add("rep", a.alpha_mean.reshape(1)))
            s = data.signal.get(name)
            if s is not None:
                batch = torch.full((1,), float(data.batch.get(name, 1)), dtype=F64, device=s.device)
                pack.slot(name, "sig", pack.add("sum", torch.cat([(s / (world * world)).reshape(1), batch])))
            g = data.grads.get(name)
            if g is not None:
                w_sq, b_sq = g
                nan = torch.full((), math.nan, dtype=F64, device=w_sq.device)
                one, zero = torch.ones_like(w_sq), torch.zeros_like(w_sq)
                vals = [w_sq, b_sq if b_sq is not None else nan, one if b_sq is not None else zero]
                before = data.before.get(name)
                if before:
                    dw = torch.stack([M.sq_dist(p.detach(), w0) for p, w0 in before])
                    w0n = torch.stack([M.sq_norm(w0) for _, w0 in before]).sum()
                    inf = torch.full((), math.inf, dtype=F64, device=w_sq.device)
                    vals += [torch.where(w0n > 0, torch.sqrt(dw.sum()) / torch.sqrt(w0n), inf), w0n, one]
                else:
                    vals += [nan, nan, zero]
                pack.slot(name, "grad", pack.add("rep", torch.stack(vals)))
        data.before = {}

    # ---- the snapshot -------------------------------------------------------------------------------------------
    def _snapshot(
        self,
        n: int,
        data: _StepData | None,
        names: list[str],
        pack: _Pack,
        fig: np.ndarray,
        loss_slots: tuple[int, int, int],
    ) -> Snapshot | None:
        nan = math.nan
        loss_sum, loss_n = (float(x) for x in pack.get(fig, loss_slots[0]))
        worst = -float(pack.get(fig, loss_slots[1])[0])
        loss_bad = int(worst) if math.isfinite(worst) else -1
        loss = loss_sum / loss_n if loss_n else nan
        entries: list[Entry] = []
        grads_now = data is not None and data.grads_read
        carried = self._last_grads[1] if (self._last_grads is not None and not grads_now) else {}
        grad_figs: dict[str, tuple[float, float, float, float]] = {}
        bad_weights: int | None = None  # the first entry (forward order) whose weights, activations went non-finite
        bad_acts: int | None = None
        for i, name in enumerate(names):
            spec = self._specs[name]
            grad_norm = bias_norm = ratio = signal = nan
            if data is not None and pack.has(name, "grad"):
                w_sq, b_sq, has_b, ratio, w0_sq, has_w0 = (float(x) for x in pack.get(fig, pack.slot_of(name, "grad")))
                grad_norm, bias_norm = math.sqrt(w_sq), math.sqrt(b_sq) if has_b else nan
                grad_figs[name] = (grad_norm, bias_norm, ratio, signal)
                if has_w0 and not math.isfinite(w0_sq) and bad_weights is None:
                    bad_weights = i
            elif name in carried:
                grad_norm, bias_norm, ratio, _ = carried[name]
            if data is not None and pack.has(name, "sig"):
                sq, batch = (float(x) for x in pack.get(fig, pack.slot_of(name, "sig")))
                signal = math.sqrt(sq) / math.sqrt(batch) if batch > 0 else nan
                if name in grad_figs:
                    grad_figs[name] = (*grad_figs[name][:3], signal)
            elif name in carried:
                signal = carried[name][3]
            kw: dict[str, Any] = {}
            if data is not None and pack.has(name, "act") and spec.act is not None:
                kw, bad = self._act_figures(spec, pack, fig, n)
                if bad and bad_acts is None:
                    bad_acts = i
            entries.append(Entry(
                name=safe_text(name or type(self.model).__name__, NAME_LIMIT), kind=spec.kind, units=spec.units,
                index=i + 1, grad_norm=grad_norm, bias_grad_norm=bias_norm, signal_norm=signal,
                update_ratio=ratio, act=spec.act,
                dead=kw.pop("dead", None) if spec.act is not None and spec.act.can_die else None, **kw,
            ))  # fmt: skip
        new = [e.name for e in entries if e.name not in self._written]
        if self._written and new:  # modules added after attaching (or first run on a later step)
            shown = ", ".join(new[:6]) + (f" and {len(new) - 6} more" if len(new) > 6 else "")
            self._event("change", f"new modules measured: {shown}", n)
        self._written.update(new)
        if not entries:
            self._pending.append(("empty", "the model has no trainable parameters and no activation the probe can "
                                           "see: there is nothing to record"))  # fmt: skip
            return None
        grad_bad = next(
            (
                i
                for i, e in enumerate(entries)
                if names[i] in grad_figs
                and not (
                    math.isfinite(e.grad_norm) and (math.isnan(e.bias_grad_norm) or math.isfinite(e.bias_grad_norm))
                )
            ),
            None,
        )
        # as the engine: the first entry whose weights went non-finite, else whose activations, else gradients
        first_bad = ((bad_weights, "weights") if bad_weights is not None else
                     (bad_acts, "activations") if bad_acts is not None else None)  # fmt: skip
        if grads_now:
            self._last_grads = (n, grad_figs)
        grad_step = n if grads_now or self._last_grads is None else self._last_grads[0]
        self._check_divergence(n, entries, first_bad, grad_bad, loss, loss_bad)
        acts_sig = [e.signal_norm for e in entries if e.act is not None and math.isfinite(e.signal_norm)]
        sig = acts_sig if len(acts_sig) >= 2 else [e.signal_norm for e in entries if math.isfinite(e.signal_norm)]
        vanishing = sig[0] / sig[-1] if len(sig) >= 2 and sig[-1] > 0 else nan
        now = time.perf_counter()
        sps = (n - self._last_step) / (now - self._last_time) if now > self._last_time else nan
        self._last_time, self._last_step = now, n
        acc_sum, acc_n = (float(x) for x in pack.get(fig, loss_slots[2]))
        accuracy = acc_sum / acc_n if acc_n and 0 <= acc_sum / acc_n <= 1 else None
        test_step, test_loss, test_acc = n, nan, None
        if self._test is not None:
            test_step, tl, ta = self._test
            test_loss = float(tl) if tl is not None else nan
            test_acc = float(ta) if ta is not None else None
        self._seq += 1
        params = []
        for key, slot in pack.named.items():  # parameter arrays of their own (a PReLU's slopes)
            if key[1] == "grad" and key[0].startswith(PARAM):
                w_sq, _, _, p_ratio, _, _ = (float(x) for x in pack.get(fig, slot))
                params.append(ParamFigures(safe_text(key[0][len(PARAM) :], NAME_LIMIT), math.sqrt(w_sq), p_ratio))
        return Snapshot(
            step=n, run_step=n, loss=loss, accuracy=accuracy, test_loss=test_loss, test_accuracy=test_acc,
            config=None, entries=tuple(entries), seq=self._seq, run=self.run, source="probe", axis="module",
            params=tuple(params),
            meta=self.meta, events=tuple(self._events), vanishing_ratio=vanishing, diverged=self._diverged,
            steps_per_sec=sps, grad_step=grad_step, probe_step=n, test_step=test_step,
        )  # fmt: skip

    def _act_figures(self, spec: _Spec, pack: _Pack, fig: np.ndarray, n: int) -> tuple[dict[str, Any], bool]:
        info = spec.act
        assert info is not None
        v = pack.get(fig, pack.slot_of(spec.name, "act"))
        numel, h_n, _examples, sat, z_bad, h_bad, s1, s2 = (float(x) for x in v[:8])
        pre = v[8 : 8 + BINS]
        counts = v[8 + BINS : 8 + 2 * BINS]
        alive = v[8 + 2 * BINS :]
        z_m, h_a = (float(x) for x in pack.get(fig, pack.slot_of(spec.name, "rng")))
        zr = _sym(z_m)
        hr = _out_range(info, h_a)
        pre_hist = Hist.from_range(*zr, np.rint(pre).astype(np.int64))
        hist = Hist.from_range(*hr, np.rint(counts).astype(np.int64))
        alpha = float(pack.get(fig, pack.slot_of(spec.name, "alpha"))[0]) if pack.has(spec.name, "alpha") else 0.25
        curve = spec.call.curve if spec.call is not None else None
        with np.errstate(all="ignore"):
            deriv = curve(pre_hist.centres, alpha) if curve is not None else None
        mean = s1 / h_n if h_n else math.nan
        var = s2 / h_n - mean * mean if h_n else math.nan
        out: dict[str, Any] = dict(
            hist=hist, pre_hist=pre_hist, deriv=deriv, saturation=sat / numel if numel else math.nan,
            mean=mean, std=math.sqrt(max(var, 0.0)) if var == var else math.nan,
        )  # fmt: skip
        if info.can_die and len(alive) == spec.units:
            out["dead"] = self._dead(spec, alive == 0, n)
        return out, (z_bad + h_bad) > 0

    def _dead(self, spec: _Spec, dead_now: np.ndarray, n: int) -> DeadUnits:
        """Dead: f'(z) = 0 for every example of each of the last ``dead_window`` measured batches (of those taken
        so far, at the start), on every rank; since: the step that run of measurements began."""
        if spec.dead_run is None or spec.dead_first is None or len(spec.dead_run) != len(dead_now):
            spec.dead_run = np.zeros(len(dead_now), np.int64)
            spec.dead_first = np.full(len(dead_now), -1, np.int64)
            spec.measured = 0
        spec.measured += 1
        spec.dead_run = np.where(dead_now, spec.dead_run + 1, 0)
        spec.dead_first = np.where(dead_now, np.where(spec.dead_first < 0, n, spec.dead_first), -1)
        need = min(self.dead_window, spec.measured)
        since = np.where(spec.dead_run >= need, spec.dead_first, -1)
        return DeadUnits.from_dense(since)

    def _check_divergence(
        self,
        n: int,
        entries: list[Entry],
        first_bad: tuple[int, str] | None,
        grad_bad: int | None,
        loss: float,
        loss_bad: int,
    ) -> None:
        if self._diverged is not None:
            return
        where = first_bad
        if where is None and grad_bad is not None:
            where = (grad_bad, "gradients")
        loss_went = loss_bad > 0 or (loss == loss and not math.isfinite(loss))
        if where is None and not loss_went:
            return
        step = loss_bad if loss_bad > 0 else n
        if where is None:
            msg = f"diverged at step {step:,}: the loss went non-finite"
            self._diverged = Divergence(step, None, "loss", msg)
        else:
            i, what = where
            shown = entries[i].name
            msg = f"diverged at step {step:,}: {shown}'s {what} went NaN/Inf"
            self._diverged = Divergence(step, i + 1, what, msg, shown)
        self._event("diverged", msg + " - lower the learning rate", step)
        self._pending.append(("diverged", msg + " (recorded; training goes on)"))

    # ---- closing ------------------------------------------------------------------------------------------------
    def close(self, timeout: float = 5.0) -> None:
        """Remove every hook and finish the recording (its end marker), waiting at most ``timeout`` seconds for
        the writer (a reader that blocks the file is left behind, and said so). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._end_forward()
        for h in self._handles:
            with contextlib.suppress(Exception):
                h.remove()
        self._handles = []
        self._data = None
        if self._writer is not None and not self._writer.close(timeout):
            self._say("close", f"{self._writer.path}: the writer did not finish in time (a blocked reader?)")
        self._flush_messages()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the snapshots taken so far are in the recording (``gradtui watch`` sees them); False if the
        writer is still behind after ``timeout`` seconds. Training never needs this: the writer keeps up alone."""
        return self._writer.flush(timeout) if self._writer is not None else True

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def latest(self) -> Snapshot | None:
        """The newest snapshot taken (on every rank: the combined figures)."""
        return self.snapshots[-1] if self.snapshots else None


def _number(x: Any) -> Any:
    """A figure given to probe.step: a one-element tensor is kept on its device (read at the written step),
    anything else must be a number."""
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise ValueError(f"a tensor of {x.numel()} elements is not one figure")
        return x.detach().reshape(())
    return float(x)


def _sym(m: float) -> tuple[float, float]:
    """The engine's symmetric range from m = max |v| (the same values as M.sym_range, on the host)."""
    return (-round_out(m), round_out(m)) if m > 0 else (-1.0, 1.0)


def _out_range(info: ActivationInfo, a: float) -> tuple[float, float]:
    """The engine's output range from M.range_of (as M.out_range, on the host)."""
    if info.bounds is not None:
        return info.bounds
    if info.nonneg:
        return (0.0, round_out(a) if a > 0 else 1.0)
    return _sym(a)


class _Pack:
    """Device tensors gathered into one float64 vector per kind -- ``rep`` (the same on every rank: gradients of
    replicated weights), ``max`` and ``sum`` (combined over the ranks when a process ``group`` is given) -- and
    read back to the host at once."""

    KINDS = ("rep", "max", "sum")

    def __init__(self, group: Any = None) -> None:
        self.group = group
        self.parts: dict[str, list[Tensor]] = {k: [] for k in self.KINDS}
        self.sizes: dict[str, int] = {k: 0 for k in self.KINDS}
        self.slots: list[tuple[str, int, int]] = []
        self.named: dict[tuple[str, str], int] = {}
        self._reduced: Tensor | None = None
        self._offsets: dict[str, int] = {}

    def add(self, kind: str, t: Tensor) -> int:
        if self._reduced is not None and kind == "max":
            raise RuntimeError("the MAX figures were already combined")
        t = t.reshape(-1).to(F64)
        self.parts[kind].append(t)
        self.slots.append((kind, self.sizes[kind], t.numel()))
        self.sizes[kind] += t.numel()
        return len(self.slots) - 1

    def slot(self, name: str, what: str, slot: int) -> None:
        self.named[(name, what)] = slot

    def has(self, name: str, what: str) -> bool:
        return (name, what) in self.named

    def slot_of(self, name: str, what: str) -> int:
        return self.named[(name, what)]

    def reduce_max(self) -> None:
        """Combine the MAX figures over the ranks (a no-op alone)."""
        if self.group is not None and self.parts["max"] and self._reduced is None:
            t = torch.cat(self.parts["max"])
            dist.all_reduce(t, op=dist.ReduceOp.MAX, group=_group(self.group))
            self.parts["max"] = [t]
            self._reduced = t

    def reduced(self, slot: int) -> Tensor:
        assert self._reduced is not None
        _, off, size = self.slots[slot]
        return self._reduced[off : off + size]

    def read(self) -> np.ndarray:
        """Combine the SUM figures over the ranks, and read everything back: the one device-to-host read."""
        self.reduce_max()
        if self.group is not None and self.parts["sum"]:
            t = torch.cat(self.parts["sum"])
            dist.all_reduce(t, op=dist.ReduceOp.SUM, group=_group(self.group))
            self.parts["sum"] = [t]
        pieces, pos = [], 0
        for k in self.KINDS:
            self._offsets[k] = pos
            if self.parts[k]:
                t = torch.cat(self.parts[k]) if len(self.parts[k]) > 1 else self.parts[k][0]
                pieces.append(t if t.device.type == "cpu" else t.to("cpu"))
                pos += t.numel()
        if not pieces:
            return np.zeros(0)
        return torch.cat(pieces).numpy().copy()

    def get(self, fig: np.ndarray, slot: int) -> np.ndarray:
        kind, off, size = self.slots[slot]
        base = self._offsets[kind] + off
        return fig[base : base + size]


_WORLD = object()  # the default process group (``dist`` takes None for it; a Pack without a group is alone)


def _group(g: Any) -> Any:
    return None if g is _WORLD else g


def _same_everywhere(signature: int, group: Any, dev: torch.device) -> bool:
    sig = torch.full((2,), signature, dtype=torch.int64, device=dev)
    sig[1:].neg_()  # (signature, -signature), filled in on the device
    dist.all_reduce(sig, op=dist.ReduceOp.MAX, group=group)
    high, low = sig.tolist()
    return bool(high == -low)


def probe(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | Iterable[torch.optim.Optimizer] | None = None,
    *,
    every: int = 50,
    out: str | os.PathLike[str] | IO[str] | None = None,
    run: str = "",
    dead_window: int = 4,
    update_ratio: bool = True,
    keep: int = 1000,
    process_group: Any = None,
    summary: str | None = None,
) -> Probe:
    """Attach gradtui's measurements to a PyTorch training run::

        with gradtui.probe(model, optimizer, every=50, out="runs/exp1.jsonl") as probe:
            for x, y in loader:
                loss = loss_fn(model(x), y); optimizer.zero_grad(); loss.backward(); optimizer.step()
                probe.step(loss=loss)

    ``every``: measure and write the first step and every ``every``-th (between them the probe costs nothing
    measurable and never synchronises with the device). ``out``: the recording (``gradtui watch FILE`` shows it
    while it grows; under torch.distributed rank 0 writes it), a path or an open text stream (flushed, never
    closed); None keeps the snapshots in ``probe.snapshots`` only. ``optimizer``: one or several; their step
    pre-hook reads the gradients (after AMP unscaling and clipping). ``dead_window``: a unit is dead when f'(z) = 0
    for every example of that many measured batches in a row. ``update_ratio``: copy the weights on measured steps
    for ||dW|| / ||W|| (turn off to save the memory). ``summary``: the run in words for the status line (default:
    the model's class, its parameter count, the optimizer and its lr).
    """
    return Probe(
        model, optimizer, every=every, out=out, run=run, dead_window=dead_window, update_ratio=update_ratio,
        keep=keep, process_group=process_group, summary=summary,
    )  # fmt: skip
