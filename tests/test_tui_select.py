"""Dozens of named modules on the real app (issue 9): `/` selects an entry by name (a module path, an MLP's L3, a
recurrent run's t=57), PageUp/PageDown move a contiguous window of rows (the selected, alerted, first and last
entries pinned), and labels cut to fit a narrow panel still tell the rows apart."""

from __future__ import annotations

import math
import random
import re

import pytest
from conftest import make_layer, make_snapshot
from uitest import FakeSource, fake_app, rendered, show

from gradtui.engine import Entry, RunMeta, Snapshot
from gradtui.tui.draw import distinct_names, label_fits, short_name, window_rows
from gradtui.tui.screens.find import FindScreen, matching
from gradtui.tui.widgets.activations import ActivationStrips, LayerHistogram
from gradtui.tui.widgets.base import Panel
from gradtui.tui.widgets.flow import GradientFlow
from gradtui.tui.widgets.heatmap import GradientHeatmap
from gradtui.tui.widgets.units import UnitsPanel

LISTING = (GradientFlow, GradientHeatmap, ActivationStrips, UnitsPanel)
N = 60


def module_snapshot(n: int = N) -> Snapshot:
    """A probe-like snapshot: ``n`` modules whose paths differ only in the block number (``…mlp.fc2`` each)."""
    entries = tuple(
        make_layer(i + 1, 16, name=f"encoder.layers.{i}.mlp.fc2", kind="linear", grad_norm=10.0 ** (-3 + i / 30))
        for i in range(n)
    )
    return Snapshot(
        step=1200, run_step=1200, loss=0.7, accuracy=None, test_loss=math.nan, test_accuracy=None, config=None,
        entries=entries, axis="module", source="probe", paused=True,
        meta=RunMeta(model="torch", summary="Blocks 1M params", optimizer="AdamW", lr=3e-4),
    )  # fmt: skip


def row_labels(panel: Panel) -> list[tuple[bool, str]]:
    """(selected, label) of the rows a listing panel draws, top to bottom. Rows of the flow, strips and units
    panels start with a mark column (" ", "▶", "!") then the label; the heatmap's (between its marker line and its
    legend) start with the label."""
    lines = rendered(panel).splitlines()
    if isinstance(panel, GradientHeatmap):
        return [(False, line.split()[0]) for line in lines[1:-1]]
    out = []
    for line in lines:
        words = line[1:].split()
        if line[:1] in (" ", "▶", "!") and words and ("fc2" in words[0] or words[0].startswith("L")):
            out.append((line[:1] == "▶", words[0]))
    return out


def names_of(labels: list[str], names: list[str]) -> list[str]:
    """The entry each label stands for among ``names`` (the rows shown): the one it fits."""
    out = []
    for label in labels:
        hits = [n for n in names if label_fits(label, n)]
        assert len(hits) == 1, (label, hits[:5])  # a label that fits several rows would not tell them apart
        out.append(hits[0])
    return out


def shown(p: Panel) -> list[str]:
    """The names of the entries a listing panel shows, top to bottom (the last entry on top)."""
    assert p.view is not None
    return [p.view.snap.entries[i].name for i in reversed(p.rows(p.content_size.height))]


def listing(d) -> list[Panel]:
    return [p for p in d.query(Panel) if isinstance(p, LISTING) and p.display and p.region.area]


# ---- `/`: select by name --------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(140, 44), (110, 34)])
async def test_slash_and_a_name_select_that_module_in_every_panel(size):
    snap = module_snapshot()
    async with fake_app(size=size, source=FakeSource(config=None)) as (app, pilot, _):  # type: ignore[arg-type]
        show(app, snap)
        await pilot.pause()
        d = app.dashboard
        await pilot.press("slash")
        assert isinstance(app.screen, FindScreen)
        await pilot.press(*"layers.41", "enter")
        await pilot.pause()
        assert app.screen is d and d.selected == 41
        panels = listing(d)
        assert panels
        for p in panels:
            rows = row_labels(p)
            listed = names_of([label for _, label in rows], shown(p))
            assert listed == shown(p) and "encoder.layers.41.mlp.fc2" in listed, p.id
            if not isinstance(p, GradientHeatmap):
                assert [name for (sel, _), name in zip(rows, listed) if sel] == ["encoder.layers.41.mlp.fc2"], p.id
            m = re.search(r"(\d+)–(\d+)(?: of |/)60", p.border_title)  # "rows 36–42 of 60 modules", or "36–42/60"
            assert m and int(m[1]) <= 42 <= int(m[2]), (p.id, p.border_title)
        hist = rendered(d.query_one(LayerHistogram)).splitlines()[0].split()[0]
        assert label_fits(hist, "encoder.layers.41.mlp.fc2") and "41" in hist


