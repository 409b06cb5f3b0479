"""Shared test helpers: hand-made Snapshots (no trainer needed). Plain functions, importable from any test
(``from conftest import make_snapshot``). The dashboard's helpers are in uitest.py (they import Textual)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from gradtui.engine import ActivationInfo, Boundary, Config, DeadUnits, Divergence, Entry, Event, Hist, Snapshot
from gradtui.engine.activations import make_activation

# the recording format's keys, as docs/schema.md documents them (the README includes it): one place for every test
SCHEMA_DOC = Path(__file__).resolve().parents[1] / "docs" / "schema.md"


def documented_keys(text: str | None = None) -> dict[str, frozenset[str]]:
    """The keys of each object of the format, from the tables of docs/schema.md: a table follows a marker
    ``<!-- keys: NAME -->``; each row's first cell names one or more keys in backticks; a ``{a, b, c}`` group in
    backticks in a row's second cell lists the keys of that key's object (``NAME.key``)."""
    text = SCHEMA_DOC.read_text(encoding="utf-8") if text is None else text
    out: dict[str, set[str]] = {}
    section = None
    rows = 0
    for line in text.splitlines():
        m = re.match(r"<!-- keys: ([a-z_.]+) -->", line.strip())
        if m:
            section, rows = m.group(1), 0
            out[section] = set()
            continue
        if section is None or not line.startswith("|"):
            if section is not None and rows:
                section = None
            continue
        rows += 1
        if rows <= 2:  # the header and its rule
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        keys = re.findall(r"`([a-z_]+)`", cells[0])
        out[section].update(keys)
        for group in re.findall(r"`\{([a-z_]+(?:, [a-z_]+)*)\}`", cells[1] if len(cells) > 1 else ""):
            for k in keys:
                out.setdefault(f"{section}.{k}", set()).update(group.split(", "))
    return {k: frozenset(v) for k, v in out.items()}


SCHEMA_KEYS = documented_keys()
LINE_KEYS = SCHEMA_KEYS["line"]  # the keys a snapshot line (or an end marker) may have

WAIT = 20.0  # seconds: a bug fails a test instead of hanging it
LIVE = dict(depth=4, width=16, samples=400, probe_size=128, seed=0)  # a small real run: fast rebuilds


# ---- hand-made snapshots ----------------------------------------------------------------------------------------
def make_layer(
    index: int,
    units: int = 16,
    *,
    grad_norm: float = 1e-2,
    bias_grad_norm: float | None = None,
    signal_norm: float | None = None,
    update_ratio: float = 1e-3,
    dead: int = 0,
    saturation: float = 0.1,
    mean: float = 0.2,
    std: float = 0.5,
    bins: int = 16,
    dead_step: int = 50,
    activation: str = "relu",
    name: str | None = None,
    kind: str = "dense",
) -> Entry:
    """A valid Entry: a bell-shaped histogram of h on [-1, 1], of z on [-3, 3], the derivative of tanh at the
    bins' centres, and the first ``dead`` units dead since ``dead_step`` (for an activation whose units can die)."""
    if not 0 <= dead <= units:
        raise ValueError("dead must be between 0 and units")
    centres = np.linspace(-1, 1, bins)
    bell = np.round(1000 * np.exp(-4 * centres**2)).astype(np.int64)
    pre_edges = np.linspace(-3.0, 3.0, bins + 1)
    pre_centres = (pre_edges[:-1] + pre_edges[1:]) / 2
    info = ActivationInfo.of(make_activation(activation, 1, np.dtype(np.float64)))
    dead_units = None
    if info.can_die:
        dead_units = DeadUnits(np.arange(dead, dtype=np.int64), np.full(dead, dead_step, dtype=np.int64))
    elif dead:
        raise ValueError(f"{activation} units cannot die")
    return Entry(
        name=f"L{index}" if name is None else name,
        kind=kind,
        units=units,
        index=index,
        grad_norm=grad_norm,
        bias_grad_norm=grad_norm / 10 if bias_grad_norm is None else bias_grad_norm,
        signal_norm=grad_norm / 2 if signal_norm is None else signal_norm,
        update_ratio=update_ratio,
        act=info,
        hist=Hist(np.linspace(-1.0, 1.0, bins + 1), bell),
        pre_hist=Hist(pre_edges, bell.copy()),
        deriv=1.0 - np.tanh(pre_centres) ** 2,
        dead=dead_units,
        saturation=saturation,
        mean=mean,
        std=std,
    )


