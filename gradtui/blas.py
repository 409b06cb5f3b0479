"""The number of BLAS threads: chosen by measurement (``ThreadChooser``), or by matrix size (design.md section 3).

OpenBLAS workers spin-wait. On an idle 2-core machine two threads pay off from width ~128 (+35-60 % measured) and
gain nothing below; but when other processes keep the cores busy, the spinning second thread fights them (and the
trainer's own main thread) for a core, and two threads make training 3-10x *slower* than one (issue 11: 10x128x256
14.5 vs 141.5 steps/s). Width alone cannot tell the two cases apart, so the ``ThreadChooser`` times short interleaved
bursts of the real training steps at 1 and 2 threads after every (re)build, keeps the faster, and times them again
when the training rate moves far from what it measured (a neighbour started or stopped hogging the CPU).

    chooser = ThreadChooser(threads=None)     # None: auto; an int pins the count (--threads N)
    chooser.rebuilt(config.width)             # after building the network(s): a fresh trial
    chooser.step(trainer, measure)            # a training step, timed; the chooser does the rest

Everything that talks to threadpoolctl is in this module (the engine itself knows nothing of threads).
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ThreadChooser",
    "blas_threads_for",
    "cpu_count",
    "limit_blas_threads",
    "parse_threads",
    "set_blas_threads",
]

WIDE = 128

_controller: Any = None  # threadpoolctl's ThreadpoolController: finding the loaded libraries is done once
_limiter: Any = None  # the limits in force (kept so that they could be restored)
_last: int | None = None


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def blas_threads_for(width: int) -> int:
    """The size rule: one thread below width 128, else two (or the number of CPUs, if fewer)."""
    return 1 if width < WIDE else min(2, os.cpu_count() or 1)


def limit_blas_threads(n: int) -> int | None:
    """Limit BLAS to ``n`` threads. Returns ``n``, or None if threadpoolctl failed (then nothing changed).

    Repeated calls with the same count do nothing.
    """
    global _controller, _limiter, _last
    if n == _last:
        return n
    try:
        with warnings.catch_warnings():  # threadpoolctl warns about some OpenMP mixes: not the user's business
            warnings.simplefilter("ignore")
            if _controller is None:
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
            _limiter = _controller.limit(limits=n, user_api="blas")
    except Exception:  # threadpoolctl missing or unable to read a library: keep the default threads
        return None
    _last = n
    return n


def set_blas_threads(width: int) -> int | None:
    """Limit BLAS to the size rule's count for ``width`` (see ``blas_threads_for``)."""
    return limit_blas_threads(blas_threads_for(width))


def parse_threads(text: str) -> int | None:
    """``--threads``: "auto" (None: chosen by measurement) or a count from 1 to the number of CPUs."""
    if text.strip().lower() == "auto":
        return None
    cpus = cpu_count()
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be auto or a whole number from 1 to {cpus}, not {text!r}") from None
    if not 1 <= n <= cpus:
        raise argparse.ArgumentTypeError(f"must be auto or from 1 to {cpus} (the CPUs here), not {n}")
    return n


@dataclass
class Trial:
    """One measurement of the candidate counts: seconds and steps timed per count."""

    order: list[int]  # the burst schedule, e.g. [1, 2, 2, 1] (ABBA: a drift in the machine's load cancels out)
    started: float  # on the chooser's clock
    seconds: dict[int, float] = field(default_factory=dict)
    steps: dict[int, int] = field(default_factory=dict)

    def rate(self, n: int) -> float:
        t = self.seconds.get(n, 0.0)
        return self.steps.get(n, 0) / t if t > 0 else 0.0


@dataclass(frozen=True)
class Decision:
    """What a trial found (kept in ``ThreadChooser.history``, for benchmarks and logs)."""

    at: float  # chooser clock
    rates: dict[int, float]  # steps/s per count
    threads: int  # the count chosen
    reason: str  # "rebuilt", "rate fell", "rate rose"


