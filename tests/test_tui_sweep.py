"""Sweep, don't sample: the real dashboard through every dataset, a representative set of activations, every view,
every colour mode and terminal sizes from 60x16 to 220x60. It fails on any exception (a crash of the UI exits the
app: the test sees it), on any panel line longer than its panel (a number would be cut there), and on any line of
the chrome (status line, views line, alerts, key bar) that is cropped or cuts a number, or a key bar without ``?``
help and ``q`` quit.

1. A live trainer driven by the keys, as a user does: ``d`` through every dataset (the key that once crashed the
   dashboard on ``sine``), at the smallest, a middle and the largest size, every view.
2. Every panel draws a real snapshot of every dataset x activation, in every colour mode, at every size the real
   layouts give it (measured from the app at each terminal size and view): off-screen, so that the thousands of
   combinations stay fast.
3. The real app shows all of those snapshots in every colour mode.
4. A live trainer for each of a representative set of activations, through every dataset (by key) and every view,
   at every size: one app per activation, resized and driven by keys.
"""

from __future__ import annotations

import re

import pytest
from uitest import fake_app, live_app, rendered, show, wait_for

from gradtui.engine import Config, Trainer
from gradtui.engine.names import available_datasets
from gradtui.tui.history import History
from gradtui.tui.palette import MODES, palette_for
from gradtui.tui.screens.dashboard import MIN_H, MIN_W, VIEWS
from gradtui.tui.widgets.base import Panel, PanelView

SIZES = [(60, 16), (80, 24), (100, 34), (120, 40), (160, 50), (220, 60)]
ACTIVATIONS = ["sigmoid", "relu", "gelu", "maxout", "prelu", "hardswish"]
SMALL = dict(depth=3, width=8, samples=200, probe_size=48, seed=0)


CUT = re.compile(r"(\d|e-|\d\.|\de)…")  # a number cut: a digit, "e-" or a decimal point right before an ellipsis
CHROME = ("#status", "#views", "#alerts", "#keybar")


def check_screen(app) -> None:
    """The app is alive, every visible panel's lines fit inside it, and the chrome fits (``check_chrome``)."""
    assert app.is_running and app.crash_log is None, app.crash_log
    for panel in app.dashboard.query(Panel):
        if not panel.display or panel.region.area == 0 or panel.view is None or panel.content_size.width < 4:
            continue
        for line in rendered(panel).splitlines():
            assert len(line) <= panel.content_size.width, (panel.id, app.size, line)
    check_chrome(app)


def check_chrome(app) -> None:
    """The status line, views line, alerts line and key bar: no line longer than its widget (cropped), no number
    cut, and ``?`` help and ``q`` quit in the key bar."""
    width, height = app.size
    if width < MIN_W or height < MIN_H:
        return
    d = app.dashboard
    for selector in CHROME:
        widget = d.query_one(selector)
        if not widget.display or widget.region.area == 0:
            continue
        for line in rendered(widget).splitlines():
            assert len(line.rstrip()) <= widget.size.width, (selector, app.size, line)
            assert not CUT.search(line), (selector, app.size, line)
    keys = rendered(d.query_one("#keybar"))
    assert re.search(r"(^| )\? \S", keys) and re.search(r"(^| )q \S", keys), (app.size, keys)


async def test_every_dataset_by_key_on_a_live_trainer():
    datasets = available_datasets()
    async with live_app(size=(120, 40), cap=60, **SMALL) as (app, pilot):
        seen = []
        for _ in datasets:
            name = app.dashboard.config.dataset
            await wait_for(app, lambda s, name=name: s.config.dataset == name and s.run_step > 0)
            seen.append(name)
            await pilot.pause()
            check_screen(app)
            await pilot.press("d")  # the next dataset
        assert seen == datasets
        await wait_for(app, lambda s: s.config.dataset == datasets[0] and s.run_step > 0)  # round the cycle
        for size in SIZES:  # and the live run at every size, every view where they are one at a time
            await pilot.resize_terminal(*size)
            await pilot.pause()
            check_screen(app)
            if app.dashboard.compact:
                for k in range(len(VIEWS)):
                    await pilot.press(str(k + 1))
                    await pilot.pause()
                    check_screen(app)
                await pilot.press("1")


def real_snapshots() -> list:
    """A few training steps of every dataset x activation, with its decision boundary: (label, snapshots)."""
    out = []
    for dataset in available_datasets():
        for act in ACTIVATIONS:
            t = Trainer(Config(activation=act, dataset=dataset, **SMALL))
            snaps = [t.snapshot(boundary=True)]
            for _ in range(3):
                for _ in range(4):
                    t.step()
                t.step(measure=True)
                snaps.append(t.snapshot(boundary=True).replace(paused=True))
            out.append((f"{dataset}/{act}", snaps))
    return out


SNAPSHOTS = real_snapshots()


