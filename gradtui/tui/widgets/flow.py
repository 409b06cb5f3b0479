"""Panel 1, gradient flow: one row per hidden layer (input at the bottom), a log-scale bar of the step gradient
magnitude ||dL/dW|| with its value, and the backward signal ||dL/dh||/sqrt(N); the vanishing ratio as headline."""

from __future__ import annotations

import math

from rich.text import Text

from ..fmt import decade_range, hbar, log10, pick_rows, sci
from .base import Panel


def health_style(ratio: float) -> str:
    """Colour of a layer's bar by its gradient relative to the largest layer's (the number says the same)."""
    if not math.isfinite(ratio):
        return "red"
    if ratio >= 1e-1:
        return "green"
    if ratio >= 1e-3:
        return "yellow"
    return "red"


class GradientFlow(Panel):
    TITLE = "Gradient flow  ‖∂L/∂W‖ per layer (log scale)"
    MAX_HZ = 4.0
    HELP = "Bars: step gradient magnitude per layer, log10 scale, input layer at the bottom. sig: backward signal."

    def draw(self, width: int, height: int) -> Text:
        s = self.snap
        assert s is not None
        layers = s.layers
        out = Text(no_wrap=True, overflow="crop")
        vr = s.vanishing_ratio
        if s.diverged is not None:
            out.append(f"diverged at step {s.diverged.step}", style="bold red")
        elif math.isfinite(vr):
            style = "bold red" if vr < 1e-3 else "bold yellow" if vr < 1e-1 else "bold green"
            out.append("vanishing ratio ", style="bold")
            out.append(sci(vr), style=style)
            out.append(f"  (signal at layer 1 / layer {len(layers)})", style="dim")
        else:
            out.append("vanishing ratio —", style="bold")
        logs = [log10(layer.grad_norm) for layer in layers]
        lo, hi = self.scale or decade_range(logs)
        top = max((layer.grad_norm for layer in layers if math.isfinite(layer.grad_norm)), default=math.nan)
        rows = pick_rows(len(layers), max(1, height - 2))
        label_w = len(str(len(layers))) + 1
        numbers_w = 8 + 14
        bar_w = max(4, width - label_w - numbers_w - 3)
        for i in reversed(rows):  # the last layer on top, layer 1 at the bottom
            layer = layers[i]
            g = logs[i]
            frac = 0.0 if not math.isfinite(g) else (g - lo) / (hi - lo)
            ratio = layer.grad_norm / top if top and top > 0 else math.nan
            selected = i == self.selected
            out.append("\n")
            out.append(f"{'▶' if selected else ' '}L{layer.index:<{label_w - 1}} ", style="bold" if selected else "")
            out.append(hbar(frac, bar_w), style=health_style(ratio))
            out.append(f" {sci(layer.grad_norm):>8}", style="bold" if selected else "")
            out.append(f"  sig {sci(layer.signal_norm):>8}", style="dim")
        out.append("\n")
        left = f"{'':{label_w + 1}}1e{int(lo)}"
        axis = left.ljust(max(len(left) + 1, label_w + 1 + bar_w - 3)) + f"1e{int(hi)}"
        out.append(axis, style="dim")
        if len(rows) < len(layers):
            out.append(f"  ({len(rows)} of {len(layers)} layers)", style="dim")
        return out
