"""Panel 4, dead and saturated units: per layer the count and fraction of dead units (f'(z) = 0 on every probe
example) and the saturated fraction; below, a map of the selected layer's units: which are dead, and since when."""

from __future__ import annotations

from rich.text import Text

from ...engine.activations import ACTIVATIONS
from ..fmt import append_runs, hbar, pct, pick_rows
from .base import ProbePanel


def _unit_cell(since: int, latest: int | None) -> tuple[str, str]:
    if since < 0:
        return "·", "green"
    return "█", "bold bright_red" if since == latest else "red"


class UnitsPanel(ProbePanel):
    TITLE = "Dead & saturated units"
    HELP = "dead: f'(z)=0 for every probe example; sat: share of (example, unit) with |f'| < 5% of its max."

    def draw(self, width: int, height: int) -> Text:
        s = self.snap
        assert s is not None
        layers = s.layers
        i_sel = min(self.selected, len(layers) - 1)
        sel = layers[i_sel]
        can_die = ACTIVATIONS[s.config.activation].can_die
        map_rows = max(1, min((sel.units + width - 1) // max(1, width), max(1, height // 3)))
        table_h = max(1, height - map_rows - 2)
        label_w = len(str(len(layers))) + 2
        bar_w = max(3, (width - label_w - 30) // 2)
        out = Text(no_wrap=True, overflow="crop")
        total_dead = sum(layer.dead for layer in layers)
        total = sum(layer.units for layer in layers)
        head = f"dead {total_dead}/{total} ({pct(total_dead / total if total else 0)})" if can_die else "dead: n/a"
        out.append(head, style="bold red" if total_dead else "bold")
        out.append(f"  ({s.config.activation} units {'can' if can_die else 'cannot'} die)", style="dim")
        for i in reversed(pick_rows(len(layers), table_h)):
            layer = layers[i]
            mark = "▶" if i == i_sel else " "
            out.append("\n")
            out.append(f"{mark}L{layer.index:<{label_w - 2}} ", style="bold" if i == i_sel else "dim")
            out.append(f"dead {layer.dead:>4}/{layer.units:<4} {pct(layer.dead_fraction):>4} ")
            out.append(hbar(layer.dead_fraction, bar_w), style="red")
            out.append(f" sat {pct(layer.saturation):>4} ")
            out.append(hbar(layer.saturation, bar_w), style="yellow")
        out.append("\n")
        dead_steps = sorted(int(x) for x in sel.dead_since if x >= 0)
        info = f"layer {sel.index} units: █ dead ·alive"
        if dead_steps:
            info += f"  first died at step {dead_steps[0]}, latest {dead_steps[-1]}"
        out.append(info, style="dim")
        # the unit map: one cell per unit, as many rows as fit
        cells = width * map_rows
        units = sel.dead_since[:cells]
        latest = dead_steps[-1] if dead_steps else None
        for r in range(map_rows):
            out.append("\n")
            chunk = units[r * width : (r + 1) * width]
            append_runs(out, (_unit_cell(since, latest) for since in chunk))
        if sel.units > cells:
            out.append(f" +{sel.units - cells}", style="dim")
        return out
