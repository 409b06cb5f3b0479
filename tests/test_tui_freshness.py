"""Freshness: a figure that lags well behind the network is marked (dimmed, with the step it was measured at), and
the loss chart draws a rebuilt network at once, not after its throttle's half second."""

from __future__ import annotations

from conftest import make_snapshot
from uitest import fake_app, painted, rendered, show

from gradtui.engine import Config
from gradtui.tui.widgets.losschart import LAG_SHARE, LAG_STEPS, LossChart, lags


def training(step: int, run_step: int, loss: float, **kw) -> object:
    return make_snapshot(step=step, run_step=run_step, loss=loss, paused=False, **kw)


def test_the_lag_rule():
    # 300 steps after a rebuild, the figures of the rebuild's own measurement are far behind: marked
    s = training(400, 300, 1e-3, test_step=100, probe_step=100)
    assert s.build_step == 100 and not s.stale(100)
    assert lags(s, 100)
    # the same 300 steps, 100,000 steps into the run: a quarter of its training is 25,000 steps; not marked
    late = training(100_400, 100_300, 1e-3, test_step=100_100, probe_step=100_100)
    assert not lags(late, 100_100)
    # a few steps behind is never marked, however young the network
    young = training(160, 60, 0.5)
    assert not lags(young, 160 - LAG_STEPS) and lags(young, 160 - LAG_STEPS - 1)
    # behind by more than LAG_STEPS but not more than LAG_SHARE of the training since the rebuild: not marked
    run = int((LAG_STEPS + 10) / LAG_SHARE) + 40
    assert not lags(training(100 + run, run, 0.1), 100 + run - (LAG_STEPS + 10))
    # measured before the last rebuild: always marked (another network)
    assert lags(training(400, 300, 1e-3), 99)


async def test_test_and_accuracy_figures_far_behind_the_train_loss_are_marked_with_their_step():
    config = Config(depth=4, width=16, samples=400, probe_size=128, seed=0, activation="relu", init="he")
    first = training(100, 0, 1.2, config=config, test_loss=1.09, accuracy=0.42, test_accuracy=0.40)
    async with fake_app(size=(160, 48)) as (app, pilot, _):
        show(app, first)
        steps = [150, 250, 400]
        for step in steps:  # training goes on; the test pass does not come (its budget is spent)
            show(app, training(step, step - 100, 1e-3, config=config, test_loss=1.09, accuracy=0.42,
                               test_accuracy=0.40, test_step=100, probe_step=100))  # fmt: skip
            await pilot.pause()
        chart = app.dashboard.query_one(LossChart)
        head = rendered(chart).splitlines()[0]
        assert head.startswith("loss 0.001 ")
        assert "test 1.09 @100" in head and "acc 42% @100" in head and "test acc 40% @100" in head
        # a fresh test pass: no mark
        show(app, training(420, 320, 1e-3, config=config, test_loss=0.01, accuracy=1.0, test_accuracy=0.99,
                           test_step=420, probe_step=420))  # fmt: skip
        await pilot.pause()
        head = rendered(chart).splitlines()[0]
        assert "test 0.01" in head and "@" not in head


async def test_the_loss_chart_draws_a_rebuilt_network_at_once():
    """While training the chart redraws at most twice a second; a rebuild (a new network) is drawn at once."""
    old = Config(depth=4, width=16, samples=400, probe_size=128, seed=0, activation="relu", init="he")
    new = old.replace(activation="tanh")
    async with fake_app(size=(160, 48)) as (app, pilot, _):
        for step in (10, 20, 30):  # (paused: drawn at once; the chart was drawn just now)
            show(app, training(step, step, 1.18e-5, config=old, accuracy=1.0, test_accuracy=1.0).replace(paused=True))
            await pilot.pause()
        chart = app.dashboard.query_one(LossChart)
        assert "acc 100%" in painted(chart).splitlines()[1]
        # training again, within the throttle's half second: the rebuilt network's first snapshot (fresh test
        # and probe figures, measured at the rebuild) is drawn at once
        show(app, training(31, 0, 0.69, config=new, test_loss=0.7, accuracy=0.5, test_accuracy=0.5))
        await pilot.pause()
        head = painted(chart).splitlines()[1]
        assert "acc 50%" in head and "acc 100%" not in head and "loss 0.69" in head
