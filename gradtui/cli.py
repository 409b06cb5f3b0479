"""The command line: ``gradtui [flags]`` opens the dashboard, ``gradtui run [flags] --steps N`` trains headless.

Both parse the same network/training flags into a Config (whose defaults are the defaults here: a flag not given
is left to Config). Every mistake in a flag or a value is one line on stderr, ``gradtui: error: ...``, and exit
status 2 -- never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, Any, NoReturn

from . import __version__
from .engine import ACTIVATIONS, OPTIMISERS, Config, ConfigError, Snapshot, Trainer, available_datasets
from .engine.activations import ALIASES as ACTIVATION_ALIASES
from .engine.init import initialiser_names
from .engine.losses import LOSSES

__all__ = ["apply_color", "build_parser", "main"]

EXIT_OK, EXIT_DIVERGED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141

# --color -> TEXTUAL_COLOR_SYSTEM (the names of rich.console.COLOR_SYSTEMS, which Textual passes to its Console)
TEXTUAL_COLOR_SYSTEMS = {"truecolor": "truecolor", "256": "256", "16": "standard"}
COLOR_CHOICES = ("auto", "truecolor", "256", "16", "none")
DEFAULT_FPS = 10.0
MAX_FPS = 60.0

EPILOG_RUN = """\
exit status:
  0    the run finished. A run that diverges stops there and is reported in words (divergence
       is a result about these settings, not a failure of gradtui): it exits 0 too, unless
       --fail-on-diverge is given, then 1
  2    a bad flag or value (one line on stderr)
  130  interrupted with Ctrl-C (the table of the last snapshot is still printed)
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, _error_line(message))


def _error_line(message: str) -> str:
    return f"gradtui: error: {' '.join(message.split())}\n"


def _usage_error(message: str) -> int:
    sys.stderr.write(_error_line(message))
    return EXIT_USAGE


# ---- parsing ----------------------------------------------------------------------------------------------------
def _default(name: str) -> str:
    value = getattr(Config(), name)
    return f"(default: {value:g})" if isinstance(value, float) else f"(default: {value})"


def _config_parser() -> argparse.ArgumentParser:
    """The network/training flags shared by the dashboard and ``run``. Their dests are Config's field names."""
    p = _Parser(add_help=False, argument_default=argparse.SUPPRESS, allow_abbrev=False)
    net = p.add_argument_group("network")
    aliases = ", ".join(f"{a}={c}" for a, c in ACTIVATION_ALIASES.items())
    net.add_argument(
        "--activation", metavar="A", help=f"{', '.join(ACTIVATIONS)} (aliases {aliases}) {_default('activation')}"
    )
    net.add_argument("--depth", type=int, metavar="N", help=f"hidden layers {_default('depth')}")
    net.add_argument("--width", type=int, metavar="W", help=f"units per hidden layer {_default('width')}")
    net.add_argument("--init", metavar="I", help=f"{' '.join(initialiser_names())} {_default('init')}")
    net.add_argument(
        "--bias-init", type=float, metavar="X", help=f"initial bias of hidden units {_default('bias_init')}"
    )
    net.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, help="batch norm before each activation")
    net.add_argument("--residual", action=argparse.BooleanOptionalAction, help="skip connections (width -> width)")
    net.add_argument("--output", choices=["auto", *LOSSES], help=f"output layer and loss {_default('output')}")
    train = p.add_argument_group("training")
    train.add_argument("--lr", type=float, metavar="X", help=f"learning rate {_default('lr')}")
    train.add_argument("--optimizer", choices=list(OPTIMISERS), help=_default("optimizer"))
    train.add_argument("--momentum", type=float, metavar="X", help=f"momentum and Adam's beta1 {_default('momentum')}")
    train.add_argument("--weight-decay", type=float, metavar="X", help=f"L2 on weights {_default('weight_decay')}")
    train.add_argument("--clip", type=float, metavar="X", help=f"clip the gradient norm, 0 = off {_default('clip')}")
    train.add_argument("--batch-size", type=int, metavar="B", help=_default("batch_size"))
    train.add_argument("--dtype", choices=["float32", "float64"], help=_default("dtype"))
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset",
        metavar="D",
        help=f"{' '.join(available_datasets())} {_default('dataset')}; digits needs scikit-learn",
    )
    data.add_argument("--samples", type=int, metavar="N", help=_default("samples"))
    data.add_argument("--noise", type=float, metavar="X", help=_default("noise"))
    data.add_argument(
        "--seed", type=int, metavar="S", help=f"one seed for data, weights and batches {_default('seed')}"
    )
    return p


