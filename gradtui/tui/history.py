"""What the time-based panels need from past snapshots: one small record per snapshot, bounded."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..engine import Event, Snapshot

MAX_POINTS = 5000


@dataclass(frozen=True)
class Point:
    step: int
    loss: float
    test_loss: float
    accuracy: float | None
    test_accuracy: float | None
    log_grads: np.ndarray  # log10 of each hidden layer's step gradient magnitude (-inf for an exact 0)
    change_seq: int = 0  # the newest change/reset event this snapshot knows of (a marker where it grows)


class History:
    def __init__(self, maxlen: int = MAX_POINTS) -> None:
        self.points: deque[Point] = deque(maxlen=maxlen)
        self.events: dict[int, Event] = {}
        self.version = 0  # bumps on every change, so panels can tell whether to redraw

    def add(self, s: Snapshot) -> None:
        with np.errstate(divide="ignore", invalid="ignore"):
            grads = np.log10(np.array([layer.grad_norm for layer in s.layers], dtype=np.float64))
        changes = [e.seq for e in s.events if e.kind in ("change", "reset")]
        p = Point(s.step, s.loss, s.test_loss, s.accuracy, s.test_accuracy, grads, max(changes, default=0))
        if self.points and self.points[-1].step == s.step:
            self.points[-1] = p  # paused, or a change without a step: same time, newer figures
        elif self.points and self.points[-1].step > s.step:
            self.clear()  # time went backwards: a replay jumped
            self.points.append(p)
        else:
            self.points.append(p)
        for e in s.events:
            self.events.setdefault(e.seq, e)
        self.version += 1

    def clear(self) -> None:
        self.points.clear()
        self.events.clear()
        self.version += 1

    def change_steps(self) -> list[int]:
        """Steps at which the user changed something (markers on the time-based charts)."""
        return sorted({e.step for e in self.events.values() if e.kind in ("change", "reset")})

    def series(self, name: str) -> tuple[list[int], list[float]]:
        xs, ys = [], []
        for p in self.points:
            v = getattr(p, name)
            if v is not None and math.isfinite(v):
                xs.append(p.step)
                ys.append(v)
        return xs, ys
