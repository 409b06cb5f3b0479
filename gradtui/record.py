"""Snapshots <-> JSON lines: the recording format (``gradtui run --jsonl``/``--record``, and replay).

One line is one Snapshot, a strict JSON object (no NaN/Infinity literals) with ``"schema": SCHEMA``. Each line
carries only the events that are new since the previous line; a loader accumulates them, so that every loaded
Snapshot holds all events so far, as a live one does (the last ``MAX_EVENTS`` of them, as the Trainer keeps).

Non-finite floats, which JSON cannot spell:

- NaN (a figure not measured yet, e.g. the update ratio before the first step) is ``null``,
- +inf and -inf (e.g. the update ratio of an all-zero weight matrix) are the strings ``"inf"`` and ``"-inf"``.

Both read back exactly. ``accuracy`` and ``test_accuracy`` are ``null`` for regression and read back as None (they
are never NaN: a mean of booleans). Every finite float is written with Python's shortest round-tripping repr, so a
round trip preserves every number exactly (float32 values are widened to float64 first, which is exact).
Arrays read back as float64 (edges, derivatives) and int64 (counts, dead_since), the dtypes the engine makes.

The decision boundary is written as ``boundary`` only on the lines where it changed (its ``step`` moved on); the
loader carries it forward to the following lines, as the live trainer does. Its arrays are written exactly, as
base64 of little-endian bytes with their dtype and shape (``{"dtype", "shape", "b64"}``), read back with
``np.frombuffer`` -- data only, nothing is ever unpickled.

Not recorded: ``Snapshot.extra`` -- except the optional ``run`` tag,
which reads back as ``extra["run"]``.

Keys of a line: schema, step, run_step, loss, accuracy, test_loss, test_accuracy, vanishing_ratio, steps_per_sec,
output_grad_norm, paused, probe_step, diverged (null or {step, layer, what, message}), events ([{seq, step, kind,
text}]), config (Config.to_dict()), layers (one per hidden layer, input side first: index, units, grad_norm,
bias_grad_norm, signal_norm, update_ratio, dead, dead_fraction, saturation, mean, std, hist {edges, counts}, pre_hist
{edges, counts}, deriv, dead_since) and, when given, run. ``dead_fraction`` is derived, written for readers of the
file, and ignored on load.
"""

from __future__ import annotations

import base64
import json
import math
import os
from pathlib import Path
from typing import IO, Any

import numpy as np

from .engine import Boundary, Config, ConfigError, Divergence, Event, LayerStats, Snapshot
from .engine.trainer import MAX_EVENTS

__all__ = ["SCHEMA", "Recorder", "RecordingError", "load_recording", "snapshot_from_dict", "snapshot_to_dict"]

SCHEMA = 1

_INF = {"inf": math.inf, "-inf": -math.inf}


class RecordingError(ValueError):
    """A file that cannot be read as a recording, with a one-line message meant for the user."""


class NewerSchemaError(RecordingError):
    """The recording was written with a schema newer than this version knows."""


# ---- encoding ---------------------------------------------------------------------------------------------------
def _enc(x: float) -> float | str | None:
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _enc_floats(a: np.ndarray) -> list:
    a = np.asarray(a, dtype=np.float64)
    if np.isfinite(a).all():
        return a.tolist()
    return [_enc(v) for v in a.tolist()]


def _enc_ints(a: np.ndarray) -> list[int]:
    return np.asarray(a, dtype=np.int64).tolist()


def _enc_layer(l: LayerStats) -> dict[str, Any]:
    return {
        "index": int(l.index),
        "units": int(l.units),
        "grad_norm": _enc(l.grad_norm),
        "bias_grad_norm": _enc(l.bias_grad_norm),
        "signal_norm": _enc(l.signal_norm),
        "update_ratio": _enc(l.update_ratio),
        "dead": int(l.dead),
        "dead_fraction": _enc(l.dead_fraction),
        "saturation": _enc(l.saturation),
        "mean": _enc(l.mean),
        "std": _enc(l.std),
        "hist": {"edges": _enc_floats(l.hist_edges), "counts": _enc_ints(l.hist_counts)},
        "pre_hist": {"edges": _enc_floats(l.pre_edges), "counts": _enc_ints(l.pre_counts)},
        "deriv": _enc_floats(l.deriv),
        "dead_since": _enc_ints(l.dead_since),
    }


_ARRAY_DTYPES = {"<f8", "<f4", "<i8", "|i1", "<i4"}


