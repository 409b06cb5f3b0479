"""Panel 6 of a recurrent run (in place of the decision boundary), gates and parameters: per gate of an LSTM or a
GRU its mean over the probe set, the shares shut (below 0.05) and open (above 0.95), its mean at every time step (a
sparkline, step 1 at the left, on the gate's own range), where there is room its shut and open shares at every time
step (two more sparklines, on [0, 1]: saturation through time), and its distribution; the LSTM's cell-state norm
‖c_t‖/√N over time; the mean and the saturation of h_t over time; and every parameter array's gradient norm and
update ratio (the weights all time steps share). A vanilla RNN has no gates: the panel says so and shows the rest.
Everything comes from the snapshot (``Snapshot.gates``, ``Snapshot.params``, the entries)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from rich.text import Text

from ...engine import Snapshot
from ...fmt import num, pct, sci
from ..draw import LEVELS, fit, spark
from .base import ProbePanel

CELL_FORMULA = {
    "rnn": "h_t = f(x_t Wx + h_{t-1} Wh + b)",
    "lstm": "c_t = f·c_{t-1} + i·g,  h_t = o·tanh(c_t)",
    "gru": "h_t = (1 - z)·n + z·h_{t-1}",
}


def over_t(values: np.ndarray, width: int, lo: float, hi: float) -> str:
    """A sparkline of ``values`` (one per time step, step 1 first) resampled to ``width`` cells (the mean of each
    cell's steps), each cell's height on the fixed scale [lo, hi]."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0 or width <= 0:
        return ""
    cells = []
    for j in range(width):
        a = j * n // width
        b = max(a + 1, (j + 1) * n // width)
        chunk = values[a:b]
        chunk = chunk[np.isfinite(chunk)]
        if not chunk.size:
            cells.append(" ")
            continue
        frac = (float(chunk.mean()) - lo) / (hi - lo) if hi > lo else 0.0
        cells.append(LEVELS[max(1, min(8, math.ceil(frac * 8)))] if frac > 0 else "▁")
    return "".join(cells)


SPARK_MIN = 7  # cells of each of the three over-t sparklines (mean, shut, open), or only the mean's is shown


def _over_t_widths(t_w: int) -> tuple[int, int]:
    """(width of the mean's sparkline, width of each of the shut and open ones: 0 when they do not fit)."""
    if t_w < 3 * SPARK_MIN + 2:
        return t_w, 0
    each = (t_w - 2) // 3
    return t_w - 2 - 2 * each, each


def _param_label(name: str) -> str:
    return name.removeprefix("cell.")


class GatesPanel(ProbePanel):
    TITLES = ("Gates & parameters  probe set; over t: step 1 → T", "Gates & parameters", "Gates")
    HELP = (
        "Per gate: mean, shut (< 0.05), open (> 0.95); over t (step 1 left): its mean, and where there is room its "
        "shut and open shares at each step; ‖c_t‖/√N; per parameter array: ‖∂L/∂W‖ and the update ratio."
    )

    def data_key(self) -> Any:
        s = self.snap
        return (s.probe_step, s.grad_step, s.build_step, s.config) if s else None

    def draw(self, width: int, height: int) -> Text:
        v = self.view
        assert v is not None
        s, pal = v.snap, v.palette
        dim = s.stale(s.probe_step)
        out = Text(no_wrap=True, overflow="crop")
        lines: list[Text] = []
        kind = s.entries[0].kind if s.entries else s.meta.model
        head = [(CELL_FORMULA.get(kind, kind), "bold", 0)]
        if not s.gates:
            head.append(("  (no gates)", "dim", 1))
        lines.append(fit(head, width))
        name_w = 10
        stats_w = 6 + 6 + 6  # mean, shut, open
        room = max(0, width - name_w - stats_w - 1)
        hist_w = 20 if room >= 20 + 12 else 0  # the distribution, when there is room for both sparklines
        t_w = max(0, room - (hist_w + 1 if hist_w else 0))
        mean_w, share_w = _over_t_widths(t_w)
        if not any(g.low_steps is not None for g in s.gates):
            mean_w, share_w = t_w, 0  # (an older recording: no shares per step)
        if s.gates:
            heads = [(f"{'over t':<{t_w}}" if t_w else "", "dim", 2)]
            if share_w:
                heads = [(f"{'mean(t)':<{mean_w}}", "dim", 2), (f" {'shut(t)':<{share_w}}", "dim", 2),
                         (f" {'open(t)':<{share_w}}", "dim", 2)]  # fmt: skip
            lines.append(
                fit(
                    [
                        (f"{'gate':<{name_w}}{'mean':>6}{'shut':>6}{'open':>6} ", "dim", 0),
                        *heads,
                        (f" {'distribution':<{hist_w}}" if hist_w else "", "dim", 3),
                    ],
                    width,
                )
            )
        for g in s.gates:
            lo, hi = (-1.0, 1.0) if g.name == "candidate" else (0.0, 1.0)
            shut_bad = g.name != "candidate" and g.low > 0.5
            style = "dim" if dim else pal.style("bad", bold=True) if shut_bad else ""
            parts = [
                (f"{g.name[: name_w - 1]:<{name_w}}{num(g.mean, 2):>6}{pct(g.low):>6}{pct(g.high):>6} ", style, 0),
            ]
            if mean_w and g.steps is not None:
                parts.append((over_t(g.steps, mean_w, lo, hi), "dim" if dim else pal.style("accent"), 2))
            elif share_w:
                parts.append((" " * mean_w, "", 2))
            if share_w:
                sat = "dim" if dim else pal.style("sat")
                for shares in (g.low_steps, g.high_steps):
                    cells = over_t(shares, share_w, 0.0, 1.0) if shares is not None else " " * share_w
                    parts.append((" " + cells, sat, 2))
            if hist_w and g.hist is not None:
                parts.append((" " + spark(g.hist.counts, hist_w), "dim" if dim else pal.style("hist"), 3))
            lines.append(fit(parts, width))
        over = self._over_time(s, width, name_w + stats_w, dim, pal)
        lines.extend(over[:1])  # the cell-state norm (LSTM), or the first of the others
        lines.extend(self._params(s, width))
        lines.extend(over[1:])  # the mean and saturation of h_t: also in the other panels, so they go first
        for i, line in enumerate(lines[:height]):
            if i:
                out.append("\n")
            out.append_text(line)
        return out

    def _over_time(self, s: Snapshot, width: int, label_w: int, dim: bool, pal) -> list[Text]:
        """‖c_t‖/√N (LSTM), the mean and the saturation of h_t, each over the time steps."""
        rows = []
        t_w = max(0, width - label_w - 1)
        cell = np.array([e.cell_norm for e in s.entries], dtype=np.float64)
        if np.isfinite(cell).any():
            top = float(np.nanmax(cell))
            label = f"‖c_t‖/√N {num(cell[0], 2)}→{num(cell[-1], 2)}"
            rows.append(
                fit(
                    [
                        (f"{label:<{label_w}} ", "", 0),
                        (over_t(cell, t_w, 0.0, top if top > 0 else 1.0), pal.style("accent"), 2),
                    ],
                    width,
                )
            )
        mean = np.array([e.mean for e in s.entries], dtype=np.float64)
        if np.isfinite(mean).any():
            label = f"mean h_t {num(mean[0], 2)}→{num(mean[-1], 2)}"
            rows.append(
                fit(
                    [(f"{label:<{label_w}} ", "dim" if dim else "", 0), (over_t(mean, t_w, -1.0, 1.0), "dim", 2)], width
                )
            )
        sat = np.array([e.saturation for e in s.entries], dtype=np.float64)
        if np.isfinite(sat).any():
            label = f"sat h_t {pct(sat[0])}→{pct(sat[-1])}"
            rows.append(
                fit(
                    [
                        (f"{label:<{label_w}} ", "dim" if dim else "", 0),
                        (over_t(sat, t_w, 0.0, 1.0), "dim" if dim else pal.style("sat"), 2),
                    ],
                    width,
                )
            )
        return rows

    def _params(self, s: Snapshot, width: int) -> list[Text]:
        """One line per parameter array, ‖∂L/∂W‖ and ΔW/W of the measured step."""
        if not s.params:
            return []
        rows = [fit([("parameter", "dim", 0), ("   ‖∂L/∂W‖", "dim", 1), ("    ΔW/W", "dim", 2)], width)]
        for p in s.params:
            rows.append(
                fit(
                    [
                        (f"{_param_label(p.name)[:9]:<9}", "bold", 0),
                        (f" {sci(p.grad_norm):>10}", "", 1),
                        (f" {sci(p.update_ratio):>8}", "dim", 2),
                    ],
                    width,
                )
            )
        return rows
