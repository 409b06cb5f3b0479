"""Panel 4, dead and saturated units: per entry the count and fraction of dead units (f'(z) = 0 on every probe
example) and the saturated fraction; below, a map of the selected entry's units: which are dead, and since when."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from ...fmt import count, pct
from ..draw import append_runs, distinct_names, fit, hbar, label_width
from .base import ListingPanel, ProbePanel


class UnitsPanel(ListingPanel, ProbePanel):
    TITLES = ("Dead & saturated units", "Dead & saturated", "Units")
    HELP = "dead: f'(z)=0 for every probe example; sat: share of (example, unit) with |f'| < 5% of its max."

    def _map_rows(self, width: int, height: int, table_rows: int) -> int:
        """The unit map takes what the table leaves (at least a row), and no more than it needs."""
        v = self.view
        assert v is not None
        sel = v.snap.entries[min(v.selected, len(v.snap.entries) - 1)]
        need = (sel.units + width - 1) // max(1, width)
        return max(1, min(need, height - 2 - table_rows))

    def capacity(self, height: int) -> int:
        return max(1, height - 3)  # a headline, the map's caption, and a row of the map at least

    def draw(self, width: int, height: int) -> Text:
        v = self.view
        assert v is not None
        s, pal = v.snap, v.palette
        entries = s.entries
        i_sel = min(v.selected, len(entries) - 1)
        sel = entries[i_sel]
        dim = s.stale(s.probe_step)
        out = Text(no_wrap=True, overflow="crop")
        can_die = [e for e in entries if e.dead is not None]
        total_dead = sum(e.dead_count for e in can_die)
        total = sum(e.units for e in can_die)
        if can_die:
            head = [(f"dead {count(total_dead)}/{count(total)} ({pct(total_dead / total if total else 0)})",
                     pal.style("dead", bold=True) if total_dead else "bold", 0)]  # fmt: skip
        else:
            head = [("dead: none can die", "bold", 0)]
        act = sel.act
        if act is not None:
            head.append((f"  ({act.name} units {'can' if act.can_die else 'cannot'} die)", "dim", 1))
        out.append_text(fit(head, width))
        rows = self.rows(height)
        label_w = min(max((len(entries[i].name) for i in rows), default=2) + 2, max(4, width // 3))
        row_names = [entries[i].name for i in rows]
        label_w = 2 + label_width(row_names, label_w - 2, min(max(map(len, row_names), default=1), width // 2))
        bar_w = max(1, (width - label_w - 30) // 2)
        labels = dict(zip(rows, distinct_names([entries[i].name for i in rows], label_w - 2)))
        for i in reversed(rows):
            e = entries[i]
            out.append("\n")
            name = labels[i]
            dead_text = f"dead {e.dead_count:>4}/{e.units:<4} {pct(e.dead_fraction):>4} " if e.dead is not None else (
                f"{'cannot die':<19}")  # fmt: skip
            out.append_text(
                fit(
                    [
                        (f"{'▶' if i == i_sel else '!' if i in v.marks else ' '}{name:<{label_w - 1}}",
                         "bold" if i == i_sel else "dim", 0),
                        (dead_text, "dim" if dim else "", 1),
                        (hbar(e.dead_fraction, bar_w) if e.dead is not None else " " * bar_w,
                         "dim" if dim else pal.style("dead"), 3),
                        (f" sat {pct(e.saturation):>5} ", "dim" if dim else "", 2),
                        (hbar(e.saturation, bar_w) if e.saturation == e.saturation else " " * bar_w,
                         "dim" if dim else pal.style("sat"), 4),
                    ],
                    width,
                )
            )  # fmt: skip
        out.append("\n")
        dead_steps = sorted(int(x) for x in sel.dead.since) if sel.dead is not None else []
        info = [(f"{sel.name} units: ", "dim", 0), ("█ dead · alive  ", "dim", 2)]
        if dead_steps:
            first, last = dead_steps[0], dead_steps[-1]
            died = f"first died at step {first:,}" + (f", latest {last:,}" if last != first else "")
            info.append((died, "dim", 1))
        out.append_text(fit(info, width))
        # the unit map: one cell per unit, as many rows as fit
        map_rows = self._map_rows(width, height, len(rows))
        cells = width * map_rows
        latest = dead_steps[-1] if dead_steps else None
        alive = pal.style("good")
        dead_now, dead_old = pal.style("bad", bold=True), pal.style("dead")
        since = _dead_since(sel, min(sel.units, cells))  # only the units drawn (an entry may have millions)
        shown = since[:cells]
        more = sel.units - cells
        if more > 0:  # the last cells say how many are not drawn
            note = f" +{more}"
            shown = since[: max(0, cells - len(note))]
        for r in range(map_rows):
            out.append("\n")
            chunk = shown[r * width : (r + 1) * width]
            append_runs(out, (("·", alive) if x < 0 else ("█", dead_now if x == latest else dead_old) for x in chunk))
        if more > 0:
            out.append(note, style="dim")
        return out


def _dead_since(e, n: int) -> np.ndarray:
    """The step each of the first ``n`` units died at, -1 for the alive ones."""
    out = np.full(n, -1, dtype=np.int64)
    if e.dead is not None:
        first = e.dead.units < n
        out[e.dead.units[first]] = e.dead.since[first]
    return out
