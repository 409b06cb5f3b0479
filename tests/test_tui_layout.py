"""Layout by terminal size (compact: one panel at a time; too small: a message; large: the grid), zooming a panel,
selecting a layer, the help screen and the screenshot key. A FakeSession with a hand-made snapshot: no trainer."""

from __future__ import annotations

import re
from itertools import combinations

import pytest
from conftest import make_boundary, make_snapshot, snapshot_series
from uitest import fake_app, painted, rendered, settle, show

from gradtui.source import ApplyChange
from gradtui.tui.screens.dashboard import MIN_BOTTOM, VIEW_NAMES, VIEWS
from gradtui.tui.screens.modals import HelpScreen
from gradtui.tui.widgets.activations import LayerHistogram
from gradtui.tui.widgets.base import Panel
from gradtui.tui.widgets.flow import GradientFlow
from gradtui.tui.widgets.status import AlertsLine, StatusBar


def shown_views(app) -> list[str]:
    return [name for name in VIEWS if app.dashboard.query_one(f"#{name}").display]


def layout_classes(app) -> set[str]:
    return {c for c in ("-compact", "-tiny", "-zoom") if app.dashboard.has_class(c)}


async def test_compact_terminal_shows_one_panel_and_a_views_line():
    async with fake_app(size=(80, 24), snap=make_snapshot()) as (app, pilot, _):
        assert layout_classes(app) == {"-compact"}
        views = app.dashboard.query_one("#views")
        assert views.display and views.region.height == 1
        assert all(f"{k + 1} {n}" in painted(views) for k, n in enumerate(VIEW_NAMES))
        assert shown_views(app) == ["flow"]
        flow = app.dashboard.query_one("#flow")
        assert flow.region.width == 80 and flow.region.height >= 10
        for k, name in enumerate(VIEWS):
            await pilot.press(str(k + 1))
            assert shown_views(app) == [name] and app.dashboard.compact_view == k
            assert layout_classes(app) == {"-compact"}  # a number key never zooms here
            assert app.dashboard.query_one(f"#{name}").region.width == 80
            assert all(app.dashboard.query_one(f"#{v}").region.area == 0 for v in VIEWS if v != name)
        await pilot.press("5")
        assert shown_views(app) == ["loss"]  # pressing again keeps it (no toggling back to all)


async def test_too_small_terminal_says_its_size():
    async with fake_app(size=(50, 12), snap=make_snapshot()) as (app, pilot, _):
        assert layout_classes(app) == {"-tiny"}
        msg = app.dashboard.query_one("#too-small")
        assert msg.display and "50×12" in painted(msg) and "60×16" in painted(msg)
        assert not app.dashboard.query_one("#panels").display
        assert not app.dashboard.query_one("#views").display


async def test_large_terminal_shows_every_panel_without_overlap():
    async with fake_app(size=(160, 50), snap=make_snapshot(boundary=make_boundary())) as (app, pilot, _):
        assert layout_classes(app) == set()
        assert not app.dashboard.query_one("#views").display and not app.dashboard.query_one("#too-small").display
        assert shown_views(app) == VIEWS
        regions = {p.id: p.region for p in app.dashboard.panels}
        assert len(regions) == 7  # six views, the activations view has two panels
        screen = app.screen.region
        for name, r in regions.items():
            assert r.width >= 20 and r.height >= 8, name
            assert screen.contains_region(r), name
        for (a, ra), (b, rb) in combinations(regions.items(), 2):
            assert not ra.overlaps(rb), (a, b)
        bars = [app.dashboard.query_one(StatusBar).region, app.dashboard.query_one(AlertsLine).region]
        for r in regions.values():
            assert not any(r.overlaps(bar) for bar in bars)


async def test_resizing_switches_the_layout():
    async with fake_app(size=(120, 40), snap=make_snapshot()) as (app, pilot, _):
        assert layout_classes(app) == set() and shown_views(app) == VIEWS
        await pilot.resize_terminal(80, 24)
        assert layout_classes(app) == {"-compact"} and shown_views(app) == ["flow"]
        await pilot.resize_terminal(50, 12)
        assert layout_classes(app) == {"-tiny"}
        assert "50×12" in painted(app.dashboard.query_one("#too-small"))
        await pilot.resize_terminal(100, 40)  # narrow but tall: still compact
        assert layout_classes(app) == {"-compact"}
        await pilot.resize_terminal(160, 50)
        assert layout_classes(app) == set() and shown_views(app) == VIEWS
        assert app.dashboard.query_one(GradientFlow).region.width < 100