def _enc_array(a: np.ndarray | None) -> dict[str, Any] | None:
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return {"dtype": a.dtype.str, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def _dec_array(v: Any, name: str) -> np.ndarray | None:
    if v is None:
        return None
    if not isinstance(v, dict) or v.get("dtype") not in _ARRAY_DTYPES:
        raise RecordingError(f"{name} is not an array of a known type")
    try:
        raw = base64.b64decode(v["b64"], validate=True)
        shape = tuple(int(n) for n in v["shape"])
        return np.frombuffer(raw, dtype=np.dtype(v["dtype"])).reshape(shape).copy()
    except (KeyError, TypeError, ValueError) as e:
        raise RecordingError(f"{name}: {e}") from None


def _enc_boundary(b: Boundary) -> dict[str, Any]:
    return {
        "step": int(b.step),
        "extent": [float(x) for x in b.extent],
        **{k: _enc_array(getattr(b, k)) for k in ("classes", "confidence", "curve_x", "curve_y", "points", "labels")},
    }


def _dec_boundary(v: Any) -> Boundary:
    if not isinstance(v, dict):
        raise RecordingError("boundary is not an object")
    extent = v.get("extent")
    if not (isinstance(extent, list) and len(extent) == 4):
        raise RecordingError("boundary.extent is not 4 numbers")
    arrays = {k: _dec_array(v.get(k), f"boundary.{k}") for k in BOUNDARY_ARRAYS}
    return Boundary(
        extent=tuple(_dec(x, "boundary.extent") for x in extent),  # type: ignore[arg-type]
        step=_dec_int(v.get("step", 0), "boundary.step"),
        **arrays,
    )


BOUNDARY_ARRAYS = ("classes", "confidence", "curve_x", "curve_y", "points", "labels")


def snapshot_to_dict(
    s: Snapshot, *, events_since: int = 0, run: Any = None, with_boundary: bool = True
) -> dict[str, Any]:
    """``s`` as a JSON-ready dict (strict JSON: see the module docstring), with the events whose seq > events_since,
    and its boundary unless ``with_boundary`` is False (the Recorder writes it only when it changed).

    ``run`` (anything JSON can hold) tags the line; by default the ``run`` tag of a loaded snapshot is kept.
    """
    d = s.diverged
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "step": int(s.step),
        "run_step": int(s.run_step),
        "loss": _enc(s.loss),
        "accuracy": None if s.accuracy is None else _enc(s.accuracy),
        "test_loss": _enc(s.test_loss),
        "test_accuracy": None if s.test_accuracy is None else _enc(s.test_accuracy),
        "vanishing_ratio": _enc(s.vanishing_ratio),
        "steps_per_sec": _enc(s.steps_per_sec),
        "output_grad_norm": _enc(s.output_grad_norm),
        "paused": bool(s.paused),
        "probe_step": int(s.probe_step),
        "diverged": None
        if d is None
        else {
            "step": int(d.step),
            "layer": None if d.layer is None else int(d.layer),
            "what": d.what,
            "message": d.message,
        },
        "events": [
            {"seq": int(e.seq), "step": int(e.step), "kind": e.kind, "text": e.text}
            for e in s.events
            if e.seq > events_since
        ],
        "config": s.config.to_dict(),
        "layers": [_enc_layer(l) for l in s.layers],
    }
    if with_boundary and s.boundary is not None:
        out["boundary"] = _enc_boundary(s.boundary)
    if run is None:
        run = s.extra.get("run")
    if run is not None:
        out["run"] = run
    return out


def dumps(s: Snapshot, *, events_since: int = 0, run: Any = None, with_boundary: bool = True) -> str:
    """One recording line (without its newline)."""
    d = snapshot_to_dict(s, events_since=events_since, run=run, with_boundary=with_boundary)
    return json.dumps(d, allow_nan=False, separators=(",", ":"))


