"""The headless commands: ``gradtui run`` (one run) and ``gradtui compare --steps`` (2-4 twins) train on the same
lockstep loop as the dashboard's trainer (``engine.lockstep.step_together``), write JSON lines, and print the
table and the doctor's alerts; ``gradtui check`` runs the finite-difference checker on the user's configuration."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from ..doctor import Doctor
from ..engine import Config, ConfigError, Snapshot
from ..engine.config import fits_in_memory
from ..engine.lockstep import step_together
from ..engine.names import MODEL_NAMES
from ..engine.trainer import BaseTrainer, Change, apply_change, make_trainer
from ..fmt import count, num, safe_text, sci, setting

if TYPE_CHECKING:
    from ..record import Recorder
from .parser import (
    EXIT_BROKEN_PIPE,
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    config_from_args,
    error_line,
    given_fields,
)
from .report import HeadlessConsole, compare_table, console_for, print_alerts, ratio_line, report

__all__ = ["check", "compare", "run"]

RUN_NAMES = "ABCD"


def usage_error(message: str) -> int:
    sys.stderr.write(error_line(message))
    return EXIT_USAGE


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that Python's exit flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=HeadlessConsole(file=sys.stdout),
        transient=True,
    )


class DeferredInterrupt:
    """Ctrl-C while training stops the run between two steps, never inside one: a snapshot half taken, or taken
    and not yet written, would leave the recording short of the step the table reports. A second Ctrl-C stops at
    once (for a step that takes too long). Outside the main thread (where signals cannot be handled) it does
    nothing."""

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        """Between steps: the interrupt asked for, raised now."""
        if self.requested:
            raise KeyboardInterrupt


class Headless:
    """1 to 4 runs trained in lockstep, a snapshot of each every ``every`` steps (and after the last, and when a
    run diverges), each recorded and seen by its run's doctor."""

    def __init__(self, configs: list[Config], recorder: Recorder | None, threads: int | None = None) -> None:
        from ..blas import ThreadChooser

        names = [""] if len(configs) == 1 else list(RUN_NAMES[: len(configs)])
        self.trainers: list[BaseTrainer] = [make_trainer(c, run=n) for c, n in zip(configs, names)]
        self.chooser = ThreadChooser(threads)
        self.chooser.rebuilt(max(c.width for c in configs))
        self.doctors = [Doctor() for _ in configs]
        self.recorder = recorder
        self.last: list[Snapshot] = []
        self._t, self._steps = time.perf_counter(), 0

    def take(self) -> None:
        now = time.perf_counter()
        done = self.trainers[0].step_count
        sps = (done - self._steps) / (now - self._t) if now > self._t and done > self._steps else math.nan
        self._t, self._steps = now, done
        # the decision boundary is for the recording (the table does not show it): not computed without one
        record = self.recorder is not None
        self.last = [t.snapshot(boundary=record, steps_per_sec=sps) for t in self.trainers]
        for d, s in zip(self.doctors, self.last):
            d.observe(s)
            if self.recorder is not None:
                self.recorder.write(s)

    def train(self, steps: int, every: int, on_snapshot: Any = None) -> None:
        """Train ``steps`` steps; Ctrl-C (KeyboardInterrupt) stops between two of them."""
        with DeferredInterrupt() as stop:
            self._train(steps, every, on_snapshot, stop)

    def _train(self, steps: int, every: int, on_snapshot: Any, stop: DeferredInterrupt) -> None:
        self.take()
        for i in range(1, steps + 1):
            stop.check()
            due = i % every == 0 or i == steps
            active = [t.diverged is None for t in self.trainers]
            _, diverged = step_together(self.trainers, active, due, step=self.chooser.step)
            if due or diverged:
                self.take()
                if on_snapshot is not None:
                    on_snapshot(i, self.last[0])
            if all(t.diverged is not None for t in self.trainers):
                return

    def apply(self, i: int, change: Change) -> None:
        """Change run ``i`` between steps, as the dashboard's trainer loop does (``engine.apply_change``)."""
        self.trainers[i] = apply_change(self.trainers[i], change)

    def interrupted(self) -> None:
        """After Ctrl-C: a last snapshot of the step reached, if it has none yet."""
        if not self.last or self.last[0].step != self.trainers[0].step_count:
            with contextlib.suppress(*_write_errors()):
                self.take()


def _write_errors() -> tuple[type[BaseException], ...]:
    """RecordingWriteError, once gradtui.record is loaded (it is only loaded to record: before that, nothing can
    raise it). An ``except`` clause evaluates this when an exception arrives, so the module is never loaded for it."""
    record = sys.modules.get("gradtui.record")
    return (record.RecordingWriteError,) if record is not None else ()


def _refusals() -> tuple[type[BaseException], ...]:
    """What refuses a run before it starts: a bad or too large config, a dataset not made here, an unwritable
    recording."""
    return (ConfigError, ValueError, *_write_errors())


def _open_recorder(target: str | None) -> Recorder | None:
    if not target:
        return None
    from ..record import Recorder  # (loaded only to record: it is not small)

    return Recorder(sys.stdout if target == "-" else target)


def _build(configs: list[Config]) -> None:
    fits_in_memory(configs)  # twins' memory adds up


