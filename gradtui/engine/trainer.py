"""The trainers: the only engine objects the outside talks to.

``step()`` trains one mini-batch; ``step(measure=True)`` also records what the next ``snapshot()`` reports about that
step (gradient norms before the update, update ratios after it); ``snapshot()`` measures the probe and test sets and
returns an immutable Snapshot; ``apply(change)`` changes the run between steps (design.md section 3).

``BaseTrainer`` holds what every trainer shares -- the run's timeline (steps, events), ``apply``, ``run``, the loss
bookkeeping between snapshots, divergence -- and ``Trainer`` (here) and ``RecurrentTrainer``
(``recurrent_trainer.py``) the model's own parts: building, a step, the measurements. ``make_trainer(config)`` picks
the class from ``config.model``, and ``apply_change(trainer, change)`` applies a change that may cross between them
(the MLP and a recurrent cell), returning the trainer to use from then on: the dashboard's trainer loop and the
headless commands change their runs through it alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .config import LIVE_FIELDS, REBUILD_FIELDS, Config, ConfigError, changed, switch_model
from .data import Dataset, make_dataset
from .measure import ProbeFigures, StepFigures, TestFigures, grad_norms, measure_probe
from .network import STREAM_BATCHES, STREAM_PROBE, Network, norm64, rng_for
from .optim import Optimiser, make_optimiser
from .spelling import setting
from .stats import (
    ActivationInfo,
    Boundary,
    DeadUnits,
    Divergence,
    Entry,
    Event,
    RunMeta,
    Snapshot,
    confidence_levels,
    confidence_of,
)

__all__ = ["BaseTrainer", "Change", "Trainer", "apply_change", "make_trainer", "same_boundary", "trainer_class"]

MAX_EVENTS = 500
BOUNDARY_GRID = (96, 48)  # (columns, rows) of the decision-boundary grid, at most
BOUNDARY_WORK = 500_000_000  # grid points x parameters above which the grid shrinks (about 1 GFLOP)


@dataclass(frozen=True)
class Change:
    """One change to a run: ``Change("activation", "relu")``, ``Change("lr", 0.3)``, ``Change("reset")``."""

    field: str
    value: Any = None

    def describe(self, old: Any = None) -> str:
        if self.field == "reset":
            return "reset"
        if isinstance(self.value, bool):
            return f"{self.field} {'on' if self.value else 'off'}"
        fmt = setting if isinstance(self.value, float) else str
        return f"{self.field} {fmt(old)} -> {fmt(self.value)}" if old is not None else f"{self.field} = {self.value}"


class BaseTrainer:
    """What every trainer shares: the run's timeline (``step_count`` does not restart on a rebuild; ``run_step``
    does), its events, ``apply``, ``run``, the mean loss between snapshots and the divergence it stops at.

    Subclasses set ``MODELS`` (the ``Config.model`` values they train) and implement ``_build`` (from
    ``self.config``: ``self.net``, ``self.opt``; then ``_start_network``), ``step`` and ``snapshot``.
    ``after``: continue another trainer's timeline (its steps, events and snapshot numbers) instead of starting one
    (``apply_change``, when a change crosses from the MLP to a recurrent cell or back).
    """

    MODELS: ClassVar[frozenset[str]] = frozenset()
    net: Any
    opt: Optimiser

    def __init__(self, config: Config | None = None, *, run: str = "", after: BaseTrainer | None = None) -> None:
        self.config = config if config is not None else Config()
        if self.config.model not in self.MODELS:
            raise ConfigError(
                f"{type(self).__name__} trains {' or '.join(sorted(self.MODELS))} models, not {self.config.model}: "
                "use gradtui.engine.make_trainer(config)"
            )
        self.run_name = run  # "" for a single run, "A".."D" for twins
        self.snapshot_seq = 0  # Snapshot.seq of the last snapshot taken
        self.step_count = 0
        self.measure_seconds = 0.0  # what measuring added to the last measured step (for the Pacer's budget)
        self.events: list[Event] = []
        self._seq = 0
        if after is not None:
            self.run_name = run or after.run_name
            self.snapshot_seq, self.step_count = after.snapshot_seq, after.step_count
            self.events, self._seq = list(after.events), after._seq
        self._build()
        if after is None:
            self._event("start", f"start: {self.config.summary()}")

    # ---- the model's own parts -----------------------------------------------------------------------------------
    def _build(self) -> None:
        raise NotImplementedError

    def step(self, measure: bool = False) -> bool:
        raise NotImplementedError

    def snapshot(
        self,
        *,
        probe: bool = True,
        boundary: bool = False,
        paused: bool = False,
        steps_per_sec: float = math.nan,
        speed_cap: float | None = None,
    ) -> Snapshot:
        raise NotImplementedError

    # ---- the timeline --------------------------------------------------------------------------------------------
    def _start_network(self) -> None:
        """After a (re)build: a new network's figures start afresh (the timeline goes on)."""
        self.run_step = 0
        self.diverged: Divergence | None = None
        self._loss_sum = 0.0
        self._loss_n = 0
        self._last_loss = math.nan

    def _event(self, kind: str, text: str, step: int | None = None) -> Event:
        self._seq += 1
        ev = Event(self._seq, self.step_count if step is None else step, kind, text)
        self.events.append(ev)
        if len(self.events) > MAX_EVENTS:
            del self.events[: len(self.events) - MAX_EVENTS]
        return ev

    def _stepped(self, loss: float) -> None:
        """One step taken, with its mini-batch loss."""
        self.step_count += 1
        self.run_step += 1
        self._loss_sum += loss
        self._loss_n += 1
        self._last_loss = loss

    def _mean_loss(self, at_start: float) -> float:
        """The mean mini-batch loss since the last snapshot (before any step: ``at_start``, the test loss at
        initialisation); starts the next mean."""
        before = self._last_loss if self.run_step else at_start
        loss = self._loss_sum / self._loss_n if self._loss_n else before
        self._loss_sum, self._loss_n = 0.0, 0
        return loss

    def run(self, steps: int, every: int = 0) -> Iterator[Snapshot]:
        """Train ``steps`` steps; every ``every`` steps (and after the last) yield a snapshot, with the steps per
        second since the previous one. Stops (after a last snapshot) on divergence."""
        t0, s0 = time.perf_counter(), self.step_count
        for i in range(1, steps + 1):
            due = every > 0 and (i % every == 0 or i == steps)
            ok = self.step(measure=due)
            if due or not ok:
                now = time.perf_counter()
                sps = (self.step_count - s0) / (now - t0) if now > t0 else math.nan
                t0, s0 = now, self.step_count
                yield self.snapshot(boundary=True, steps_per_sec=sps)
            if not ok:
                return

    # ---- changes -------------------------------------------------------------------------------------------------
    def apply(self, change: Change) -> Event:
        """Apply ``change`` between steps. Raises ConfigError (one line, for the user) if the value is not legal,
        if the field does not apply to this model, or if the change needs another class of trainer (a recurrent
        cell for an MLP: ``apply_change`` makes the new trainer)."""
        old_config = self.config
        if change.field == "reset":
            self._build()
            return self._event("reset", "reset: rebuilt from the seed")
        if change.field not in REBUILD_FIELDS | LIVE_FIELDS:
            raise ConfigError(f"{change.field!r} cannot be changed")
        why = old_config.why_not(change.field)
        if why:
            raise ConfigError(why)
        new = changed(old_config, change.field, change.value)
        if new.model not in self.MODELS:
            raise ConfigError(
                f"a {type(self).__name__} cannot train a {new.model} model: use gradtui.engine.apply_change"
            )
        old = getattr(old_config, change.field)
        self.config = new
        text = change.describe(old)
        if change.field in REBUILD_FIELDS or self.diverged is not None:
            self._build()
            return self._event("change", text + " (rebuilt)")
        if change.field == "optimizer":
            self.opt = make_optimiser(
                new.optimizer, self.net.params(), new.lr, new.weight_decay, new.clip, new.momentum
            )
        else:
            self.opt.lr, self.opt.weight_decay, self.opt.clip = new.lr, new.weight_decay, new.clip
            self.opt.momentum = new.momentum
        return self._event("change", text)

    def meta(self) -> RunMeta:
        c = self.config
        return RunMeta(model=c.model, summary=c.summary(), optimizer=c.optimizer, lr=c.lr)

    # ---- the decision boundary (models with a 1-D or 2-D input) --------------------------------------------------
    @property
    def boundary(self) -> Boundary | None:
        return None

    @property
    def has_boundary(self) -> bool:
        """Can the model's prediction be drawn over its input (2-D data: a plane; 1-D: a curve)?"""
        return False

    def refresh_boundary(self) -> None:
        """Recompute the decision boundary, where the model has one."""


