"""Panel 3, activations: small multiples (one line per layer: the histogram of h = f(z) over the probe set, with
mean and std), and the selected layer's pre-activation histogram with f'(z) drawn over it, so that one sees how
much of the distribution sits where f' ~ 0."""

from __future__ import annotations

import math

from rich.text import Text

from ...engine.activations import ACTIVATIONS
from ..fmt import LEVELS, num, pct, pick_rows, spark
from .base import ProbePanel


class ActivationStrips(ProbePanel):
    TITLE = "Activations  h = f(z), probe set"
    HELP = "One histogram line per layer (input at the bottom), range in brackets; ↑/↓ selects a layer."

    def draw(self, width: int, height: int) -> Text:
        s = self.snap
        assert s is not None
        layers = s.layers
        label_w = len(str(len(layers))) + 2
        stats_w = 16
        bar_w = max(4, width - label_w - stats_w - 2)
        out = Text(no_wrap=True, overflow="crop")
        rows = pick_rows(len(layers), max(1, height))
        first = True
        for i in reversed(rows):
            layer = layers[i]
            if not first:
                out.append("\n")
            first = False
            sel = i == self.selected
            out.append(f"{'▶' if sel else ' '}L{layer.index:<{label_w - 2}} ", style="bold" if sel else "dim")
            out.append(spark(layer.hist_counts, bar_w), style="bold magenta" if sel else "magenta")
            out.append(f" μ{num(layer.mean, 2):>6} σ{num(layer.std, 2):>6}", style="bold" if sel else "")
        return out


class LayerHistogram(ProbePanel):
    TITLE = "Selected layer  z histogram + f′(z)"
    HELP = "Bars: pre-activations z of the selected layer; •: the activation's derivative f'(z), top = its max."

    def draw(self, width: int, height: int) -> Text:
        s = self.snap
        assert s is not None
        i = min(self.selected, len(s.layers) - 1)
        layer = s.layers[i]
        max_d = ACTIVATIONS[s.config.activation].max_deriv
        out = Text(no_wrap=True, overflow="crop")
        out.append(f"layer {layer.index}", style="bold")
        out.append(f"  {s.config.activation}  saturated {pct(layer.saturation)}")
        if layer.dead:
            out.append(f"  dead {layer.dead}/{layer.units}", style="bold red")
        plot_h = max(1, height - 3)
        plot_w = max(4, width - 1)
        nb = len(layer.pre_counts)
        heights, derivs = [], []
        for j in range(plot_w):  # each column covers bins b0..b1 (or repeats one, when wider than the bins)
            b0 = j * nb // plot_w
            b1 = max(b0 + 1, (j + 1) * nb // plot_w)
            heights.append(float(layer.pre_counts[b0:b1].sum()) / (b1 - b0))
            derivs.append(float(layer.deriv[b0:b1].mean()) / max_d)
        top = max(heights) or 1.0
        for r in range(plot_h, 0, -1):  # r = plot_h is the top row
            out.append("\n")
            for hc, d in zip(heights, derivs):
                cells = hc / top * plot_h
                d_row = min(plot_h, max(1, math.ceil(d * plot_h - 0.5))) if math.isfinite(d) else 0
                if d_row == r:
                    out.append("•", style="bold yellow")
                elif cells >= r:
                    out.append("█", style="cyan")
                elif cells > r - 1:
                    out.append(LEVELS[max(1, int((cells - (r - 1)) * 8))], style="cyan")
                else:
                    out.append(" ")
        lo, hi = float(layer.pre_edges[0]), float(layer.pre_edges[-1])
        out.append("\n")
        out.append(f"z {num(lo, 2)}".ljust(max(1, plot_w - 8)) + f"{num(hi, 2):>8}", style="dim")
        out.append("\n")
        out.append("█ z count  ", style="cyan")
        out.append("• f′(z)/max f′", style="yellow")
        if math.isfinite(layer.std):
            out.append(f"   h: μ {num(layer.mean, 2)} σ {num(layer.std, 2)}", style="dim")
        return out
