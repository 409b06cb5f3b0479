"""Every key of every mode either acts or says why it does nothing; the screens decide from the source's
capabilities (a live source that cannot change or fork refuses those keys in words); the change keys, fork and
"try the fix" refuse what would not fit in memory; the views line shortens by rule, never cropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import make_snapshot
from uitest import FakeSource, ready, rendered, show

from gradtui.doctor import Alert, Fix
from gradtui.engine import Change
from gradtui.source import ApplyChange, Capabilities, Pause, SetRuns, SetSpeedCap
from gradtui.tui import app as app_module
from gradtui.tui.app import GradTUI
from gradtui.tui.keys import COMMON, COMPARE, LIVE, REPLAY, every_key
from gradtui.tui.screens import live as live_screen
from gradtui.tui.screens.dashboard import VIEW_NAMES, views_line
from gradtui.tui.widgets.status import AlertsLine, KeyBar, StatusBar

TRAINER = Capabilities(can_change=True, can_fork=True, live=True)
MODES: dict[str, Capabilities] = {
    "live": TRAINER,
    "compare": TRAINER,
    "replay": Capabilities(can_seek=True),
    "watch": Capabilities(can_seek=True, live=True),
}
OWN = {"live": LIVE, "compare": COMPARE, "replay": REPLAY, "watch": REPLAY}


class CountingApp(GradTUI):
    """The dashboard, counting its notifications (a key that acts may only notify: s, R)."""

    CSS_PATH = str(Path(app_module.__file__).parent / "gradtui.tcss")  # (relative to the class's own file)

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.notes: list[str] = []

    def notify(self, message: str, *a: Any, **kw: Any) -> None:  # type: ignore[override]
        self.notes.append(message)
        super().notify(message, *a, **kw)


def source_for(mode: str, caps: Capabilities | None = None) -> tuple[FakeSource, tuple]:
    snap = make_snapshot(depth=6)
    if mode == "compare":
        src = FakeSource(config=snap.config, runs=[snap.config, snap.config], capabilities=caps or MODES[mode])
        return src, (snap.replace(run="A"), snap.replace(run="B"))
    return FakeSource(config=snap.config, capabilities=caps or MODES[mode]), (snap,)


def key_names() -> list[str]:
    """Every key name of the app's key table and the common keys, but quitting."""
    names: list[str] = []
    for k in [*every_key(), *COMMON]:
        for n in k.keys.split(","):
            if n not in names and k.action != "quit":
                names.append(n)
    return names


def state(app: CountingApp, src: FakeSource) -> tuple:
    d = app.dashboard
    return (len(src.sent), id(d), len(app.screen_stack), d.selected, d.view, d.compact_view,
            getattr(d, "target", None), app.recorder is not None, len(app.notes))  # fmt: skip


