"""Regenerate the README's screenshots from the app itself: python docs/make_screenshots.py [NAME ...]

Runs the real dashboard (its trainer in a child process, as ``gradtui`` runs it) headless at a fixed size, lets it
train to a given step, pauses every run, and saves SVGs. Without names: every screenshot; with names, those only
(``python docs/make_screenshots.py rnn-vs-lstm``). ``probe`` (with torch installed) is the dashboard on the recording
that examples/torch_probe.py writes.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from gradtui.engine import Config
from gradtui.session import Session
from gradtui.tui.app import GradTUI
from gradtui.tui.screens.dashboard import DashboardScreen

HERE = Path(__file__).parent
TIMEOUT = 900.0  # seconds: training to the step of a shot, on a slow machine


async def _until(pilot, done, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("the dashboard did not get there in time")
        await pilot.pause(0.2)


async def shoot_probe(size=(140, 44), steps: int = 2000) -> None:
    """The README example trained for ``steps`` steps, its recording replayed to the end, a GELU entry selected."""
    from gradtui.record import Recording
    from gradtui.replay import RecordingSource

    spec = importlib.util.spec_from_file_location("torch_probe", HERE.parent / "examples" / "torch_probe.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/exp1.jsonl"
        example.main(steps=steps, every=50, out=out)
        app = GradTUI(RecordingSource(Recording(out)), fps=10)
        async with app.run_test(size=size) as pilot:
            await _until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.is_mounted, 60)
            await asyncio.wait_for(app.wait_for_snapshot(), 60)
            await pilot.press("end")
            await asyncio.wait_for(app.wait_for_snapshot(lambda s: s.step == steps), 60)
            await pilot.press(*["up"] * 8)  # encoder.layers.2.mlp.fc1: a Linear with its GELU
            await pilot.pause(0.6)
            print("wrote", app.save_screenshot("probe.svg", str(HERE)))


async def shoot(name: str, configs: Config | list[Config], size: tuple[int, int], steps: int, keys: str = "") -> None:
    runs = configs if isinstance(configs, list) else [configs]
    session = Session(runs if len(runs) > 1 else runs[0], mode="process").start()
    try:
        app = GradTUI(session, fps=10)
        async with app.run_test(size=size) as pilot:
            await _until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.is_mounted, 60)
            await asyncio.wait_for(app.wait_for_snapshot(lambda s: s.step >= steps), TIMEOUT)
            twins = len(runs) > 1
            await pilot.press("P" if twins else "space")  # P pauses every twin, space the single run
            screen = app.dashboard

            def paused() -> bool:
                snaps = getattr(screen, "snaps", None) or ((screen.snap,) if screen.snap is not None else ())
                return bool(snaps) and all(s.paused for s in snaps)

            await _until(pilot, paused, 60)
            for k in keys:
                await pilot.press(k)
            await pilot.pause(1.0)  # let the throttled panels draw their last frame
            path = app.save_screenshot(f"{name}.svg", str(HERE))
            print("wrote", path)
    finally:
        session.close()


SHOTS = {
    "dashboard": lambda: shoot("dashboard", Config(), (140, 44), 3000),
    "dashboard-relu": lambda: shoot("dashboard-relu", Config(activation="relu", init="he"), (140, 44), 3000),
    "compact-80x24": lambda: shoot("compact-80x24", Config(), (80, 24), 1000),
    "compare": lambda: shoot(
        "compare", [Config(activation="relu", init="he", depth=12), Config(depth=12)], (140, 44), 2000
    ),
    # the vanishing gradient through time: a tanh RNN and an LSTM from the same seed on the adding problem, T = 100
    "rnn-vs-lstm": lambda: shoot("rnn-vs-lstm", [Config.for_model("rnn"), Config.for_model("lstm")], (140, 44), 1500),
    "lstm": lambda: shoot("lstm", Config.for_model("lstm", seq_len=50), (140, 44), 800),
    "probe": lambda: shoot_probe(),
}


async def main(names: list[str]) -> None:
    for name in names or [n for n in SHOTS if n != "probe" or importlib.util.find_spec("torch") is not None]:
        await SHOTS[name]()


if __name__ == "__main__":
    unknown = [n for n in sys.argv[1:] if n not in SHOTS]
    if unknown:
        sys.exit(f"unknown screenshot {unknown[0]!r}; choose from {', '.join(SHOTS)}")
    asyncio.run(main(sys.argv[1:]))
