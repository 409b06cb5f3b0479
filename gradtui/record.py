"""Snapshots <-> JSON lines: the recording format (``gradtui run --record``, ``R`` in the dashboard, the PyTorch
probe), read by ``gradtui replay``, ``gradtui watch`` and ``gradtui export``.

Schema 2 (written now; docs/schema.md documents every key, and the README includes it). One line per snapshot, a
strict JSON object (no NaN/Infinity literals: NaN is ``null``, +-infinity the strings ``"inf"``/``"-inf"``), that
starts ``{"schema":2,["run":R,]"seq":N,"step":S,"has":"…",`` so that an index can be built without parsing the
lines. A line carries only what changed since the previous line of its run; ``has`` lists the blocks it carries,
and a reader checks that it carries exactly those:

- ``l`` ``layout``: the axis, the source, the entries (name, kind, units, activation), the baseline loss (and, on a
  run's first line, the writer's pid and host); a new layout always comes with ``c``, ``p`` and ``t``;
- ``c`` ``config`` and ``meta``: the engine's settings (``null`` for the probe) and the run in words;
- ``p`` ``probe``: the probe-set figures as columns over the entries (histograms as [lo, hi, bins] with every
  count in one zlib-compressed integer array, dead units sparse, saturation, mean, std, accuracy, gates), when
  they were measured again;
- ``t`` ``test``: the test loss and accuracy, when measured again;
- ``b`` ``boundary``: the decision boundary, when recomputed (its arrays zlib-compressed, its confidence in
  tenths, exactly as the trainer keeps it; ``x`` when it carries its training points); ``null`` after a rebuild;
- ``e`` ``events``: the events since the previous line.

Every line has the gradient figures (``grads``: one array per figure, over the entries) and the scalars; a line of a
recurrent run also has ``params``: per parameter array of the measured step (the weights every time step shares),
``[{"name": "cell.Wh", "grad_norm": ..., "update_ratio": ...}, ...]`` (a reader takes a line without it as having
none), a gate in ``probe.gates`` may carry ``steps``, its mean at every time step (step 1 first), and
``probe.gate_sat`` every gate's shut and open shares at every time step, in thousandths (one zlib-compressed array;
a reader takes a line without it as having none). Counts and steps are integers; floats are written at the
precision they carry (8 significant digits for a float32 run, all 17 for float64), spelled short (``1.5e-8``);
derived arrays are not stored (histogram edges follow from [lo, hi, bins], f' at the bin centres from the
activation, the dead fraction from the count). A run that ends
normally writes ``{"schema":2,["run":R,]"end":true}``.

Schema-1 recordings (gradtui 0.1) are still read, whole. Schema-2 recordings are opened by an index (byte
offsets, steps and blocks of every line, from a scan of the line prefixes) and decoded lazily, so a 1-hour
recording opens in well under 2 s (benchmarks/bench_record.py). Reading is bounded (regular files only, at most
MAX_FILE_BYTES, lines of at most MAX_LINE_BYTES) and strict: every value is checked on decoding, a problem is
reported in one line that names the line and the value, and text from the file is made safe to show
(``gradtui.fmt.safe_text``). Nothing in a recording is ever executed or unpickled.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import dataclasses
import functools
import json
import math
import os
import re
import socket
import stat
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from .engine import (
    ActivationInfo,
    Boundary,
    Config,
    ConfigError,
    DeadUnits,
    Divergence,
    Entry,
    Event,
    GateStats,
    Hist,
    ParamFigures,
    RunMeta,
    Snapshot,
)
from .engine.activations import ACTIVATIONS, derivative_curve, make_activation
from .engine.stats import (
    AXES,
    CONFIDENCE_STEPS,
    SHARE_STEPS,
    confidence_levels,
    confidence_of,
    share_levels,
    share_of,
)
from .engine.trainer import MAX_EVENTS
from .fmt import num, safe_text

__all__ = [
    "SCHEMA", "Recorder", "Recording", "RecordingError", "RecordingWriteError", "load_recording",
    "open_recording", "snapshot_from_v1",
]  # fmt: skip

SCHEMA = 2
MAX_FILE_BYTES = 4 * 2**30  # a recording larger than this is refused (an hour of one run is under 40 MB)
MAX_LINE_BYTES = 64 * 2**20  # a line longer than this is damage, not a snapshot
MAX_ENTRIES = 100_000
MAX_UNITS = 2**24  # units of one entry
MAX_BINS = 100_000
MAX_GRID = 4096  # boundary grid cells per side
MAX_INT = 2**63 - 1
TEXT_LIMIT = 500  # characters of a text field (event text, name, message)

_INF = {"inf": math.inf, "-inf": -math.inf}


class RecordingError(ValueError):
    """A file that cannot be read as a recording, with a one-line message meant for the user."""


class NewerSchemaError(RecordingError):
    """The recording was written with a schema newer than this version knows."""


class RecordingWriteError(OSError):
    """A recording could not be written (full disk, a directory, no permission): a one-line message."""


# ---- encoding ---------------------------------------------------------------------------------------------------
def _enc(x: float | None, digits: int = 17) -> float | str | None:
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x if digits >= 17 else float(f"{x:.{digits}g}")


def _enc_floats(values: Any, digits: int) -> list[float | str | None]:
    return [_enc(v, digits) for v in np.asarray(values, dtype=np.float64).tolist()]


def _enc_hist(h: Hist | None) -> list[Any] | None:
    if h is None:
        return None
    return [_enc(h.lo), _enc(h.hi), np.asarray(h.counts, dtype=np.int64).tolist()]


def _enc_counts(counts: list[np.ndarray]) -> dict[str, Any]:
    """Histogram counts, one after another, as one zlib-compressed array of the narrowest unsigned type that holds
    them: exact, and a third of the size of the same integers in JSON."""
    a = np.concatenate([np.asarray(c, dtype=np.int64) for c in counts]) if counts else np.zeros(0, np.int64)
    top = int(a.max()) if a.size else 0
    dtype = "<u2" if top < 2**16 else "<u4" if top < 2**32 else "<u8"
    return _enc_array(a.astype(dtype), level=9)


def _enc_probe(s: Snapshot, digits: int) -> dict[str, Any]:
    """The probe block: the probe-set figures as columns over the entries (see docs/schema.md)."""
    entries = s.entries
    hists = [e.hist for e in entries] + [e.pre_hist for e in entries]
    out: dict[str, Any] = {
        "step": int(s.probe_step),
        "accuracy": None if s.accuracy is None else _enc(s.accuracy),
        "hist": [None if h is None else [_enc(h.lo), _enc(h.hi), h.bins] for h in hists[: len(entries)]],
        "pre": [None if h is None else [_enc(h.lo), _enc(h.hi), h.bins] for h in hists[len(entries) :]],
        "counts": _enc_counts([h.counts for h in hists if h is not None]),
        "mean": [_enc(e.mean, digits) for e in entries],
        "std": [_enc(e.std, digits) for e in entries],
        "sat": [_enc(e.saturation, digits) for e in entries],
        "dead": [None if e.dead is None else [e.dead.units.tolist(), e.dead.since.tolist()] for e in entries],
    }
    derivs = [
        _enc_floats(e.deriv, digits)
        if e.deriv is not None and not (e.act is not None and e.act.derivable and e.act.name in ACTIVATIONS)
        else None
        for e in entries
    ]
    if any(d is not None for d in derivs):
        out["deriv"] = derivs
    if s.gates:
        out["gates"] = [
            {"name": g.name, "mean": _enc(g.mean, digits), "low": _enc(g.low, digits), "high": _enc(g.high, digits),
             "hist": _enc_hist(g.hist), **({} if g.steps is None else {"steps": _enc_floats(g.steps, digits)})}
            for g in s.gates
        ]  # fmt: skip
        sat = _gate_shares(s)
        if sat is not None:
            out["gate_sat"] = _enc_array(share_levels(sat), level=9)
    return out


def _gate_shares(s: Snapshot) -> np.ndarray | None:
    """Every gate's shut and open shares at every time step, (gates, 2, T); None unless every gate has them."""
    n = len(s.entries)
    rows = []
    for g in s.gates:
        if g.low_steps is None or g.high_steps is None or len(g.low_steps) != n or len(g.high_steps) != n:
            return None
        rows.append((g.low_steps, g.high_steps))
    return np.asarray(rows, dtype=np.float64)


def _enc_array(a: np.ndarray, level: int = 6) -> dict[str, Any]:
    a = np.ascontiguousarray(a)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    packed = base64.b64encode(zlib.compress(a.tobytes(), level)).decode("ascii")
    return {"dtype": a.dtype.str, "shape": list(a.shape), "zlib": packed}


