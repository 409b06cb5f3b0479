"""Panel 1, gradient flow: one row per entry (the input side, or the first time step, at the bottom), a log-scale
bar of the flow figure -- the step gradient magnitude ||dL/dW|| per layer or module, the gradient reaching each
step ||dL/dh_t||/sqrt(N) through time -- with its value, and the backward signal; the vanishing ratio as headline."""

from __future__ import annotations

import math

from rich.text import Text

from ...fmt import sci
from ..draw import decade_range, distinct_names, fit, hbar, label_width, log10, short_name
from .base import ListingPanel


class GradientFlow(ListingPanel):
    TITLES = ("Gradient flow  ‖∂L/∂W‖ per layer (log scale)", "Gradient flow (log scale)", "Gradient flow", "Flow")
    MAX_HZ = 4.0
    HELP = "Bars: gradient magnitude per layer (log10 scale), input side at the bottom; sig: backward signal."

    def titles(self) -> tuple[str, ...]:
        v = self.view
        if v is not None and v.snap.axis == "time":
            return ("Gradient through time  ‖∂L/∂h_t‖ per step (log scale)", "Gradient through time", "Flow")
        if v is not None and v.snap.axis == "module":
            return ("Gradient flow  ‖∂L/∂W‖ per module (log scale)", "Gradient flow (log scale)", "Flow")
        return self.TITLES

    def capacity(self, height: int) -> int:
        return max(1, height - 2)  # a headline and an axis

    def draw(self, width: int, height: int) -> Text:
        v = self.view
        assert v is not None
        s, pal = v.snap, v.palette
        entries = s.entries
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(self._headline(width))
        flows = [s.flow(e) for e in entries]
        logs = [log10(f) for f in flows]
        lo, hi = v.scale or decade_range(logs)
        top = max((f for f in flows if math.isfinite(f)), default=math.nan)
        rows = self.rows(height)
        label_w = max(len(entries[i].name) for i in rows) + 1 if rows else 2
        label_w = min(label_w, max(4, width // 3))
        row_names = [entries[i].name for i in rows]
        label_w = 1 + label_width(row_names, label_w - 1, min(max(map(len, row_names), default=1), width // 2))
        show_sig = s.axis != "time" and width - label_w - 1 >= 4 + 9 + 13
        numbers_w = 9 + (13 if show_sig else 0)
        bar_w = max(1, width - label_w - 1 - numbers_w)
        labels = dict(zip(rows, distinct_names([entries[i].name for i in rows], label_w - 1)))
        for i in reversed(rows):  # the last entry on top, the first at the bottom
            e = entries[i]
            g = logs[i]
            frac = 0.0 if not math.isfinite(g) else (g - lo) / (hi - lo) if hi > lo else 0.0
            ratio = flows[i] / top if top and top > 0 else math.nan
            selected = i == v.selected
            mark = "▶" if selected else "!" if i in v.marks else " "
            name = labels[i]
            out.append("\n")
            out.append_text(
                fit(
                    [
                        (f"{mark}{name:<{label_w - 1}} ", "bold" if selected else "", 0),
                        (hbar(frac, bar_w), pal.severity(ratio) if pal.color else "", 2),
                        (f" {sci(flows[i]):>8}", "bold" if selected else "", 1),
                        (f"  sig {sci(e.signal_norm):>7}" if show_sig else "", "dim", 3),
                    ],
                    width,
                )
            )
        out.append("\n")
        left = f"{'':{label_w}}1e{int(lo)}"
        right = f"1e{int(hi)}"
        axis = left.ljust(max(len(left) + 1, label_w + bar_w - len(right) + 1)) + right
        out.append(axis if len(axis) <= width else left[:width], style="dim")
        return out

    def _headline(self, width: int) -> Text:
        v = self.view
        assert v is not None
        s, pal = v.snap, v.palette
        if s.diverged is not None:
            return fit([(f"diverged at step {s.diverged.step:,}", pal.style("bad", bold=True), 0)], width)
        vr = s.vanishing_ratio
        first, last = _ratio_ends(s)
        word = "through-time ratio" if s.axis == "time" else "vanishing ratio"
        if not math.isfinite(vr):
            return fit([(f"{word} —", "bold", 0)], width)
        style = pal.style("bad" if vr < 1e-3 or vr > 1e3 else "warn" if vr < 1e-1 else "good", bold=True)
        return fit(
            [
                (f"{word} ", "bold", 0),
                (sci(vr), style, 0),
                (f"  (signal at {short_name(first, 24)} / {short_name(last, 24)})", "dim", 1),
            ],
            width,
        )


def _ratio_ends(s) -> tuple[str, str]:
    """The entries whose signals the vanishing ratio compares: the first and the last, and for a user's model
    (axis "module", gradtui.probe's definition) the first and last with an activation -- the output layer's signal
    dL/dlogits is not a hidden layer's."""
    entries = s.entries
    if s.axis == "module":
        acts = [e for e in entries if e.act is not None and math.isfinite(e.signal_norm)]
        if len(acts) < 2:
            acts = [e for e in entries if math.isfinite(e.signal_norm)]
        if len(acts) >= 2:
            return acts[0].name, acts[-1].name
    return entries[0].name, entries[-1].name