async def test_escape_cancels_and_a_name_that_matches_nothing_says_so():
    snap = module_snapshot()
    async with fake_app(size=(140, 44), source=FakeSource(config=None)) as (app, pilot, _):  # type: ignore[arg-type]
        show(app, snap)
        await pilot.pause()
        d = app.dashboard
        await pilot.press("slash", *"layers.7", "escape")
        await pilot.pause()
        assert app.screen is d and d.selected == 0
        await pilot.press("slash", *"decoder", "enter")
        await pilot.pause()
        assert isinstance(app.screen, FindScreen)  # still open, saying why
        assert "no modules match 'decoder'" in rendered(app.screen.query_one("#find-note"))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is d and d.selected == 0


async def test_down_in_the_filter_moves_to_the_next_match():
    snap = module_snapshot()
    async with fake_app(size=(140, 44), source=FakeSource(config=None)) as (app, pilot, _):  # type: ignore[arg-type]
        show(app, snap)
        await pilot.pause()
        await pilot.press("slash", *"layers.4", "down", "down", "enter")  # layers.4, layers.40, layers.41
        await pilot.pause()
        assert app.dashboard.selected == 41


async def test_an_mlp_layer_is_found_by_its_short_name_exact_first():
    snap = make_snapshot(depth=40)
    async with fake_app(size=(140, 44), snap=snap) as (app, pilot, _):
        d = app.dashboard
        await pilot.press("slash", "L", "3", "enter")  # L3, not L30 (the first of L3, L30, ..., L39 too)
        await pilot.pause()
        assert d.selected == 2
        await pilot.press("slash", *"l35", "enter")  # case does not matter
        await pilot.pause()
        assert d.selected == 34
        assert any(sel and label == "L35" for sel, label in row_labels(d.query_one(GradientFlow)))


async def test_a_recurrent_step_is_found_and_one_without_histograms_says_why():
    kept = {1, 20, 40, 57, 80}
    steps = tuple(
        make_layer(t, 8, name=f"t={t}", kind="rnn", activation="tanh") if t in kept
        else Entry(name=f"t={t}", kind="rnn", units=8, index=t, grad_norm=1e-3, signal_norm=1e-3)
        for t in range(1, 81)
    )  # fmt: skip
    snap = make_snapshot(layers=steps, axis="time", config=None)
    async with fake_app(size=(140, 44), source=FakeSource(config=None)) as (app, pilot, _):  # type: ignore[arg-type]
        show(app, snap)
        await pilot.pause()
        d = app.dashboard
        await pilot.press("slash", *"t=57", "enter")
        await pilot.pause()
        assert d.selected == 56
        assert "t=57" in rendered(d.query_one(LayerHistogram))
        await pilot.press("slash", *"t=58", "enter")
        await pilot.pause()
        assert d.selected == 57
        assert "no histograms were kept" in rendered(d.query_one("#alerts"))


def test_matching_is_a_case_insensitive_substring_exact_first():
    names = ["L1", "L3", "L30", "L13", "encoder.Layers.3.fc"]
    assert matching(names, "l3") == [1, 2]  # not L13: "l3" is not in "l13"
    assert matching(names, "3") == [1, 2, 3, 4]
    assert matching(names, "layers.3") == [4]
    assert matching(names, "  ") == [] and matching(names, "x") == []
    assert matching(["a.L3x", "L3"], "L3") == [1, 0]


# ---- the window of rows ------------------------------------------------------------------------------------------
async def test_page_keys_move_a_contiguous_window_with_the_first_and_last_pinned():
    snap = module_snapshot()
    names = [e.name for e in snap.entries]
    async with fake_app(size=(140, 44), source=FakeSource(config=None)) as (app, pilot, _):  # type: ignore[arg-type]
        show(app, snap)
        await pilot.pause()
        d = app.dashboard
        flow = d.query_one(GradientFlow)

        def window() -> tuple[list[int], tuple[int, int]]:
            listed = names_of([label for _, label in row_labels(flow)], shown(flow))
            assert listed == shown(flow)
            idx = sorted(names.index(n) for n in listed)
            m = re.search(r"rows (\d+)–(\d+) of 60 modules", flow.border_title)
            assert m, flow.border_title
            return idx, (int(m[1]) - 1, int(m[2]) - 1)

        rows, (a, b) = window()
        assert (a, d.selected) == (0, 0) and rows == [*range(a, b + 1), N - 1]  # the window, and the last pinned
        seen = []
        for _ in range(20):
            await pilot.press("pageup")
            await pilot.pause()
            rows, (a2, b2) = window()
            assert a2 <= d.selected <= b2
            assert set(range(a2, b2 + 1)) <= set(rows) and {0, N - 1} <= set(rows)
            assert set(rows) - set(range(a2, b2 + 1)) <= {0, N - 1}  # nothing else outside the window
            seen.append((a2, b2))
        assert seen[0][0] == b + 1  # one page on: the next rows, none skipped, none repeated
        assert seen[-1][1] == N - 1 and d.selected == N - 1  # at the end it stays there
        for _ in range(20):
            await pilot.press("pagedown")
        await pilot.pause()
        assert d.selected == 0 and window()[1][0] == 0


