"""How fast gradtui starts: ``gradtui --version``, ``gradtui --help`` and ``gradtui run --steps 1``, each the median
wall time of --runs fresh processes (default 10), from spawn to exit, output discarded.

    python benchmarks/bench_startup.py [--runs 10] [--gradtui PATH]

Targets (issue 11): --version and --help <= 120 ms, run --steps 1 <= 400 ms. The bare interpreter
(``python -c pass``, and ``python -S`` without site-packages) is timed too, as the floor under the figures; the load
average is printed, since on a shared machine it moves the figures more than anything gradtui does. The exit status
is 1 if a target is missed, else 0.

By default the ``gradtui`` entry point next to this interpreter is timed (what a user runs); without one,
``python -m gradtui``. Each command runs once untimed first, and PYTHONDONTWRITEBYTECODE is cleared for the children,
so that gradtui's modules are timed from their cached bytecode, as an installed gradtui runs. (An editable install
run with PYTHONDONTWRITEBYTECODE=1 and no __pycache__ compiles gradtui's modules at every start: ~100 ms more for
``run`` on a loaded 2-core box.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGETS_MS = {"--version": 120.0, "--help": 120.0, "run --steps 1": 400.0}


def entry_point() -> list[str]:
    here = Path(sys.executable).parent / "gradtui"
    if here.exists():
        return [str(here)]
    found = shutil.which("gradtui")
    return [found] if found else [sys.executable, "-m", "gradtui"]


def median_ms(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float, float, float]:
    """(median, min, max) wall time in ms of ``runs`` fresh processes, after one untimed run."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        times.append((time.perf_counter() - t0) * 1000)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return statistics.median(times), min(times), max(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="fresh processes per command (default: 10)")
    ap.add_argument("--gradtui", help="the gradtui command to time (default: the entry point of this Python)")
    args = ap.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    gradtui = [args.gradtui] if args.gradtui else entry_point()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"{' '.join(gradtui)}; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; median of {args.runs} fresh processes, "
          "bytecode cached")  # fmt: skip
    rows = [
        ("python -S -c pass", [sys.executable, "-S", "-c", "pass"], None),
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        *[(f"gradtui {c}", [*gradtui, *c.split()], t) for c, t in TARGETS_MS.items()],
    ]
    missed = 0
    print(f"{'command':<26}{'median':>9}{'min':>9}{'max':>9}   target")
    for name, argv, target in rows:
        med, lo, hi = median_ms(argv, args.runs, env)
        verdict = ""
        if target is not None:
            ok = med <= target
            missed += not ok
            verdict = f"<= {target:.0f} ms {'ok' if ok else 'MISSED'}"
        print(f"{name:<26}{med:>7.0f}ms{lo:>7.0f}ms{hi:>7.0f}ms   {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
