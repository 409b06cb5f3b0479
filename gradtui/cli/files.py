"""The commands on recordings: ``gradtui replay``, ``gradtui watch`` (the dashboard) and ``gradtui export`` (CSV)."""

from __future__ import annotations

import argparse
import os
import sys

from ..record import Recording, RecordingError
from .parser import EXIT_OK, EXIT_USAGE, error_line

__all__ = ["export", "replay"]


def _fail(message: str) -> int:
    sys.stderr.write(error_line(message))
    return EXIT_USAGE


def replay(ns: argparse.Namespace, *, follow: bool) -> int:
    """The dashboard on a recording; with ``follow``, one that is still being written (``gradtui watch``)."""
    try:
        rec = Recording(ns.file, follow=follow)
        runs = rec.run_names()
        if ns.run is not None and runs == [""]:
            return _fail(f"{ns.file} holds a single run: --run does not apply")
        if ns.run is not None and runs:
            rec.length(ns.run)  # the run exists (or a one-line error naming the runs there are)
    except RecordingError as e:
        return _fail(str(e))
    for w in rec.warnings:
        sys.stderr.write(f"gradtui: warning: {w}\n")
    from ..replay import RecordingSource
    from . import _dashboard

    source = RecordingSource(rec, run=ns.run, follow=follow, rate=min(ns.fps, 10.0))
    return _dashboard(ns, source=source, warnings=rec.warnings)


def export(ns: argparse.Namespace) -> int:
    from ..export import export_csv
    from ..record import load_recording

    try:
        snaps, warnings = load_recording(ns.file)
    except RecordingError as e:
        return _fail(str(e))
    for w in warnings:
        sys.stderr.write(f"gradtui: warning: {w}\n")
    if os.path.exists(ns.csv) and not os.path.isdir(ns.csv):
        return _fail(f"cannot write into {ns.csv}: it is not a folder")
    try:
        paths = export_csv(snaps, ns.csv)
    except OSError as e:
        return _fail(f"cannot write {ns.csv}: {e.strerror or e}")
    print(f"wrote {len(snaps)} snapshots to {', '.join(str(p) for p in paths)}")
    return EXIT_OK
