"""The RecurrentTrainer: a vanilla RNN, an LSTM or a GRU (``Config.model``) trained by BPTT on a sequence task
(``Config.task``, ``Config.seq_len``), with the same interface as the MLP's ``Trainer`` (``step``, ``snapshot``,
``apply``, ``run``; the bookkeeping is ``BaseTrainer``'s).

A snapshot of a recurrent run has ``axis="time"`` and one entry per time step, ``t=1`` .. ``t=T``
(design.md section 2, "Recurrent measurements"):

- from the measured training step (its mini-batch, before the update): ``signal_norm`` = ||dL/dh_t|| / sqrt(N), the
  gradient reaching step t; ``cell_norm`` = ||c_t|| / sqrt(N) (LSTM); the through-time ratio (step 1 / step T) as
  ``vanishing_ratio``; and per parameter array (``Snapshot.params``) ||dL/dp|| and the update ratio -- the weights
  are shared by every step, so ``grad_norm`` and ``update_ratio`` of a time step are NaN;
- from an eval forward over the probe set (``probe_size`` fixed sequences of the task): per step the mean, std and
  saturation of h_t; the histograms of h_t and of its pre-activation at up to ``HIST_STEPS`` evenly spaced steps
  (the first and the last among them; None at the others); the dead units of a ReLU-family cell, per step; and per
  gate (``Snapshot.gates``) its mean, the shares saturated shut (< 0.05) and open (> 0.95), its histogram, and its
  mean and its shut and open shares at each step (the shares in thousandths, ``stats.share_levels``);
- from a forward over the test set (as many fixed sequences, another stream): the test loss and accuracy.

What "pre-activation" and "saturated" mean per cell (the entry's ``act`` is the function that makes h_t):

    rnn    h_t = f(a_t):            pre-activation a_t;  saturated where |f'(a_t)| < 5 % of max |f'| (as the MLP)
    lstm   h_t = o_t tanh(c_t):     pre-activation c_t;  saturated where tanh'(c_t) < 0.05 (the cell in tanh's tails)
    gru    h_t = (1 - z) n + z h:   no single pre-activation (None); saturated where the candidate's tanh' < 0.05

Dead (ReLU, ReLU6, hard-swish cells): at step t, the units whose f'(a_t) is exactly 0 for every probe sequence,
each with the training step at which it was first seen dead at t.

Measured at the snapshot rate only (the Pacer decides); training steps in between measure nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .activations import derivative_curve, make_activation
from .network import norm64, rng_for
from .optim import make_optimiser
from .recurrent import LSTMCell, RecurrentNet, RNNCell, step_and_measure
from .stats import (
    ActivationInfo,
    DeadUnits,
    Divergence,
    Entry,
    GateStats,
    Hist,
    ParamFigures,
    Snapshot,
    histogram,
    share_levels,
    share_of,
)
from .tasks import Task, make_task
from .trainer import BaseTrainer

__all__ = ["GATE_NAMES", "HIST_STEPS", "RecurrentTrainer", "hist_steps"]

HIST_STEPS = 32  # time steps whose histograms a snapshot carries, at most
GATE_BINS = 20  # a gate's histogram (of the HIST_STEPS steps): bins of 0.05 ([-1, 1]: 0.1), the saturated at the ends
SATURATED = 0.05  # |f'| below 5 % of its max
STREAM_CHECK = 6  # network.py has 1..4, tasks.py 5 (the test set)
# the cell's gate letters -> the names the snapshot gives them
GATE_NAMES = {
    ("lstm", "i"): "input", ("lstm", "f"): "forget", ("lstm", "o"): "output", ("lstm", "g"): "candidate",
    ("gru", "r"): "reset", ("gru", "z"): "update", ("gru", "n"): "candidate",
}  # fmt: skip


def hist_steps(T: int, k: int = HIST_STEPS) -> np.ndarray:
    """0-based indices of the (at most ``k``) steps whose histograms are kept: evenly spaced, first and last in."""
    return np.unique(np.round(np.linspace(0, T - 1, min(T, k))).astype(np.int64))


@dataclass(frozen=True, eq=False)
class SequenceStepFigures:
    """The gradient figures of the training step that ended at ``step`` (before its update)."""

    step: int
    signal: np.ndarray  # (T,) ||dL/dh_t|| / sqrt(N)
    ratio: float  # signal[0] / signal[T-1]
    cell_norm: np.ndarray | None  # (T,) ||c_t|| / sqrt(N), LSTM
    params: tuple[ParamFigures, ...]
    output_grad_norm: float


@dataclass(frozen=True, eq=False)
class SequenceProbeFigures:
    """The probe set's figures, per time step (index 0 = step 1)."""

    step: int
    mean: np.ndarray  # (T,)
    std: np.ndarray
    saturation: np.ndarray
    hist: tuple[Hist | None, ...]
    pre_hist: tuple[Hist | None, ...]
    deriv: tuple[np.ndarray | None, ...]
    dead: tuple[DeadUnits | None, ...] | None  # None: the cell's units cannot die
    gates: tuple[GateStats, ...]
    accuracy: float | None