def _fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= MAX_FPS:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most {MAX_FPS:g}, not {text}")
    return value


def _view_parser() -> argparse.ArgumentParser:
    """The dashboard's own flags, shared by the dashboard, ``compare`` and ``replay``."""
    p = _Parser(add_help=False, allow_abbrev=False)
    view = p.add_argument_group("dashboard")
    view.add_argument(
        "--fps", type=_fps, default=DEFAULT_FPS, metavar="N", help=f"refresh rate (default: {DEFAULT_FPS:g})"
    )
    view.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        default="auto",
        help="colours: auto-detect, 24-bit, 256, 16, or none (as NO_COLOR=1) (default: auto)",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    config = _config_parser()
    view = _view_parser()
    parser = _Parser(
        prog="gradtui",
        description="Watch the gradient flow through a neural network as it trains, live in the terminal. "
        "Without a command: open the dashboard (default network: Config(), a deep sigmoid net on the spiral).",
        parents=[config, view],
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"gradtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        parents=[config],
        allow_abbrev=False,
        help="train headless, then print the per-layer figures and a diagnosis",
        description="Train without the dashboard, then print a table of the last snapshot's per-layer figures,\n"
        "the final loss and accuracy, and a one-line diagnosis.",
        epilog=EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    opts = run.add_argument_group("run")
    opts.add_argument("--steps", type=int, default=1000, metavar="N", help="training steps (default: 1000)")
    opts.add_argument(
        "--every",
        type=int,
        default=100,
        metavar="K",
        help="take a snapshot every K steps and after the last (default: 100)",
    )
    opts.add_argument(
        "--jsonl",
        "--record",
        dest="jsonl",
        metavar="PATH",
        help="write each snapshot as a JSON line to PATH (replaced if it exists; flushed line by line, so it "
        "can be replayed); '-' writes them to stdout and the table to stderr",
    )
    opts.add_argument("--fail-on-diverge", action="store_true", help="exit with status 1 if the run diverges")

    compare = sub.add_parser(
        "compare",
        parents=[config, view],
        allow_abbrev=False,
        help="2 to 4 runs side by side that differ in the activation (dashboard, or headless with --steps)",
        description="Train 2 to 4 runs that share the seed, data, batch order and initial weights (where shapes "
        "match), in lockstep, one per activation. Without --steps: the dashboard, side by side. With --steps: "
        "headless, one table with a column group per run.",
    )
    compare.add_argument("activations", nargs="+", metavar="ACTIVATION", help="2 to 4 activations")
    copts = compare.add_argument_group("headless")
    copts.add_argument("--steps", type=int, metavar="N", help="train N steps headless and print the table")
    copts.add_argument("--every", type=int, default=100, metavar="K", help="snapshot every K steps (default: 100)")
    copts.add_argument(
        "--jsonl", "--record", dest="jsonl", metavar="PATH", help="write every snapshot, tagged with its run"
    )

    check = sub.add_parser(
        "check",
        parents=[config],
        allow_abbrev=False,
        help="check the network's backward pass against finite differences (float64)",
        description="Build the network in float64 and compare every parameter's gradient on one training batch "
        "with central finite differences of the loss. Exit status 0 when the largest relative error is below "
        "--tolerance, 1 otherwise.",
    )
    check.add_argument("--batch", type=int, default=32, metavar="N", help="examples in the batch (default: 32)")
    check.add_argument(
        "--per-param", type=int, default=6, metavar="K", help="entries checked per parameter array (default: 6)"
    )
    check.add_argument("--tolerance", type=float, default=1e-4, metavar="X", help="(default: 1e-4)")

    replay = sub.add_parser(
        "replay",
        parents=[view],
        allow_abbrev=False,
        help="open the dashboard on a recording (from run --record, or the R key)",
        description="Replay a recording in the dashboard: space play/pause, left/right step, Home/End, "
        "e/E next/previous event, >/< speed.",
    )
    replay.add_argument("file", metavar="FILE")
    replay.add_argument("--run", metavar="NAME", help="which run of a compare recording (default: the first)")

    export = sub.add_parser(
        "export",
        allow_abbrev=False,
        help="write a recording as tidy CSV tables",
        description="Write layers.csv (step, run, layer, metric, value), steps.csv and events.csv into DIR.",
    )
    export.add_argument("file", metavar="FILE")
    export.add_argument("--csv", required=True, metavar="DIR", help="the folder to write the tables into")
    return parser


def config_from_args(ns: argparse.Namespace) -> Config:
    """The Config of the parsed flags (the flags not given keep Config's defaults). Raises ConfigError."""
    names = {f.name for f in dataclasses.fields(Config)}
    return Config(**{k: v for k, v in vars(ns).items() if k in names})


# ---- the dashboard ----------------------------------------------------------------------------------------------
def apply_color(choice: str, environ: Any = None) -> None:
    """Set the environment for ``--color`` (before Textual is imported: it reads TEXTUAL_COLOR_SYSTEM then).

    ``auto`` leaves everything to Textual (which respects NO_COLOR); ``none`` sets NO_COLOR=1; an explicit colour
    system overrides a NO_COLOR of the environment, as no-color.org asks of command-line flags.
    """
    env = os.environ if environ is None else environ
    if choice == "auto":
        return
    if choice == "none":
        env["NO_COLOR"] = "1"
        return
    env.pop("NO_COLOR", None)
    env["TEXTUAL_COLOR_SYSTEM"] = TEXTUAL_COLOR_SYSTEMS[choice]


def _dashboard(ns: argparse.Namespace, config: Config) -> int:
    apply_color(ns.color)
    try:
        from .tui.app import run_app
    except ModuleNotFoundError as e:
        if e.name and (e.name.startswith("gradtui.tui") or e.name.split(".")[0] in ("textual", "plotext")):
            sys.stderr.write(f"gradtui: error: the dashboard cannot start: {e}\n")
            return 1
        raise
    return int(run_app(config, fps=ns.fps, color=ns.color) or 0)


# ---- gradtui run ------------------------------------------------------------------------------------------------
def _layer_table(s: Snapshot, width: int) -> Any:
    """The per-layer figures; one space between columns below 100 columns, so that it fits 80."""
    from rich import box
    from rich.table import Table

    from .tui.fmt import num, pct, sci

    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"step {s.step}: {s.config.summary()}",
        title_justify="left",
        padding=(0, 1) if width >= 100 else (0, 0),
        pad_edge=False,
        caption="grad W, grad b: gradient norms of the last step; signal: |dL/dh|/sqrt(N) reaching the layer; "
        "ΔW/W: update ratio; dead: units with f' = 0 on every probe example; sat: f' < 5% of its max; "
        "mean, std: of the activations",
        caption_justify="left",
    )
    for name in ("layer", "units", "grad W", "grad b", "signal", "ΔW/W", "dead", "sat", "mean", "std"):
        table.add_column(name, justify="right", no_wrap=True)
    for l in s.layers:
        table.add_row(
            str(l.index),
            str(l.units),
            sci(l.grad_norm),
            sci(l.bias_grad_norm),
            sci(l.signal_norm),
            sci(l.update_ratio),
            f"{l.dead} ({pct(l.dead_fraction)})" if l.dead else "0",
            pct(l.saturation),
            num(l.mean),
            num(l.std),
        )
    return table


