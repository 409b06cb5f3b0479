"""Compare mode: 2 to 4 twins from the same seed, in lockstep, side by side on one log scale; the keys change the
selected twin."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from ...doctor import Doctor
from ...engine import Config, Snapshot
from ...source import Pause, Update
from ..draw import decade_range, log10
from ..history import History
from ..keys import COMPARE, Key, bindings, unavailable
from ..widgets.base import Panel
from ..widgets.compare import RUN_NAMES, CompareDiff, CompareLoss, run_label
from ..widgets.flow import GradientFlow
from ..widgets.heatmap import GradientHeatmap, visible_range
from .dashboard import DashboardScreen, guarded
from .live import ChangeKeys, key_applies


def shared_scale(snaps: tuple[Snapshot, ...], histories: list[History]) -> tuple[float, float]:
    """The log10 range (whole decades) covering every run's flow figures, now and in the visible history."""
    ranges = [visible_range(h.flows(h.flow.shape[1])) for h in histories if len(h)]  # (the whole run)
    now = [log10(s.flow(e)) for s in snaps for e in s.entries]
    lo_now, hi_now = decade_range(now)
    lo = min([lo_now, *(r[0] for r in ranges)])
    hi = max([hi_now, *(r[1] for r in ranges)])
    return float(lo), float(hi)


class CompareScreen(ChangeKeys, DashboardScreen):
    MODE = "compare"
    KEYS: ClassVar[list[Key]] = COMPARE
    BINDINGS = [*bindings(COMPARE), *unavailable(COMPARE)]  # type: ignore[assignment]

    def __init__(self, configs: list[Config], target: int = 0) -> None:
        super().__init__()
        self.configs = list(configs)  # what the user asked for, per run
        self.target = target
        self.snaps: tuple[Snapshot, ...] = ()
        self.histories = [History() for _ in configs]
        self.doctors = [Doctor() for _ in configs]

    def main(self) -> ComposeResult:
        with Horizontal(id="runs"):
            for i in range(len(self.configs)):
                with Vertical(classes="run" + (" -target" if i == self.target else ""), id=f"run-{i}"):
                    yield Static(run_label(i, None), classes="run-title", id=f"title-{i}")
                    yield GradientFlow(id=f"flow-{i}").add_class("panel")
                    yield GradientHeatmap(id=f"heatmap-{i}").add_class("panel")
        with Horizontal(id="compare-bottom"):
            yield CompareLoss(id="compare-loss").add_class("panel")
            yield CompareDiff(id="compare-diff").add_class("panel")

    def show_view(self) -> None:
        # twins in a small terminal: each run's flow, and the difference table
        self.set_class(self.compact, "-cramped")
        self.set_class(False, "-compact")
        self.set_class(False, "-zoom")

    def action_view(self, k: int) -> None:
        self.action_unavailable("compare mode shows every twin's flow and history at once (F: back to one run)")

    def target_config(self) -> Config:
        return self.configs[self.target]

    def set_target_config(self, config: Config) -> None:
        self.configs[self.target] = config

    def target_run(self) -> int | None:
        return self.target

    def runs_with(self, config: Config) -> list[Config]:
        return [config if i == self.target else c for i, c in enumerate(self.configs)]

    def other_mode(self, key: Key) -> str:
        if key.name == "fix":
            return "x tries the doctor's fix from one run: F goes back to one run first"
        return super().other_mode(key)

    def desired_config(self) -> Config | None:
        return self.target_config()

    def applies(self, key: Key) -> bool:
        return key_applies(key, self.target_config())

    def status_note(self) -> str:
        rec = self.gapp.recorder
        note = f"keys change run {RUN_NAMES[self.target]}"
        return note + (f"  ● REC {rec.lines}" if rec is not None else "")

    # ---- snapshots ----
    def take(self, update: Update) -> None:
        snaps = update.snapshots
        if snaps is None or len(snaps) != len(self.configs):
            return  # none, or from before a fork/unfork that the trainer has not seen yet
        first = not self.snaps
        self.snaps = snaps
        self.snap = snaps[self.target]
        if first:
            self.configs = [s.config if s.config is not None else c for s, c in zip(snaps, self.configs)]
        for h, d, s in zip(self.histories, self.doctors, snaps):
            h.add(s)
            d.observe(s)
            self.gapp.record(s)
        self.alerts = self.doctors[self.target].diagnose()
        self.redraw()
        self.gapp.resolve(self.snap)

    def problem(self, p) -> None:
        super().problem(p)
        if self.snaps and not p.fatal:
            self.configs = [s.config if s.config is not None else c for s, c in zip(self.snaps, self.configs)]

    def redraw(self) -> None:
        snaps = self.snaps
        if not snaps:
            return
        # one log scale for every run, so that equal bars and colours mean equal gradients
        scale = shared_scale(snaps, self.histories)
        with self.app.batch_update():
            queued = 0  # busy panels due now: the first is drawn, the others follow one by one (Panel.show)
            for i, s in enumerate(snaps):
                title = self.query_one(f"#title-{i}", Static)
                text = ("▶ " if i == self.target else "  ") + run_label(i, s) + ("  ⏸" if s.paused else "")
                if str(title.render()) != text:
                    title.update(text)
                view = self.panel_view(s, self.histories[i], scale=scale)
                for panel in (self.query_one(f"#flow-{i}", Panel), self.query_one(f"#heatmap-{i}", Panel)):
                    queued += panel.show(view, queued)
            view = self.panel_view(snaps[0], self.histories[0])
            self.query_one(CompareLoss).show_runs(view, snaps, self.histories)
            self.query_one(CompareDiff).show_runs(view, snaps)
            self.query_one("#alerts").show(self.alerts)  # type: ignore[attr-defined]
            self.refresh_chrome()

    # ---- actions ----
    @guarded
    def action_pause(self) -> None:
        paused = not (self.snaps[self.target].paused if self.target < len(self.snaps) else False)
        self.send(Pause(paused, self.target))

    @guarded
    def action_pause_all(self) -> None:
        paused = not all(s.paused for s in self.snaps) if self.snaps else True
        self.send(Pause(paused))

    @guarded
    def action_step(self) -> None:
        from ...source import StepOnce

        self.send(Pause(True, self.target))
        self.send(StepOnce(self.target))

    @guarded
    def action_reset(self) -> None:
        from ...engine import Change
        from ...source import ApplyChange, Restart

        if not self.gapp.source.state().alive:
            self.send(Restart())
            started = self.gapp.source.configs
            if len(started) == len(self.configs):  # what the new trainer runs is what the status line shows
                self.configs = [s if s is not None else c for s, c in zip(started, self.configs)]
            self.refresh_chrome()
            return
        self.send(ApplyChange(Change("reset"), self.target))

    @guarded
    def action_target(self) -> None:
        self.target = (self.target + 1) % len(self.configs)
        for i in range(len(self.configs)):
            self.query_one(f"#run-{i}").set_class(i == self.target, "-target")
        if self.snaps:
            self.snap = self.snaps[self.target]
            self.alerts = self.doctors[self.target].diagnose()
            self.redraw()
        self.refresh_chrome()

    @guarded
    async def action_fork(self) -> None:
        if len(self.configs) >= 4:
            self.app.bell()
            self.say("at most 4 twins", "warning")
            return
        self.check_memory([*self.configs, self.target_config()])
        await self.gapp.fork([*self.configs, self.target_config()], target=len(self.configs))

    @guarded
    async def action_unfork(self) -> None:
        await self.gapp.unfork(self.target_config())

    @guarded
    def action_record(self) -> None:
        self.gapp.toggle_recording(self.snap)
        self.refresh_chrome()