def _act_key(a: ActivationInfo) -> tuple[Any, ...]:
    return (a.name, a.label, a.formula, a.max_deriv, a.can_die, a.bounds, a.nonneg, a.derivable)


def _enc_act(a: ActivationInfo) -> dict[str, Any]:
    return {
        "name": a.name, "label": a.label, "formula": a.formula, "max_deriv": _enc(a.max_deriv),
        "can_die": a.can_die, "bounds": None if a.bounds is None else [_enc(a.bounds[0]), _enc(a.bounds[1])],
        "nonneg": a.nonneg, "derivable": a.derivable,
    }  # fmt: skip


def _layout_key(s: Snapshot) -> tuple[Any, ...]:
    return (
        s.axis, s.source, _enc(s.baseline_loss),
        tuple((e.name, e.kind, e.units, None if e.act is None else _act_key(e.act)) for e in s.entries),
    )  # fmt: skip


def _digits(s: Snapshot) -> int:
    return 17 if s.config is not None and s.config.dtype == "float64" else 8


@dataclass
class _RunState:
    """What the writer has written of one run, so that a line carries only what changed."""

    layout: Any = None
    config: Any = ()  # () = nothing written yet (None is a legal value: the probe has no config)
    probe_step: int | None = None
    test_step: int | None = None
    boundary: tuple[int, int] | None = None
    points: bytes | None = None
    event_seq: int = 0


def _blocks(s: Snapshot, st: _RunState) -> dict[str, Any]:
    """The optional blocks of ``s``'s line, given what was written before (updates ``st``)."""
    blocks: dict[str, Any] = {}
    digits = _digits(s)
    key = _layout_key(s)
    if key != st.layout:
        acts: list[ActivationInfo] = []
        index: dict[tuple[Any, ...], int] = {}
        entries = []
        for e in s.entries:
            a = None
            if e.act is not None:
                k = _act_key(e.act)
                if k not in index:
                    index[k] = len(acts)
                    acts.append(e.act)
                a = index[k]
            entries.append([e.name, e.kind, int(e.units), a])
        blocks["layout"] = {
            "axis": s.axis, "source": s.source, "acts": [_enc_act(a) for a in acts], "entries": entries,
            "baseline_loss": _enc(s.baseline_loss),
        }  # fmt: skip
        if st.layout is None:  # the run's first line: who writes it (``gradtui watch`` can tell when it stops)
            blocks["layout"]["writer"] = {"pid": os.getpid(), "host": socket.gethostname()}
        st.layout = key
        st.probe_step = st.test_step = None  # a new layout comes with its own figures: a reader needs no older ones
    m = s.meta
    config = (None if s.config is None else s.config.to_dict(),
              {"model": m.model, "summary": m.summary, "optimizer": m.optimizer, "lr": _enc(m.lr)})  # fmt: skip
    if config != st.config:
        blocks["config"], blocks["meta"] = config
        st.config = config
    if s.probe_step != st.probe_step:
        blocks["probe"] = _enc_probe(s, digits)
        st.probe_step = s.probe_step
    if s.test_step != st.test_step:
        blocks["test"] = {
            "step": int(s.test_step),
            "loss": _enc(s.test_loss, digits),
            "accuracy": None if s.test_accuracy is None else _enc(s.test_accuracy),
        }
        st.test_step = s.test_step
    new_events = [e for e in s.events if e.seq > st.event_seq]
    if new_events:
        blocks["events"] = [{"seq": e.seq, "step": e.step, "kind": e.kind, "text": e.text} for e in new_events]
        st.event_seq = new_events[-1].seq
    b = s.boundary
    if b is None and st.boundary is not None:  # a rebuild drops the old network's boundary: so must the reader
        blocks["boundary"] = None
        st.boundary = st.points = None
    if b is not None and (b.step, id(b)) != st.boundary:
        enc: dict[str, Any] = {"step": int(b.step), "extent": [_enc(x) for x in b.extent]}
        if b.classes is not None and b.confidence is not None:
            enc["classes"] = _enc_array(np.asarray(b.classes, dtype=np.int8))
            enc["confidence"] = _enc_array(confidence_levels(b.confidence))
        if b.curve_x is not None and b.curve_y is not None:
            enc["curve_x"] = _enc_array(np.asarray(b.curve_x))
            enc["curve_y"] = _enc_array(np.asarray(b.curve_y))
        if b.points is not None and b.labels is not None:
            pts = np.ascontiguousarray(b.points).tobytes() + np.ascontiguousarray(b.labels).tobytes()
            if pts != st.points:
                enc["points"] = _enc_array(np.asarray(b.points))
                enc["labels"] = _enc_array(np.asarray(b.labels))
                st.points = pts
        blocks["boundary"] = enc
        st.boundary = (b.step, id(b))
    return blocks


_FLAGS = {"layout": "l", "config": "c", "probe": "p", "test": "t", "boundary": "b", "events": "e"}
_BLOCK_OF = {**_FLAGS, "meta": "c"}  # the keys of each flag's blocks (c: the settings and the run in words)


def encode_line(s: Snapshot, st: _RunState) -> str:
    """One schema-2 line (without its newline) for ``s``; ``st`` is the run's writer state (updated)."""
    blocks = _blocks(s, st)
    digits = _digits(s)
    d: dict[str, Any] = {"schema": SCHEMA}
    if s.run:
        d["run"] = s.run
    d["seq"] = int(s.seq)
    d["step"] = int(s.step)
    has = "".join(flag for name, flag in _FLAGS.items() if name in blocks)
    if "points" in (blocks.get("boundary") or {}):
        has += "x"  # a boundary that carries its training points (the lines after it carry them forward)
    d["has"] = has
    d["run_step"] = int(s.run_step)
    if s.grad_step != s.step:
        d["grad_step"] = int(s.grad_step)
    d["loss"] = _enc(s.loss, digits)
    d["vanishing_ratio"] = _enc(s.vanishing_ratio, digits)
    d["output_grad_norm"] = _enc(s.output_grad_norm, digits)
    d["steps_per_sec"] = _enc(s.steps_per_sec, 4)
    if s.speed_cap is not None:
        d["speed_cap"] = _enc(s.speed_cap)
    if s.paused:
        d["paused"] = True
    grads: dict[str, Any] = {}
    for name in ("grad_norm", "bias_grad_norm", "signal_norm", "update_ratio", "cell_norm"):
        values = [getattr(e, name) for e in s.entries]
        if name == "cell_norm" and all(math.isnan(v) for v in values):
            continue
        grads[name] = _enc_floats(values, digits)
    d["grads"] = grads
    if s.params:
        d["params"] = [
            {"name": p.name, "grad_norm": _enc(p.grad_norm, digits), "update_ratio": _enc(p.update_ratio, digits)}
            for p in s.params
        ]
    if s.diverged is not None:
        v = s.diverged
        d["diverged"] = {"step": v.step, "layer": v.layer, "what": v.what, "message": v.message, "name": v.name}
    d.update(blocks)
    return dumps(d)


def _ftoa(x: float) -> str:
    """A float's shortest exact spelling, with a compact exponent: ``1.5e-8`` (Python: ``1.5e-08``), ``1.57e11``
    (Python: ``157000000000.0``), ``1.2e-4`` (``0.00012``); always with a ``.`` or an ``e``, so that it reads back
    as a float (``-0.0`` stays ``-0.0``)."""
    r = repr(x)
    if "e" in r:
        mantissa, exp = r.split("e")
        return f"{mantissa}e{int(exp)}"
    if len(r) <= 6:
        return r
    digits = r.lstrip("-").replace(".", "").strip("0") or "0"
    mantissa, exp = f"{x:.{len(digits) - 1}e}".split("e")
    short = f"{mantissa}e{int(exp)}"
    return short if len(short) < len(r) and float(short) == x else r