def _figures(s: Snapshot) -> str:
    from .tui.fmt import num, pct, sci

    parts = [f"step {s.step}", f"loss {num(s.loss)}"]
    if s.accuracy is not None:
        parts.append(f"accuracy {pct(s.accuracy)}")
    parts.append(f"test loss {num(s.test_loss)}")
    if s.test_accuracy is not None:
        parts.append(f"test accuracy {pct(s.test_accuracy)}")
    parts.append(f"vanishing ratio {sci(s.vanishing_ratio)}")
    if not math.isnan(s.steps_per_sec):
        parts.append(f"{s.steps_per_sec:,.0f} steps/s")
    return "  ".join(parts)


def _report(out: IO[str], s: Snapshot, *, interrupted: bool) -> None:
    from rich.console import Console
    from rich.text import Text

    from .diagnose import diagnose

    console = Console(file=out, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    console.print(_layer_table(s, console.width))
    console.print(_figures(s), markup=False, soft_wrap=True)
    if s.diverged is not None:
        console.print(
            Text(f"DIVERGED: the run stopped at step {s.diverged.step} ({s.diverged.what} went NaN/Inf)", "bold red"),
            soft_wrap=True,
        )
    if interrupted:
        console.print(Text(f"interrupted at step {s.step}", "yellow"), soft_wrap=True)
    alert = diagnose(s)[0]
    style = {"error": "bold red", "warning": "yellow", "info": "green"}[alert.level]
    console.print(Text("diagnosis: ") + Text(alert.text, style), soft_wrap=True)


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=Console(file=sys.stdout),
        transient=True,
    )


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that Python's exit flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _snapshots(trainer: Trainer, steps: int, every: int) -> Iterator[Snapshot]:
    """``trainer.run(steps, every)`` with each snapshot's steps/s measured; at step 0 only, one snapshot."""
    if steps == 0:
        yield trainer.snapshot()
        return
    t_prev, step_prev = time.perf_counter(), trainer.step_count
    for snap in trainer.run(steps, every=every):
        now = time.perf_counter()
        rate = (snap.step - step_prev) / (now - t_prev) if now > t_prev else math.nan
        t_prev, step_prev = now, snap.step
        yield dataclasses.replace(snap, steps_per_sec=rate)


