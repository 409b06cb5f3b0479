"""Panel 7, the status line (the network as configured, step, speed, state) and the alerts line (in words)."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

from ...diagnose import Alert, diagnose
from ...engine import Config, Snapshot


class StatusBar(Widget):
    """Shows the *desired* config at once (keys update it before the trainer has rebuilt), and the run's state."""

    DEFAULT_CSS = "StatusBar { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.config: Config | None = None
        self.snap: Snapshot | None = None
        self.mode = "live"
        self._key = None

    def show(self, config: Config, snap: Snapshot | None, mode: str = "live") -> None:
        key = (config, id(snap), mode)
        if key != self._key:
            self.config, self.snap, self.mode, self._key = config, snap, mode, key
            self.refresh()

    def render(self) -> Text:
        c, s = self.config, self.snap
        if c is None:
            return Text("starting…")
        narrow = self.size.width < 116  # 80 columns must still show the state, the speed and the lr
        t = Text(no_wrap=True, overflow="ellipsis")
        if not narrow:
            t.append(" gradtui ", style="bold reverse")
        # the run's state first, then the network
        if s is not None:
            if s.diverged is not None:
                t.append(" ✖ DIVERGED ", style="bold white on red")
            elif s.paused:
                t.append(" ⏸ " if narrow else " ⏸ paused ", style="bold black on yellow")
            else:
                t.append(" ▶ " if narrow else " ▶ training ", style="bold black on green")
            t.append(f" step {s.step:,} ")
            if not s.paused and math.isfinite(s.steps_per_sec):
                t.append(f"{s.steps_per_sec:,.0f} steps/s ", style="dim")
            if s.config != c:
                t.append("rebuilding… ", style="italic dim")
            t.append("│")
        t.append(f" {c.activation} ", style="bold")
        t.append(f"{c.depth}×{c.width} ", style="bold")
        t.append(f"{c.init} " if narrow else f"init {c.init} ")
        if narrow:
            t.append("BN " if c.batchnorm else "", style="bold green")
            t.append("res " if c.residual else "", style="bold green")
        else:
            t.append(f"BN {'on' if c.batchnorm else 'off'} ", style="bold green" if c.batchnorm else "dim")
            t.append(f"res {'on' if c.residual else 'off'} ", style="bold green" if c.residual else "dim")
        t.append(f"{c.optimizer} lr {c.lr:g} ")
        t.append(f"{c.dataset} ", style="italic")
        if self.mode != "live":
            t.append(f" {self.mode} ", style="bold reverse")
        return t


LEVEL_STYLE = {"error": "bold white on red", "warning": "bold black on yellow", "info": "bold black on green"}
LEVEL_ICON = {"error": "✖", "warning": "⚠", "info": "✓"}


class AlertsLine(Widget):
    """What is wrong, in words (gradtui.diagnose), most severe first; or a message from the app (engine errors)."""

    DEFAULT_CSS = "AlertsLine { height: auto; max-height: 2; }"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.alerts: list[Alert] = []
        self.message: Alert | None = None

    def show(self, snap: Snapshot) -> None:
        alerts = diagnose(snap)
        if [a.text for a in alerts] != [a.text for a in self.alerts]:
            self._update(self.message, alerts)

    def say(self, text: str, level: str = "error") -> None:
        """A message from the app itself (an engine error, a refused change); stays until the next one or clear."""
        message = Alert(level, "app", text) if text else None
        if message != self.message:
            self._update(message, self.alerts)

    def _update(self, message: Alert | None, alerts: list[Alert]) -> None:
        lines_before = len(self.shown[:2])
        self.message, self.alerts = message, alerts
        self.refresh(layout=len(self.shown[:2]) != lines_before)  # a layout pass only when the height changes

    @property
    def shown(self) -> list[Alert]:
        return ([self.message] if self.message else []) + self.alerts

    def render(self) -> Text:
        t = Text(overflow="ellipsis")
        for i, a in enumerate(self.shown[:2]):
            if i:
                t.append("\n")
            t.append(f" {LEVEL_ICON.get(a.level, '•')} ", style=LEVEL_STYLE.get(a.level, "bold"))
            t.append(" " + a.text)
        return t
