"""A schema-1 recording (written by gradtui 0.1, tests/data) opened in the dashboard's replay screen: the keys
that move the cursor (End, ←, Home, space) work on it, every panel draws something, and nothing crashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from uitest import ready, rendered

from gradtui.record import Recording
from gradtui.replay import RecordingSource
from gradtui.tui.app import GradTUI
from gradtui.tui.widgets.base import Panel
from gradtui.tui.widgets.status import StatusBar

DATA = Path(__file__).parent / "data"
CASES = [("schema1_spiral.jsonl", None), ("schema1_sine.jsonl", None), ("schema1_compare.jsonl", "A"),
         ("schema1_compare.jsonl", "B"), ("schema1_diverged.jsonl", None)]  # fmt: skip


def panels_drawn(app: GradTUI) -> dict[str, str]:
    """The text of every panel on screen (a hidden one -- the gates of an MLP -- is not drawn)."""
    return {p.id or type(p).__name__: rendered(p) for p in app.dashboard.query(Panel) if p.display}


@pytest.mark.parametrize("name, run", CASES, ids=[f"{n.split('.')[0]}-{r or ''}" for n, r in CASES])
async def test_a_schema1_recording_replays_in_the_dashboard(name, run):
    rec = Recording(DATA / name)
    assert not rec.warnings
    source = RecordingSource(rec, run=run)
    n = source.length
    assert n >= 1
    steps = [rec.snapshot(i, run).step for i in range(n)] if run else [rec.snapshot(i).step for i in range(n)]
    app = GradTUI(source, fps=50)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        d = app.dashboard

        async def at(index: int, what: str) -> None:
            for _ in range(100):
                if d.snap is not None and d.snap.step == steps[index]:
                    break
                await pilot.pause()
            assert d.snap is not None and d.snap.step == steps[index], what
            assert app.is_running and app.crash_log is None, what
            status = d.query_one(StatusBar).render().plain
            assert f"{index + 1}/{n}" in status, (what, status)
            drawn = panels_drawn(app)
            assert len(drawn) >= 5, drawn
            for panel, text in drawn.items():
                assert text.strip(), (what, panel)
                assert "Traceback" not in text

        await at(0, "opened")
        await pilot.press("end")
        await at(n - 1, "End")
        await pilot.press("left")
        await at(max(0, n - 2), "←")
        await pilot.press("home")
        await at(0, "Home")
        await pilot.press("space")  # play: it runs to the end and stops there
        await at(n - 1, "space")
        assert app.is_running and app.crash_log is None
