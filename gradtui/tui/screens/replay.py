"""Replay and watch mode: a recording with a cursor shared by every panel (``gradtui replay``), or one that another
process is still writing, followed as it grows (``gradtui watch``). The keys that would change a live run say
that a recording cannot be changed."""

from __future__ import annotations

from typing import ClassVar

from ...source import Play, PlaySpeed, Seek, SeekBy, SeekEvent, Update
from ..keys import LIVE, REPLAY, Key, bindings, unavailable
from .dashboard import SingleRunScreen, guarded, new_doctor


class ReplayScreen(SingleRunScreen):
    MODE = "replay"
    KEYS: ClassVar[list[Key]] = REPLAY
    BINDINGS = [
        *bindings(REPLAY),
        *unavailable(LIVE, REPLAY, "this is a recording: it cannot be changed (train it live to change it)"),
    ]

    def __init__(self, *, watch: bool = False) -> None:
        super().__init__()
        if watch:
            self.MODE = "watch"  # type: ignore[misc]

    def take(self, update: Update) -> None:
        if update.rebuild:
            self.history.clear()
            self.doctor = new_doctor()
        for s in update.passed:
            self.history.add(s)
            self.doctor.observe(s)
        if update.snapshots is None:
            return
        snap = update.snapshots[0]
        if not update.passed:
            self.history.add(snap)
            self.doctor.observe(snap)
        self.snap = snap
        self.show_axis(snap)
        self.selected = min(self.selected, len(snap.entries) - 1)
        self.alerts = self.doctor.diagnose()
        self.redraw()
        self.gapp.resolve(snap)

    def _moved(self) -> None:
        self.gapp.poll()

    @guarded
    def action_play(self) -> None:
        self.send(Play(not self.source_state().playing))
        self.refresh_chrome()

    @guarded
    def action_seek(self, delta: int) -> None:
        self.send(SeekBy(delta))
        self._moved()

    @guarded
    def action_seek_to(self, index: int) -> None:
        self.send(Seek(index))
        self._moved()

    @guarded
    def action_event(self, direction: int) -> None:
        self.send(SeekEvent(direction))
        self._moved()

    @guarded
    def action_play_speed(self, direction: int) -> None:
        self.send(PlaySpeed(direction))
        self.refresh_chrome()
