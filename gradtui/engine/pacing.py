"""When to measure: snapshots at a capped rate, and each costly part as often as its share of a time budget allows.

A snapshot has a cheap half (the gradient figures of a measured step) and two costly parts: a forward pass over
the probe and test sets (histograms, dead units, saturation, accuracy, test loss) and the decision-boundary grid.
The Pacer takes the cheap half at up to ``hz`` per second and schedules each costly part on its own clock, with its
own share of the budget, so that both keep refreshing while training runs (the probe pass never starves the
boundary) and measuring uses at most ``budget`` of the wall time: a 50-layer network gets fresh histograms less
often than a 4-layer one, and training keeps its speed either way. The probe figures are taken at most
``probe_hz`` times a second (the panels that show them redraw at 2 Hz) and the boundary at most ``boundary_hz``.
Right after a (re)build, everything is measured at once. The budget (2 %) is below the 3 % target (issue 11)
and covers what the Pacer cannot time as well: a pass over the probe set or the grid leaves the training step's
arrays out of the caches, and the steps after it run slower. Measured on 4x64x128 (Xeon, 2026-12-03): the passes
took 1.2-1.5 % of the wall time and training lost 3.5-4.4 %; at depth 50 the measured step right after a pass took
2x a plain step. So each costly part is charged twice its own time (COLD_CACHES): it may itself use half its share.
benchmarks/bench_engine.py measures the real slowdown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from .stats import Snapshot
from .trainer import BaseTrainer

__all__ = ["Pacer"]

COLD_CACHES = 2.0  # a costly part is charged this many times its own time: itself, and the slower steps after it


class _Part:
    """One costly part: when it was last taken, what it cost, and the earliest time it may be taken again."""

    def __init__(self, max_hz: float) -> None:
        self.min_period = 1.0 / max_hz if max_hz > 0 else math.inf
        self.last = -math.inf
        self.cost = 0.0
        self.next = -math.inf

    def due(self, now: float) -> bool:
        return now >= self.next

    def taken(self, now: float, cost: float, share: float) -> None:
        self.last, self.cost = now, cost
        self.next = now + max(self.min_period, cost / share if share > 0 else math.inf)

    def overdue(self, now: float) -> float:
        return now - self.next


class Pacer:
    def __init__(
        self,
        hz: float = 10.0,
        budget: float = 0.02,
        probe_hz: float = 2.0,
        boundary_hz: float = 1.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.period = 1.0 / hz if hz > 0 else math.inf
        self.budget = budget
        self.clock = clock
        self.probe = _Part(probe_hz)
        self.boundary = _Part(boundary_hz)
        self._last = -math.inf
        self._cheap_cost = 0.0  # seconds a measured step and a snapshot without the costly parts take

    # the cheap half may use a fifth of the budget, the costly parts the rest, half each
    @property
    def _cheap_budget(self) -> float:
        return self.budget / 5

    def _share(self, has_boundary: bool) -> float:
        costly = (self.budget - self._cheap_budget) / COLD_CACHES
        return costly / 2 if has_boundary else costly

    def part_share(self, has_boundary: bool = False) -> float:
        """The share of the wall time each costly part (the probe pass; the boundary, when there is one) may use
        itself (as much again goes to the cold caches it leaves): a pass costing c seconds waits c / share. What
        benchmarks/bench_rnn.py reads to tell how often the Pacer takes the probe pass."""
        return self._share(has_boundary)

    def due(self) -> bool:
        """Is a snapshot due? (Then the caller takes a measured step and calls ``take``.)"""
        period = max(self.period, self._cheap_cost / self._cheap_budget)
        return self.clock() - self._last >= period

    def take(self, trainer: BaseTrainer, *, force_probe: bool = False, **kwargs: Any) -> Snapshot:
        """A snapshot of ``trainer``: the gradient figures always; the probe pass and the boundary when their own
        schedules allow (both, with ``force_probe``: at the start, after a change). When both are due, the more
        overdue one goes first and the other waits for the next snapshot, so that no snapshot pays for both."""
        now = self.clock()
        has_boundary = trainer.has_boundary
        probe_due = self.probe.due(now)
        boundary_due = has_boundary and self.boundary.due(now)
        if force_probe:
            probe = boundary = True
        elif probe_due and boundary_due:
            probe = self.probe.overdue(now) >= self.boundary.overdue(now)
            boundary = not probe
        else:
            probe, boundary = probe_due, boundary_due
        boundary = boundary and has_boundary
        t0 = self.clock()
        snap = trainer.snapshot(probe=probe, boundary=False, **kwargs)
        t1 = self.clock()
        if boundary:
            trainer.refresh_boundary()
            snap = snap.replace(boundary=trainer.boundary)
        t2 = self.clock()
        share = self._share(has_boundary)
        if probe:
            self.probe.taken(now, t1 - t0, share)
        if boundary:
            self.boundary.taken(now, t2 - t1, share)
        if not probe:
            self._cheap_cost = (t1 - t0) + trainer.measure_seconds  # + what measuring added to the step
        self._last = now
        return snap

    def reset(self) -> None:
        """Forget the timings (after a rebuild the costs change): the next snapshot measures everything."""
        self._last = -math.inf
        self.probe = _Part(1.0 / self.probe.min_period if self.probe.min_period else 0)
        self.boundary = _Part(1.0 / self.boundary.min_period if self.boundary.min_period else 0)
        self._cheap_cost = 0.0
