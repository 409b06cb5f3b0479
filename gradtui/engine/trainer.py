"""The Trainer: the only engine object the outside talks to.

``step()`` trains one mini-batch; ``step(measure=True)`` also records what the next ``snapshot()`` reports about that
step (gradient norms before the update, update ratios after it); ``snapshot()`` measures the probe and test sets and
returns an immutable Snapshot; ``apply(change)`` changes the run between steps (design.md section 3).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import LIVE_FIELDS, REBUILD_FIELDS, Config, ConfigError
from .data import Dataset, make_dataset
from .network import STREAM_BATCHES, STREAM_PROBE, Network, norm64, rng_for
from .optim import make_optimiser
from .stats import Boundary, Divergence, Event, LayerStats, Snapshot, grad_norms, measure_probe

__all__ = ["Change", "Trainer"]

MAX_EVENTS = 500
BOUNDARY_GRID = (96, 48)  # (columns, rows) of the decision-boundary grid


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
        fmt = (lambda v: f"{v:g}") if isinstance(self.value, float) else str
        return f"{self.field} {fmt(old)} -> {fmt(self.value)}" if old is not None else f"{self.field} = {self.value}"


class Trainer:
    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else Config()
        self.step_count = 0
        self.measure_seconds = 0.0  # what measuring added to the last measured step (for the Pacer's budget)
        self.events: list[Event] = []
        self._seq = 0
        self._data: Dataset | None = None
        self._data_key: tuple | None = None
        self._boundary: Boundary | None = None
        self._build()
        self._event("start", f"start: {self.config.summary()}")

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
        self.opt = make_optimiser(c.optimizer, self.net.params(), c.lr, c.weight_decay, c.clip, c.momentum)
        n = len(self.X)
        probe_n = min(c.probe_size, n)
        self.probe_idx = np.sort(rng_for(c.seed, STREAM_PROBE).choice(n, probe_n, replace=False))
        self._batch_rng = rng_for(c.seed, STREAM_BATCHES)
        self._perm = self._batch_rng.permutation(n)
        self._pos = 0
        self.run_step = 0
        self.diverged: Divergence | None = None
        self.dead_since = [np.full(c.width, -1, dtype=np.int64) for _ in range(c.depth)]
        self._loss_sum = 0.0
        self._loss_n = 0
        self._last_loss = math.nan
        self._measured: dict[str, Any] | None = None
        self._probe: dict[str, Any] | None = None
        self._boundary = None
        self._last_batch: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def dataset(self) -> Dataset:
        assert self._data is not None
        return self._data

    def _event(self, kind: str, text: str, step: int | None = None) -> Event:
        self._seq += 1
        ev = Event(self._seq, self.step_count if step is None else step, kind, text)
        self.events.append(ev)
        if len(self.events) > MAX_EVENTS:
            del self.events[: len(self.events) - MAX_EVENTS]
        return ev

    # ---- training ------------------------------------------------------------------------------------------------
    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        n, bs = len(self.X), min(self.config.batch_size, len(self.X))
        if self._pos + bs > n:
            self._perm = self._batch_rng.permutation(n)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + bs]
        self._pos += bs
        return self.X[idx], self.y[idx]

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
                before = [b.dense.W.copy() for b in net.blocks]
                norms = grad_norms(net)
                signals = [b.signal_norm for b in net.blocks]
                out_norm = norm64(net.out.dW)
                if not all(math.isfinite(g) for g, _ in norms) or not math.isfinite(out_norm):
                    self._diverge(xb, "gradients")
                    return False
                self.measure_seconds = time.perf_counter() - t_measure
            self.opt.step()
            self.step_count += 1
            self.run_step += 1
            self._loss_sum += loss
            self._loss_n += 1
            self._last_loss = loss
            if measure:
                t_measure = time.perf_counter()
                ratios = []
                for b, w0 in zip(net.blocks, before):
                    w0_norm = norm64(w0)
                    ratios.append(norm64(b.dense.W - w0) / w0_norm if w0_norm > 0 else math.inf)
                self._measured = dict(step=self.step_count, norms=norms, signals=signals, ratios=ratios, out=out_norm)
                self.measure_seconds += time.perf_counter() - t_measure  # what measuring added to this step
                if not all(math.isfinite(float(np.sum(p))) for _, p, _ in net.params()):
                    self.step_count -= 1  # the step that made the weights non-finite is the diverging one
                    self._diverge(xb, "weights")
                    self.step_count += 1
                    return False
        return True

    def run(self, steps: int, every: int = 0):
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

    def _diverge(self, xb: np.ndarray, what: str) -> None:
        layer, where = self._first_non_finite(xb)
        step = self.step_count + 1
        if layer is None:
            msg = f"diverged at step {step}: the {what} went non-finite"
        else:
            name = "the output layer" if layer == self.config.depth + 1 else f"layer {layer}"
            msg = f"diverged at step {step}: {name}'s {where} went NaN/Inf"
        self.diverged = Divergence(step, layer, where if layer else what, msg)
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

    # ---- changes -------------------------------------------------------------------------------------------------
    def apply(self, change: Change) -> Event:
        """Apply ``change`` between steps. Raises ConfigError (one line, for the user) if the value is not legal."""
        old_config = self.config
        if change.field == "reset":
            self._build()
            return self._event("reset", "reset: rebuilt from the seed")
        if change.field not in REBUILD_FIELDS | LIVE_FIELDS:
            raise ConfigError(f"{change.field!r} cannot be changed")
        new = self.config.replace(**{change.field: change.value})
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

    # ---- measuring -----------------------------------------------------------------------------------------------
    def _measure_dry(self) -> None:
        """Gradient norms without an update (at step 0, or when the last step was not measured)."""
        net = self.net
        xb, yb = self._last_batch if self._last_batch is not None else self._peek_batch()
        net.measure = True
        with np.errstate(all="ignore"):
            net.loss_and_grads(xb, yb, train=True, update_stats=False)
        self._measured = dict(
            step=self.step_count,
            norms=grad_norms(net),
            signals=[b.signal_norm for b in net.blocks],
            ratios=[math.nan] * len(net.blocks),
            out=norm64(net.out.dW),
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

    def _measure_probe(self) -> dict[str, Any]:
        """The distribution measurements: probe set (eval mode) and test set. The costly half of a snapshot."""
        c, net = self.config, self.net
        with np.errstate(all="ignore"):
            probe = measure_probe(net, self.X[self.probe_idx], c.hist_bins)
            test_logits = net.forward(self.X_test, train=False)
            test_loss = net.loss.forward(test_logits, self.y_test)
        classification = net.loss.classification
        y_probe = self.y[self.probe_idx]
        for since, p in zip(self.dead_since, probe.layers):
            dead = p["dead_mask"]
            since[dead & (since < 0)] = self.step_count
            since[~dead] = -1
            p["dead_since"] = since.copy()
        return dict(
            step=self.step_count,
            layers=probe.layers,
            accuracy=float(np.mean(net.loss.predict(probe.logits) == y_probe)) if classification else None,
            test_loss=test_loss,
            test_accuracy=float(np.mean(net.loss.predict(test_logits) == self.y_test)) if classification else None,
        )

    def snapshot(
        self, *, probe: bool = True, boundary: bool = False, paused: bool = False, steps_per_sec: float = math.nan
    ) -> Snapshot:
        """Measure now and return an immutable Snapshot.

        ``probe=False`` carries the last probe/test measurements (histograms, dead units, saturation, accuracy)
        instead of taking them again -- they cost a forward pass over 512 + test examples -- while the gradient
        figures are always those of the step just taken. ``Snapshot.probe_step`` says when the probe was measured.
        ``boundary`` recomputes the decision boundary (otherwise the last one is carried).
        """
        if self.diverged is None and (self._measured is None or self._measured["step"] != self.step_count):
            self._measure_dry()
        if probe or self._probe is None:
            self._probe = self._measure_probe()
        m, pr = self._measured, self._probe
        nan = math.nan
        layers = []
        for i, (b, p) in enumerate(zip(self.net.blocks, pr["layers"])):
            g, gb = m["norms"][i] if m else (nan, nan)
            layers.append(
                LayerStats(
                    index=i + 1,
                    units=b.units,
                    grad_norm=g,
                    bias_grad_norm=gb,
                    signal_norm=m["signals"][i] if m else nan,
                    update_ratio=m["ratios"][i] if m else nan,
                    dead=int(p["dead_mask"].sum()),
                    saturation=p["saturation"],
                    mean=p["mean"],
                    std=p["std"],
                    hist_edges=p["hist"][0],
                    hist_counts=p["hist"][1],
                    pre_edges=p["pre"][0],
                    pre_counts=p["pre"][1],
                    deriv=p["deriv"],
                    dead_since=p["dead_since"],
                )
            )
        first, last = layers[0].signal_norm, layers[-1].signal_norm
        vanishing = first / last if last > 0 else nan
        # the mean mini-batch loss since the last snapshot (before any step: the test loss at initialisation)
        before = self._last_loss if self.run_step else pr["test_loss"]
        loss = self._loss_sum / self._loss_n if self._loss_n else before
        self._loss_sum, self._loss_n = 0.0, 0
        if boundary or self._boundary is None:
            self.refresh_boundary()
        return Snapshot(
            step=self.step_count,
            run_step=self.run_step,
            loss=loss,
            accuracy=pr["accuracy"],
            test_loss=pr["test_loss"],
            test_accuracy=pr["test_accuracy"],
            config=self.config,
            layers=tuple(layers),
            events=tuple(self.events),
            vanishing_ratio=vanishing,
            diverged=self.diverged,
            paused=paused,
            steps_per_sec=steps_per_sec,
            boundary=self._boundary,
            output_grad_norm=m["out"] if m else nan,
            probe_step=pr["step"],
        )

    @property
    def boundary(self) -> Boundary | None:
        return self._boundary

    def refresh_boundary(self) -> None:
        """Recompute the decision boundary (a forward pass over a grid of inputs)."""
        self._boundary = self._compute_boundary()

    def _compute_boundary(self) -> Boundary | None:
        data = self.dataset
        X = data.X_train
        pts = X[self.probe_idx[:300]]
        labels = data.y_train[self.probe_idx[:300]]
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
            gw, gh = BOUNDARY_GRID
            gx = np.linspace(lo[0], hi[0], gw)
            gy = np.linspace(hi[1], lo[1], gh)  # row 0 at the top
            grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2).astype(self.net.dtype)
            probs = self.net.loss.probabilities(self.net.forward(grid, train=False))
        cls = probs.argmax(axis=1)
        conf = probs[np.arange(len(cls)), cls]
        return Boundary(
            (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])),
            cls.reshape(gh, gw).astype(np.int8),
            np.nan_to_num(conf.reshape(gh, gw).astype(np.float32)),
            points=pts,
            labels=labels,
            step=self.step_count,
        )