def trainer_class(config: Config) -> type[BaseTrainer]:
    """``Trainer`` for the MLP, ``RecurrentTrainer`` for a recurrent cell."""
    if config.recurrent:
        from .recurrent_trainer import RecurrentTrainer

        return RecurrentTrainer
    return Trainer


def same_boundary(a: Boundary | None, b: Boundary | None) -> bool:
    """Do ``a`` and ``b`` draw and record the same: extent, classes, confidence (already in the recorded levels:
    ``confidence_of``), curve and training points, exactly (NaN equal to NaN)?"""
    if a is None or b is None:
        return False
    if a is b:
        return True

    def equal(x: np.ndarray | None, y: np.ndarray | None) -> bool:
        if x is None or y is None:
            return x is y
        x, y = np.asarray(x), np.asarray(y)
        nan = x.dtype.kind == "f" and y.dtype.kind == "f"
        return x.shape == y.shape and bool(np.array_equal(x, y, equal_nan=nan))

    return a.extent == b.extent and all(
        equal(getattr(a, f), getattr(b, f)) for f in ("classes", "confidence", "curve_x", "curve_y", "points", "labels")
    )


def make_trainer(config: Config | None = None, *, run: str = "") -> BaseTrainer:
    """The trainer for ``config.model``: a ``Trainer`` for the MLP, a ``RecurrentTrainer`` for a cell."""
    config = config if config is not None else Config()
    return trainer_class(config)(config, run=run)


