"""When to measure: snapshots at a capped rate, and the costly parts only as often as a time budget allows.

A snapshot has a cheap half (the gradient figures of a measured step) and a costly half (a forward pass over the
probe and test sets for histograms, dead units, saturation and accuracy; and the decision-boundary grid). The
Pacer takes the cheap half at up to ``hz`` per second and spaces the costly halves so that measuring uses at most
``budget`` of the wall time: a 50-layer network gets fresh histograms less often than a 4-layer one, and training
keeps >= 95 % of its bare speed either way. The budget (3.5 %) is below the 5 % target because measuring also
costs what the Pacer cannot time (cold caches after a pass over the probe set): benchmarks/bench_engine.py
measures the real slowdown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from .stats import Snapshot
from .trainer import Trainer

__all__ = ["Pacer"]


class Pacer:
    def __init__(
        self,
        hz: float = 10.0,
        budget: float = 0.035,
        boundary_every: float = 0.5,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.period = 1.0 / hz if hz > 0 else math.inf
        self.budget = budget
        self.boundary_every = boundary_every
        self.clock = clock
        self._last = self._last_probe = self._last_boundary = -math.inf
        self._cheap_cost = 0.0  # seconds a measured step and a snapshot without the costly parts take
        self._costly_free_at = -math.inf  # when the next costly part may be taken

    # the cheap half may use a fifth of the budget, the costly parts the rest
    @property
    def _cheap_budget(self) -> float:
        return self.budget / 5

    def due(self) -> bool:
        """Is a snapshot due? (Then the caller takes a measured step and calls ``take``.)"""
        period = max(self.period, self._cheap_cost / self._cheap_budget)
        return self.clock() - self._last >= period

    def take(self, trainer: Trainer, *, force_probe: bool = False, **kwargs) -> Snapshot:
        """A snapshot of ``trainer``, with the costly parts when the budget allows (or ``force_probe``)."""
        now = self.clock()
        free = force_probe or now >= self._costly_free_at
        probe = free and (force_probe or now - self._last_probe >= self.period)
        boundary = free and not probe and now - self._last_boundary >= self.boundary_every
        t0 = self.clock()
        snap = trainer.snapshot(probe=probe, boundary=False, **kwargs)
        t1 = self.clock()
        if boundary or force_probe:
            trainer.refresh_boundary()
            snap = snap.with_boundary(trainer.boundary)
            self._last_boundary = now
        t2 = self.clock()
        costly = (t1 - t0 if probe else 0.0) + (t2 - t1)
        if probe:
            self._last_probe = now
        if probe or boundary or force_probe:
            self._costly_free_at = now + costly / (self.budget - self._cheap_budget)
        else:
            self._cheap_cost = (t1 - t0) + trainer.measure_seconds  # + what measuring added to the step
        self._last = now
        return snap

    def reset(self) -> None:
        """Forget the timings (after a rebuild the costs change): the next snapshot measures everything."""
        self._last = self._last_probe = self._last_boundary = self._costly_free_at = -math.inf
        self._cheap_cost = 0.0