@pytest.mark.parametrize("k", range(len(VIEWS)))
async def test_number_keys_zoom_a_panel_and_restore(k):
    async with fake_app(size=(120, 40), snap=make_snapshot()) as (app, pilot, _):
        name = VIEWS[k]
        await pilot.press(str(k + 1))
        assert layout_classes(app) == {"-zoom"}
        zoomed = app.dashboard.query_one(f"#{name}")
        assert zoomed.has_class("-zoomed") and shown_views(app) == [name]
        assert zoomed.region.width == 120 and zoomed.region.height >= 30
        await pilot.press(str(k + 1))
        assert layout_classes(app) == set()
        assert not zoomed.has_class("-zoomed") and shown_views(app) == VIEWS


async def test_zoom_moves_from_one_panel_to_another():
    async with fake_app(size=(120, 40), snap=make_snapshot()) as (app, pilot, _):
        await pilot.press("1", "4")
        assert shown_views(app) == ["units"] and app.screen.has_class("-zoom")
        await pilot.resize_terminal(80, 24)  # compact has its own current panel
        assert layout_classes(app) == {"-compact"} and shown_views(app) == ["flow"]
        await pilot.resize_terminal(120, 40)
        assert layout_classes(app) == {"-zoom"} and shown_views(app) == ["units"]


async def test_selecting_a_layer_moves_every_panel_and_clamps():
    async with fake_app(snap=make_snapshot(depth=4)) as (app, pilot, _):
        panels = app.dashboard.panels
        await pilot.press("down")
        assert app.dashboard.selected == 0 and {p.view.selected for p in panels} == {0}
        await pilot.press("up", "up")
        assert app.dashboard.selected == 2 and {p.view.selected for p in panels} == {2}
        await pilot.press("up", "up", "up")
        assert app.dashboard.selected == 3 and {p.view.selected for p in panels} == {3}
        await pilot.pause()
        assert "▶L4 " in rendered(app.dashboard.query_one(GradientFlow))
        assert "▶L4 " in painted(app.dashboard.query_one(GradientFlow))
        assert rendered(app.dashboard.query_one(LayerHistogram)).startswith("L4 ")
        await pilot.press("down", "down", "down", "down", "down")
        assert app.dashboard.selected == 0 and {p.view.selected for p in panels} == {0}
        await pilot.press("up", "up", "up")
        show(app, make_snapshot(depth=2, step=101))  # a shallower network: the selection follows
        assert app.dashboard.selected == 1 and {p.view.selected for p in panels} == {1}


async def test_help_screen_opens_and_closes():
    async with fake_app(snap=make_snapshot()) as (app, pilot, _):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")  # ? closes it too
        assert not isinstance(app.screen, HelpScreen)
        assert app.is_running


async def test_s_saves_an_svg_screenshot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with fake_app(snap=make_snapshot(step=321)) as (app, pilot, _):
        await pilot.press("s")
        await pilot.pause()
    path = tmp_path / "gradtui-step321.svg"
    assert path.exists()
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<svg") and text.rstrip().endswith("</svg>")
    assert "gradtui" in text


async def test_compact_views_draw_their_panels():
    async with fake_app(size=(80, 24)) as (app, pilot, _):
        for snap in snapshot_series(6, boundary=make_boundary()):
            show(app, snap)
        for k, name in enumerate(VIEWS):
            await pilot.press(str(k + 1))
            await pilot.pause()
            view = app.dashboard.query_one(f"#{name}")
            for panel in [view] if isinstance(view, Panel) else list(view.query(Panel)):
                assert panel.region.area > 0, panel.id
                assert "waiting for the first snapshot" not in painted(panel), panel.id