class ThreadChooser:
    """Chooses the BLAS thread count by timing real training steps.

    threads: None (auto) or a count to pin. cpus: the CPUs to plan for (default: this process's). set_threads:
    applies a count (default ``limit_blas_threads``); clock: seconds (default ``time.perf_counter``). Both are
    parameters so that tests can drive the logic with a fake clock and fake steps.

    The rules (all times are time spent inside training steps, so pauses and snapshots do not count):

    - Tiny nets (width < ``min_width``), one CPU, or a pinned count: no trial.
    - Trial: bursts of >= ``burst`` seconds (and >= ``min_steps`` steps, unless 4 bursts' time is already spent)
      at counts a, b, b, a; the first step after each switch is not timed (threads wake up) unless it alone lasts a
      burst. When one count is over 2x faster after a burst of each, the trial ends there (so a count that is 10x
      slower under load costs a step or two, not seconds). The faster count wins only by more than ``margin`` over
      the count in force (hysteresis: equal speeds never flip it).
    - Settled: the rate is taken over windows of >= ``window`` seconds. Two windows in a row below ``drop`` x the
      chosen count's trial rate (a neighbour started: two spinning threads may now be far slower than one), or
      above ``rise`` x it (a neighbour left: two threads may pay again), start a new trial -- when the trials so
      far (the one after a rebuild included, which is always made) have used at most ``budget`` of the training
      time. After a trial the reference is the new rate, so a lasting change of load triggers one trial, not one
      per window.
    """

    def __init__(
        self,
        threads: int | None = None,
        *,
        cpus: int | None = None,
        set_threads: Callable[[int], object] = limit_blas_threads,
        clock: Callable[[], float] = time.perf_counter,
        min_width: int = WIDE,
        burst: float = 0.06,
        min_steps: int = 2,
        window: float = 1.0,
        drop: float = 0.6,
        rise: float = 1.3,
        margin: float = 0.05,
        budget: float = 0.02,
    ) -> None:
        self.pinned = threads
        self.cpus = cpus if cpus is not None else cpu_count()
        self._set = set_threads
        self.clock = clock
        self.min_width = min_width
        self.burst, self.min_steps, self.window = burst, min_steps, window
        self.drop, self.rise, self.margin, self.budget = drop, rise, margin, budget
        self.threads = 1
        self.history: list[Decision] = []
        self.trial: Trial | None = None
        self.trial_seconds = 0.0  # time spent in trials since the last rebuild (the one after it included)
        self.total_seconds = 0.0  # training time since the last rebuild
        self._candidates = [1]
        self._reference = math.nan  # the chosen count's steps/s at its trial
        self._strikes = 0  # windows in a row far from the reference
        self._win_t, self._win_n = 0.0, 0
        self._burst_t, self._burst_n, self._warm = 0.0, 0, True

    # ---- driving ---------------------------------------------------------------------------------------------
    def rebuilt(self, width: int) -> int:
        """The network(s) were (re)built, widest hidden layer ``width``: start over. Returns the count in force."""
        self.trial, self._strikes = None, 0
        self.trial_seconds = self.total_seconds = 0.0
        self._win_t, self._win_n = 0.0, 0
        if self.pinned is not None:
            self._candidates = [self.pinned]
            self._apply(self.pinned)
        elif width < self.min_width or self.cpus < 2:
            self._candidates = [1]
            self._apply(1)
        else:
            self._candidates = [1, min(2, self.cpus)]
            self._start("rebuilt")
        return self.threads

    def step(self, trainer: Any, measure: bool = False) -> bool:
        """Take one training step of ``trainer`` and time it (engine.lockstep.step_together takes this)."""
        t0 = self.clock()
        ok = bool(trainer.step(measure=measure))
        if ok:
            self.tick(self.clock() - t0)
        return ok

    def tick(self, seconds: float, steps: int = 1) -> None:
        """``steps`` training steps took ``seconds`` (the training loops report every tick: engine.lockstep)."""
        self.total_seconds += seconds
        trial = self.trial
        if trial is not None:
            self._trial_tick(trial, seconds, steps)
            return
        if len(self._candidates) < 2:
            return
        self._win_t += seconds
        self._win_n += steps
        if self._win_t < self.window or self._win_n < self.min_steps:
            return
        rate = self._win_n / self._win_t
        self._win_t, self._win_n = 0.0, 0
        ref = self._reference
        if not (ref > 0):
            return
        far = rate < self.drop * ref or rate > self.rise * ref
        self._strikes = self._strikes + 1 if far else 0
        if self._strikes >= 2 and self.trial_seconds <= self.budget * self.total_seconds:
            self._start("rate fell" if rate < ref else "rate rose")

    @property
    def measuring(self) -> bool:
        return self.trial is not None

    # ---- the trial -------------------------------------------------------------------------------------------
    def _start(self, reason: str) -> None:
        a = self.threads if self.threads in self._candidates else self._candidates[0]
        b = next(c for c in self._candidates if c != a)
        self.trial = Trial([a, b, b, a], self.clock())
        self._reason = reason
        self._strikes = 0
        self._burst_t, self._burst_n, self._warm = 0.0, 0, True
        self._apply(a)

    def _trial_tick(self, trial: Trial, seconds: float, steps: int) -> None:
        self.trial_seconds += seconds
        n = trial.order[0]
        if self._warm:  # the first step after a switch: threads waking up, not timed -- unless it alone outlasts a
            self._warm = False  # burst (no wake-up takes 60 ms: the count is that slow; do not pay for more steps)
            if seconds < self.burst:
                return
        self._burst_t += seconds
        self._burst_n += steps
        trial.seconds[n] = trial.seconds.get(n, 0.0) + seconds
        trial.steps[n] = trial.steps.get(n, 0) + steps
        if (self._burst_t < self.burst or self._burst_n < self.min_steps) and self._burst_t < 4 * self.burst:
            return
        trial.order.pop(0)
        self._burst_t, self._burst_n = 0.0, 0
        a, b = self._candidates if len(trial.order) == 2 else (0, 0)
        clear = len(trial.order) == 2 and max(trial.rate(a), trial.rate(b)) > 2 * min(trial.rate(a), trial.rate(b))
        if trial.order and not clear:
            self._warm = trial.order[0] != n
            if self._warm:
                self._apply(trial.order[0])
            return
        self._decide(trial)  # all bursts done, or after one each the difference is too large for any drift

    def _decide(self, trial: Trial) -> None:
        rates = {n: trial.rate(n) for n in self._candidates}
        current = self.threads
        best = max(rates, key=lambda n: rates[n])
        chosen = best if rates[best] > rates.get(current, 0.0) * (1 + self.margin) else current
        self.trial = None
        self._apply(chosen)
        self._reference = rates[chosen]
        self._win_t, self._win_n = 0.0, 0
        self.history.append(Decision(self.clock(), rates, chosen, self._reason))

    def _apply(self, n: int) -> None:
        self.threads = n
        self._set(n)
