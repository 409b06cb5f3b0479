"""Live mode: one run, trained now; every key changes it (rebuild from the seed, or live)."""

from __future__ import annotations

from typing import Any, ClassVar

from ...engine import ACTIVATIONS, Change, Config, ConfigError, Snapshot
from ...engine.config import available_memory, changed, fits_in_memory
from ...engine.data import available_datasets
from ...engine.names import MODEL_NAMES, RNN_ACTIVATION_NAMES, TASK_INFO
from ...engine.optim import OPTIMISERS
from ...source import ApplyChange, Pause, Restart, SetSpeedCap, StepOnce, Update
from ..keys import LIVE, Key, bindings, unavailable
from .dashboard import Refused, SingleRunScreen, guarded

DEPTHS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100]
LRS = [k * 10.0**e for e in range(-5, 3) for k in (1, 2, 5)]
INITS = ["he", "he_uniform", "xavier", "xavier_uniform", "lecun", "orthogonal", "normal:1.0", "normal:0.01"]
RECURRENT_INITS = ["orthogonal", "identity", "xavier_uniform", "normal:1.0", "normal:0.01"]
SEQ_LENS = [10, 20, 30, 40, 50, 100, 200, 300, 500, 1000]
CLIP_ON = 1.0
# the Config field each key changes (for the key bar: a key whose field does not apply to the model is not shown)
KEY_FIELDS = {
    "depth(1)": "depth", "depth(-1)": "depth", "toggle('batchnorm')": "batchnorm", "toggle('residual')": "residual",
    "seq_len(1)": "seq_len", "seq_len(-1)": "seq_len", "forget_bias": "forget_bias", "activation(1)": "activation",
    "activation(-1)": "activation", "pick": "activation",
}  # fmt: skip
# what to do instead, after a key's refusal
INSTEAD = {
    "depth": "{ and } change the sequence length T",
    "batchnorm": "m goes back to the MLP",
    "residual": "m goes back to the MLP",
    "seq_len": "m switches to a recurrent model",
    "forget_bias": "m switches to an LSTM",
    "activation": "m switches to a vanilla RNN or the MLP",
}
# why a key of another mode does nothing in live mode (beyond what the capabilities say)
OTHER_MODE = {
    "target": "there are no twins to choose from: f forks the run into two",
    "pause_all": "there are no twins to pause together: space pauses this run",
    "unfork": "there is one run already (F goes back to one run from twins; f forks)",
}
CAPS: list[float | None] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, None]  # steps/s; None: no cap


def step_through(values: list, current, direction: int):
    """The next value of ``values`` above (direction > 0) or below ``current``; ``current`` need not be in it."""
    if direction > 0:
        return next((v for v in values if v > current * (1 + 1e-9)), None)
    return next((v for v in reversed(values) if v < current * (1 - 1e-9)), None)


def cycle(values: list, current, direction: int):
    i = values.index(current) if current in values else -1
    return values[(i + direction) % len(values)]


def next_cap(cap: float | None, direction: int) -> float | None:
    """The speed cap one step faster (direction > 0; no cap at the top) or slower."""
    finite = [c for c in CAPS if c is not None]
    if direction > 0:
        if cap is None:
            return None
        return step_through(finite, cap, 1)
    if cap is None:
        return finite[-1]
    return step_through(finite, cap, -1) or finite[0]