@pytest.mark.parametrize("mode", list(MODES))
async def test_every_key_of_every_mode_acts_or_says_why(mode, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # s and R write their files here
    src, snaps = source_for(mode)
    app = CountingApp(src, fps=20, color="truecolor")
    own = {n for k in [*OWN[mode], *COMMON] for n in k.keys.split(",")}
    silent, answered = [], {}
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        show(app, *snaps)
        await pilot.pause()
        for name in key_names():
            d = app.dashboard
            d.selected = 2  # in the middle: up and down both move it
            d.say("")
            before = state(app, src)
            await pilot.press(name)
            await pilot.pause()
            message = app.dashboard.query_one(AlertsLine).message
            acted = state(app, src) != before
            if not acted and message is None:
                silent.append(name)
            if name not in own:
                # a key of another mode: it does nothing here, and says why
                assert len(src.sent) == before[0] and message is not None, (mode, name, message)
                answered[name] = message[1]
            # put things back for the next key
            while len(app.screen_stack) > before[2]:
                app.pop_screen()
                await pilot.pause()
            if app.recorder is not None:
                app.toggle_recording(None)
            if id(app.dashboard) != before[1]:  # fork, unfork: back to this mode's screen
                await app._show_mode(app.screen_for(src))
                await pilot.pause()
                show(app, *snaps)
                await pilot.pause()
    assert not silent, f"keys that do nothing and say nothing in {mode} mode: {silent}"
    assert answered  # every mode has keys of other modes
    if mode == "live":
        assert "twins" in answered["t"] and "cursor" in answered["e"] and "cursor" in answered["home"]
    if mode == "compare":
        assert "one run" in answered["x"] and "cursor" in answered["left"]
    if mode in ("replay", "watch"):
        assert "recording" in answered["a"] and "recording" in answered["t"] and "recording" in answered["R"]
        assert "fork" in answered["f"]


async def test_a_live_source_that_cannot_change_or_fork_refuses_those_keys_in_words():
    """Like a PyTorch run gradtui does not train: the screens decide from the capabilities, not the source's type."""
    src, (snap,) = source_for("live", Capabilities(live=True))
    app = CountingApp(src, fps=20)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        show(app, snap.replace(paused=False))
        await pilot.pause()
        bar = [k.action for k in app.dashboard.query_one(KeyBar).keys]
        assert "pause" not in bar and "activation(1)" not in bar and "fork" not in bar and "fix" not in bar
        assert "help" in bar and "quit" in bar
        for key, words in [("a", "cannot be changed"), ("plus", "cannot be changed"), ("space", "cannot be changed"),
                           ("less_than_sign", "cannot be changed"), ("f", "cannot be forked"),
                           ("x", "cannot be forked"), ("ctrl+r", "cannot be changed")]:  # fmt: skip
            app.dashboard.say("")
            await pilot.press(key)
            await pilot.pause()
            message = app.dashboard.query_one(AlertsLine).message
            assert message is not None and words in message[1] and "not trained by gradtui" in message[1], key
        assert src.sent == [c for c in src.sent if not isinstance(c, (ApplyChange, Pause, SetRuns, SetSpeedCap))]
        assert type(app.dashboard).__name__ == "LiveScreen"  # f did not fork
        assert app.dashboard.config == snap.config  # a refused key leaves the shown settings alone
        src.alive = False  # the run ended: not "trainer stopped", which is about gradtui's own trainer
        app.dashboard.refresh_chrome()
        status = rendered(app.dashboard.query_one(StatusBar))
        assert "stopped" in status and "trainer" not in status and "training" not in status


async def test_twins_from_a_source_that_cannot_fork_are_not_a_compare_screen():
    src, _ = source_for("compare", Capabilities(live=True))
    app = GradTUI(src, fps=20)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        assert type(app.dashboard).__name__ == "LiveScreen"


# ---- memory --------------------------------------------------------------------------------------------------------
async def test_change_keys_fork_and_fix_refuse_what_would_not_fit_in_memory(monkeypatch):
    src, (snap,) = source_for("live")
    config = snap.config
    # 1 MB free beside the running network: it (and a narrower one) fit, a wider one or twins do not
    have = 2**20
    monkeypatch.setattr(live_screen, "available_memory", lambda: have)
    assert config.estimate_bytes() < 0.8 * (have + config.estimate_bytes())
    assert config.replace(width=32).estimate_bytes() > 0.8 * (have + config.estimate_bytes())
    app = GradTUI(src, fps=20)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        show(app, snap)
        await pilot.pause()

        async def refused(key: str, words: str) -> None:
            app.dashboard.say("")
            await pilot.press(key)
            await pilot.pause()
            message = app.dashboard.query_one(AlertsLine).message
            assert message is not None and words in message[1] and "MB is available" in message[1], (key, message)

        await refused("right_square_bracket", "this configuration needs about 3 MB")  # wider: ×2
        assert app.dashboard.config.width == 16 and not src.of(ApplyChange)
        await refused("f", "these 2 runs together need")
        assert not src.of(SetRuns) and type(app.dashboard).__name__ == "LiveScreen"
        fix = Fix("use tanh", (Change("activation", "tanh"),))
        app.dashboard.alerts = [Alert("warning", "dying", "half the units are dead", fix=fix)]
        await refused("x", "these 2 runs together need")
        assert not src.of(SetRuns)
        await pilot.press("left_square_bracket")  # narrower fits
        await pilot.pause()
        assert src.of(ApplyChange) == [ApplyChange(Change("width", 8), None)]


# ---- the views line ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [60, 61, 62])
async def test_the_views_line_shortens_by_rule_never_cropped(width):
    src, (snap,) = source_for("live")
    app = GradTUI(src, fps=20)
    async with app.run_test(size=(width, 24)) as pilot:
        await ready(pilot)
        show(app, snap)
        await pilot.pause()
        views = app.dashboard.query_one("#views")
        text = rendered(views)
        assert len(text.rstrip()) <= views.size.width
        words = text.split()
        assert words[0::2] == ["1", "2", "3", "4", "5", "6"]  # every view's number, each with a whole name
        for name, shown in zip(VIEW_NAMES, words[1::2]):
            assert shown in (name, {"History": "Hist", "Activations": "Acts", "Boundary": "Bound"}.get(name, name))


def test_views_line_stages():
    full = " 1 Flow  2 History  3 Activations  4 Units  5 Loss  6 Boundary "
    assert views_line(False, 0, 200).plain == full
    assert views_line(False, 0, len(full)).plain == full
    assert views_line(False, 0, len(full) - 1).plain == " 1 Flow  2 Hist  3 Acts  4 Units  5 Loss  6 Bound "
    assert views_line(False, 2, 40).plain == " 1  2  3 Acts  4  5  6 "  # only the current view keeps its name
    assert views_line(False, 2, 10).plain == " 1  2  3  4  5  6 "
    line = views_line(False, 4, 200)
    assert [line.plain[s.start : s.end] for s in line.spans if "reverse" in str(s.style)] == [" 5 Loss "]