async def test_layers_show_a_spread_of_the_depth_until_the_user_pages():
    """An MLP's layers: at first a spread over the whole depth (the decay from the last layer to the first at a
    glance, "n of N layers"); PageUp turns it into a contiguous window that moves a page at a time."""
    async with fake_app(size=(140, 44), snap=make_snapshot(depth=40)) as (app, pilot, _):
        d = app.dashboard
        flow = d.query_one(GradientFlow)
        spread = sorted(int(n[1:]) for n in shown(flow))
        assert spread[0] == 1 and spread[-1] == 40 and max(b - a for a, b in zip(spread, spread[1:])) < 10
        assert f"{len(spread)} of 40 layers" in flow.border_title
        await pilot.press("pageup")
        await pilot.pause()
        m = re.search(r"rows (\d+)–(\d+) of 40 layers", flow.border_title)
        assert m, flow.border_title
        now = {int(n[1:]) for n in shown(flow)}
        window = set(range(int(m[1]), int(m[2]) + 1))
        assert int(m[1]) > 1 and window <= now and now - window <= {1, 40} and d.selected + 1 in window


async def test_page_keys_say_why_when_every_row_fits():
    async with fake_app(size=(140, 44), snap=make_snapshot(depth=4)) as (app, pilot, _):
        await pilot.press("pagedown")
        await pilot.pause()
        assert "all 4 layers fit" in rendered(app.dashboard.query_one("#alerts"))
        assert app.dashboard.selected == 0


def test_window_rows_is_contiguous_with_the_pins_outside():
    rnd = random.Random(9)
    for _ in range(3000):
        n, rows = rnd.randint(1, 80), rnd.randint(1, 30)
        top = rnd.randint(-5, 90)
        must = [rnd.randrange(n) for _ in range(rnd.randint(0, 6))]
        chosen, t, length = window_rows(n, rows, top, must)
        assert chosen == sorted(set(chosen)) and len(chosen) <= rows and all(0 <= i < n for i in chosen)
        if n <= rows:
            assert chosen == list(range(n))
            continue
        assert set(range(t, t + length)) <= set(chosen)
        pins = list(dict.fromkeys(must))
        assert set(chosen) - set(range(t, t + length)) <= set(pins)
        kept = [i for i in pins if i in chosen]
        assert kept == pins[: len(kept)]  # the pins by precedence
        if len(pins) < rows:
            assert set(pins) <= set(chosen) and len(chosen) == rows and length >= 1
            assert t == max(0, min(top, n - length))


# ---- labels ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(140, 44), (110, 34), (200, 60)])
async def test_labels_in_every_panel_tell_the_rows_apart(size):
    snap = module_snapshot()
    async with fake_app(size=size, source=FakeSource(config=None)) as (app, pilot, _):  # type: ignore[arg-type]
        show(app, snap)
        await pilot.pause()
        d = app.dashboard
        await pilot.press("slash", *"layers.4", "enter")  # the rows 3..5, 40..49 and so on: many alike
        await pilot.pause()
        for p in listing(d):
            labels = [label for _, label in row_labels(p)]
            assert len(labels) >= 3 and len(set(labels)) == len(labels), (p.id, labels)
            assert names_of(labels, shown(p)) == shown(p)  # each fits its own row's module and no other row's


def test_distinct_names_keep_the_telling_segment():
    names = [f"encoder.layers.{i}.mlp.fc2" for i in (3, 4, 41)]
    assert short_name(names[0], 9) == short_name(names[1], 9)  # what the plain cut does: the same label twice
    for width in range(4, 30):
        labels = distinct_names(names, width)
        assert all(len(label) <= width for label in labels), (width, labels)
        if width >= 7:
            assert len(set(labels)) == 3, (width, labels)
            assert names_of(labels, names) == names
    assert distinct_names(names, 10) == ["…3.mlp.fc2", "…4.mlp.fc2", "…41…fc2"]
    assert distinct_names(["L1", "L2"], 3) == ["L1", "L2"]  # short names untouched
    assert distinct_names(["a.fc", "b.fc"], 30) == ["a.fc", "b.fc"]