async def test_a_narrow_panel_drops_whole_fields_and_never_wraps():
    async with fake_app(size=(120, 40), snap=make_snapshot(layer_overrides={1: dict(saturation=0.42)})) as (
        app,
        pilot,
        _,
    ):
        hist = app.dashboard.query_one(LayerHistogram)
        lines = rendered(hist).splitlines()
        assert all(len(line) <= hist.content_size.width for line in lines)
        assert lines[0].startswith("L1  relu") and ("saturated 42%" in lines[0] or "saturated" not in lines[0])
        painted_lines = painted(hist).splitlines()
        assert painted_lines[2].startswith("│ ")  # the plot, not the rest of the header
        assert "█ z count" in painted_lines[-2]  # the legend, on the last content line


async def test_a_compact_but_tall_terminal_pairs_the_flow_with_its_history():
    async with fake_app(size=(100, 34), snap=make_snapshot()) as (app, pilot, _):
        assert layout_classes(app) == {"-compact"} and shown_views(app) == ["flow", "heatmap"]
        flow, heat = app.dashboard.query_one("#flow").region, app.dashboard.query_one("#heatmap").region
        assert flow.height >= 10 and heat.height >= 10 and not flow.overlaps(heat)
        await pilot.press("4")  # other views: one panel
        assert shown_views(app) == ["units"]
        await pilot.press("1")
        assert shown_views(app) == ["flow", "heatmap"]
        await pilot.resize_terminal(100, 24)  # too low for two
        assert shown_views(app) == ["flow"]


async def test_every_key_action_is_in_the_command_palette():
    from gradtui.tui.keys import LIVE

    async with fake_app(snap=make_snapshot()) as (app, pilot, source):
        commands = {c.title: c for c in app.get_system_commands(app.dashboard)}
        for k in LIVE:
            if app.dashboard.applies(k):  # the palette lists the actions that apply now
                assert any(k.help[1:] in title for title in commands), k.action
            else:
                assert not any(k.help[1:] in title for title in commands), k.action
        assert not any("next event" in t.lower() or "every twin" in t for t in commands)  # replay / twins only
        before = app.dashboard.config.activation
        await commands["Next activation"].callback()
        await pilot.pause()
        assert app.dashboard.config.activation != before
        assert source.of(ApplyChange)[-1].change.field == "activation"


def listed(app, name: str) -> set[str]:
    """The layer names a panel lists (its rows' labels)."""
    return set(re.findall(r"(?<![\w.])L\d+\b", painted(app.dashboard.query_one(f"#{name}"))))


async def test_the_grid_rows_grow_to_list_every_layer_where_the_bottom_row_keeps_its_height():
    every = {f"L{i}" for i in range(1, 11)}
    snap = make_snapshot(depth=10, boundary=make_boundary())
    async with fake_app(size=(140, 44), snap=snap) as (app, pilot, _):
        await pilot.pause()
        for name in ("flow", "heatmap", "strips", "units"):
            assert every <= listed(app, name), name
            assert "of 10" not in str(app.dashboard.query_one(f"#{name}").border_title), name
        for name in ("loss", "boundary"):
            assert app.dashboard.query_one(f"#{name}").region.height >= MIN_BOTTOM, name
        # 120x40: the rows could list every layer only by leaving the loss chart too few lines: equal thirds
        await pilot.resize_terminal(120, 40)
        await settle(pilot, lambda: len(listed(app, "flow")) < 10)
        flow, k = app.dashboard.query_one("#flow"), len(listed(app, "flow"))
        assert k < 10 and f"{k} of 10" in str(flow.border_title)
        heights = {app.dashboard.query_one(f"#{n}").region.height for n in ("flow", "units", "loss")}
        assert max(heights) - min(heights) <= 1
        # zoomed, the grid is the stylesheet's; back, it fits again
        await pilot.resize_terminal(140, 44)
        await pilot.press("1")
        await settle(pilot, lambda: app.dashboard.query_one("#flow").region.height >= 30)
        await pilot.press("1")
        await settle(pilot, lambda: every <= listed(app, "flow") and every <= listed(app, "units"))
        # a shallow network fits in the thirds: they stay (its histograms and unit map keep their height)
        show(app, make_snapshot(depth=4, step=101, boundary=make_boundary()))

        def thirds() -> bool:
            heights = {app.dashboard.query_one(f"#{n}").region.height for n in ("flow", "units", "loss")}
            return max(heights) - min(heights) <= 1

        await settle(pilot, thirds)