def make_boundary(classes: int = 2, grid: tuple[int, int] = (24, 12)) -> Boundary:
    """A fixed decision boundary over [-1, 1]²: class by angle, confidence growing with the radius."""
    gw, gh = grid
    xs = np.linspace(-1, 1, gw)
    ys = np.linspace(1, -1, gh)  # row 0 at the top
    gx, gy = np.meshgrid(xs, ys)
    angle = (np.arctan2(gy, gx) + math.pi) / (2 * math.pi)
    cls = np.minimum((angle * classes).astype(np.int64), classes - 1)
    conf = np.clip(0.5 + 0.5 * np.hypot(gx, gy) / math.sqrt(2), 0, 1)
    pts = np.array([[-0.5, 0.5], [0.5, -0.5], [0.6, 0.6], [-0.7, -0.2]])
    labels = np.array([0, 1, 1, 0]) % classes
    return Boundary(extent=(-1.0, 1.0, -1.0, 1.0), classes=cls, confidence=conf, points=pts, labels=labels)


def make_snapshot(
    *,
    depth: int = 4,
    width: int = 16,
    step: int = 100,
    run_step: int | None = None,
    loss: float = 0.5,
    accuracy: float | None = 0.75,
    test_loss: float | None = None,
    test_accuracy: float | None = 0.7,
    config: Config | None = None,
    layers: tuple[Entry, ...] | None = None,
    layer_overrides: dict[int, dict[str, Any]] | None = None,
    events: tuple[Event, ...] | None = None,
    vanishing_ratio: float = 0.5,
    diverged: Divergence | None = None,
    paused: bool = True,
    steps_per_sec: float = math.nan,
    boundary: Boundary | None = None,
    **fields: Any,
) -> Snapshot:
    """A valid Snapshot built by hand. ``layer_overrides`` maps a 1-based layer index to make_layer keywords;
    ``fields`` sets any other Snapshot field. The default is paused with no steps/s: nothing depends on the clock."""
    if config is None:
        config = Config(depth=depth, width=width, samples=400, probe_size=128, seed=0, activation="relu", init="he")
    depth, width = config.depth, config.width
    if layers is None:
        over = layer_overrides or {}
        layers = tuple(
            make_layer(
                i, width,
                **{"grad_norm": 10.0 ** (-1 - 0.5 * (depth - i)), "activation": config.activation, **over.get(i, {})},
            )
            for i in range(1, depth + 1)
        )  # fmt: skip
    if events is None:
        events = (Event(1, 0, "start", f"start: {config.summary()}"),)
    values: dict[str, Any] = dict(
        step=step,
        run_step=step if run_step is None else run_step,
        loss=loss,
        accuracy=accuracy,
        test_loss=loss * 1.1 if test_loss is None else test_loss,
        test_accuracy=test_accuracy,
        config=config,
        entries=layers,
        events=events,
        vanishing_ratio=vanishing_ratio,
        diverged=diverged,
        paused=paused,
        steps_per_sec=steps_per_sec,
        boundary=boundary,
        output_grad_norm=0.1,
        probe_step=step,
    )
    values.update(fields)
    return Snapshot(**values)


def snapshot_series(n: int = 12, **kw: Any) -> list[Snapshot]:
    """``n`` snapshots at steps 10, 20, ... with a falling loss and a rising accuracy (for the time-based panels)."""
    return [
        make_snapshot(step=10 * (k + 1), loss=1.0 / (1 + 0.3 * k), accuracy=min(0.99, 0.5 + 0.04 * k), **kw)
        for k in range(n)
    ]