def _run(ns: argparse.Namespace, config: Config) -> int:
    from .blas import set_blas_threads
    from .record import Recorder

    steps, every = ns.steps, ns.every
    if steps < 0:
        return _usage_error(f"--steps must be 0 or more, not {steps}")
    if every < 1:
        return _usage_error(f"--every must be 1 or more, not {every}")
    every = min(every, max(steps, 1))
    set_blas_threads(config.width)
    try:
        trainer = Trainer(config)
    except ValueError as e:  # ConfigError, or a dataset that cannot be made here (digits without scikit-learn)
        return _usage_error(str(e))
    to_stdout = ns.jsonl == "-"
    recorder = None
    if ns.jsonl:
        try:
            recorder = Recorder(sys.stdout if to_stdout else ns.jsonl)
        except OSError as e:
            return _usage_error(f"cannot write {ns.jsonl}: {e.strerror or e}")
    report_to = sys.stderr if to_stdout else sys.stdout
    show_progress = not to_stdout and steps > 0 and sys.stdout.isatty()

    last: Snapshot | None = None
    interrupted = False
    progress = _progress() if show_progress else None
    try:
        try:
            with progress or contextlib.nullcontext():
                task = progress.add_task("train", total=steps, info="") if progress else None
                for snap in _snapshots(trainer, steps, every):
                    last = snap
                    if recorder:
                        recorder.write(snap)
                    if progress:
                        progress.update(task, completed=snap.run_step, info=f"loss {snap.loss:.3g}")
        except KeyboardInterrupt:
            interrupted = True
            if last is None or last.step != trainer.step_count:
                last = trainer.snapshot()
                if recorder:
                    recorder.write(last)
    except BrokenPipeError:  # --jsonl - | head: the reader has gone
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    finally:
        if recorder:
            recorder.close()
    assert last is not None
    _report(report_to, last, interrupted=interrupted)
    if interrupted:
        return EXIT_INTERRUPTED
    if last.diverged is not None and ns.fail_on_diverge:
        return EXIT_DIVERGED
    return EXIT_OK


