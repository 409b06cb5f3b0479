"""What the time-based panels need from past snapshots: one small record per snapshot, bounded in memory.

The newest ``RECENT`` points are kept as they came; older ones are thinned (every other one, as often as needed),
so that an hour of training keeps the loss chart's whole story in a few thousand points and the memory and the
drawing cost stay flat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine import Event, Snapshot

RECENT = 2000  # points kept as they came (the heatmap shows at most a few hundred of the newest)
OLD = 2000  # at most this many older points, thinned


@dataclass(frozen=True, eq=False)
class Point:
    step: int
    loss: float
    test_loss: float  # NaN when the test figures were carried from an earlier point (not measured again)
    accuracy: float | None
    test_accuracy: float | None
    log_flow: np.ndarray  # log10 of each entry's flow figure (-inf for an exact 0)
    change_seq: int = 0  # the newest change/reset event this snapshot knows of (a marker where it grows)


class History:
    def __init__(self, recent: int = RECENT, old: int = OLD) -> None:
        self.recent_max, self.old_max = recent, old
        self.recent: list[Point] = []
        self.old: list[Point] = []
        self.events: dict[int, Event] = {}
        self.version = 0  # bumps on every change, so panels can tell whether to redraw
        self._probe_step = -1
        self._test_step = -1

    @property
    def points(self) -> list[Point]:
        return self.old + self.recent

    def __len__(self) -> int:
        return len(self.old) + len(self.recent)

    def add(self, s: Snapshot) -> None:
        with np.errstate(divide="ignore", invalid="ignore"):
            flow = np.log10(np.array([s.flow(e) for e in s.entries], dtype=np.float64))
        changes = [e.seq for e in s.events if e.kind in ("change", "reset")]
        fresh_test = s.test_step != self._test_step
        fresh_probe = s.probe_step != self._probe_step
        p = Point(
            s.step,
            s.loss,
            s.test_loss if fresh_test else math.nan,
            s.accuracy if fresh_probe else None,
            s.test_accuracy if fresh_test else None,
            flow,
            max(changes, default=0),
        )
        last = self.recent[-1] if self.recent else None
        if last is not None and last.step == s.step:
            self.recent[-1] = p  # paused, or a change without a step: same time, newer figures
        elif last is not None and last.step > s.step:
            self.clear()  # time went backwards: a replay jumped
            self.recent.append(p)
        else:
            self.recent.append(p)
        self._test_step, self._probe_step = s.test_step, s.probe_step
        if len(self.recent) > self.recent_max:
            half = len(self.recent) - self.recent_max // 2
            self.old.extend(self.recent[:half])
            del self.recent[:half]
            while len(self.old) > self.old_max:
                self.old = self.old[::2]
        for e in s.events:
            self.events.setdefault(e.seq, e)
        if len(self.events) > 2000:  # the snapshot keeps its last MAX_EVENTS; so do we, by seq
            for seq in sorted(self.events)[:-1000]:
                del self.events[seq]
        self.version += 1

    def clear(self) -> None:
        self.recent.clear()
        self.old.clear()
        self.events.clear()
        self._probe_step = self._test_step = -1
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
