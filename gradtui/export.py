"""``gradtui export FILE --csv DIR``: a recording as tidy CSV tables (one observation per row) for pandas & co.

- ``layers.csv``: step, run, layer, metric, value -- every per-entry figure (grad_norm, bias_grad_norm, signal_norm,
  update_ratio, dead, dead_fraction, saturation, mean, std, cell_norm); ``layer`` is the entry's name (L1, t=5,
  encoder.fc1); ``dead`` is empty for units that cannot die
- ``steps.csv``: step, run, metric, value -- loss, accuracy, test_loss, test_accuracy, vanishing_ratio, steps_per_sec
- ``events.csv``: step, run, kind, text

Missing values (not measured yet) are empty cells, which pandas reads as NaN.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from .engine import Snapshot
from .fmt import safe_text

LAYER_METRICS = ["grad_norm", "bias_grad_norm", "signal_norm", "update_ratio", "dead", "dead_fraction", "saturation",
                 "mean", "std", "cell_norm"]  # fmt: skip
STEP_METRICS = ["loss", "accuracy", "test_loss", "test_accuracy", "vanishing_ratio", "steps_per_sec"]


def _cell(v) -> str:
    if v is None:
        return ""
    v = float(v)
    return "" if math.isnan(v) else repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def export_csv(snapshots: list[Snapshot], directory: str | os.PathLike[str]) -> list[Path]:
    """Write the three tables into ``directory`` (created if missing); returns their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "layers.csv", out / "steps.csv", out / "events.csv"]
    seen_events: set[tuple] = set()
    with (
        open(paths[0], "w", newline="", encoding="utf-8") as fl,
        open(paths[1], "w", newline="", encoding="utf-8") as fs,
        open(paths[2], "w", newline="", encoding="utf-8") as fe,
    ):
        wl, ws, we = csv.writer(fl), csv.writer(fs), csv.writer(fe)
        wl.writerow(["step", "run", "layer", "metric", "value"])
        ws.writerow(["step", "run", "metric", "value"])
        we.writerow(["step", "run", "kind", "text"])
        for s in snapshots:
            run = s.run
            for entry in s.entries:
                for m in LAYER_METRICS:
                    value: float | None
                    if m == "dead":
                        value = None if entry.dead is None else entry.dead_count
                    elif m == "dead_fraction":
                        value = None if entry.dead is None else entry.dead_fraction
                    else:
                        value = getattr(entry, m)
                    if m == "cell_norm" and value != value:
                        continue
                    wl.writerow([s.step, run, safe_text(entry.name, 200), m, _cell(value)])
            for m in STEP_METRICS:
                ws.writerow([s.step, run, m, _cell(getattr(s, m))])
            for e in s.events:
                key = (run, e.seq)
                if key not in seen_events:
                    seen_events.add(key)
                    we.writerow([e.step, run, safe_text(e.kind, 50), safe_text(e.text)])
    return paths
