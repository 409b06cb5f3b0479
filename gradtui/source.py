"""One protocol for everything the dashboard can show: a ``SnapshotSource``.

Implemented by the trainer session (a child process, or a thread), the replay of a recording, and the tail of a
recording another process is still writing (``gradtui watch``; later the PyTorch probe's file). The app and its
screens pick their behaviour from a source's ``Capabilities`` -- can it change settings, seek, fork twins, is it
live -- never from its type.

Messages are small frozen dataclasses: ``Command`` in (``send``), ``Update`` out (``poll``). Between the session
and its trainer process they cross a pipe as they are (they pickle).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .engine import Change, Config, Snapshot

__all__ = [
    "ApplyChange", "Capabilities", "Command", "Pause", "Play", "PlaySpeed", "Problem", "Restart", "Seek", "SeekBy",
    "SeekEvent", "SetRate", "SetRuns", "SetSpeedCap", "SnapshotSource", "SourceState", "StepOnce", "Update", "why_not",
]  # fmt: skip


@dataclass(frozen=True)
class Capabilities:
    can_change: bool = False  # takes ApplyChange, Pause, StepOnce, SetSpeedCap (a live trainer)
    can_seek: bool = False  # has a cursor over its snapshots: Seek, SeekBy, SeekEvent, Play, PlaySpeed
    can_fork: bool = False  # takes SetRuns: twins side by side
    live: bool = False  # new snapshots keep coming (a trainer, a recording being written)


# ---- commands: UI -> source ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApplyChange:
    change: Change
    run: int | None = None  # an index into the runs, or None for all


@dataclass(frozen=True)
class Pause:
    paused: bool
    run: int | None = None


@dataclass(frozen=True)
class StepOnce:
    run: int | None = None


@dataclass(frozen=True)
class SetRuns:
    """Replace the runs by fresh ones from their seeds (twins in lockstep: the same data and batch order)."""

    configs: tuple[Config, ...]


@dataclass(frozen=True)
class SetRate:
    """Snapshots per second at most."""

    hz: float


@dataclass(frozen=True)
class SetSpeedCap:
    """Training steps per second at most (None: as fast as it goes), so that a story can be watched."""

    steps_per_sec: float | None


@dataclass(frozen=True)
class Restart:
    """Start a new trainer (after the old one died), from the configs it had."""


@dataclass(frozen=True)
class Seek:
    index: int  # a snapshot index; negative counts from the end (-1: the last)


@dataclass(frozen=True)
class SeekBy:
    delta: int


@dataclass(frozen=True)
class SeekEvent:
    direction: int  # +1 the next event, -1 the previous


@dataclass(frozen=True)
class Play:
    playing: bool


@dataclass(frozen=True)
class PlaySpeed:
    direction: int  # +1 faster, -1 slower


Command = (
    ApplyChange
    | Pause
    | StepOnce
    | SetRuns
    | SetRate
    | SetSpeedCap
    | Restart
    | Seek
    | SeekBy
    | SeekEvent
    | Play
    | PlaySpeed
)


# ---- updates: source -> UI ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """Something the source could not do, or noticed, for the UI to say in words."""

    text: str
    fatal: bool = False
    level: str = "error"  # "error", "warning", "info"


@dataclass(frozen=True)
class Update:
    """What ``poll`` returns: the newest snapshot of each run (None: nothing new), the problems since the last
    poll, and for a seekable source what its history needs: ``rebuild`` (the cursor moved back: start the
    charts again) and ``passed`` (every snapshot the cursor went over, oldest first, the current one last)."""

    snapshots: tuple[Snapshot, ...] | None = None
    problems: tuple[Problem, ...] = ()
    rebuild: bool = False
    passed: tuple[Snapshot, ...] = ()


@dataclass(frozen=True)
class SourceState:
    """What the status line says about the source itself."""

    alive: bool = True  # the trainer runs; for a recording being written: the writer still writes
    cursor: int | None = None  # seekable: the snapshot shown (0-based) and how many there are
    length: int | None = None
    playing: bool = False
    speed: float = 1.0  # replay speed
    speed_cap: float | None = None  # live: the steps/s limit in force
    note: str = ""  # a short word on the source: "following", "writer stopped", "ended", the log path

    @property
    def position(self) -> str:
        if self.cursor is None or self.length is None:
            return ""
        return f"{self.cursor + 1:,}/{self.length:,}"


@runtime_checkable
class SnapshotSource(Protocol):
    capabilities: Capabilities

    @property
    def configs(self) -> list[Config | None]:
        """Per run, the engine settings it started with (None for a source that is not the engine)."""
        ...

    def start(self) -> SnapshotSource: ...

    def poll(self) -> Update: ...

    def send(self, command: Command) -> None:
        """Do ``command``; one the source cannot do comes back as a Problem from the next ``poll``."""
        ...

    def state(self) -> SourceState: ...

    def close(self) -> None: ...


def why_not(caps: Capabilities, need: str) -> str:
    """Why a source with ``caps`` cannot do what needs ``need`` ("change", "fork", "seek"), in words; "" if it
    can. The words follow from the capabilities: a seekable source is a recording, a live one that cannot be
    changed is a run gradtui does not train (the PyTorch probe)."""
    recording = caps.can_seek
    if need == "change" and not caps.can_change:
        if recording:
            return "this is a recording: it cannot be changed (train it live to change it)"
        return "this run is not trained by gradtui: its settings cannot be changed here"
    if need == "fork" and not caps.can_fork:
        if recording:
            return "a recording cannot be forked into twins (train it live to fork it)"
        return "this run is not trained by gradtui: it cannot be forked into twins"
    if need == "seek" and not caps.can_seek:
        return "a live run has no cursor to move (R records it; gradtui replay FILE has one)"
    return ""


def refuse(command: Command, caps: Capabilities) -> Problem | None:
    """The Problem for a command that ``caps`` cannot do (the words say why), else None."""
    need = ""
    if isinstance(command, (ApplyChange, Pause, StepOnce, SetSpeedCap, Restart)):
        need = "change"
    elif isinstance(command, SetRuns):
        need = "fork"
    elif isinstance(command, (Seek, SeekBy, SeekEvent, Play, PlaySpeed)):
        need = "seek"
    why = why_not(caps, need) if need else ""
    return Problem(why, level="warning") if why else None


def finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x