def _dump(v: Any, out: list[str]) -> None:
    if isinstance(v, str):
        # ensure_ascii only for text that UTF-8 cannot hold as it is (a lone surrogate): escaped, it stays valid
        try:
            v.encode("utf-8")
            out.append(json.dumps(v, ensure_ascii=False))
        except UnicodeEncodeError:
            out.append(json.dumps(v))
    elif v is None or isinstance(v, bool):
        out.append("null" if v is None else "true" if v else "false")
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError("a non-finite float in a line: write it with _enc")
        out.append(_ftoa(v))
    elif isinstance(v, dict):
        out.append("{")
        for i, (k, x) in enumerate(v.items()):
            if i:
                out.append(",")
            _dump(str(k), out)
            out.append(":")
            _dump(x, out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _dump(x, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(v).__name__} in a recording")


def dumps(v: Any) -> str:
    """``v`` as compact strict JSON (no spaces, no NaN), floats spelled by ``_ftoa``."""
    out: list[str] = []
    _dump(v, out)
    return "".join(out)


# ---- writing ----------------------------------------------------------------------------------------------------
class Recorder:
    """Writes one JSON line per snapshot, flushed at once: a kill loses at most the line being written.

    ``target`` is a path (truncated when opened, unless ``append``) or an open text stream (``sys.stdout``), which
    is flushed but never closed. Twins may share one Recorder: each line carries its snapshot's ``run``. A failed
    write (a full disk) raises RecordingWriteError once; the recorder is then broken and writes nothing more, and
    what it wrote before stays readable (a reader ignores a cut-off last line).
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str], *, append: bool = False) -> None:
        self.path = os.fspath(target) if isinstance(target, (str, os.PathLike)) else getattr(target, "name", "-")
        if isinstance(target, (str, os.PathLike)):
            if os.path.isdir(target):
                raise RecordingWriteError(f"cannot write {self.path}: it is a directory")
            try:
                self._file: IO[str] = open(  # noqa: SIM115
                    target, "a" if append else "w", encoding="utf-8", newline="\n"
                )
            except OSError as e:
                raise RecordingWriteError(f"cannot write {self.path}: {e.strerror or e}") from None
            self._owned = True
        else:
            self._file = target
            self._owned = False
        self._runs: dict[str, _RunState] = {}
        self.lines = 0
        self.broken: str | None = None  # the one-line reason, once a write failed

    def _put(self, line: str) -> None:
        if self.broken is not None:
            return
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except (OSError, ValueError) as e:  # ENOSPC, EIO, a closed stream
            reason = getattr(e, "strerror", None) or str(e)
            self.broken = f"cannot write {self.path}: {reason}"
            raise RecordingWriteError(self.broken) from None

    def write(self, s: Snapshot) -> None:
        st = self._runs.setdefault(s.run, _RunState())
        self._put(encode_line(s, st))
        self.lines += 1

    def close(self) -> None:
        """Write the end marker of every run and close the file (a stream is only flushed)."""
        try:
            for run in self._runs:
                end: dict[str, Any] = {"schema": SCHEMA, **({"run": run} if run else {}), "end": True}
                with _suppress_write_error():
                    self._put(json.dumps(end, separators=(",", ":")))
        finally:
            if self._owned and not self._file.closed:
                with contextlib.suppress(OSError):
                    self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _suppress_write_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, value: Any, tb: Any) -> bool:
        return kind is not None and issubclass(kind, RecordingWriteError)


# ---- decoding: values -------------------------------------------------------------------------------------------
def _strict_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):  # 1e999: JSON has no infinity; gradtui writes it as "inf"
        raise ValueError(f"the number {text[:40]} is too large for a float")
    return x


def _strict_int(text: str) -> int:
    if len(text) > 20:
        raise ValueError("a whole number with more than 20 digits")
    return int(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")


# What the strict parse hooks refuse can only be in a line with a 3-digit exponent or 21 digits in a row; a line
# without either parses at C speed, a line with one (a subnormal 1e-320, base64 text) takes the checked path and
# reads the same. Found with one translate and a few substring searches (a regular expression is 10x slower).
_DIGITS = bytes(
    ord("1") if chr(i).isdigit() and i < 128 else ord("e") if chr(i) in "eE" else i if chr(i) in "+-" else 0
    for i in range(256)
)


def _risky(data: bytes) -> bool:
    t = data.translate(_DIGITS)
    return b"e111" in t or b"e+111" in t or b"e-111" in t or b"111111111111111111111" in t


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON: no NaN/Infinity literals, no number too large for a float (1e999), no whole number of more
    than 20 digits."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    if not _risky(data):
        return json.loads(raw, parse_constant=_reject_constant)
    return json.loads(raw, parse_float=_strict_float, parse_int=_strict_int, parse_constant=_reject_constant)


def _get(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise RecordingError(f"{where} is not an object")
    if key not in d:
        raise RecordingError(f"{where} has no {key!r}")
    return d[key]


def _num(v: Any, name: str) -> float:
    if v is None:
        return math.nan
    if isinstance(v, str) and v in _INF:
        return _INF[v]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RecordingError(f"{name} is not a number: {safe_text(repr(v), 60)}")
    return float(v)


def _fraction(v: Any, name: str) -> float | None:
    if v is None:
        return None
    x = _num(v, name)
    if not 0 <= x <= 1:
        raise RecordingError(f"{name} is not between 0 and 1: {x}")
    return x


def _int(v: Any, name: str, lo: int = -MAX_INT, hi: int = MAX_INT) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise RecordingError(f"{name} is not a whole number: {safe_text(repr(v), 60)}")
    if not lo <= v <= hi:
        raise RecordingError(f"{name} is out of range: {v}")
    return v


def _str(v: Any, name: str) -> str:
    if not isinstance(v, str):
        raise RecordingError(f"{name} is not a string")
    return safe_text(v, TEXT_LIMIT)


def _list(v: Any, name: str, max_len: int = MAX_ENTRIES) -> list[Any]:
    if not isinstance(v, list):
        raise RecordingError(f"{name} is not a list")
    if len(v) > max_len:
        raise RecordingError(f"{name} has too many items ({len(v)})")
    return v


def _floats(v: Any, name: str, n: int | None = None) -> np.ndarray:
    items = _list(v, name)
    if n is not None and len(items) != n:
        raise RecordingError(f"{name} has {len(items)} values for {n} entries")
    if all(type(x) is float or type(x) is int for x in items):
        return np.array(items, dtype=np.float64)
    return np.array([_num(x, name) for x in items], dtype=np.float64)


def _ints(v: Any, name: str, lo: int = -MAX_INT, max_len: int = MAX_ENTRIES) -> np.ndarray:
    items = _list(v, name, max_len)
    if not all(type(x) is int and lo <= x <= MAX_INT for x in items):
        raise RecordingError(f"{name} holds something other than whole numbers of {lo} or more")
    return np.array(items, dtype=np.int64)


def _bool(v: Any, name: str) -> bool:
    if not isinstance(v, bool):
        raise RecordingError(f"{name} is not true or false")
    return v


def _hist(v: Any, name: str) -> Hist | None:
    if v is None:
        return None
    items = _list(v, name, 3)
    if len(items) != 3:
        raise RecordingError(f"{name} is not [lo, hi, counts]")
    lo, hi = _num(items[0], f"{name}.lo"), _num(items[1], f"{name}.hi")
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise RecordingError(f"{name} has no finite range")
    counts = _ints(items[2], f"{name}.counts", lo=0, max_len=MAX_BINS)
    if len(counts) < 1:
        raise RecordingError(f"{name} has no bins")
    return Hist.from_range(lo, hi, counts)


def _array(v: Any, name: str, dtypes: tuple[str, ...], ndim: int, max_size: int = MAX_GRID * MAX_GRID) -> np.ndarray:
    if not isinstance(v, dict) or v.get("dtype") not in dtypes:
        raise RecordingError(f"{name} is not an array of a known type")
    shape = tuple(_int(n, f"{name}.shape", 0, max_size) for n in _list(v.get("shape"), name, 4))
    if len(shape) != ndim:
        raise RecordingError(f"{name} has {len(shape)} dimensions, not {ndim}")
    if math.prod(shape) > max_size:
        raise RecordingError(f"{name} has too many values for its place ({math.prod(shape)})")
    dtype = np.dtype(v["dtype"])
    size = int(np.prod(shape)) * dtype.itemsize
    try:
        packed = base64.b64decode(_get(v, "zlib", name), validate=True)
        d = zlib.decompressobj()
        raw = d.decompress(packed, size + 1)  # never more than the shape needs: no decompression bomb
    except (TypeError, ValueError, zlib.error) as e:
        raise RecordingError(f"{name}: {e}") from None
    if len(raw) != size:
        raise RecordingError(f"{name} holds {len(raw)} bytes for shape {list(shape)}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _act(v: Any, name: str) -> ActivationInfo:
    bounds = v.get("bounds") if isinstance(v, dict) else None
    b = None
    if bounds is not None:
        items = _list(bounds, f"{name}.bounds", 2)
        if len(items) != 2:
            raise RecordingError(f"{name}.bounds is not [lo, hi]")
        lo, hi = _num(items[0], f"{name}.bounds"), _num(items[1], f"{name}.bounds")
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise RecordingError(f"{name}.bounds is not a range")
        b = (lo, hi)
    max_deriv = _num(_get(v, "max_deriv", name), f"{name}.max_deriv")
    if not (math.isfinite(max_deriv) and max_deriv > 0):
        raise RecordingError(f"{name}.max_deriv is not a positive number")
    return ActivationInfo(
        name=_str(_get(v, "name", name), f"{name}.name"),
        label=_str(_get(v, "label", name), f"{name}.label"),
        formula=_str(_get(v, "formula", name), f"{name}.formula"),
        max_deriv=max_deriv,
        can_die=_bool(_get(v, "can_die", name), f"{name}.can_die"),
        bounds=b,
        nonneg=_bool(v.get("nonneg", False), f"{name}.nonneg"),
        derivable=_bool(v.get("derivable", True), f"{name}.derivable"),
    )


def _config(v: Any) -> Config | None:
    if v is None:
        return None
    if not isinstance(v, dict):
        raise RecordingError("config is not an object")
    try:
        return Config.from_dict(v)
    except (ConfigError, TypeError, AttributeError, ValueError) as e:
        raise RecordingError(f"config: {safe_text(str(e), 200)}") from None


def _events(v: Any) -> list[Event]:
    out = []
    for i, e in enumerate(_list(v, "events")):
        w = f"events[{i}]"
        out.append(
            Event(
                seq=_int(_get(e, "seq", w), f"{w}.seq", 0),
                step=_int(_get(e, "step", w), f"{w}.step", 0),
                kind=_str(_get(e, "kind", w), f"{w}.kind"),
                text=_str(_get(e, "text", w), f"{w}.text"),
            )
        )
    return out


def _divergence(v: Any) -> Divergence | None:
    if v is None:
        return None
    layer = _get(v, "layer", "diverged")
    name = v.get("name")
    return Divergence(
        step=_int(_get(v, "step", "diverged"), "diverged.step", 0),
        layer=None if layer is None else _int(layer, "diverged.layer", 0),
        what=_str(_get(v, "what", "diverged"), "diverged.what"),
        message=_str(_get(v, "message", "diverged"), "diverged.message"),
        name=None if name is None else _str(name, "diverged.name"),
    )


@functools.lru_cache(maxsize=64)
def _derivative(name: str, lo: float, hi: float, bins: int, leaky_slope: float, approx: bool) -> np.ndarray:
    edges = np.linspace(lo, hi, bins + 1)
    with np.errstate(all="ignore"):  # the centres of a range near 1e308 overflow, as they did live (measure.py)
        return derivative_curve(name, (edges[:-1] + edges[1:]) / 2, leaky_slope=leaky_slope, gelu_approximate=approx)


def _derived_deriv(act: ActivationInfo | None, pre: Hist | None, config: Config | None) -> np.ndarray | None:
    if act is None or pre is None or not act.derivable or act.name not in ACTIVATIONS:
        return None
    slope = config.leaky_slope if config is not None else 0.01
    approx = config.gelu_approximate if config is not None else False
    return _derivative(act.name, pre.lo, pre.hi, pre.bins, slope, approx)


def _boundary(v: Any, previous: Boundary | None) -> Boundary | None:
    if v is None:
        return None
    where = "boundary"
    extent = tuple(_num(x, f"{where}.extent") for x in _list(_get(v, "extent", where), where, 4))
    if len(extent) != 4 or not all(math.isfinite(x) for x in extent):
        raise RecordingError("boundary.extent is not 4 finite numbers")
    x0, x1, y0, y1 = extent
    if not (x1 > x0 and y1 >= y0 and math.isfinite(x1 - x0) and math.isfinite(y1 - y0)):
        raise RecordingError("boundary.extent is not [x0, x1, y0, y1] of a box")
    classes = confidence = curve_x = curve_y = None
    if "classes" in v:
        classes = _array(v["classes"], "boundary.classes", ("|i1",), 2)
        q = _array(_get(v, "confidence", where), "boundary.confidence", ("|u1",), 2)
        if q.shape != classes.shape or min(classes.shape) < 1 or classes.min() < 0 or q.max() > CONFIDENCE_STEPS:
            raise RecordingError("boundary.classes and confidence do not match")
        confidence = confidence_of(q)
        if not y1 > y0:
            raise RecordingError("boundary.extent of a plane has no height")
    if "curve_x" in v:
        curve_x = _array(v["curve_x"], "boundary.curve_x", ("<f4", "<f8"), 1)
        curve_y = _array(_get(v, "curve_y", where), "boundary.curve_y", ("<f4", "<f8"), 1)
        if curve_x.shape != curve_y.shape:
            raise RecordingError("boundary.curve_x and curve_y do not match")
    if classes is None and curve_x is None:
        raise RecordingError("boundary has neither a plane nor a curve")
    points: np.ndarray | None
    labels: np.ndarray | None
    if "points" in v:
        points = _array(v["points"], "boundary.points", ("<f4", "<f8"), 2)
        labels = _array(_get(v, "labels", where), "boundary.labels", ("<f4", "<f8", "<i8", "<i4", "|i1"), 1)
        if len(points) != len(labels) or points.shape[1] not in (1, 2):
            raise RecordingError("boundary.points and labels do not match")
        if classes is not None and (labels.dtype.kind != "i" or (len(labels) and labels.min() < 0)):
            raise RecordingError("boundary.labels of a plane are not classes")
    else:
        points = previous.points if previous is not None else None
        labels = previous.labels if previous is not None else None
    boundary = Boundary(
        extent=extent,
        classes=classes,
        confidence=confidence,
        curve_x=curve_x,
        curve_y=curve_y,
        points=points,
        labels=labels,
        step=_int(v.get("step", 0), "boundary.step", 0),
    )
    return _checked_boundary(boundary)


def _checked_boundary(b: Boundary) -> Boundary:
    """What the boundary panel needs of a boundary read from a file (schema 1; schema 2 is checked as decoded)."""
    if len(b.extent) != 4 or not all(math.isfinite(x) for x in b.extent):
        raise RecordingError("boundary.extent is not 4 finite numbers")
    x0, x1, y0, y1 = b.extent
    if not (x1 > x0 and y1 >= y0 and math.isfinite(x1 - x0) and math.isfinite(y1 - y0)):
        raise RecordingError("boundary.extent is not [x0, x1, y0, y1] of a box")
    plane = b.classes is not None or b.confidence is not None
    if plane:
        c, q = b.classes, b.confidence
        if c is None or q is None or c.ndim != 2 or q.shape != c.shape or min(c.shape) < 1 or c.dtype.kind != "i":
            raise RecordingError("boundary.classes and confidence do not match")
        if c.min() < 0 or not np.all((q >= 0) & (q <= 1)) or not y1 > y0:
            raise RecordingError("boundary.classes or confidence out of range")
    curve = b.curve_x is not None or b.curve_y is not None
    if curve and (b.curve_x is None or b.curve_y is None or b.curve_x.ndim != 1 or b.curve_x.shape != b.curve_y.shape):
        raise RecordingError("boundary.curve_x and curve_y do not match")
    if not (plane or curve):
        raise RecordingError("boundary has neither a plane nor a curve")
    if (b.points is None) != (b.labels is None):
        raise RecordingError("boundary.points and labels do not match")
    if b.points is not None and b.labels is not None:
        p, lab = b.points, b.labels
        if p.ndim != 2 or p.shape[1] not in (1, 2) or lab.ndim not in (1, 2) or not len(p) == len(lab) == lab.size:
            raise RecordingError("boundary.points and labels do not match")  # (schema 1 kept a curve's as (n, 1))
        if plane and (lab.ndim != 1 or lab.dtype.kind != "i" or (len(lab) and lab.min() < 0)):
            raise RecordingError("boundary.labels of a plane are not classes")
    return b


# ---- decoding: schema 2 -----------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Layout:
    axis: Any
    source: str
    entries: tuple[tuple[str, str, int, ActivationInfo | None], ...]
    baseline: float


def _layout(v: Any) -> _Layout:
    if not isinstance(v, dict):
        raise RecordingError("layout is not an object")
    axis = _get(v, "axis", "layout")
    if axis not in AXES:
        raise RecordingError(f"layout.axis is not one of {', '.join(AXES)}")
    acts = [_act(a, f"layout.acts[{i}]") for i, a in enumerate(_list(_get(v, "acts", "layout"), "layout.acts"))]
    entries = []
    for i, e in enumerate(_list(_get(v, "entries", "layout"), "layout.entries")):
        w = f"layout.entries[{i}]"
        items = _list(e, w, 4)
        if len(items) != 4:
            raise RecordingError(f"{w} is not [name, kind, units, activation]")
        a = items[3]
        if a is not None and not acts:
            raise RecordingError(f"{w} names an activation the layout does not have")
        act = None if a is None else acts[_int(a, f"{w}.activation", 0, len(acts) - 1)]
        units = _int(items[2], f"{w}.units", 0, MAX_UNITS)
        entries.append((_str(items[0], f"{w}.name"), _str(items[1], f"{w}.kind"), units, act))
    if not entries:
        raise RecordingError("layout has no entries")
    return _Layout(axis, _str(v.get("source", "engine"), "layout.source"), tuple(entries),
                   _num(v.get("baseline_loss"), "layout.baseline_loss"))  # fmt: skip


def _meta(m: Any) -> RunMeta:
    if not isinstance(m, dict):
        raise RecordingError("meta is not an object")
    return RunMeta(
        model=_str(m.get("model", ""), "meta.model"),
        summary=_str(m.get("summary", ""), "meta.summary"),
        optimizer=_str(m.get("optimizer", ""), "meta.optimizer"),
        lr=_num(m.get("lr"), "meta.lr"),
    )


def _test(t: Any) -> tuple[int, float, float | None]:
    if not isinstance(t, dict):
        raise RecordingError("test is not an object")
    return (_int(_get(t, "step", "test"), "test.step", 0), _num(t.get("loss"), "test.loss"),
            _fraction(t.get("accuracy"), "test.accuracy"))  # fmt: skip


def _check_has(d: dict[str, Any]) -> None:
    """The blocks a line carries are the ones its ``has`` names (the index finds them by ``has`` alone)."""
    has = _str(_get(d, "has", "the line"), "has")
    carried = {flag for key, flag in _BLOCK_OF.items() if key in d}
    if isinstance(d.get("boundary"), dict) and "points" in d["boundary"]:
        carried.add("x")
    if set(has) != carried or len(has) != len(set(has)):
        raise RecordingError(f"has says {has!r} but the line carries {''.join(sorted(carried))!r}")
    if ("config" in d) != ("meta" in d):
        raise RecordingError("config and meta come together")
    if "layout" in d and not ("probe" in d and "test" in d and "config" in d):
        raise RecordingError("a new layout without its probe, test and config figures")


@dataclass(frozen=True, eq=False)
class _Probe:
    step: int
    accuracy: float | None
    entries: tuple[dict[str, Any], ...]  # decoded per-entry figures
    gates: tuple[GateStats, ...]


MAX_COUNTS = 2**24  # histogram bins in one probe block


def _column(v: Any, key: str, n: int, required: bool = True) -> list[Any]:
    if key not in v and not required:
        return [None] * n
    items = _list(_get(v, key, "probe"), f"probe.{key}")
    if len(items) != n:
        raise RecordingError(f"probe.{key} has {len(items)} values for {n} entries")
    return items


def _ranges(items: list[Any], name: str) -> list[tuple[float, float, int] | None]:
    out: list[tuple[float, float, int] | None] = []
    for i, r in enumerate(items):
        w = f"{name}[{i}]"
        if r is None:
            out.append(None)
            continue
        t = _list(r, w, 3)
        if len(t) != 3:
            raise RecordingError(f"{w} is not [lo, hi, bins]")
        lo, hi = _num(t[0], f"{w}.lo"), _num(t[1], f"{w}.hi")
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo and math.isfinite(hi - lo)):
            raise RecordingError(f"{w} has no finite range")
        out.append((lo, hi, _int(t[2], f"{w}.bins", 1, MAX_BINS)))
    return out


@functools.lru_cache(maxsize=4096)
def _edges(lo: float, hi: float, bins: int, *signs: float) -> np.ndarray:
    """``np.linspace(lo, hi, bins + 1)``, as the engine computes them, shared read-only (ranges repeat: they are
    rounded). ``signs`` keep -0.0 and 0.0 apart (they are equal keys)."""
    edges = np.linspace(lo, hi, bins + 1)
    edges.flags.writeable = False
    return edges


def _probe(v: Any, layout: _Layout, config: Config | None) -> _Probe:
    if not isinstance(v, dict):
        raise RecordingError("probe is not an object")
    n = len(layout.entries)
    hist_r = _ranges(_column(v, "hist", n), "probe.hist")
    pre_r = _ranges(_column(v, "pre", n), "probe.pre")
    total = sum(r[2] for r in (*hist_r, *pre_r) if r is not None)
    if total > MAX_COUNTS:
        raise RecordingError(f"probe has {total} histogram bins")
    counts = np.zeros(0, np.int64)
    if total or "counts" in v:
        counts = _array(_get(v, "counts", "probe"), "probe.counts", ("<u2", "<u4", "<u8"), 1, total)
        if len(counts) != total:
            raise RecordingError(f"probe.counts has {len(counts)} bins for {total}")
        if counts.dtype == np.uint64 and counts.size and int(counts.max()) > MAX_INT:
            raise RecordingError("probe.counts holds a count too large")
        counts = counts.astype(np.int64)
    pos = 0

    def hist(r: tuple[float, float, int] | None) -> Hist | None:
        nonlocal pos
        if r is None:
            return None
        lo, hi, bins = r
        h = Hist(_edges(lo, hi, bins, math.copysign(1, lo), math.copysign(1, hi)), counts[pos : pos + bins])
        pos += bins
        return h

    hists = [hist(r) for r in hist_r]
    pres = [hist(r) for r in pre_r]
    means, stds, sats = _column(v, "mean", n), _column(v, "std", n), _column(v, "sat", n)
    deads, derivs = _column(v, "dead", n), _column(v, "deriv", n, required=False)
    out = []
    for i, (_, _, units, act) in enumerate(layout.entries):
        w = f"probe entry {i + 1}"
        pre = pres[i]
        dead = None
        if deads[i] is not None:
            pair = _list(deads[i], f"{w}: dead", 2)
            if len(pair) != 2:
                raise RecordingError(f"{w}: dead is not [units, since]")
            idx = _ints(pair[0], f"{w}: dead", 0, max_len=units)
            since = _ints(pair[1], f"{w}: dead", 0, max_len=units)
            if len(idx) != len(since) or (len(idx) and (idx.max() >= units or np.any(np.diff(idx) <= 0))):
                raise RecordingError(f"{w}: dead does not fit the entry's {units} units")
            dead = DeadUnits(idx, since)
        deriv = None
        if derivs[i] is not None:
            if pre is None:
                raise RecordingError(f"{w}: deriv without a histogram of z")
            deriv = _floats(derivs[i], f"{w}: deriv", pre.bins)
        elif pre is not None:
            deriv = _derived_deriv(act, pre, config)
        sat = _num(sats[i], f"{w}: sat")
        if not (math.isnan(sat) or 0 <= sat <= 1):
            raise RecordingError(f"{w}: sat is not a fraction")
        out.append(dict(hist=hists[i], pre_hist=pre, deriv=deriv, dead=dead, saturation=sat,
                        mean=_num(means[i], f"{w}: mean"), std=_num(stds[i], f"{w}: std")))  # fmt: skip
    gates = []
    for i, g in enumerate(_list(v.get("gates", []), "probe.gates", 64)):
        w = f"probe.gates[{i}]"
        gates.append(GateStats(
            name=_str(_get(g, "name", w), f"{w}.name"), mean=_num(g.get("mean"), f"{w}.mean"),
            low=_num(g.get("low"), f"{w}.low"), high=_num(g.get("high"), f"{w}.high"),
            hist=_hist(g.get("hist"), f"{w}.hist"),
            steps=_floats(g["steps"], f"{w}.steps") if g.get("steps") is not None else None,
        ))  # fmt: skip
    if "gate_sat" in v:  # (written since the per-step shares; an older line has none: None)
        q = _array(v["gate_sat"], "probe.gate_sat", ("<u2",), 3, 64 * 2 * MAX_ENTRIES)
        if q.shape != (len(gates), 2, n) or (q.size and int(q.max()) > SHARE_STEPS):
            raise RecordingError(f"probe.gate_sat does not fit {len(gates)} gates over {n} steps")
        shares = share_of(q)
        gates = [dataclasses.replace(g, low_steps=shares[i, 0], high_steps=shares[i, 1]) for i, g in enumerate(gates)]
    step = _int(_get(v, "step", "probe"), "probe.step", 0)
    return _Probe(step, _fraction(v.get("accuracy"), "probe.accuracy"), tuple(out), tuple(gates))


@dataclass
class _ReadState:
    """What a reader carries from line to line of one run."""

    layout: _Layout | None = None
    config: Config | None = None
    have_config: bool = False
    meta: RunMeta = RunMeta()
    probe: _Probe | None = None
    test: tuple[int, float, float | None] | None = None
    boundary: Boundary | None = None
    events: tuple[Event, ...] = ()


def _decode_v2(d: dict[str, Any], st: _ReadState) -> Snapshot:
    """The Snapshot of one schema-2 line, given the run's state so far (updated with the line's blocks)."""
    _check_has(d)
    if "layout" in d:
        st.layout = _layout(d["layout"])
    if "config" in d:
        st.config, st.have_config, st.meta = _config(d["config"]), True, _meta(d["meta"])
    layout = st.layout
    if layout is None or not st.have_config:
        raise RecordingError("the run's first line has no layout or config")
    n = len(layout.entries)
    if "probe" in d:
        st.probe = _probe(d["probe"], layout, st.config)
    elif st.probe is not None and len(st.probe.entries) != n:
        raise RecordingError("the layout changed without new probe figures")
    if "test" in d:
        st.test = _test(d["test"])
    if st.probe is None or st.test is None:
        raise RecordingError("the run's first line has no probe or test figures")
    if "events" in d:
        st.events = (*st.events, *_events(d["events"]))[-MAX_EVENTS:]
    if "boundary" in d:
        st.boundary = _boundary(d["boundary"], st.boundary)
    grads = _get(d, "grads", "the line")
    if not isinstance(grads, dict):
        raise RecordingError("grads is not an object")
    cols = {}
    for key in ("grad_norm", "bias_grad_norm", "signal_norm", "update_ratio", "cell_norm"):
        cols[key] = _floats(grads[key], f"grads.{key}", n) if key in grads else np.full(n, np.nan)
    entries = []
    for i, (name, kind, units, act) in enumerate(layout.entries):
        pe = st.probe.entries[i]
        entries.append(Entry(
            name=name, kind=kind, units=units, index=i + 1, act=act,
            grad_norm=float(cols["grad_norm"][i]), bias_grad_norm=float(cols["bias_grad_norm"][i]),
            signal_norm=float(cols["signal_norm"][i]), update_ratio=float(cols["update_ratio"][i]),
            cell_norm=float(cols["cell_norm"][i]), **pe,
        ))  # fmt: skip
    params = []
    for i, p in enumerate(_list(d.get("params", []), "params", MAX_ENTRIES)):
        w = f"params[{i}]"
        params.append(ParamFigures(_str(_get(p, "name", w), f"{w}.name"), _num(p.get("grad_norm"), f"{w}.grad_norm"),
                                   _num(p.get("update_ratio"), f"{w}.update_ratio")))  # fmt: skip
    step = _int(_get(d, "step", "the line"), "step", 0)
    paused = d.get("paused", False)
    cap = d.get("speed_cap")
    return Snapshot(
        step=step,
        run_step=_int(_get(d, "run_step", "the line"), "run_step", 0, step),
        loss=_num(d.get("loss"), "loss"),
        accuracy=st.probe.accuracy,
        test_loss=st.test[1],
        test_accuracy=st.test[2],
        config=st.config,
        entries=tuple(entries),
        seq=_int(d.get("seq", 0), "seq", 0),
        run=_str(d.get("run", ""), "run"),
        source=layout.source,
        axis=layout.axis,
        meta=st.meta,
        events=st.events,
        vanishing_ratio=_num(d.get("vanishing_ratio"), "vanishing_ratio"),
        diverged=_divergence(d.get("diverged")),
        paused=_bool(paused, "paused"),
        steps_per_sec=_num(d.get("steps_per_sec"), "steps_per_sec"),
        speed_cap=None if cap is None else _num(cap, "speed_cap"),
        boundary=st.boundary,
        output_grad_norm=_num(d.get("output_grad_norm"), "output_grad_norm"),
        grad_step=_int(d.get("grad_step", step), "grad_step", 0),
        probe_step=st.probe.step,
        test_step=st.test[0],
        baseline_loss=layout.baseline,
        gates=st.probe.gates,
        params=tuple(params),
    )


# ---- decoding: schema 1 (gradtui 0.1) ---------------------------------------------------------------------------
def _v1_array(v: Any, name: str) -> np.ndarray | None:
    if v is None:
        return None
    if not isinstance(v, dict) or v.get("dtype") not in ("<f8", "<f4", "<i8", "|i1", "<i4"):
        raise RecordingError(f"{name} is not an array of a known type")
    try:
        raw = base64.b64decode(v["b64"], validate=True)
        shape = tuple(int(n) for n in v["shape"])
        if any(n < 0 or n > MAX_GRID * MAX_GRID for n in shape):
            raise ValueError("bad shape")
        return np.frombuffer(raw, dtype=np.dtype(v["dtype"])).reshape(shape).copy()
    except (KeyError, TypeError, ValueError) as e:
        raise RecordingError(f"{name}: {e}") from None


def snapshot_from_v1(d: dict[str, Any], st: _ReadState) -> Snapshot:
    """The Snapshot v2 of a schema-1 line (the layers as dense entries named L1..Ln)."""
    config = _config(_get(d, "config", "the line"))
    if config is None:
        raise RecordingError("a schema-1 line has no config")
    act = ActivationInfo.of(
        make_activation(
            config.activation, 1, np.dtype(np.float64),
            leaky_slope=config.leaky_slope, gelu_approximate=config.gelu_approximate,
        )
    )  # fmt: skip
    entries = []
    for i, v in enumerate(_list(_get(d, "layers", "the line"), "layers")):
        w = f"layers[{i}]"
        units = _int(_get(v, "units", w), f"{w}.units", 0)
        edges = _floats(_get(_get(v, "hist", w), "edges", w), f"{w}.hist.edges")
        counts = _ints(_get(_get(v, "hist", w), "counts", w), f"{w}.hist.counts", 0)
        pre_edges = _floats(_get(_get(v, "pre_hist", w), "edges", w), f"{w}.pre_hist.edges")
        pre_counts = _ints(_get(_get(v, "pre_hist", w), "counts", w), f"{w}.pre_hist.counts", 0)
        if len(edges) != len(counts) + 1 or len(pre_edges) != len(pre_counts) + 1 or len(counts) < 1:
            raise RecordingError(f"{w}: histogram edges and counts do not match")
        dead_since = _ints(_get(v, "dead_since", w), f"{w}.dead_since", -1)
        if len(dead_since) != units:
            raise RecordingError(f"{w}.dead_since has {len(dead_since)} values for {units} units")
        deriv = _floats(_get(v, "deriv", w), f"{w}.deriv", len(pre_counts))
        entries.append(Entry(
            name=f"L{i + 1}", kind="dense", units=units, index=i + 1, act=act,
            grad_norm=_num(v.get("grad_norm"), f"{w}.grad_norm"),
            bias_grad_norm=_num(v.get("bias_grad_norm"), f"{w}.bias_grad_norm"),
            signal_norm=_num(v.get("signal_norm"), f"{w}.signal_norm"),
            update_ratio=_num(v.get("update_ratio"), f"{w}.update_ratio"),
            hist=Hist(edges, counts), pre_hist=Hist(pre_edges, pre_counts), deriv=deriv,
            dead=DeadUnits.from_dense(dead_since) if act.can_die else None,
            saturation=_num(v.get("saturation"), f"{w}.saturation"),
            mean=_num(v.get("mean"), f"{w}.mean"), std=_num(v.get("std"), f"{w}.std"),
        ))  # fmt: skip
    if not entries:
        raise RecordingError("the line has no layers")
    st.events = (*st.events, *_events(_get(d, "events", "the line")))[-MAX_EVENTS:]
    if d.get("boundary") is not None:
        b = d["boundary"]
        if not isinstance(b, dict):
            raise RecordingError("boundary is not an object")
        arrays = {k: _v1_array(b.get(k), f"boundary.{k}")
                  for k in ("classes", "confidence", "curve_x", "curve_y", "points", "labels")}  # fmt: skip
        extent = tuple(_num(x, "boundary.extent") for x in _list(_get(b, "extent", "boundary"), "boundary", 4))
        boundary = Boundary(extent=extent, step=_int(b.get("step", 0), "boundary.step", 0), **arrays)  # type: ignore[arg-type]
        st.boundary = _checked_boundary(boundary)
    step = _int(_get(d, "step", "the line"), "step", 0)
    run = d.get("run")
    acc, tacc = d.get("accuracy"), d.get("test_accuracy")
    paused = d.get("paused", False)
    return Snapshot(
        step=step,
        run_step=_int(_get(d, "run_step", "the line"), "run_step", 0, step),
        loss=_num(d.get("loss"), "loss"),
        accuracy=_fraction(acc, "accuracy"),
        test_loss=_num(d.get("test_loss"), "test_loss"),
        test_accuracy=_fraction(tacc, "test_accuracy"),
        config=config,
        entries=tuple(entries),
        run="" if run is None else _str(run if isinstance(run, str) else json.dumps(run), "run"),
        meta=RunMeta("mlp", config.summary(), config.optimizer, config.lr),
        events=st.events,
        vanishing_ratio=_num(d.get("vanishing_ratio"), "vanishing_ratio"),
        diverged=_divergence(d.get("diverged")),
        paused=_bool(paused, "paused"),
        steps_per_sec=_num(d.get("steps_per_sec"), "steps_per_sec"),
        boundary=st.boundary,
        output_grad_norm=_num(d.get("output_grad_norm"), "output_grad_norm"),
        probe_step=_int(d.get("probe_step", step), "probe_step", 0),
    )


# ---- files ------------------------------------------------------------------------------------------------------
_PREFIX = re.compile(
    rb'\{"schema":(\d{1,9})(?:,"run":"((?:[^"\\]|\\.){0,200})")?,"seq":(\d{1,19}),"step":(\d{1,19}),"has":"([a-z]{0,8})"'
)
_LAST = "lcptbxe"
_BLANK = re.compile(
    rb"(?:[ \t\r]*\n)*"
)  # the blocks whose last line is kept per line: x = a boundary that carries its points


@dataclass
class _Run:
    """The index of one run: per line its offset, length, number in the file, step and blocks; and per line, for
    each block, the last line (at or before it) that carries that block."""

    offsets: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    has: list[str] = field(default_factory=list)
    last: dict[str, list[int]] = field(default_factory=lambda: {f: [] for f in _LAST})
    events: list[int] = field(default_factory=list)  # the lines with events
    snapshots: list[Snapshot] = field(default_factory=list)  # schema 1: decoded whole
    ended: bool = False
    writer: dict[str, Any] | None = None

    def add(self, offset: int, length: int, number: int, step: int, has: str) -> None:
        i = len(self.offsets)
        self.offsets.append(offset)
        self.lengths.append(length)
        self.numbers.append(number)
        self.steps.append(step)
        self.has.append(has)
        for f in _LAST:
            prev = self.last[f][-1] if i else -1
            self.last[f].append(i if f in has else prev)
        if "e" in has:
            self.events.append(i)

    def __len__(self) -> int:
        return len(self.snapshots) or len(self.offsets)


def _size(n: int) -> str:
    for unit, k in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= k:
            return f"{num(n / k)} {unit}"
    return f"{n} bytes"


def check_file(path: str | os.PathLike[str]) -> os.stat_result:
    """A recording must be a regular file of a bounded size: a FIFO, a device (/dev/zero) or a file of many GB
    gets a clear message, not a hang or the memory killer."""
    name = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise RecordingError(f"cannot read {name}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise RecordingError(f"{name} is a directory, not a recording")
    if not stat.S_ISREG(st.st_mode):
        raise RecordingError(f"{name} is not a regular file (a pipe or a device): gradtui reads recordings from files")
    if st.st_size > MAX_FILE_BYTES:
        raise RecordingError(
            f"{name} is {_size(st.st_size)}: gradtui reads recordings of up to {_size(MAX_FILE_BYTES)}"
        )
    return st


class Recording:
    """A recording opened by its index: its runs, and per run ``length``, ``snapshot(i)`` (decoded lazily, from
    the few lines that carry what line i builds on; cached) and ``steps``. ``refresh()`` indexes the lines appended
    since (``gradtui watch``); with ``follow`` a cut-off last line is left for later (a writer may be finishing it),
    without, it is reported as a warning.

    Raises RecordingError (one line) for a file that is not a recording: unreadable, empty, a pipe or device, too
    large, not JSON, of a newer schema. A damaged line after good ones ends the recording there, with a warning;
    a line that is well-formed JSON but holds bad values is found when it is decoded, and reported then, naming it.
    """

    CACHE = 256  # decoded snapshots
    BLOCKS = 64  # decoded blocks of the lines snapshots build on

    def __init__(self, path: str | os.PathLike[str], *, follow: bool = False) -> None:
        self.path = os.fspath(path)
        self.follow = follow
        self.runs: dict[str, _Run] = {}
        self.warnings: list[str] = []
        self._offset = 0  # bytes indexed so far
        self._number = 0  # lines indexed so far
        self._damaged = False  # a damaged line was found: nothing after it is read
        self._v1_states: dict[str, _ReadState] = {}
        self._cache: OrderedDict[tuple[str, int], tuple[Snapshot, _ReadState]] = OrderedDict()
        self._blocks: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._events: dict[tuple[str, int], tuple[Event, ...]] = {}  # the events up to each event line
        self._size = 0
        self.refresh()
        if not self.runs and not follow:
            raise RecordingError(f"{self.path} is empty" if self._size == 0 else f"{self.path} holds no snapshot")

    # --- indexing ---
    def refresh(self) -> int:
        """Index the complete lines appended since the last call; returns how many snapshot lines were added.
        Following, a file that does not exist yet counts as empty (``gradtui watch`` waits for it to appear)."""
        if self.follow and self._offset == 0 and not os.path.lexists(self.path):
            self._size = 0
            return 0
        st = check_file(self.path)
        if st.st_size < self._offset:
            raise RecordingError(f"{self.path} was truncated or replaced while being read")
        self._size = st.st_size
        if self._damaged or st.st_size == self._offset:
            return 0
        added = 0
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                while not self._damaged:
                    data = f.read(32 * 2**20)
                    if not data:
                        break
                    end = data.rfind(b"\n")
                    if end < 0:
                        if len(data) > MAX_LINE_BYTES:
                            self._damage(self._number + 1, f"longer than {_size(MAX_LINE_BYTES)}")
                        else:
                            rest = data + f.read(MAX_LINE_BYTES)
                            if b"\n" in rest:  # a long line across chunks: index it on the next pass
                                f.seek(self._offset)
                                data = rest
                                end = data.rfind(b"\n")
                            else:
                                if len(rest) > MAX_LINE_BYTES:
                                    self._damage(self._number + 1, f"longer than {_size(MAX_LINE_BYTES)}")
                                elif not self.follow:
                                    self._cut_tail(rest)
                                break
                    added += self._index(data[: end + 1], self._offset)
                    self._offset += end + 1
                    f.seek(self._offset)
        except OSError as e:
            raise RecordingError(f"cannot read {self.path}: {e.strerror or e}") from None
        return added

    @property
    def seen_bytes(self) -> int:
        """The file's size at the last look (``refresh``)."""
        return self._size

    @property
    def exists(self) -> bool:
        return os.path.lexists(self.path)

    @property
    def total(self) -> int:
        return sum(len(r) for r in self.runs.values())

    def _cut_tail(self, data: bytes) -> None:
        if data.strip():
            n = self._number + 1
            if not self.runs:
                raise RecordingError(f"{self.path} holds no complete snapshot: line {n} is cut off")
            self.warnings.append(f"{self.path}: line {n} is cut off; loaded the {self.total} snapshots before it")

    def _damage(self, n: int, problem: str) -> None:
        self._damaged = True
        if not self.runs:
            raise RecordingError(f"{self.path} is not a gradtui recording: line {n} is {problem}")
        self.warnings.append(
            f"{self.path}: line {n} is {problem}; loaded the {self.total} snapshots before it and ignored the rest"
        )

    def _index(self, block: bytes, base: int) -> int:
        added = 0
        pos = 0
        while pos < len(block):
            blank = _BLANK.match(block, pos).end()  # type: ignore[union-attr]
            if blank > pos:  # blank lines, skipped at C speed (a file of many MB of newlines)
                self._number += block.count(b"\n", pos, blank)
                pos = blank
                continue
            nl = block.index(b"\n", pos)
            raw = block[pos:nl]
            self._number += 1
            n, offset = self._number, base + pos
            pos = nl + 1
            if len(raw) > MAX_LINE_BYTES:
                self._damage(n, f"longer than {_size(MAX_LINE_BYTES)}")
                return added
            m = _PREFIX.match(raw)
            if m is not None and int(m.group(1)) == SCHEMA:
                run = "" if m.group(2) is None else safe_text(json.loads(b'"' + m.group(2) + b'"'), 100)
                self._run(run).add(offset, len(raw), n, int(m.group(4)), m.group(5).decode())
                added += 1
                continue
            # the slow path: parse the whole line (schema 1, an end marker, or a line another tool rewrote)
            try:
                d = parse_json(raw)
                if not isinstance(d, dict):
                    raise RecordingError("not a JSON object")
                schema = _get(d, "schema", "the line")
                if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
                    raise RecordingError(f"schema is not a version number: {safe_text(repr(schema), 40)}")
                if schema > SCHEMA:
                    raise NewerSchemaError(
                        f"{self.path} line {n} was written by a newer gradtui (recording schema {schema}; "
                        f"this version reads schema {SCHEMA} and older)"
                    )
                tag = d.get("run", "")
                run = safe_text(tag if isinstance(tag, str) else json.dumps(tag), 100)
                if d.get("end") is True:
                    self._run(run).ended = True
                    continue
                if schema == 1:
                    snap = snapshot_from_v1(d, self._v1_states.setdefault(run, _ReadState()))
                    self._run(run).snapshots.append(snap)
                    self.runs[run].numbers.append(n)
                else:
                    has = _str(d.get("has", ""), "has")
                    step = _int(_get(d, "step", "the line"), "step", 0)
                    self._run(run).add(offset, len(raw), n, step, has)
                added += 1
            except NewerSchemaError:
                raise
            except (RecordingError, ValueError, RecursionError) as e:
                self._damage(n, "cut off" if not raw.rstrip().endswith(b"}") else f"not a snapshot: {e}"[:300])
                return added
        return added

    def _run(self, name: str) -> _Run:
        r = self.runs.get(name)
        if r is None:
            r = self.runs[name] = _Run()
        return r

    # --- reading ---
    def run_names(self) -> list[str]:
        return list(self.runs)

    def _pick(self, run: str | None) -> _Run:
        if run is None:
            if not self.runs:
                raise RecordingError(f"{self.path} holds no snapshot yet")
            return next(iter(self.runs.values()))
        if run not in self.runs:
            have = ", ".join(repr(r) for r in self.runs) or "none"
            raise RecordingError(f"{self.path} has no run {run!r}; it has {have}")
        return self.runs[run]

    def length(self, run: str | None = None) -> int:
        return len(self._pick(run))

    def ended(self, run: str | None = None) -> bool:
        return self._pick(run).ended

    def steps(self, run: str | None = None) -> list[int]:
        r = self._pick(run)
        return [s.step for s in r.snapshots] if r.snapshots else list(r.steps)

    def event_indices(self, run: str | None = None) -> list[int]:
        """The snapshots at which new events appear (a change, a reset, a divergence)."""
        r = self._pick(run)
        if not r.snapshots:
            return list(r.events)
        out, seq = [], 0
        for i, s in enumerate(r.snapshots):
            if s.events and s.events[-1].seq > seq:
                out.append(i)
                seq = s.events[-1].seq
        return out

    def _read(self, r: _Run, j: int) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as f:
                f.seek(r.offsets[j])
                raw = f.read(r.lengths[j])
            d = parse_json(raw)
        except OSError as e:
            raise RecordingError(f"cannot read {self.path}: {e.strerror or e}") from None
        except (ValueError, RecursionError) as e:
            raise RecordingError(f"{self.path} line {r.numbers[j]} is not JSON: {safe_text(str(e), 120)}") from None
        if not isinstance(d, dict):
            raise RecordingError(f"{self.path} line {r.numbers[j]} is not a JSON object")
        return d

    def snapshot(self, i: int, run: str | None = None) -> Snapshot:
        """The i-th snapshot of ``run`` (default: the first run). Raises RecordingError naming the line when that
        line, or one it builds on, holds bad values."""
        r = self._pick(run)
        if r.snapshots:
            return r.snapshots[i]
        if not 0 <= i < len(r.offsets):
            raise IndexError(i)
        name = run if run is not None else next(iter(self.runs))
        hit = self._cache.get((name, i))
        if hit is not None:
            self._cache.move_to_end((name, i))
            return hit[0]
        before = self._cache.get((name, i - 1))
        j = i
        try:
            st = _copy_state(before[1]) if before is not None else self._state_before(name, r, i)
            snap = _decode_v2(self._read(r, i), st)
        except RecordingError as e:
            msg = str(e)
            raise RecordingError(
                msg if msg.startswith(self.path) else f"{self.path} line {r.numbers[j]}: {msg}"
            ) from None
        self._cache[(name, i)] = (snap, st)
        while len(self._cache) > self.CACHE:
            self._cache.popitem(last=False)
        return snap

    def _state_before(self, name: str, r: _Run, i: int) -> _ReadState:
        """The reader's state after line i - 1, from the last lines before i that carry each block."""
        st = _ReadState()
        if i == 0:
            return st
        last = {f: r.last[f][i - 1] for f in _LAST}
        j = -1

        def block(k: int, kind: str, decode: Callable[[dict[str, Any]], Any], *depends: int) -> Any:
            """Line k's block, decoded (cached: the snapshots around i build on the same few lines)."""
            nonlocal j
            j = k
            key = (name, k, kind, *depends)
            if key in self._blocks:
                self._blocks.move_to_end(key)
                return self._blocks[key]
            d = self._read(r, k)
            _check_has(d)
            value = self._blocks[key] = decode(d)
            while len(self._blocks) > self.BLOCKS:
                self._blocks.popitem(last=False)
            return value

        try:
            if last["c"] >= 0:
                st.config, st.meta = block(last["c"], "c", lambda d: (_config(d["config"]), _meta(d["meta"])))
                st.have_config = True
            if last["l"] >= 0:
                st.layout = block(last["l"], "l", lambda d: _layout(d["layout"]))
            if last["p"] >= 0 and st.layout is not None:
                layout, config = st.layout, st.config
                st.probe = block(last["p"], "p", lambda d: _probe(d["probe"], layout, config), last["l"], last["c"])
            if last["t"] >= 0:
                st.test = block(last["t"], "t", lambda d: _test(d["test"]))
            if last["x"] >= 0:
                st.boundary = block(last["x"], "x", lambda d: _boundary(d["boundary"], None))
            if last["b"] > last["x"]:
                previous = st.boundary
                st.boundary = block(last["b"], "b", lambda d: _boundary(d["boundary"], previous), last["x"])
        except RecordingError as e:
            msg = str(e)
            raise RecordingError(
                msg if msg.startswith(self.path) else f"{self.path} line {r.numbers[j]}: {msg}"
            ) from None
        st.events = self._events_up_to(name, r, i - 1)
        return st

    def _events_up_to(self, name: str, r: _Run, i: int) -> tuple[Event, ...]:
        """Every event of the lines up to line i (the last MAX_EVENTS), built once per event line."""
        k = bisect.bisect_right(r.events, i)
        if k == 0:
            return ()
        j = r.events[k - 1]
        cached = self._events.get((name, j))
        if cached is not None:
            return cached
        prev = self._events_up_to(name, r, r.events[k - 2]) if k > 1 else ()
        try:
            new = _events(self._read(r, j).get("events", []))
        except RecordingError as e:
            raise RecordingError(f"{self.path} line {r.numbers[j]}: {e}") from None
        out = (*prev, *new)[-MAX_EVENTS:]
        self._events[(name, j)] = out
        return out

    def writer(self, run: str | None = None) -> dict[str, Any] | None:
        """``{"pid", "host"}`` of the process that wrote ``run`` (schema 2), or None."""
        r = self._pick(run)
        if r.snapshots or not r.offsets:
            return None
        if r.writer is None:
            try:
                layout = self._read(r, 0).get("layout")
            except RecordingError:  # the first line is damaged: its decoding says so
                layout = None
            w = layout.get("writer") if isinstance(layout, dict) else None
            pid, host = (w.get("pid"), w.get("host")) if isinstance(w, dict) else (None, None)
            ok = isinstance(pid, int) and not isinstance(pid, bool) and isinstance(host, str)
            r.writer = {"pid": pid, "host": host} if ok else {}
        return r.writer or None

    def snapshots(self, run: str | None = None) -> Iterator[Snapshot]:
        for i in range(self.length(run)):
            yield self.snapshot(i, run)


def _copy_state(st: _ReadState) -> _ReadState:
    return dataclasses.replace(st)


def open_recording(path: str | os.PathLike[str], *, follow: bool = False) -> Recording:
    return Recording(path, follow=follow)


def load_recording(path: str | os.PathLike[str]) -> tuple[list[Snapshot], list[str]]:
    """Every snapshot of a recording, all runs interleaved in file order, and warnings (plain sentences) about
    what could not be read. A damaged line ends its run there, with a warning naming it. Raises RecordingError
    (one line) for a file that cannot be read as a recording."""
    rec = Recording(path)
    warnings = list(rec.warnings)
    out: list[tuple[int, Snapshot]] = []
    for name, r in rec.runs.items():
        for i in range(len(r)):
            try:
                out.append((r.numbers[i], rec.snapshot(i, name)))
            except RecordingError as e:
                warnings.append(f"{e}; loaded the {i} snapshots of its run before it")
                break
    if not out:
        raise RecordingError(warnings[-1] if warnings else f"{rec.path} holds no snapshot")
    out.sort(key=lambda p: p[0])
    return [s for _, s in out], warnings