def run(ns: argparse.Namespace, config: Config) -> int:
    steps, every = ns.steps, min(ns.every, max(ns.steps, 1))
    try:
        _build([config])
        h = Headless([config], None, getattr(ns, "threads", None))
        # opened (and so emptied) only once the run could be built: a refused run leaves an old file as it was
        h.recorder = recorder = _open_recorder(ns.jsonl)
    except _refusals() as e:  # a dataset not made here, too large, unwritable
        return usage_error(str(e))
    to_stdout = ns.jsonl == "-"
    out = sys.stderr if to_stdout else sys.stdout
    progress = _progress() if not to_stdout and steps > 0 and sys.stdout.isatty() else None
    interrupted = False
    try:
        try:
            with progress or contextlib.nullcontext():
                task = progress.add_task("train", total=steps, info="") if progress else None

                def tick(i: int, s: Snapshot) -> None:
                    if progress is not None:
                        progress.update(task, completed=i, info=f"loss {num(s.loss)}")

                h.train(steps, every, tick)
        except KeyboardInterrupt:
            interrupted = True
            h.interrupted()
    except BrokenPipeError:  # --jsonl - | head: the reader has gone
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except _write_errors() as e:
        sys.stderr.write(error_line(f"{e} (stopped at step {h.trainers[0].step_count}; the lines written are kept)"))
        return EXIT_USAGE
    finally:
        if recorder is not None:
            recorder.close()
    s = h.last[0]
    report(out, s, h.doctors[0].diagnose(), interrupted=interrupted)
    if interrupted:
        return EXIT_INTERRUPTED
    if s.diverged is not None and ns.fail_on_diverge:
        return EXIT_DIVERGED
    return EXIT_OK


def compare_configs(ns: argparse.Namespace, config: Config) -> list[Config]:
    """One config per positional name: 2 to 4 activations (the runs differ in ``activation``) or 2 to 4 models
    (``rnn lstm``: the runs differ in ``model``, each starting from its family's settings); every flag given must
    apply to one run at least."""
    names = ns.activations
    if not 2 <= len(names) <= 4:
        raise ConfigError(f"compare takes 2 to 4 activations or models, not {len(names)}")
    models = [n for n in names if n in MODEL_NAMES]
    if models and len(models) != len(names):
        raise ConfigError(
            f"compare takes 2 to 4 activations or 2 to 4 models ({', '.join(MODEL_NAMES)}), not both: {' '.join(names)}"
        )
    if models:
        configs = [config_from_args(ns, model=m, strict=False) for m in names]
    else:
        why = config.why_not("activation")
        if why:
            raise ConfigError(why)
        configs = [config.replace(activation=a) for a in names]
    for name in given_fields(ns):
        if all(c.why_not(name) for c in configs):
            raise ConfigError(f"--{name.replace('_', '-')}: {configs[0].why_not(name)}")
    return configs


def compare(ns: argparse.Namespace, configs: list[Config]) -> int:
    every = min(ns.every, max(ns.steps, 1))
    try:
        _build(configs)
        h = Headless(configs, None, getattr(ns, "threads", None))
        h.recorder = recorder = _open_recorder(ns.jsonl)
    except _refusals() as e:
        return usage_error(str(e))
    interrupted = False
    try:
        h.train(ns.steps, every)
    except KeyboardInterrupt:
        interrupted = True
        h.interrupted()
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except _write_errors() as e:
        sys.stderr.write(error_line(f"{e} (the lines written are kept)"))
        return EXIT_USAGE
    finally:
        if recorder is not None:
            recorder.close()
    console = console_for(sys.stderr if ns.jsonl == "-" else sys.stdout)
    console.print(compare_table(h.last, console.width))
    console.print(ratio_line(h.last), markup=False, soft_wrap=True)
    for i, (s, d) in enumerate(zip(h.last, h.doctors)):
        acc = f", test accuracy {num(100 * s.test_accuracy, 3)}%" if s.test_accuracy is not None else ""
        console.print(f"{RUN_NAMES[i]} {safe_text(s.summary, 120)}: loss {num(s.loss)}{acc}", markup=False,
                      soft_wrap=True)  # fmt: skip
        print_alerts(console, d.diagnose(), prefix=f"  {RUN_NAMES[i]}: ")
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def check(ns: argparse.Namespace, config: Config) -> int:
    from ..engine.gradcheck import check_network_report, check_recurrent_report

    try:
        config64 = config.replace(dtype="float64")
        _build([config64])
        trainer = make_trainer(config64)
    except (ConfigError, ValueError) as e:
        return usage_error(str(e))
    n_params = len(trainer.net.params())
    names = ""
    if config.recurrent:
        from ..engine.recurrent_trainer import RecurrentTrainer

        assert isinstance(trainer, RecurrentTrainer)
        net = trainer.make_net(learn_init_state=True)  # the initial state h0 (and c0) checked as parameters too
        n_params = len(net.params())
        names = f": {', '.join(net.param_names())}"
        x, y = trainer.batch(ns.batch)
        result = check_recurrent_report(net, x, y, per_param=ns.per_param)
        batch = f"batch {len(x)} of T={config.seq_len}"
    else:
        x, y = trainer.X[: ns.batch], trainer.y[: ns.batch]  # type: ignore[attr-defined]
        result = check_network_report(trainer, x, y, per_param=ns.per_param)
        batch = f"batch {len(x)}"
    ok = result.worst < ns.tolerance
    skipped = ""
    if result.skipped:
        total = count(result.checked + result.skipped)
        skipped = (f"; {count(result.skipped)} of {total} entries skipped: their finite difference straddled a kink "
                   f"of {config.activation}")  # fmt: skip
    print(
        f"{config.summary()}: largest relative error {sci(result.worst)} over {n_params} parameter arrays{names} "
        f"({ns.per_param} entries each, {batch}{skipped}): {'OK' if ok else 'FAILED'} "
        f"(tolerance {setting(ns.tolerance)})"
    )
    return EXIT_OK if ok else 1