# ---- decoding ---------------------------------------------------------------------------------------------------
def _get(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise RecordingError(f"{where} is not an object")
    if key not in d:
        raise RecordingError(f"{where} has no {key!r}")
    return d[key]


def _dec(v: Any, name: str) -> float:
    if v is None:
        return math.nan
    if isinstance(v, str) and v in _INF:
        return _INF[v]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RecordingError(f"{name} is not a number: {v!r}"[:120])
    return float(v)


def _dec_int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise RecordingError(f"{name} is not a whole number: {v!r}"[:120])
    return v


def _dec_str(v: Any, name: str) -> str:
    if not isinstance(v, str):
        raise RecordingError(f"{name} is not a string")
    return v


def _dec_list(v: Any, name: str) -> list:
    if not isinstance(v, list):
        raise RecordingError(f"{name} is not a list")
    return v


def _dec_floats(v: Any, name: str) -> np.ndarray:
    items = _dec_list(v, name)
    if all(type(x) is float or type(x) is int for x in items):  # the common case: all finite
        return np.array(items, dtype=np.float64)
    return np.array([_dec(x, name) for x in items], dtype=np.float64)


def _dec_ints(v: Any, name: str) -> np.ndarray:
    items = _dec_list(v, name)
    if not all(type(x) is int for x in items):
        raise RecordingError(f"{name} holds something other than whole numbers")
    return np.array(items, dtype=np.int64)


def _dec_hist(v: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    return _dec_floats(_get(v, "edges", name), f"{name}.edges"), _dec_ints(_get(v, "counts", name), f"{name}.counts")


def _dec_layer(v: Any, i: int) -> LayerStats:
    where = f"layers[{i}]"

    def num(key: str) -> float:
        return _dec(_get(v, key, where), f"{where}.{key}")

    def whole(key: str) -> int:
        return _dec_int(_get(v, key, where), f"{where}.{key}")

    hist_edges, hist_counts = _dec_hist(_get(v, "hist", where), f"{where}.hist")
    pre_edges, pre_counts = _dec_hist(_get(v, "pre_hist", where), f"{where}.pre_hist")
    return LayerStats(
        index=whole("index"),
        units=whole("units"),
        grad_norm=num("grad_norm"),
        bias_grad_norm=num("bias_grad_norm"),
        signal_norm=num("signal_norm"),
        update_ratio=num("update_ratio"),
        dead=whole("dead"),
        saturation=num("saturation"),
        mean=num("mean"),
        std=num("std"),
        hist_edges=hist_edges,
        hist_counts=hist_counts,
        pre_edges=pre_edges,
        pre_counts=pre_counts,
        deriv=_dec_floats(_get(v, "deriv", where), f"{where}.deriv"),
        dead_since=_dec_ints(_get(v, "dead_since", where), f"{where}.dead_since"),
    )


def _dec_event(v: Any, i: int) -> Event:
    where = f"events[{i}]"
    return Event(
        seq=_dec_int(_get(v, "seq", where), f"{where}.seq"),
        step=_dec_int(_get(v, "step", where), f"{where}.step"),
        kind=_dec_str(_get(v, "kind", where), f"{where}.kind"),
        text=_dec_str(_get(v, "text", where), f"{where}.text"),
    )


def _check_schema(d: Any) -> int:
    schema = _get(d, "schema", "the line")
    if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
        raise RecordingError(f"schema is not a version number: {schema!r}"[:120])
    if schema > SCHEMA:
        raise NewerSchemaError(
            f"written by a newer gradtui (recording schema {schema}; this version reads schema {SCHEMA} and older)"
        )
    return schema


def snapshot_from_dict(
    d: dict[str, Any], *, events_before: tuple[Event, ...] = (), boundary_before: Boundary | None = None
) -> Snapshot:
    """The Snapshot that ``snapshot_to_dict`` wrote. Raises RecordingError (one line) if ``d`` is not one.

    A line without a boundary gets ``boundary_before`` (the loader passes the last one it read).
    ``events_before`` are prepended to the line's own events (the loader passes the events of earlier lines).
    """
    _check_schema(d)

    def num(key: str) -> float:
        return _dec(_get(d, key, "the line"), key)

    def whole(key: str) -> int:
        return _dec_int(_get(d, key, "the line"), key)

    def maybe(key: str) -> float | None:
        v = _get(d, key, "the line")
        return None if v is None else _dec(v, key)

    div = _get(d, "diverged", "the line")
    diverged = None
    if div is not None:
        layer = _get(div, "layer", "diverged")
        diverged = Divergence(
            step=_dec_int(_get(div, "step", "diverged"), "diverged.step"),
            layer=None if layer is None else _dec_int(layer, "diverged.layer"),
            what=_dec_str(_get(div, "what", "diverged"), "diverged.what"),
            message=_dec_str(_get(div, "message", "diverged"), "diverged.message"),
        )
    config_dict = _get(d, "config", "the line")
    if not isinstance(config_dict, dict):
        raise RecordingError("config is not an object")
    try:
        config = Config.from_dict(config_dict)
    except (ConfigError, TypeError, AttributeError) as e:  # a value of the wrong type can fail before validation
        raise RecordingError(f"config: {e}") from None
    events = [_dec_event(e, i) for i, e in enumerate(_dec_list(_get(d, "events", "the line"), "events"))]
    layers = tuple(_dec_layer(l, i) for i, l in enumerate(_dec_list(_get(d, "layers", "the line"), "layers")))
    paused = d.get("paused", False)
    if not isinstance(paused, bool):
        raise RecordingError("paused is not true or false")
    run = d.get("run")
    step = whole("step")
    return Snapshot(
        step=step,
        run_step=whole("run_step"),
        loss=num("loss"),
        accuracy=maybe("accuracy"),
        test_loss=num("test_loss"),
        test_accuracy=maybe("test_accuracy"),
        config=config,
        layers=layers,
        events=(*events_before, *events)[-MAX_EVENTS:],
        vanishing_ratio=num("vanishing_ratio"),
        diverged=diverged,
        paused=paused,
        steps_per_sec=_dec(d.get("steps_per_sec"), "steps_per_sec"),
        boundary=_dec_boundary(d["boundary"]) if d.get("boundary") is not None else boundary_before,
        output_grad_norm=_dec(d.get("output_grad_norm"), "output_grad_norm"),
        probe_step=_dec_int(d.get("probe_step", step), "probe_step"),  # absent: taken at the line's step
        extra={} if run is None else {"run": run},
    )


# ---- files ------------------------------------------------------------------------------------------------------
class Recorder:
    """Writes one JSON line per snapshot, flushed at once: a kill loses at most the line being written.

    ``target`` is a path (truncated when opened, unless ``append``) or an open text stream (``sys.stdout``), which
    is flushed but never closed. Lines are only ever appended. Each line carries the events not written before,
    so use one Recorder per run. Raises OSError if the path cannot be opened.
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str], *, append: bool = False, run: Any = None) -> None:
        if isinstance(target, (str, os.PathLike)):
            self._file: IO[str] = open(target, "a" if append else "w", encoding="utf-8", newline="\n")  # noqa: SIM115
            self._owned = True
        else:
            self._file = target
            self._owned = False
        self.run = run
        self.last_seq = 0  # events up to this seq are written
        self._boundary: tuple[int, int] | None = None  # the boundary last written
        self.lines = 0

    def write(self, s: Snapshot) -> None:
        b = s.boundary
        new_boundary = b is not None and (b.step, id(b)) != self._boundary
        line = dumps(s, events_since=self.last_seq, run=self.run, with_boundary=new_boundary)
        if new_boundary:
            self._boundary = (b.step, id(b))
        self._file.write(line + "\n")
        self._file.flush()
        if s.events:
            self.last_seq = max(self.last_seq, s.events[-1].seq)
        self.lines += 1

    def close(self) -> None:
        if self._owned and not self._file.closed:
            self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")


def load_recording(path: str | os.PathLike[str]) -> tuple[list[Snapshot], list[str]]:
    """All snapshots of a recording, and warnings (plain sentences) about what could not be read.

    A damaged tail -- the line a kill cut off, or a corrupt line -- ends the recording there with a warning that
    names the line. Raises RecordingError (one line) for a file that cannot be read, is empty, is not a recording
    (its first line is not a snapshot), or was written with a newer schema.
    """
    name = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise RecordingError(f"cannot read {name}: {e.strerror or e}") from None
    if not data.strip():
        raise RecordingError(f"{name} is empty")
    lines = data.split(b"\n")
    complete = len(lines) - 1  # lines before the last newline; the piece after it is empty or cut off
    if lines[-1] == b"":
        lines.pop()
    snapshots: list[Snapshot] = []
    # per run tag (a compare recording interleaves its runs): the events and the boundary so far
    carried: dict[str, tuple[tuple[Event, ...], Boundary | None]] = {}
    warnings: list[str] = []
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        cut = n > complete
        try:
            d = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            problem = "cut off" if cut else "not JSON"
        else:
            try:
                tag = json.dumps(d.get("run")) if isinstance(d, dict) else "null"
                events, boundary = carried.get(tag, ((), None))
                s = snapshot_from_dict(d, events_before=events, boundary_before=boundary)
            except NewerSchemaError as e:
                raise RecordingError(f"{name} line {n} was {e}") from None
            except RecordingError as e:
                problem = f"not a snapshot: {e}"
            else:
                snapshots.append(s)
                carried[tag] = (s.events, s.boundary)
                continue
        if not snapshots:
            if cut:
                raise RecordingError(f"{name} holds no complete snapshot: line {n} is cut off")
            raise RecordingError(f"{name} is not a gradtui recording: line {n} is {problem}")
        rest = len(lines) - n
        tail = f" and the {rest} line{'s' if rest != 1 else ''} after it" if rest else ""
        warnings.append(
            f"{name}: line {n} is {problem}; loaded the {len(snapshots)} snapshot"
            f"{'s' if len(snapshots) != 1 else ''} before it and ignored it{tail}"
        )
        break
    return snapshots, warnings