class ChangeKeys:
    """The keys that change a run's settings, shared by the live and the compare screen: each validates at once
    (instant feedback, one-line errors), shows the desired config and sends the change to the trainer."""

    def target_config(self) -> Config:
        """The settings the keys change (NotConfigurable for a source that is not the engine)."""
        raise NotImplementedError

    def set_target_config(self, config: Config) -> None:
        raise NotImplementedError

    def target_run(self) -> int | None:
        return None

    def runs_with(self, config: Config) -> list[Config]:
        """Every run's settings with the keys' target run's replaced by ``config`` (what would train)."""
        return [config]

    def memory_refusal(self, configs: list[Config], refused: str = "not changed") -> str:
        """Why ``configs`` (the runs that would train, twins' memory adding up) cannot be trained: they would not
        fit in the memory available (that of the runs they replace counted in, as those free theirs); "" if
        they fit."""
        have = available_memory()
        if have is None:
            return ""
        current = [c for c in self.gapp.source.configs if c is not None]  # type: ignore[attr-defined]
        have += sum(c.estimate_bytes() for c in current)
        try:
            fits_in_memory(configs, available=have)
        except ConfigError as e:
            return f"{refused}: {e}"
        return ""

    def check_memory(self, configs: list[Config]) -> None:
        """Refuse (in words) twins or a change that would not fit in memory."""
        why = self.memory_refusal(configs, "no twins")
        if why:
            raise Refused(why)

    def refused(self, field: str) -> bool:
        """Does ``field`` not apply to the model? Then say why (and what to do instead), and ring the bell."""
        why = self.target_config().why_not(field)
        if not why:
            return False
        self.app.bell()  # type: ignore[attr-defined]
        instead = INSTEAD.get(field)
        self.say(f"{why}{' — ' + instead if instead else ''}", "warning")  # type: ignore[attr-defined]
        return True

    def change(self, field: str, value: Any) -> None:
        if self.refused(field):
            return
        try:
            config = changed(self.target_config(), field, value)
        except ConfigError as e:
            self.say(str(e), "warning")  # type: ignore[attr-defined]
            return
        why = self.memory_refusal(self.runs_with(config))
        if why:
            self.action_unavailable(why)  # type: ignore[attr-defined]
            return
        self.set_target_config(config)
        self.send(ApplyChange(Change(field, value), self.target_run()))  # type: ignore[attr-defined]
        self.refresh_chrome()  # type: ignore[attr-defined]

    @guarded
    def action_model(self, direction: int) -> None:
        self.change("model", cycle(list(MODEL_NAMES), self.target_config().model, direction))

    @guarded
    def action_activation(self, direction: int) -> None:
        c = self.target_config()
        names = list(RNN_ACTIVATION_NAMES) if c.model == "rnn" else list(ACTIVATIONS)
        self.change("activation", cycle(names, c.activation, direction))

    @guarded
    def action_pick(self) -> None:
        from .modals import ActivationPicker

        if self.refused("activation"):
            return

        def chosen(name: str | None) -> None:
            if name:
                self.change("activation", name)

        c = self.target_config()
        only = RNN_ACTIVATION_NAMES if c.model == "rnn" else None
        self.app.push_screen(ActivationPicker(c.activation, only=only), chosen)  # type: ignore[attr-defined]

    @guarded
    def action_seq_len(self, direction: int) -> None:
        if self.refused("seq_len"):
            return
        value = step_through(SEQ_LENS, self.target_config().seq_len, direction)
        if value is None:
            self.say(f"the sequence length is at its {'most' if direction > 0 else 'least'}", "info")  # type: ignore[attr-defined]
        else:
            self.change("seq_len", value)

    @guarded
    def action_forget_bias(self) -> None:
        if self.refused("forget_bias"):
            return
        self.change("forget_bias", 0.0 if self.target_config().forget_bias == 1.0 else 1.0)

    @guarded
    def action_clip(self) -> None:
        self.change("clip", 0.0 if self.target_config().clip > 0 else CLIP_ON)

    @guarded
    def action_depth(self, direction: int) -> None:
        if self.refused("depth"):
            return
        value = step_through(DEPTHS, self.target_config().depth, direction)
        if value is None:
            self.say(f"depth is at its {'most' if direction > 0 else 'least'}", "info")  # type: ignore[attr-defined]
        else:
            self.change("depth", value)

    @guarded
    def action_width(self, direction: int) -> None:
        width = self.target_config().width
        value = width * 2 if direction > 0 else width // 2
        if 1 <= value <= 1024:
            self.change("width", value)
        else:
            self.say(f"width is at its {'most (1024)' if direction > 0 else 'least (1)'}", "info")  # type: ignore[attr-defined]

    @guarded
    def action_init(self, direction: int) -> None:
        c = self.target_config()
        if c.recurrent:  # a cell's hidden-to-hidden weights: the initialiser that matters through time
            self.change("recurrent_init", cycle(RECURRENT_INITS, c.recurrent_init, direction))
        else:
            self.change("init", cycle(INITS, c.init, direction))

    @guarded
    def action_toggle(self, field: str) -> None:
        if self.refused(field):
            return
        self.change(field, not getattr(self.target_config(), field))

    @guarded
    def action_optimizer(self) -> None:
        self.change("optimizer", cycle(list(OPTIMISERS), self.target_config().optimizer, 1))

    @guarded
    def action_lr(self, direction: int) -> None:
        value = step_through(LRS, self.target_config().lr, direction)
        if value is None:
            self.say("the learning rate is at the end of its range", "info")  # type: ignore[attr-defined]
        else:
            self.change("lr", float(f"{value:.3g}"))

    @guarded
    def action_dataset(self, direction: int = 1) -> None:
        c = self.target_config()
        if c.recurrent:
            self.change("task", cycle(list(TASK_INFO), c.task, direction))
        else:
            self.change("dataset", cycle(available_datasets(), c.dataset, direction))

    @guarded
    def action_speed(self, direction: int) -> None:
        app = self.app  # type: ignore[attr-defined]
        cap = next_cap(app.source.state().speed_cap, direction)
        self.send(SetSpeedCap(cap))  # type: ignore[attr-defined]
        self.refresh_chrome()  # type: ignore[attr-defined]


