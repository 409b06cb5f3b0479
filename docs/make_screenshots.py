"""Regenerate the README's screenshots from the app itself: python docs/make_screenshots.py

Runs the real dashboard (trainer in a thread) headless at a fixed size, lets it train, pauses, and saves SVGs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gradtui.engine import Config
from gradtui.session import Session
from gradtui.tui.app import GradTUI

HERE = Path(__file__).parent


async def shoot(name: str, configs, size, steps: int, keys: str = "") -> None:
    app = GradTUI(Session(configs, mode="thread").start(), fps=10)
    async with app.run_test(size=size) as pilot:
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: s.step >= steps), 120)
        await pilot.press("P" if app.compare else "space")  # P pauses every twin, space the selected one
        await asyncio.wait_for(app.wait_for_snapshot(lambda s: all(x.paused for x in app.snaps)), 20)
        for k in keys:
            await pilot.press(k)
        await pilot.pause(0.6)  # let the throttled chart draw its last frame
        path = app.save_screenshot(f"{name}.svg", str(HERE))
        print("wrote", path)


async def main() -> None:
    await shoot("dashboard", Config(), (140, 44), 3000)
    await shoot("dashboard-relu", Config(activation="relu", init="he"), (140, 44), 3000)
    await shoot("compact-80x24", Config(), (80, 24), 1000)
    await shoot("compare", [Config(activation="relu", init="he", depth=12), Config(depth=12)], (140, 44), 2000)


if __name__ == "__main__":
    asyncio.run(main())
