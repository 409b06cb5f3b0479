"""Panel 3, activations: small multiples (one line per entry: the histogram of h = f(z) over the probe set, with
mean and std), and the selected entry's pre-activation histogram with f'(z) drawn over it, so that one sees how
much of the distribution sits where f' ~ 0. Everything about the activation comes from the snapshot's own
metadata (ActivationInfo): no engine registry."""

from __future__ import annotations

import math

from rich.text import Text

from ...fmt import num, pct
from ..draw import LEVELS, Part, distinct_names, fit, label_width, short_name, spark
from .base import ListingPanel, ProbePanel


class ActivationStrips(ListingPanel, ProbePanel):
    TITLES = ("Activations  h = f(z), probe set", "Activations", "Act.")
    HELP = "One histogram line per layer (input at the bottom); μ mean, σ std; ↑/↓ selects a layer."

    def titles(self) -> tuple[str, ...]:
        v = self.view
        if v is not None and v.snap.axis == "time":
            return ("Hidden state  h_t per step, probe set", "Hidden state h_t", "h_t")
        return self.TITLES

    def draw(self, width: int, height: int) -> Text:
        v = self.view
        assert v is not None
        s, pal = v.snap, v.palette
        entries = s.entries
        rows = self.rows(height)
        label_w = min(max((len(entries[i].name) for i in rows), default=2) + 2, max(4, width // 3))
        row_names = [entries[i].name for i in rows]
        label_w = 2 + label_width(row_names, label_w - 2, min(max(map(len, row_names), default=1), width // 2))
        stale = s.stale(s.probe_step)
        stats_w = 16 if width - label_w >= 16 + 6 else 0
        bar_w = max(1, width - label_w - stats_w)
        out = Text(no_wrap=True, overflow="crop")
        labels = dict(zip(rows, distinct_names([entries[i].name for i in rows], label_w - 2)))
        for k, i in enumerate(reversed(rows)):
            e = entries[i]
            if k:
                out.append("\n")
            sel = i == v.selected
            name = labels[i]
            line: list[Part] = [(f"{'▶' if sel else ' '}{name:<{label_w - 1}}", "bold" if sel else "dim", 0)]
            if e.hist is None:
                # say what is true: a step whose histogram is not kept, a module without an activation, or an
                # activation that has no histogram in this snapshot (not measured, or not recorded)
                forms: tuple[str, ...]
                if s.axis == "time":
                    forms = ("not kept at this step",)
                elif e.act is None:
                    forms = ("no activation here",)
                else:
                    forms = ("no histogram at this step", "no histogram")
                room = width - label_w - 3
                missing = next((f for f in forms if len(f) <= room), "")
                line.append((f"—  {missing}" if missing else "—", "dim", 0))
            else:
                style = "dim" if stale else pal.style("hist", bold=sel)
                line.append((spark(e.hist.counts, bar_w), style, 2))
                if stats_w:
                    line.append(
                        (f" μ{num(e.mean, 2):>6} σ{num(e.std, 2):>6}", "dim" if stale else "bold" if sel else "", 3)
                    )
            out.append_text(fit(line, width))
        return out


# a recurrent cell's pre-activation of h_t: what the selected-step histogram shows (the GRU has none: h_t itself)
STEP_VARIABLE = {"rnn": "a", "lstm": "c", "gru": "h"}


class LayerHistogram(ProbePanel):
    TITLES = ("Selected layer  z histogram + f′(z)", "Selected layer", "Layer")
    HELP = "Bars: pre-activations z of the selected layer; •: the activation's derivative f'(z), top = its max."

    def titles(self) -> tuple[str, ...]:
        v = self.view
        if v is None or v.snap.axis != "time" or not v.snap.entries:
            return self.TITLES
        kind = v.snap.entries[0].kind
        if kind == "lstm":
            return ("Selected step  c_t histogram + tanh′(c_t)", "Selected step", "Step")
        if kind == "gru":
            return ("Selected step  h_t histogram", "Selected step", "Step")
        return ("Selected step  a_t histogram + f′(a_t)", "Selected step", "Step")

    def draw(self, width: int, height: int) -> Text:
        v = self.view
        assert v is not None
        s, pal = v.snap, v.palette
        i = min(v.selected, len(s.entries) - 1)
        e = s.entries[i]
        out = Text(no_wrap=True, overflow="crop")
        act = e.act
        var = STEP_VARIABLE.get(e.kind, "z") if s.axis == "time" else "z"
        hist, deriv = e.pre_hist, e.deriv
        if hist is None and s.axis == "time" and e.hist is not None:  # a GRU: the state itself
            hist, deriv, var = e.hist, None, "h"
        head: list[Part] = [(short_name(e.name, max(4, width // 2)), "bold", 0)]
        if act is not None:
            head.append((f"  {act.name}", "", 3))
        head.append((f"  saturated {pct(e.saturation)}", "", 4))
        if e.dead is not None and e.dead_count:
            head.append((f"  dead {e.dead_count}/{e.units}", pal.style("dead", bold=True), 2))
        if s.stale(s.probe_step):
            head.append((f"  from step {s.probe_step:,}", "dim", 1))
        out.append_text(fit(head, width))
        if hist is None:
            out.append("\n")
            if s.axis == "time":
                msg = [(f"no histogram kept at {e.name}", "dim", 0), (" (↑/↓: the steps that have one)", "dim", 1)]
            else:
                msg = [("no pre-activations measured for this entry", "dim", 0)]
            out.append_text(fit(msg, width))
            return out
        counts = hist.counts
        max_d = act.max_deriv if act is not None else 1.0
        plot_h = max(1, height - 3)
        plot_w = max(1, width)
        nb = len(counts)
        heights, derivs = [], []
        for j in range(plot_w):  # each column covers bins b0..b1 (or repeats one, when wider than the bins)
            b0 = j * nb // plot_w
            b1 = max(b0 + 1, (j + 1) * nb // plot_w)
            heights.append(float(counts[b0:b1].sum()) / (b1 - b0))
            derivs.append(float(deriv[b0:b1].mean()) / max_d if deriv is not None else math.nan)
        top = max(heights) or 1.0
        bar = pal.style("accent")
        dot = pal.style("deriv", bold=True)
        for r in range(plot_h, 0, -1):  # r = plot_h is the top row
            out.append("\n")
            for hc, d in zip(heights, derivs):
                cells = hc / top * plot_h
                # f' over its maximum is in [0, 1]; one read from a file may be anything (1e307 * plot_h overflows)
                d_row = min(plot_h, max(1, math.ceil(max(-1.0, min(2.0, d)) * plot_h - 0.5))) if math.isfinite(d) else 0
                if d_row == r:
                    out.append("•", style=dot)
                elif cells >= r:
                    out.append("█", style=bar)
                elif cells > r - 1:
                    out.append(LEVELS[max(1, int((cells - (r - 1)) * 8))], style=bar)
                else:
                    out.append(" ")
        lo, hi = hist.lo, hist.hi
        out.append("\n")
        left, right = f"{var} {num(lo, 2)}", num(hi, 2)
        axis = left.ljust(max(len(left) + 1, plot_w - len(right))) + right
        if len(axis) > width:  # never a number cut in half
            axis = left if len(left) <= width else ""
        out.append(axis, style="dim")
        out.append("\n")
        legend: list[Part] = [(f"█ {var} count", bar, 0)]
        if deriv is not None:
            legend.append((f"  • f′({var})/max f′", dot, 1))
        if math.isfinite(e.std):
            legend.append((f"   h: μ {num(e.mean, 2)} σ {num(e.std, 2)}", "dim", 2))
        out.append_text(fit(legend, width))
        return out