def apply_change(trainer: BaseTrainer, change: Change) -> BaseTrainer:
    """Apply ``change`` to ``trainer`` between steps and return the trainer to use from then on: the same one,
    except when the change of ``model`` crosses between the MLP and a recurrent cell -- then a new trainer of the
    other class, built from the same seed, that continues the run's timeline (steps, events). ConfigError as
    ``BaseTrainer.apply``."""
    if change.field == "model" and change.value != trainer.config.model:
        config = switch_model(trainer.config, change.value)
        cls = trainer_class(config)
        if not isinstance(trainer, cls):
            successor = cls(config, run=trainer.run_name, after=trainer)
            successor._event("change", change.describe(trainer.config.model) + " (rebuilt)")
            return successor
    trainer.apply(change)
    return trainer


class Trainer(BaseTrainer):
    """The MLP's trainer (``Config.model`` "mlp"): a Network on a 1-D/2-D dataset, with a decision boundary."""

    MODELS = frozenset({"mlp"})

    def __init__(self, config: Config | None = None, *, run: str = "", after: BaseTrainer | None = None) -> None:
        self._data: Dataset | None = None
        self._data_key: tuple | None = None
        self._boundary: Boundary | None = None
        super().__init__(config, run=run, after=after)

    # ---- building ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        c = self.config
        key = (c.dataset, c.samples, c.noise, c.seed)
        if key != self._data_key:
            self._data = make_dataset(c.dataset, c.samples, c.noise, c.seed)
            self._data_key = key
        data = self._data
        assert data is not None
        dt = np.dtype(c.dtype)
        self.X = data.X_train.astype(dt)
        self.y = data.y_train if data.classes else data.y_train.astype(dt)
        self.X_test = data.X_test.astype(dt)
        self.y_test = data.y_test if data.classes else data.y_test.astype(dt)
        self.net = Network(c, data.input_dim, data.classes)
        # regression: the loss of predicting the mean of the targets (what a network that learned nothing scores)
        self.baseline_loss = float(np.var(data.y_train)) if data.regression else math.nan
        self.opt = make_optimiser(c.optimizer, self.net.params(), c.lr, c.weight_decay, c.clip, c.momentum)
        n = len(self.X)
        probe_n = min(c.probe_size, n)
        self.probe_idx = np.sort(rng_for(c.seed, STREAM_PROBE).choice(n, probe_n, replace=False))
        self._batch_rng = rng_for(c.seed, STREAM_BATCHES)
        self._perm = self._batch_rng.permutation(n)
        self._pos = 0
        self._start_network()
        self.dead_since = [np.full(c.width, -1, dtype=np.int64) for _ in range(c.depth)]
        self._measured: StepFigures | None = None
        self._probe: ProbeFigures | None = None
        self._test: TestFigures | None = None
        self._boundary = None
        self._last_batch: tuple[np.ndarray, np.ndarray] | None = None
        self._batch_bufs: tuple[np.ndarray, np.ndarray] | None = None  # reused by _next_batch

    @property
    def dataset(self) -> Dataset:
        assert self._data is not None
        return self._data

    # ---- training ------------------------------------------------------------------------------------------------
    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The next mini-batch, gathered into two arrays reused from step to step (valid until the next call)."""
        n, bs = len(self.X), min(self.config.batch_size, len(self.X))
        if self._pos + bs > n:
            self._perm = self._batch_rng.permutation(n)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + bs]
        self._pos += bs
        bufs = self._batch_bufs
        if bufs is None or len(bufs[0]) != bs:
            bufs = self._batch_bufs = (
                np.empty((bs, *self.X.shape[1:]), self.X.dtype),
                np.empty((bs, *self.y.shape[1:]), self.y.dtype),
            )
        # the methods, not np.take: its Python wrapper costs more than the gather itself (2.8 vs 0.9 us for 128 rows)
        return self.X.take(idx, axis=0, out=bufs[0]), self.y.take(idx, axis=0, out=bufs[1])

    def step(self, measure: bool = False) -> bool:
        """Train on one mini-batch. Returns False (and does nothing) once the run has diverged."""
        if self.diverged is not None:
            return False
        net = self.net
        xb, yb = self._next_batch()
        self._last_batch = (xb, yb)
        net.measure = measure
        with np.errstate(all="ignore"):  # a diverging network is reported in words, not as warnings
            loss = net.loss.forward(net.forward(xb, train=True), yb)
            if not math.isfinite(loss):
                self._diverge(xb, "loss")
                return False
            net.backward(net.loss.backward())
            if measure:
                t_measure = time.perf_counter()
                before = net.weight_copies()
                norms, bias_norms = grad_norms(net)
                signals = tuple(b.signal_norm for b in net.blocks)
                out_norm = norm64(net.out.dW)
                if not all(math.isfinite(g) for g in norms) or not math.isfinite(out_norm):
                    self._diverge(xb, "gradients")
                    return False
                self.measure_seconds = time.perf_counter() - t_measure
            self.opt.step()
            self._stepped(loss)
            if measure:
                t_measure = time.perf_counter()
                w0_norms = [norm64(w0) for w0 in before]
                deltas = net.weight_deltas(before)  # W - w0, in place of the copies
                ratios = tuple(norm64(d) / n0 if n0 > 0 else math.inf for d, n0 in zip(deltas, w0_norms))
                self._measured = StepFigures(self.step_count, norms, bias_norms, signals, ratios, out_norm)
                self.measure_seconds += time.perf_counter() - t_measure  # what measuring added to this step
                if not net.params_finite():
                    self.step_count -= 1  # the step that made the weights non-finite is the diverging one
                    self._diverge(xb, "weights")
                    self.step_count += 1
                    return False
        return True

    def _diverge(self, xb: np.ndarray, what: str) -> None:
        layer, where = self._first_non_finite(xb)
        step = self.step_count + 1
        entry = None
        if layer is None:
            msg = f"diverged at step {step}: the {what} went non-finite"
        else:
            output = layer == self.config.depth + 1
            entry = "output" if output else f"L{layer}"
            where_name = "the output layer" if output else f"layer {layer}"
            msg = f"diverged at step {step}: {where_name}'s {where} went NaN/Inf"
        self.diverged = Divergence(step, layer, where if layer else what, msg, entry)
        self._event("diverged", msg + " - lower the learning rate", step=step)

    def _first_non_finite(self, xb: np.ndarray) -> tuple[int | None, str]:
        """The first layer (input side first) whose weights, gradients or activations are not finite."""
        net = self.net
        layers = [b.params() for b in net.blocks] + [net.out.params()]
        for i, params in enumerate(layers, 1):
            if not all(np.isfinite(p).all() for _, p, _ in params):
                return i, "weights"
        x = xb
        with np.errstate(all="ignore"):
            for i, b in enumerate(net.blocks, 1):
                x = b.forward(x, train=True, update_stats=False)
                if not np.isfinite(x).all():
                    return i, "activations"
            if not np.isfinite(net.out.forward(x)).all():
                return len(net.blocks) + 1, "activations"
        for i, params in enumerate(layers, 1):
            if not all(np.isfinite(g).all() for _, _, g in params):
                return i, "gradients"
        return None, "loss"

    # ---- measuring -----------------------------------------------------------------------------------------------
    def _measure_dry(self) -> None:
        """Gradient norms without an update (at step 0, or when the last step was not measured)."""
        net = self.net
        xb, yb = self._last_batch if self._last_batch is not None else self._peek_batch()
        net.measure = True
        with np.errstate(all="ignore"):
            net.loss_and_grads(xb, yb, train=True, update_stats=False)
        norms, bias_norms = grad_norms(net)
        signals = tuple(b.signal_norm for b in net.blocks)
        self._measured = StepFigures(
            self.step_count, norms, bias_norms, signals, (math.nan,) * len(net.blocks), norm64(net.out.dW)
        )
        net.measure = False

    def _peek_batch(self) -> tuple[np.ndarray, np.ndarray]:
        idx = self._perm[self._pos : self._pos + min(self.config.batch_size, len(self.X))]
        return self.X[idx], self.y[idx]

    def gradients(self, x: np.ndarray, y: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per-layer gradients (copies) of the mean loss on (x, y), in training mode, without updating anything.

        One dict per layer, hidden layers first and the output layer last: {"W": ..., "b": ..., "gamma": ...}.
        """
        net = self.net
        x = np.asarray(x, dtype=net.dtype)
        if self.dataset.regression:
            y = np.asarray(y, dtype=net.dtype)
        with np.errstate(all="ignore"):
            net.loss_and_grads(x, y, train=True, update_stats=False)
        layers = [b.params() for b in net.blocks] + [net.out.params()]
        return [{name: g.copy() for name, _, g in params} for params in layers]

    def _measure_probe(self) -> ProbeFigures:
        """The distribution measurements over the probe set (eval mode): the costly half of a snapshot."""
        net = self.net
        with np.errstate(all="ignore"):
            layers, logits = measure_probe(net, self.X[self.probe_idx], self.config.hist_bins)
        dead: list[DeadUnits | None] = []
        for since, p, b in zip(self.dead_since, layers, net.blocks):
            since[p.dead_mask & (since < 0)] = self.step_count
            since[~p.dead_mask] = -1
            dead.append(DeadUnits.from_dense(since) if b.act.can_die else None)
        accuracy = None
        if net.loss.classification:
            accuracy = float(np.mean(net.loss.predict(logits) == self.y[self.probe_idx]))
        return ProbeFigures(self.step_count, layers, tuple(dead), accuracy)

    def _measure_test(self) -> TestFigures:
        net = self.net
        with np.errstate(all="ignore"):
            logits = net.forward(self.X_test, train=False)
            loss = net.loss.forward(logits, self.y_test)
        accuracy = float(np.mean(net.loss.predict(logits) == self.y_test)) if net.loss.classification else None
        return TestFigures(self.step_count, loss, accuracy)

    def snapshot(
        self,
        *,
        probe: bool = True,
        boundary: bool = False,
        paused: bool = False,
        steps_per_sec: float = math.nan,
        speed_cap: float | None = None,
    ) -> Snapshot:
        """Measure now and return an immutable Snapshot.

        ``probe=False`` carries the last probe and test measurements (histograms, dead units, saturation,
        accuracy, test loss) instead of taking them again -- they cost a forward pass over 512 + test examples --
        while the gradient figures are always those of the step just taken. Right after a (re)build both are
        always measured, so that no figure of an older network is carried. ``Snapshot.probe_step`` and
        ``test_step`` say when they were taken. ``boundary`` recomputes the decision boundary (otherwise the last
        one is carried).
        """
        if self.diverged is None and (self._measured is None or self._measured.step != self.step_count):
            self._measure_dry()
        if probe or self._probe is None:
            self._probe = self._measure_probe()
        if probe or self._test is None:
            self._test = self._measure_test()
        m, pr, te = self._measured, self._probe, self._test
        nan = math.nan
        entries = []
        for i, (b, p) in enumerate(zip(self.net.blocks, pr.layers)):
            entries.append(
                Entry(
                    name=f"L{i + 1}",
                    kind="dense",
                    units=b.units,
                    index=i + 1,
                    grad_norm=m.grad_norms[i] if m else nan,
                    bias_grad_norm=m.bias_grad_norms[i] if m else nan,
                    signal_norm=m.signals[i] if m else nan,
                    update_ratio=m.update_ratios[i] if m else nan,
                    act=ActivationInfo.of(b.act),
                    hist=p.hist,
                    pre_hist=p.pre_hist,
                    deriv=p.deriv,
                    dead=pr.dead[i],
                    saturation=p.saturation,
                    mean=p.mean,
                    std=p.std,
                )
            )
        first, last = entries[0].signal_norm, entries[-1].signal_norm
        vanishing = first / last if last > 0 else nan
        loss = self._mean_loss(te.loss)  # the mean mini-batch loss since the last snapshot
        if boundary:
            self.refresh_boundary()
        self.snapshot_seq += 1
        return Snapshot(
            step=self.step_count,
            run_step=self.run_step,
            loss=loss,
            accuracy=pr.accuracy,
            test_loss=te.loss,
            test_accuracy=te.accuracy,
            config=self.config,
            entries=tuple(entries),
            seq=self.snapshot_seq,
            run=self.run_name,
            source="engine",
            axis="layer",
            meta=self.meta(),
            events=tuple(self.events),
            vanishing_ratio=vanishing,
            diverged=self.diverged,
            paused=paused,
            steps_per_sec=steps_per_sec,
            speed_cap=speed_cap,
            boundary=self._boundary,
            output_grad_norm=m.output_grad_norm if m else nan,
            grad_step=m.step if m else self.step_count,
            probe_step=pr.step,
            test_step=te.step,
            baseline_loss=self.baseline_loss,
        )

    @property
    def boundary(self) -> Boundary | None:
        return self._boundary

    @property
    def has_boundary(self) -> bool:
        """Can the model's prediction be drawn over its input (2-D data: a plane; 1-D: a curve)?"""
        return self.dataset.input_dim in (1, 2)

    def boundary_grid(self) -> tuple[int, int]:
        """(columns, rows) of the decision-boundary grid: the full grid for a small network, and for a large one
        as many points as the probe and test passes have, so that drawing the boundary never costs much more than
        measuring the probe set (50x512: 1,000 points instead of 4,608)."""
        gw, gh = BOUNDARY_GRID
        params = sum(p.size for _, p, _ in self.net.params())
        if params * gw * gh <= BOUNDARY_WORK:
            return gw, gh
        points = max(len(self.probe_idx) + len(self.X_test), BOUNDARY_WORK // max(params, 1))
        gh = max(8, min(gh, int(math.sqrt(points / 2))))
        return max(16, min(gw, 2 * gh)), gh

    def refresh_boundary(self) -> None:
        """Recompute the decision boundary (a forward pass over a grid of inputs). When it comes out the same as
        the last one -- the same extent, classes and confidence levels (as recorded), or the same curve -- the last
        object is kept, step and all: the pipe and the recorder send a boundary only when it is a new object, so
        an unchanged one costs nothing to send or store. (``Boundary.step`` is then the first step it was seen.)"""
        new = self._compute_boundary()
        if not same_boundary(self._boundary, new):
            self._boundary = new

    def _compute_boundary(self) -> Boundary | None:
        data = self.dataset
        X = data.X_train
        pts = X[self.probe_idx[:300]]
        labels = np.ravel(data.y_train[self.probe_idx[:300]])
        with np.errstate(all="ignore"):
            if data.input_dim == 1:
                x0, x1 = float(X.min()), float(X.max())
                xs = np.linspace(x0, x1, 200)
                ys = self.net.forward(xs[:, None].astype(self.net.dtype), train=False)[:, 0].astype(np.float64)
                y0, y1 = (
                    float(min(data.y_train.min(), np.nanmin(ys) if np.isfinite(ys).any() else 0)),
                    float(max(data.y_train.max(), np.nanmax(ys) if np.isfinite(ys).any() else 0)),
                )
                return Boundary((x0, x1, y0, y1), None, None, xs, ys, pts, labels, self.step_count)
            if data.input_dim != 2:
                return None
            lo, hi = X.min(axis=0), X.max(axis=0)
            pad = (hi - lo) * 0.05
            lo, hi = lo - pad, hi + pad
            gw, gh = self.boundary_grid()
            gx = np.linspace(lo[0], hi[0], gw)
            gy = np.linspace(hi[1], lo[1], gh)  # row 0 at the top
            grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2).astype(self.net.dtype)
            probs = self.net.loss.probabilities(self.net.forward(grid, train=False))
        cls = probs.argmax(axis=1)
        conf = probs[np.arange(len(cls)), cls]
        return Boundary(
            (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])),
            cls.reshape(gh, gw).astype(np.int8),
            confidence_of(confidence_levels(conf.reshape(gh, gw))),
            points=pts,
            labels=labels,
            step=self.step_count,
        )