async def panel_sizes() -> dict[type, set[tuple[int, int]]]:
    """Every content size the real layouts give each panel class, at every terminal size and view."""
    sizes: dict[type, set[tuple[int, int]]] = {}
    async with fake_app(size=(120, 40), snap=SNAPSHOTS[0][1][-1]) as (app, pilot, _):
        for size in SIZES:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            for k in [None, *range(len(VIEWS))]:
                if k is not None:
                    await pilot.press(str(k + 1))
                    await pilot.pause()
                for p in app.dashboard.query(Panel):
                    if p.display and p.region.area:
                        sizes.setdefault(type(p), set()).add((p.content_size.width, p.content_size.height))
                if k is not None and not app.dashboard.compact:
                    await pilot.press(str(k + 1))  # unzoom
    return sizes


async def test_every_panel_draws_every_dataset_and_activation_at_every_size_and_colour():
    sizes = await panel_sizes()
    assert len(sizes) == 7 and all(sizes.values())
    drawn = 0
    for n, (label, snaps) in enumerate(SNAPSHOTS):
        history = History()
        for s in snaps:
            history.add(s)
        for cls, dims in sizes.items():
            # what the boundary draws depends on the dataset only, the loss chart (plotext) on neither: those two,
            # the costly ones, are drawn for one activation per dataset, and for one dataset
            if cls.__name__ == "BoundaryPanel" and n % len(ACTIVATIONS):
                continue
            if cls.__name__ == "LossChart" and n:
                continue
            panel = cls()
            # the colour mode changes what the boundary draws (half blocks, shades, glyphs); the rest only styles
            modes = MODES if cls.__name__ == "BoundaryPanel" else MODES[:1]
            for mode in modes:
                palette = palette_for(mode)
                for width, height in sorted(dims):
                    if width < 4 or height < 1:
                        continue
                    for selected in {0, (width + height) % len(snaps[-1].entries)}:
                        panel.view = PanelView(snaps[-1], history, selected=selected, palette=palette)
                        text = panel.draw(width, height)
                        for line in text.plain.splitlines():
                            assert len(line) <= width, (label, mode, cls.__name__, (width, height), line)
                        assert len(text.plain.splitlines()) <= max(height, 1) + 1, (label, cls.__name__, height)
                        drawn += 1
    assert drawn > 1000


@pytest.mark.parametrize("color", MODES)
async def test_the_app_shows_every_dataset_and_activation_in_every_colour_mode(color, monkeypatch):
    if color == "none":
        monkeypatch.setenv("NO_COLOR", "1")
    async with fake_app(size=(120, 40), color=color) as (app, pilot, _):
        assert app.palette.mode == color
        for _, snaps in SNAPSHOTS:
            for s in snaps:
                show(app, s)
            check_screen(app)
        await pilot.resize_terminal(60, 16)
        await pilot.pause()
        check_screen(app)
        await pilot.press("q")
    assert app.return_code == 0


SWEEP_ACTIVATIONS = ["sigmoid", "relu", "gelu", "tanh"]
# every view at every size, dealt out over the (activation, dataset) pairs, in order: pair i gets combinations i,
# i + 28, ...; so every activation meets every dataset, and every view is drawn at every size by a live trainer
VIEW_AT_SIZE = [(size, k) for size in SIZES for k in range(len(VIEWS))]


def dealt(activation: str, n: int) -> list[tuple[tuple[int, int], int]]:
    pairs = len(SWEEP_ACTIVATIONS) * len(available_datasets())
    i = SWEEP_ACTIVATIONS.index(activation) * len(available_datasets()) + n
    return VIEW_AT_SIZE[i::pairs]


def test_the_deal_covers_every_view_at_every_size():
    dealt_all = [c for a in SWEEP_ACTIVATIONS for n in range(len(available_datasets())) for c in dealt(a, n)]
    assert sorted(dealt_all) == sorted(VIEW_AT_SIZE)


@pytest.mark.parametrize("activation", SWEEP_ACTIVATIONS)
async def test_every_dataset_view_and_size_on_a_live_trainer(activation):
    """One live app per activation: every dataset by ``d``; on each, its share of the views at their sizes
    (``dealt``), each shown by its key (compact: chosen; large: zoomed, then back), the screen checked after each."""
    datasets = available_datasets()
    async with live_app(size=SIZES[0], cap=60, activation=activation, **SMALL) as (app, pilot):
        for n, _ in enumerate(datasets):
            name = app.dashboard.config.dataset
            await wait_for(app, lambda s, name=name: s.config.dataset == name and s.run_step > 0)
            for size, k in dealt(activation, n) or [(SIZES[n % len(SIZES)], None)]:
                await pilot.resize_terminal(*size)
                await pilot.pause()
                check_screen(app)
                if k is None:
                    continue
                await pilot.press(str(k + 1))
                await pilot.pause()
                check_screen(app)
                if not app.dashboard.compact:
                    await pilot.press(str(k + 1))  # unzoom
                else:
                    await pilot.press("1")
            await pilot.press("d")
        await wait_for(app, lambda s: s.config.dataset == datasets[0] and s.run_step > 0)
        check_screen(app)