def key_applies(key: Key, config: Config) -> bool:
    """Does the key change a setting of ``config``'s model (the key bar shows only those)?"""
    field = KEY_FIELDS.get(key.action)
    return field is None or not config.why_not(field)


class LiveScreen(ChangeKeys, SingleRunScreen):
    MODE = "live"
    KEYS: ClassVar[list[Key]] = LIVE
    BINDINGS = [*bindings(LIVE), *unavailable(LIVE)]  # type: ignore[assignment]

    def __init__(self, config: Config | None) -> None:
        super().__init__()
        self.config = config  # what the user asked for (ahead of the trainer while it rebuilds); None: not the engine
        self.paused = False

    def target_config(self) -> Config:
        if self.config is None:
            raise Refused("this run is not gradtui's own network: its settings cannot be changed here")
        return self.config

    def set_target_config(self, config: Config) -> None:
        self.config = config

    def desired_config(self) -> Config | None:
        return self.config

    def other_mode(self, key: Key) -> str:
        return OTHER_MODE.get(key.name) or super().other_mode(key)

    def status_note(self) -> str:
        rec = self.gapp.recorder
        return f"● REC {rec.lines}" if rec is not None else ""

    def applies(self, key: Key) -> bool:
        if key.action == "fix":
            return any(a.fix is not None and a.fix.changes for a in self.alerts)
        return self.config is None or key_applies(key, self.config)

    # ---- snapshots ----
    def take(self, update: Update) -> None:
        if update.snapshots is None:
            return
        snap = update.snapshots[0]
        prev = self.snap
        self.snap = snap
        self.show_axis(snap)
        if prev is None and snap.config is not None:
            self.config = snap.config
        if prev is not None and prev.config != snap.config and snap.config == self.config:
            self.say("")  # the change went through: clear an old message
        if prev is None or snap.paused != prev.paused:
            self.paused = snap.paused  # the trainer may pause itself (an engine error): follow what it says
        self.selected = min(self.selected, len(snap.entries) - 1)
        self.history.add(snap)
        self.doctor.observe(snap)
        self.alerts = self.doctor.diagnose()
        self.gapp.record(snap)
        self.redraw()
        self.gapp.resolve(snap)

    def problem(self, p) -> None:
        super().problem(p)
        if self.snap is not None and self.snap.config is not None and not p.fatal:
            self.config = self.snap.config  # a refused change: show what really runs

    # ---- actions ----
    @guarded
    def action_pause(self) -> None:
        self.paused = not self.paused
        self.send(Pause(self.paused))

    @guarded
    def action_step(self) -> None:
        if not self.paused:
            self.paused = True
            self.send(Pause(True))
        self.send(StepOnce())

    @guarded
    def action_reset(self) -> None:
        if not self.gapp.source.state().alive:
            self.send(Restart())
            self.say("starting a new trainer…", "info")
            started = self.gapp.source.configs
            if self.config is not None and started and started[0] is not None:
                self.config = started[0]  # what the new trainer runs is what the status line shows
            self.refresh_chrome()
            return
        self.send(ApplyChange(Change("reset")))

    @guarded
    async def action_fork(self) -> None:
        config = self.target_config()
        self.check_memory([config, config])
        await self.gapp.fork([config, config], target=1)

    @guarded
    async def action_fix(self) -> None:
        fixable = [a for a in self.alerts if a.fix is not None and a.fix.changes]
        if not fixable:
            self.app.bell()
            self.say("the doctor has no fix to try here: nothing is wrong that a setting would cure", "info")
            return
        alert = fixable[0]
        assert alert.fix is not None
        try:
            fixed = alert.fix.apply(self.target_config())
        except ConfigError as e:
            self.say(f"the fix cannot be applied: {e}", "warning")
            return
        self.check_memory([self.target_config(), fixed])
        await self.gapp.fork([self.target_config(), fixed], target=1)
        self.app.notify(f"B is A with the doctor's fix: {alert.fix.text}", title="Try the fix")

    @guarded
    def action_record(self) -> None:
        self.gapp.toggle_recording(self.snap)
        self.refresh_chrome()

    def snapshot_for_tests(self) -> Snapshot | None:
        return self.snap