# ---- gradtui compare / replay / export -----------------------------------------------------------------------------
RUN_NAMES = "ABCD"


def _compare_configs(ns: argparse.Namespace, config: Config) -> list[Config]:
    acts = ns.activations
    if not 2 <= len(acts) <= 4:
        raise ConfigError(f"compare takes 2 to 4 activations, not {len(acts)}")
    return [config.replace(activation=a) for a in acts]


def _compare_table(snaps: list[Snapshot], width: int) -> Any:
    from rich import box
    from rich.table import Table

    from .tui.fmt import pct, sci

    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1) if width >= 100 else (0, 0), pad_edge=False,
                  title=f"step {snaps[0].step}", title_justify="left")  # fmt: skip
    table.add_column("layer", justify="right")
    for i, s in enumerate(snaps):
        for col in ("grad W", "dead", "sat"):
            table.add_column(f"{RUN_NAMES[i]}:{s.config.activation} {col}" if col == "grad W" else col,
                             justify="right", no_wrap=True)  # fmt: skip
    depth = min(len(s.layers) for s in snaps)
    for li in range(depth):
        row = [str(li + 1)]
        for s in snaps:
            layer = s.layers[li]
            row += [sci(layer.grad_norm), str(layer.dead), pct(layer.saturation)]
        table.add_row(*row)
    return table


def _ratio_line(snaps: list[Snapshot]) -> str:
    """ "layer 1: relu gets 4.1e+04x the gradient of sigmoid" for the runs with the most and least gradient."""
    from .tui.fmt import sci

    g = [(s.layers[0].grad_norm, s.config.activation) for s in snaps if s.layers]
    g = [x for x in g if math.isfinite(x[0]) and x[0] > 0]
    if len(g) < 2:
        return "layer 1: no gradient to compare"
    (hi, a), (lo, b) = max(g), min(g)
    return f"layer 1: {a} gets {sci(hi / lo)}× the gradient of {b}"


