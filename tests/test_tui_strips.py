"""Panels hand Textual their drawing line by line (``gradtui/tui/strips.py``): every line they paint is, cell for
cell, what Textual's own conversion of the same Text paints, in every colour mode; a line that did not change keeps
its Strip."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import make_boundary, make_snapshot, snapshot_series
from rich.style import Style
from rich.text import Text
from textual.geometry import Offset, Region
from textual.selection import Selection
from textual.visual import Visual, visualize
from uitest import fake_app, painted, show

from gradtui.tui.strips import LineStrips
from gradtui.tui.widgets.base import Panel


def cells(strips, panel) -> list[list[tuple[str, tuple]]]:
    """Each cell of each strip as the terminal gets it (through the app's line filters: ANSI colours to truecolor,
    dim, no colour): its character and what shows of its style (a blank's colour does not)."""
    out = []
    background = panel.background_colors[1]
    for strip in strips:
        for f in panel.get_line_filters():
            strip = strip.apply_filter(f, background)
        row = []
        for seg in strip:
            st = seg.style or Style()
            fg, bg = colour(st.color), colour(st.bgcolor)
            look = (fg, bg, bool(st.bold), bool(st.dim), bool(st.italic), bool(st.reverse))
            for ch in seg.text:
                blank = ch == " " and not st.reverse
                row.append((ch, (None, bg, False, False, False, False) if blank else look))
        out.append(row)
    return out


def colour(c) -> tuple | None:
    """A colour by what it is, not by its name ("yellow" and "color(3)" are ANSI colour 3)."""
    return None if c is None else (c.type, c.number, c.triplet)


@pytest.mark.parametrize("color", ["truecolor", "256", "16", "none"])
async def test_a_panel_paints_what_textual_would_paint_of_its_text(color, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    snaps = [
        dataclasses.replace(s, boundary=make_boundary(classes=3))
        for s in snapshot_series(12, layer_overrides={2: dict(dead=5)}, vanishing_ratio=0.02)
    ]
    async with fake_app(color=color) as (app, pilot, _):
        for s in snaps:
            show(app, s)
        await pilot.pause()
        panels = [p for p in app.dashboard.query(Panel) if p.display and p.content_size.width >= 4]
        assert len(panels) >= 6
        for panel in panels:
            w, h = panel.content_size
            text = panel.render()
            assert isinstance(text, Text)
            theirs = Visual.to_strips(panel, visualize(panel, text), w, h, panel.visual_style, pad=True)
            ours = [panel.render_line(y) for y in range(h)]
            assert len(theirs) <= h and any(s.text.strip() for s in theirs)
            assert cells(ours[: len(theirs)], panel) == cells(theirs, panel), type(panel).__name__
            assert all(not s.text.strip() for s in ours[len(theirs) :])  # below the drawing: blank, as Textual pads


def test_a_line_that_did_not_change_keeps_its_strip():
    from rich.console import Console

    console = Console(width=20, force_terminal=True, color_system="truecolor")
    base = Style(color="#e0e0e0", bgcolor="#121212")
    strips = LineStrips()
    first = [Text("step 10"), Text("loss 0.5", style="bold")]
    from gradtui.tui.damage import line_keys

    strips.update(first, line_keys(first), 20)
    a0, a1 = strips.strip(0, console, base), strips.strip(1, console, base)
    assert a0.cell_length == 20 and a0.text.startswith("step 10")
    second = [Text("step 20"), Text("loss 0.5", style="bold")]
    strips.update(second, line_keys(second), 20)
    b0, b1 = strips.strip(0, console, base), strips.strip(1, console, base)
    assert b1 is a1  # the same line: the same Strip
    assert b0 is not a0 and b0.text.startswith("step 20")
    assert strips.strip(1, console, Style(bgcolor="#000000")) is not a1  # another base: made again
    assert strips.strip(5, console, base).text == " " * 20  # past the end: blank
    strips.update(second, line_keys(second), 30)  # another width: every line again
    assert strips.strip(1, console, base).cell_length == 30


async def test_text_selected_with_the_mouse_shows_on_a_panel():
    """A selection is drawn by Textual's own conversion (its selection style); cleared, the panel's lines again."""
    async with fake_app(snap=make_snapshot()) as (app, pilot, _):
        panel = app.dashboard.query_one("#flow", Panel)
        w, h = panel.content_size
        plain = [panel.render_line(y) for y in range(h)]
        app.screen.selections = {panel: Selection(Offset(0, 0), Offset(w, h))}
        await pilot.pause()
        selected = [panel.render_line(y) for y in range(h)]
        assert [s.text.rstrip() for s in selected] == [s.text.rstrip() for s in plain]
        assert cells(selected, panel) != cells(plain, panel)  # the selection's colours
        app.screen.selections = {}
        await pilot.pause()
        assert cells([panel.render_line(y) for y in range(h)], panel) == cells(plain, panel)


async def test_a_line_painted_while_newer_data_waits_brings_every_line_up_to_it():
    """Newer data waiting for the throttle, and Textual paints one line on its own (an overlay gone, say): that
    line is the newest drawing's, and so is every other line after the next paint -- never a mix of two drawings."""
    first = make_snapshot(step=10, loss=0.5, paused=False)
    async with fake_app(snap=first) as (app, pilot, _):
        for step in (20, 30):  # two points: the chart draws
            show(app, make_snapshot(step=step, loss=0.5, paused=False).replace(paused=True))
        await pilot.pause()
        chart = app.dashboard.query_one("LossChart", Panel)
        assert "loss 0.5" in painted(chart)
        show(app, make_snapshot(step=40, loss=0.125, paused=False))  # within the throttle: waits
        assert "loss 0.125" not in painted(chart)
        w, _ = chart.size
        chart.refresh(Region(0, 3, w, 1))  # one line of the chart, not the title's
        await pilot.pause()
        await pilot.pause()
        title = painted(chart).splitlines()[1]
        assert "loss 0.125" in title, title
