"""Panel 5, loss and accuracy: train (mini-batch mean) and test loss, probe and test accuracy, over steps, with the
user's changes as vertical lines. Drawn with plotext, at most ``MAX_HZ`` times a second (it is the costly panel)."""

from __future__ import annotations

from rich.text import Text

from ..plot import line_chart
from .base import Panel

MAX_HZ = 2.0


class LossChart(Panel):
    TITLE = "Loss & accuracy"
    MAX_HZ = MAX_HZ
    HELP = "Loss (log scale) of train mini-batches and the test set; below, accuracy; | = a change."

    def data_key(self):
        return self.history.version if self.history else None

    def draw(self, width: int, height: int) -> Text:
        assert self.history is not None and self.snap is not None
        h = self.history
        xs, loss = h.series("loss")
        txs, tloss = h.series("test_loss")
        axs, acc = h.series("accuracy")
        tax, tacc = h.series("test_accuracy")
        if len(xs) < 2:
            return Text("collecting points…", style="dim")
        last = self.snap
        title = Text(no_wrap=True)
        title.append(f"loss {last.loss:.3g}", style="bold cyan")
        title.append(f"  test {last.test_loss:.3g}", style="magenta")
        if last.accuracy is not None:
            title.append(f"  acc {last.accuracy:.0%}", style="bold green")
            title.append(f"  test acc {last.test_accuracy:.0%}", style="yellow")
        positive = all(v > 0 for v in loss + tloss)
        markers = self.history.change_steps()
        no_color = self.app.no_color
        both = bool(acc) and height >= 14  # room for a loss chart above an accuracy chart
        loss_h = (height - 1) * 3 // 5 if both else height - 1
        parts = [title]
        parts.append(
            line_chart(
                width,
                loss_h,
                [("train", xs, loss, "cyan"), ("test", txs, tloss, "magenta")],
                markers=markers,
                ylog=positive,
                no_color=no_color,
            )  # fmt: skip
        )
        if both:
            parts.append(
                line_chart(
                    width,
                    height - 1 - loss_h,
                    [("acc", axs, acc, "green"), ("test acc", tax, tacc, "yellow")],
                    markers=markers,
                    no_color=no_color,
                )  # fmt: skip
            )
        return Text("\n").join(parts)
