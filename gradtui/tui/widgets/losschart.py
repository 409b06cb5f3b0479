"""Panel 5, loss and accuracy: train (mini-batch mean) and test loss, probe and test accuracy, over steps, with the
user's changes as vertical lines and a task's baseline. Drawn with plotext, at most ``MAX_HZ`` times a second (it
is the costly panel). Each series has its own marker and label, so they differ without colour."""

from __future__ import annotations

import math

from rich.text import Text

from ...fmt import num, pct
from ..draw import Part, fit
from ..palette import SERIES
from ..plot import Series, all_positive, line_chart
from .base import Panel

LAG_STEPS = 50  # a test or probe figure this many steps behind the train loss, and ...
LAG_SHARE = 0.25  # ... more than this share of the network's training (steps since the last rebuild) behind it


def lags(snap, measured_at: int) -> bool:
    """Is a figure measured at step ``measured_at`` too old to stand beside ``snap``'s train loss unmarked? When
    it was taken on an older network (before the last rebuild), or when the network has trained well past it:
    more than LAG_STEPS steps and more than LAG_SHARE of its training since the rebuild. (Right after a rebuild
    300 steps change a network's accuracy from 42 % to 100 %; 300 steps into 100,000 change little.)"""
    if snap.stale(measured_at):
        return True
    behind = snap.step - measured_at
    return behind > LAG_STEPS and behind > LAG_SHARE * snap.run_step


def series(history, name: str, label: str, palette) -> Series:
    xs, ys = history.series(name)
    marker, color = SERIES[label]
    return Series(label, xs, ys, color if palette.color else None, marker)


class LossChart(Panel):
    TITLES = ("Loss & accuracy", "Loss")
    MAX_HZ = 2.0
    HELP = (
        "Loss (log scale) of train mini-batches and the test set; below, accuracy; | = a change; a dim figure "
        "with @N was measured at step N, well behind the train loss."
    )

    def data_key(self):
        v = self.view
        return v.history.version if v is not None else None

    def draw(self, width: int, height: int) -> Text:
        v = self.view
        assert v is not None
        h, last, pal = v.history, v.snap, v.palette
        train = series(h, "loss", "train", pal)
        test = series(h, "test_loss", "test", pal)
        acc = series(h, "accuracy", "acc", pal)
        tacc = series(h, "test_accuracy", "test acc", pal)
        if len(train.xs) < 2:
            return Text("collecting points…", style="dim")
        stale_test = lags(last, last.test_step)
        stale_probe = lags(last, last.probe_step)
        title: list[Part] = [(f"loss {num(last.loss)}", pal.style("accent", bold=True), 0)]
        at_test = f" @{last.test_step:,}" if stale_test else ""  # a lagging figure says its step, dimmed
        at_probe = f" @{last.probe_step:,}" if stale_probe else ""
        title.append((f"  test {num(last.test_loss)}{at_test}", "dim" if stale_test else pal.style("hist"), 1))
        if last.accuracy is not None:
            title.append((f"  acc {pct(last.accuracy)}{at_probe}",
                          "dim" if stale_probe else pal.style("good", bold=True), 2))  # fmt: skip
        if last.test_accuracy is not None:
            title.append((f"  test acc {pct(last.test_accuracy)}{at_test}",
                          "dim" if stale_test else pal.style("warn"), 3))  # fmt: skip
        if last.baseline_loss == last.baseline_loss:
            title.append((f"  baseline {num(last.baseline_loss)}", "dim", 4))
        if stale_test or (stale_probe and last.accuracy is not None):
            title.append(("  (@N: measured at step N)", "dim", 6))
        base = last.baseline_loss if math.isfinite(last.baseline_loss) else None  # (from a file: any number)
        positive = all_positive(train.ys, test.ys, [] if base is None else [base])
        markers = h.change_steps()
        both = len(acc.xs) > 0 and height >= 14  # room for a loss chart above an accuracy chart
        loss_h = (height - 1) * 3 // 5 if both else height - 1
        parts = [fit(title, width)]
        loss = [train, test]
        if base is not None and len(train.xs):  # on the log scale only when positive, as every series on it
            loss.append(Series("baseline", [train.xs[0], train.xs[-1]], [base] * 2,
                               "gray" if pal.color else None, "·"))  # fmt: skip
        parts.append(line_chart(width, loss_h, loss, markers=markers, ylog=positive, no_color=not pal.color))
        if both:
            parts.append(line_chart(width, height - 1 - loss_h, [acc, tacc], markers=markers, no_color=not pal.color))
        return Text("\n").join(parts)
