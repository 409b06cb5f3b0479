"""When to measure: snapshots at a capped rate, and the costly parts only as often as a time budget allows.

A snapshot has a cheap half (the gradient figures of a measured step) and a costly half (a forward pass over the
probe and test sets for histograms, dead units, saturation and accuracy; and the decision-boundary grid). The
Pacer takes the cheap half at up to ``hz`` per second and spaces the costly halves so that measuring uses at most
``budget`` of the wall time: a 50-layer network gets fresh histograms less often than a 4-layer one, and training
keeps >= 95 % of its bare speed either way.
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
        budget: float = 0.05,
        boundary_every: float = 0.5,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.period = 1.0 / hz if hz > 0 else math.inf
        self.budget = budget
        self.boundary_every = boundary_every
        self.clock = clock
        self._last = self._last_probe = self._last_boundary = -math.inf
        self._probe_cost = self._boundary_cost = 0.0

    def due(self) -> bool:
        """Is a snapshot due? (Then the caller takes a measured step and calls ``take``.)"""
        return self.clock() - self._last >= self.period

    def take(self, trainer: Trainer, *, force_probe: bool = False, **kwargs) -> Snapshot:
        """A snapshot of ``trainer``, with the costly parts when the budget allows (or ``force_probe``)."""
        now = self.clock()
        probe = force_probe or now - self._last_probe >= max(self.period, self._probe_cost / self.budget)
        boundary = force_probe or now - self._last_boundary >= max(
            self.boundary_every, self._boundary_cost / self.budget
        )
        t0 = self.clock()
        snap = trainer.snapshot(probe=probe, boundary=False, **kwargs)
        t1 = self.clock()
        if probe:
            self._probe_cost, self._last_probe = t1 - t0, now
        if boundary:
            trainer.refresh_boundary()
            snap = snap.with_boundary(trainer.boundary)
            self._boundary_cost, self._last_boundary = self.clock() - t1, now
        self._last = now
        return snap

    def reset(self) -> None:
        """Forget the timings (after a rebuild the costs change): the next snapshot measures everything."""
        self._last = self._last_probe = self._last_boundary = -math.inf
