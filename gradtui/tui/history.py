"""What the time-based panels need from past snapshots: one row per snapshot in arrays allocated once, so that the
memory and the drawing cost stay flat however long the run.

The newest ``RECENT`` rows are kept as they came; older ones are thinned (every other one, as often as needed), so
that an hour of training keeps the loss chart's whole story in a few thousand rows. The arrays are allocated for
``RECENT + OLD`` rows when the first snapshot comes (again only when the number of entries grows, after a rebuild
with more layers or time steps): a long session's history costs no more memory at its end than after a minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine import Event, Snapshot

RECENT = 2000  # rows kept as they came
OLD = 2000  # at most this many older rows, thinned
_FIELDS = ("loss", "test_loss", "accuracy", "test_accuracy")


@dataclass(frozen=True, eq=False)
class Point:
    """One row, as an object (for tests and small uses; the panels read the arrays)."""

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
        self.cap = recent + old + 1
        self.n = 0  # rows in use: [0, n_old) thinned, [n_old, n) as they came
        self.n_old = 0
        self.steps = np.zeros(0, dtype=np.int64)
        self.change_seq = np.zeros(0, dtype=np.int64)
        self.widths = np.zeros(0, dtype=np.int64)  # the entries each row had
        self.figures = np.zeros((0, len(_FIELDS)))  # loss, test loss, accuracy, test accuracy (NaN: none)
        self.flow = np.zeros((0, 0))  # log10 of each entry's flow figure (NaN: the entry did not exist then)
        self.events: dict[int, Event] = {}
        self.version = 0  # bumps on every change, so panels can tell whether to redraw
        self._probe_step = -1
        self._test_step = -1

    def __len__(self) -> int:
        return self.n

    def _make_room(self, entries: int) -> None:
        if len(self.steps) < self.cap:
            self.steps = np.zeros(self.cap, dtype=np.int64)
            self.change_seq = np.zeros(self.cap, dtype=np.int64)
            self.widths = np.zeros(self.cap, dtype=np.int64)
            self.figures = np.full((self.cap, len(_FIELDS)), np.nan)
        if entries > self.flow.shape[1] or len(self.flow) < self.cap:
            flow = np.full((self.cap, max(entries, self.flow.shape[1])), np.nan)
            flow[: self.n, : self.flow.shape[1]] = self.flow[: self.n]
            self.flow = flow

    def add(self, s: Snapshot) -> None:
        entries = len(s.entries)
        if entries > self.flow.shape[1] or len(self.steps) < self.cap:
            self._make_room(entries)
        fresh_test = s.test_step != self._test_step
        fresh_probe = s.probe_step != self._probe_step
        last = int(self.steps[self.n - 1]) if self.n else None
        if last is not None and last == s.step:
            row = self.n - 1  # paused, or a change without a step: same time, newer figures
        else:
            if last is not None and last > s.step:
                self.clear()  # time went backwards: a replay jumped
            row = self.n
            self.n += 1
        self.steps[row] = s.step
        self.change_seq[row] = max((e.seq for e in s.events if e.kind in ("change", "reset")), default=0)
        self.figures[row] = (
            s.loss,
            s.test_loss if fresh_test else math.nan,
            s.accuracy if fresh_probe and s.accuracy is not None else math.nan,
            s.test_accuracy if fresh_test and s.test_accuracy is not None else math.nan,
        )
        flow = self.flow[row]
        flow[entries:] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            np.log10([s.flow(e) for e in s.entries], out=flow[:entries])
        self.widths[row] = entries
        self._test_step, self._probe_step = s.test_step, s.probe_step
        if self.n - self.n_old > self.recent_max:
            self.n_old = self.n - self.recent_max // 2  # the older half of the recent rows joins the old ones
            while self.n_old > self.old_max:
                self._thin_old()
        for e in s.events:
            self.events.setdefault(e.seq, e)
        if len(self.events) > 2000:  # the snapshot keeps its last MAX_EVENTS; so do we, by seq
            for seq in sorted(self.events)[:-1000]:
                del self.events[seq]
        self.version += 1

    def _thin_old(self) -> None:
        """Every other old row, the recent rows moved down after them (in place)."""
        keep = (self.n_old + 1) // 2
        recent = slice(self.n_old, self.n)
        for a in (self.steps, self.change_seq, self.widths, self.figures, self.flow):
            a[:keep] = a[0 : self.n_old : 2]
            a[keep : keep + (self.n - self.n_old)] = a[recent]
        self.n -= self.n_old - keep
        self.n_old = keep

    def clear(self) -> None:
        self.n = self.n_old = 0
        self.events.clear()
        self._probe_step = self._test_step = -1
        self.version += 1

    def change_steps(self) -> list[int]:
        """Steps at which the user changed something (markers on the time-based charts)."""
        return sorted({e.step for e in self.events.values() if e.kind in ("change", "reset")})

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of ``name`` (loss, test_loss, accuracy, test_accuracy) where it is finite."""
        ys = self.figures[: self.n, _FIELDS.index(name)]
        ok = np.isfinite(ys)
        return self.steps[: self.n][ok], ys[ok]

    def flows(self, entries: int) -> np.ndarray:
        """The log10 flow figures of the rows in use, ``entries`` columns (NaN where an entry did not exist)."""
        have = self.flow.shape[1]
        if entries <= have:
            return self.flow[: self.n, :entries]
        out = np.full((self.n, entries), np.nan)
        out[:, :have] = self.flow[: self.n]
        return out

    @property
    def points(self) -> list[Point]:
        """The rows as objects, oldest first."""
        out = []
        for r in range(self.n):
            loss, test_loss, acc, tacc = (float(v) for v in self.figures[r])
            flow = self.flow[r, : self.widths[r]]
            out.append(
                Point(
                    int(self.steps[r]),
                    loss,
                    test_loss,
                    None if math.isnan(acc) else acc,
                    None if math.isnan(tacc) else tacc,
                    flow.copy(),
                    int(self.change_seq[r]),
                )
            )
        return out
