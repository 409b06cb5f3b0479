"""Replay and watch mode: a recording with a cursor shared by every panel (``gradtui replay``), or one that another
process is still writing, followed as it grows (``gradtui watch``). The keys that would change a live run say
that a recording cannot be changed."""

from __future__ import annotations

from typing import ClassVar

from ...source import Play, PlaySpeed, Seek, SeekBy, SeekEvent, Update
from ..keys import REPLAY, Key, bindings, unavailable
from .dashboard import SingleRunScreen, guarded, new_doctor

# why a key of the live or the compare mode does nothing on a recording (beyond what the capabilities say)
OTHER_MODE = {
    "record": "this is a recording already (R records a live run)",
    "target": "a recording shows one run (gradtui replay FILE --run B shows another)",
    "pause_all": "a recording shows one run: space plays and pauses it",
    "unfork": "a recording shows one run (gradtui replay FILE --run B shows another)",
}


class ReplayScreen(SingleRunScreen):
    MODE = "replay"
    KEYS: ClassVar[list[Key]] = REPLAY
    BINDINGS = [*bindings(REPLAY), *unavailable(REPLAY)]

    @property
    def mode_name(self) -> str:
        return "watch" if self.caps.live else "replay"  # a recording another process is still writing

    def other_mode(self, key: Key) -> str:
        return OTHER_MODE.get(key.name) or super().other_mode(key)

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