def _compare(ns: argparse.Namespace, config: Config) -> int:
    try:
        configs = _compare_configs(ns, config)
    except ConfigError as e:
        return _usage_error(str(e))
    if ns.steps is None:
        apply_color(ns.color)
        from .tui.app import run_app

        return int(run_app(configs, fps=ns.fps, color=ns.color) or 0)
    from rich.console import Console

    from .blas import set_blas_threads
    from .diagnose import one_line
    from .record import Recorder

    if ns.steps < 0 or ns.every < 1:
        return _usage_error("--steps must be 0 or more and --every 1 or more")
    set_blas_threads(config.width)
    try:
        trainers = [Trainer(c) for c in configs]
    except ValueError as e:
        return _usage_error(str(e))
    recorders: list[Any] = []
    if ns.jsonl:
        try:
            stream = sys.stdout if ns.jsonl == "-" else open(ns.jsonl, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            return _usage_error(f"cannot write {ns.jsonl}: {e.strerror or e}")
        recorders = [Recorder(stream, run=RUN_NAMES[i]) for i in range(len(trainers))]
    every = min(ns.every, max(ns.steps, 1))
    last = [t.snapshot() for t in trainers]
    interrupted = False
    try:
        for i in range(1, ns.steps + 1):
            due = i % every == 0 or i == ns.steps
            for t in trainers:
                t.step(measure=due)  # a diverged twin stands still; the others go on (lockstep while all run)
            if due:
                last = [t.snapshot() for t in trainers]
                for rec, snap in zip(recorders, last):
                    rec.write(snap)
    except KeyboardInterrupt:
        interrupted = True
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    finally:
        if recorders and recorders[0]._owned is False and ns.jsonl != "-":
            recorders[0]._file.close()
    console = Console(file=sys.stderr if ns.jsonl == "-" else sys.stdout, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    console.print(_compare_table(last, console.width))
    console.print(_ratio_line(last), markup=False, soft_wrap=True)
    for i, s in enumerate(last):
        acc = f", test accuracy {s.test_accuracy:.0%}" if s.test_accuracy is not None else ""
        console.print(f"{RUN_NAMES[i]} {s.config.activation}: loss {s.loss:.3g}{acc} — {one_line(s)}",
                      markup=False, soft_wrap=True)  # fmt: skip
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def _check(ns: argparse.Namespace, config: Config) -> int:
    from .engine.gradcheck import check_network

    if ns.batch < 1 or ns.per_param < 1 or not ns.tolerance > 0:
        return _usage_error("--batch and --per-param must be 1 or more, --tolerance above 0")
    trainer = Trainer(config.replace(dtype="float64"))
    x, y = trainer.X[: ns.batch], trainer.y[: ns.batch]
    n_params = len(trainer.net.params())
    err = check_network(trainer, x, y, per_param=ns.per_param)
    ok = err < ns.tolerance
    print(
        f"{config.summary()}: largest relative error {err:.1e} over {n_params} parameter arrays "
        f"({ns.per_param} entries each, batch {len(x)}): {'OK' if ok else 'FAILED'} (tolerance {ns.tolerance:g})"
    )
    return EXIT_OK if ok else 1


def _load(path: str, run: str | None = None) -> tuple[list[Snapshot], list[str]]:
    """A recording's snapshots (of one run), or RecordingError with a one-line message."""
    from .record import RecordingError, load_recording

    snaps, warnings = load_recording(path)
    runs = [s.extra.get("run") for s in snaps]
    if any(r is not None for r in runs):
        want = run if run is not None else runs[0]
        snaps = [s for s in snaps if s.extra.get("run") == want]
        if not snaps:
            raise RecordingError(f"{path} has no run {want!r}; it has {', '.join(sorted({str(r) for r in runs}))}")
    elif run is not None:
        raise RecordingError(f"{path} holds a single run: --run does not apply")
    return snaps, warnings


def _replay(ns: argparse.Namespace) -> int:
    from .record import RecordingError

    try:
        snaps, warnings = _load(ns.file, ns.run)
    except RecordingError as e:
        return _usage_error(str(e))
    for w in warnings:
        sys.stderr.write(f"gradtui: warning: {w}\n")
    apply_color(ns.color)
    from .tui.app import replay_app

    return int(replay_app(snaps, fps=ns.fps, warnings=warnings) or 0)


def _export(ns: argparse.Namespace) -> int:
    from .export import export_csv
    from .record import RecordingError, load_recording

    try:
        snaps, warnings = load_recording(ns.file)
    except RecordingError as e:
        return _usage_error(str(e))
    for w in warnings:
        sys.stderr.write(f"gradtui: warning: {w}\n")
    try:
        paths = export_csv(snaps, ns.csv)
    except OSError as e:
        return _usage_error(f"cannot write {ns.csv}: {e.strerror or e}")
    print(f"wrote {len(snaps)} snapshots to {', '.join(str(p) for p in paths)}")
    return EXIT_OK


# ---- entry point ------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error already reported on one line
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
    try:
        config = config_from_args(ns)
    except ConfigError as e:
        return _usage_error(str(e))
    if config.dataset not in available_datasets():
        return _usage_error(f"the {config.dataset} dataset needs scikit-learn: pip install 'gradtui[digits]'")
    if ns.command == "run":
        return _run(ns, config)
    if ns.command == "compare":
        return _compare(ns, config)
    if ns.command == "replay":
        return _replay(ns)
    if ns.command == "check":
        return _check(ns, config)
    if ns.command == "export":
        return _export(ns)
    return _dashboard(ns, config)
