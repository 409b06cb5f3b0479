"""A recording writer in its own process, driven line by line from stdin (tests/test_watch.py): ``write N``
writes N snapshots of a small real run, ``half`` writes the first half of the next line and ``rest`` the other
half, ``garbage`` writes a damaged line, ``close`` writes the end marker and exits. After each command it
prints ``done STEP LINES``."""

from __future__ import annotations

import sys

from gradtui.engine import Config, Trainer
from gradtui.record import Recorder, _RunState, encode_line

TINY = dict(depth=3, width=6, samples=80, batch_size=16, probe_size=40, hist_bins=8)


def main() -> None:
    trainer = Trainer(Config(**TINY))
    rec = Recorder(sys.argv[1])
    rest = ""
    lines = 0
    for command in sys.stdin:
        op, *args = command.split()
        if op == "write":
            for _ in range(int(args[0])):
                trainer.step(measure=True)
                rec.write(trainer.snapshot(boundary=True))
                lines += 1
        elif op == "half":  # the same line the recorder would write, in two writes
            trainer.step(measure=True)
            line = encode_line(trainer.snapshot(), rec._runs.setdefault("", _RunState())) + "\n"
            rec._file.write(line[: len(line) // 2])
            rec._file.flush()
            rest = line[len(line) // 2 :]
        elif op == "garbage":  # a complete line that is no snapshot (damage)
            rec._file.write("{not json}\n")
            rec._file.flush()
            lines += 1
        elif op == "rest":
            rec._file.write(rest)
            rec._file.flush()
            lines += 1
        elif op == "close":
            rec.close()
            print(f"done {trainer.step_count} {lines}", flush=True)
            return
        print(f"done {trainer.step_count} {lines}", flush=True)


if __name__ == "__main__":
    main()