class RecurrentTrainer(BaseTrainer):
    """Trains ``config.model`` ("rnn", "lstm", "gru") of hidden size ``config.width`` on ``config.task``."""

    MODELS = frozenset({"rnn", "lstm", "gru"})
    net: RecurrentNet

    # ---- building ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        c = self.config
        self.task: Task = make_task(c.task, c.seq_len)
        task = self.task
        self.net = self.make_net()
        self.opt = make_optimiser(c.optimizer, self.net.params(), c.lr, c.weight_decay, c.clip, c.momentum)
        self._batches: Iterator[tuple[np.ndarray, ...]] = task.batches(c.batch_size, c.seed, c.dtype)
        self._pending: tuple[np.ndarray, np.ndarray] | None = None  # a batch drawn ahead (peeked), not yet trained
        self.x_probe, self.y_probe = task.probe_set(c.probe_size, c.seed, c.dtype)
        self.x_test, self.y_test = task.test_set(c.probe_size, c.seed, c.dtype)
        self.baseline_loss = float(task.baseline)
        cell = self.net.cell
        self.act = cell.act if isinstance(cell, RNNCell) else make_activation("tanh", 1, self.net.dtype)
        self.act_info = ActivationInfo.of(self.act)
        self.dead_since = np.full((c.seq_len, c.width), -1, dtype=np.int64)
        self._start_network()
        self._measured: SequenceStepFigures | None = None
        self._probe: SequenceProbeFigures | None = None
        self._test: tuple[int, float, float | None] | None = None
        self._last_batch: tuple[np.ndarray, np.ndarray] | None = None

    def make_net(self, *, learn_init_state: bool = False) -> RecurrentNet:
        """A network of this trainer's config, with the same initial weights as its own (the same seed);
        ``learn_init_state``: h0 (and the LSTM's c0) are parameters too (``gradtui check`` checks their gradient)."""
        c, task = self.config, self.task
        return RecurrentNet(
            c.model, task.input_dim, c.width, task.output_dim, activation=c.activation, readout=task.readout,
            loss=task.loss, init=c.init, recurrent_init=c.recurrent_init, forget_bias=c.forget_bias,
            learn_init_state=learn_init_state, dtype=c.dtype, seed=c.seed,
        )  # fmt: skip

    # ---- training ------------------------------------------------------------------------------------------------
    def _peek_batch(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pending is None:
            x, y = next(self._batches)
            self._pending = (x, y)
        return self._pending

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        batch = self._peek_batch()
        self._pending = None
        return batch

    def step(self, measure: bool = False) -> bool:
        """Train on one mini-batch. Returns False (and does nothing) once the run has diverged."""
        if self.diverged is not None:
            return False
        net = self.net
        xb, yb = self._next_batch()
        self._last_batch = (xb, yb)
        net.cell.exact_figures = measure  # a measured step's dL/dh_t are figures: see Cell.exact_figures
        with np.errstate(all="ignore"):  # a diverging network is reported in words, not as warnings
            loss = net.loss_and_grads(xb, yb)
            if not math.isfinite(loss):
                self._diverge(xb, "loss")
                return False
            if not measure:
                self.opt.step()
                self._stepped(loss)
                return True
            t0 = time.perf_counter()
            figures = net.measure_gradient()
            params = step_and_measure(net, self.opt)  # the optimiser step, with its norms and update ratios
            self._stepped(loss)
            self._measured = self._step_figures(figures, params)
            self.measure_seconds = time.perf_counter() - t0  # (with the optimiser step: it is a small part)
            if not all(math.isfinite(p.grad_norm) for p in params):
                self.step_count -= 1  # the step whose gradients went non-finite is the diverging one
                self._diverge(xb, "gradients")
                self.step_count += 1
                return False
            if not all(np.isfinite(p).all() for _, p, _ in net.params()):
                self.step_count -= 1
                self._diverge(xb, "weights")
                self.step_count += 1
                return False
        return True

    def _step_figures(self, figures: tuple[np.ndarray, float, np.ndarray | None], params: tuple) -> SequenceStepFigures:
        signal, ratio, cell_norm = figures
        made = tuple(ParamFigures(p.name, p.grad_norm, p.update_ratio) for p in params)
        out = next((p.grad_norm for p in made if p.name == "out.W"), math.nan)
        return SequenceStepFigures(self.step_count, signal, ratio, cell_norm, made, out)

    def _diverge(self, xb: np.ndarray, what: str) -> None:
        step = self.step_count + 1
        t, where, name = self._first_non_finite(xb)
        if t is not None:
            msg = f"diverged at step {step}: the state of time step {t} went NaN/Inf"
        elif name is not None:
            msg = f"diverged at step {step}: {name}'s {where} went NaN/Inf"
        else:
            msg = f"diverged at step {step}: the {what} went non-finite"
        self.diverged = Divergence(step, t, where if (t is not None or name is not None) else what, msg,
                                   f"t={t}" if t is not None else name)  # fmt: skip
        self._event("diverged", msg + " - clip the gradient norm or lower the learning rate", step=step)

    def _first_non_finite(self, xb: np.ndarray) -> tuple[int | None, str, str | None]:
        """(the first time step whose state is not finite, or None; what; the parameter, when it is one)."""
        net = self.net
        for name, (_, p, _) in zip(net.param_names(), net.params()):
            if not np.isfinite(p).all():
                return None, "weights", name
        with np.errstate(all="ignore"):
            net.forward(xb, train=True)
            bad = ~np.isfinite(net.cell.states()).all(axis=(1, 2))
        if bad.any():
            return int(np.argmax(bad)) + 1, "activations", None
        for name, (_, _, g) in zip(net.param_names(), net.params()):
            if not np.isfinite(g).all():
                return None, "gradients", name
        return None, "loss", None

    # ---- measuring -----------------------------------------------------------------------------------------------
    def _measure_dry(self) -> None:
        """The gradient figures without an update (at step 0, or when the last step was not measured)."""
        net = self.net
        xb, yb = self._last_batch if self._last_batch is not None else self._peek_batch()
        net.cell.exact_figures = True
        with np.errstate(all="ignore"):
            net.loss_and_grads(xb, yb)
            signal, ratio, cell_norm = net.measure_gradient()
        params = tuple(ParamFigures(n, norm64(g)) for n, (_, _, g) in zip(net.param_names(), net.params()))
        out = next((p.grad_norm for p in params if p.name == "out.W"), math.nan)
        self._measured = SequenceStepFigures(self.step_count, signal, ratio, cell_norm, params, out)

    def _loss_and_accuracy(self, logits: np.ndarray, y: np.ndarray) -> tuple[float, float | None]:
        """The task's mean loss and accuracy of the logits of a forward (batch first) against ``y``."""
        loss = self.net.loss
        flat = logits.reshape(-1, logits.shape[-1])
        if loss.classification:
            target = np.asarray(y).reshape(-1)
            value = loss.forward(flat, target)
            return value, float(np.mean(loss.predict(flat) == target))
        return loss.forward(flat, np.asarray(y, dtype=flat.dtype).reshape(flat.shape)), None

    def _measure_probe(self) -> SequenceProbeFigures:
        """An eval forward over the probe set, and the per-step figures read off the cell's buffers."""
        net, cell, c = self.net, self.net.cell, self.config
        bins = c.hist_bins
        with np.errstate(all="ignore"):
            logits = net.forward(self.x_probe, train=False)
            _, accuracy = self._loss_and_accuracy(logits, self.y_probe)
            T, N, H = cell.steps, cell.batch, cell.hidden
            hs = cell.states()  # (T, H, N)
            mean = hs.mean(axis=(1, 2), dtype=np.float64)
            std = hs.std(axis=(1, 2), dtype=np.float64)
            buf = cell.buf
            pre: np.ndarray | None
            saturation: np.ndarray
            dead: tuple[DeadUnits | None, ...] | None = None
            if isinstance(cell, RNNCell):
                pre, d = buf["G"], buf["D"]  # a_t and f'(a_t)
                flat = np.abs(d.reshape(T, -1))
                saturation = np.asarray(np.mean(flat < SATURATED * self.act.max_deriv, axis=1, dtype=np.float64))
                if self.act.can_die:
                    mask = ~np.any(d != 0, axis=2)  # (T, H): f' = 0 on every probe sequence
                    since = self.dead_since
                    since[mask & (since < 0)] = self.step_count
                    since[~mask] = -1
                    dead = tuple(DeadUnits.from_dense(since[t]) for t in range(T))
            elif isinstance(cell, LSTMCell):
                pre = buf["C"][1:]  # c_t, the argument of the tanh in h_t = o_t tanh(c_t)
                tc = buf["TC"].reshape(T, -1)
                saturation = np.asarray(np.mean(np.abs(tc) > math.sqrt(1 - SATURATED), axis=1, dtype=np.float64))
            else:  # GRU: the candidate n_t
                pre = None
                n = cell.buf["G"].reshape(T, -1, H, N)[:, 2].reshape(T, -1)
                saturation = np.asarray(np.mean(np.abs(n) > math.sqrt(1 - SATURATED), axis=1, dtype=np.float64))
            hist: list[Hist | None] = [None] * T
            pre_hist: list[Hist | None] = [None] * T
            deriv: list[np.ndarray | None] = [None] * T
            kept = hist_steps(T)
            h = hs[kept].reshape(len(kept), -1)
            for t, hh in zip(kept, _row_histograms(h, bins, *_output_ranges(self.act_info, h))):
                hist[t] = hh
            if pre is not None:
                z = pre[kept].reshape(len(kept), -1)
                made = _row_histograms(z, bins, *_symmetric_ranges(z))
                curves = derivative_curve(self.act.name, np.concatenate([ph.centres for ph in made]))
                for j, (t, ph) in enumerate(zip(kept, made)):
                    pre_hist[t] = ph
                    deriv[t] = curves[j * bins : (j + 1) * bins]
            gates = []
            for letter, values, (lo, hi) in cell.gate_values():
                steps = values.mean(axis=(1, 2), dtype=np.float64)
                inner = (hi - lo) * SATURATED
                per_step = values[0].size  # H N entries at each step
                lows = np.count_nonzero(values < lo + inner, axis=(1, 2))  # (T,) shut entries at each step
                highs = np.count_nonzero(values > hi - inner, axis=(1, 2))
                low = lows.sum() / values.size
                high = highs.sum() / values.size
                edges, counts = histogram(values[kept], GATE_BINS, lo, hi)  # of the kept steps: the shape, cheaply
                gates.append(GateStats(GATE_NAMES[(cell.kind, letter)], float(steps.mean()), float(low), float(high),
                                       Hist(edges, counts), steps, share_of(share_levels(lows / per_step)),
                                       share_of(share_levels(highs / per_step))))  # fmt: skip
        return SequenceProbeFigures(self.step_count, mean, std, saturation, tuple(hist), tuple(pre_hist),
                                    tuple(deriv), dead, tuple(gates), accuracy)  # fmt: skip

    def _measure_test(self) -> tuple[int, float, float | None]:
        with np.errstate(all="ignore"):
            logits = self.net.forward(self.x_test, train=False)
            loss, accuracy = self._loss_and_accuracy(logits, self.y_test)
        return self.step_count, loss, accuracy

    def snapshot(
        self,
        *,
        probe: bool = True,
        boundary: bool = False,
        paused: bool = False,
        steps_per_sec: float = math.nan,
        speed_cap: float | None = None,
    ) -> Snapshot:
        """Measure now and return an immutable Snapshot (axis "time", entries t=1 .. t=T). ``probe=False`` carries
        the last probe and test figures, as the MLP's Trainer does; ``boundary`` is accepted for the interface's
        sake (a sequence model has no input plane)."""
        if self.diverged is None and (self._measured is None or self._measured.step != self.step_count):
            self._measure_dry()
        if probe or self._probe is None:
            self._probe = self._measure_probe()
        if probe or self._test is None:
            self._test = self._measure_test()
        m, pr, te = self._measured, self._probe, self._test
        nan = math.nan
        kind, H, T = self.config.model, self.config.width, self.config.seq_len
        entries = []
        for i in range(T):
            entries.append(
                Entry(
                    name=f"t={i + 1}",
                    kind=kind,
                    units=H,
                    index=i + 1,
                    signal_norm=float(m.signal[i]) if m else nan,
                    act=self.act_info,
                    hist=pr.hist[i],
                    pre_hist=pr.pre_hist[i],
                    deriv=pr.deriv[i],
                    dead=pr.dead[i] if pr.dead is not None else None,
                    saturation=float(pr.saturation[i]),
                    mean=float(pr.mean[i]),
                    std=float(pr.std[i]),
                    cell_norm=float(m.cell_norm[i]) if m is not None and m.cell_norm is not None else nan,
                )
            )
        loss = self._mean_loss(te[1])
        self.snapshot_seq += 1
        return Snapshot(
            step=self.step_count,
            run_step=self.run_step,
            loss=loss,
            accuracy=pr.accuracy,
            test_loss=te[1],
            test_accuracy=te[2],
            config=self.config,
            entries=tuple(entries),
            seq=self.snapshot_seq,
            run=self.run_name,
            source="engine",
            axis="time",
            meta=self.meta(),
            events=tuple(self.events),
            vanishing_ratio=m.ratio if m else nan,
            diverged=self.diverged,
            paused=paused,
            steps_per_sec=steps_per_sec,
            speed_cap=speed_cap,
            output_grad_norm=m.output_grad_norm if m else nan,
            grad_step=m.step if m else self.step_count,
            probe_step=pr.step,
            test_step=te[0],
            baseline_loss=self.baseline_loss,
            gates=pr.gates,
            params=m.params if m else (),
        )

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` sequences of the task, from their own stream of the seed (not the training batches): for
        ``gradtui check``."""
        return self.task.sample(n, rng_for(self.config.seed, STREAM_CHECK), self.config.dtype)


# ---- the histograms of many steps at once ---------------------------------------------------------------------------
def _finite_minmax(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of v (k, M): the min and max of the finite entries (0, 0 for a row without any)."""
    lo, hi = v.min(axis=1).astype(np.float64), v.max(axis=1).astype(np.float64)
    bad = ~(np.isfinite(lo) & np.isfinite(hi))
    for i in np.flatnonzero(bad):
        row = v[i][np.isfinite(v[i])]
        lo[i], hi[i] = (float(row.min()), float(row.max())) if row.size else (0.0, 0.0)
    return lo, hi


def _symmetric_ranges(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """stats.symmetric_range of every row."""
    lo, hi = _finite_minmax(v)
    m = np.maximum(np.abs(lo), np.abs(hi))
    m = np.where(m > 0, m, 1.0)
    return -m, m


def _output_ranges(info: ActivationInfo, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """stats.output_range of every row: the activation's bounds, [0, max] if never negative, else symmetric."""
    k = v.shape[0]
    if info.bounds is not None:
        return np.full(k, float(info.bounds[0])), np.full(k, float(info.bounds[1]))
    if info.nonneg:
        _, hi = _finite_minmax(v)
        return np.zeros(k), np.where(hi > 0, hi, 1.0)
    return _symmetric_ranges(v)


def _row_histograms(v: np.ndarray, bins: int, lo: np.ndarray, hi: np.ndarray) -> list[Hist]:
    """stats.histogram of every row of v (k, M) over its own [lo_i, hi_i], in one pass over v."""
    k = v.shape[0]
    if not np.isfinite(v).all():  # a diverging run: row by row, leaving out the non-finite values
        return [Hist(*histogram(v[i], bins, float(lo[i]), float(hi[i]))) for i in range(k)]
    dt = v.dtype if v.dtype != np.float32 or float(np.max(hi - lo)) <= 1e30 else np.dtype(np.float64)
    scale = (bins / (hi - lo)).astype(dt)  # in the values' own dtype, as stats.histogram computes it
    idx = ((v.astype(dt, copy=False) - lo.astype(dt)[:, None]) * scale[:, None]).astype(np.intp)
    np.clip(idx, 0, bins - 1, out=idx)
    idx += (np.arange(k) * bins)[:, None]
    counts = np.bincount(idx.ravel(), minlength=k * bins).reshape(k, bins).astype(np.int64)
    return [Hist(np.linspace(lo[i], hi[i], bins + 1), counts[i]) for i in range(k)]
