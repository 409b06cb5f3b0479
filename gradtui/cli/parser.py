"""The command line's flags: ``gradtui [flags]`` (the dashboard) and its subcommands. Pure Python -- no NumPy, no
Textual -- so that ``--help`` and ``--version`` answer at once.

Every mistake in a flag or a value is one line on stderr, ``gradtui: error: ...``, and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any, NoReturn

from .. import __version__
from ..engine.config import RECURRENT_PRESET, Config, ConfigError
from ..engine.names import (
    ACTIVATION_ALIASES,
    ACTIVATION_NAMES,
    DATASET_INFO,
    LOSS_NAMES,
    MAX_SEQ_LEN,
    MIN_SEQ_LEN,
    MODEL_NAMES,
    OPTIMISER_NAMES,
    TASK_INFO,
    initialiser_names,
)
from ..fmt import setting

__all__ = ["COLOR_CHOICES", "EXIT_USAGE", "apply_color", "build_parser", "config_from_args", "error_line"]

EXIT_OK, EXIT_DIVERGED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141

# --color -> TEXTUAL_COLOR_SYSTEM (the names of rich.console.COLOR_SYSTEMS, which Textual passes to its Console)
TEXTUAL_COLOR_SYSTEMS = {"truecolor": "truecolor", "256": "256", "16": "standard"}
COLOR_CHOICES = ("auto", "truecolor", "256", "16", "none")
DEFAULT_FPS = 10.0
MIN_FPS, MAX_FPS = 0.5, 30.0

EPILOG_RUN = """\
exit status:
  0    the run finished. A run that diverges stops there and is reported in words (divergence
       is a result about these settings, not a failure of gradtui): it exits 0 too, unless
       --fail-on-diverge is given, then 1
  2    a bad flag or value, or a --jsonl file that cannot be written (one line on stderr)
  130  interrupted with Ctrl-C (the table of the last snapshot is still printed)
"""


EPILOG_DASHBOARD = """\
exit status:
  0    quit with q or ctrl+c, or ended by SIGTERM or SIGHUP (the terminal is restored each time)
  1    the dashboard cannot start (it needs a terminal; Textual missing)
  2    a bad flag or value (one line on stderr)
  3    the dashboard crashed: one line on stderr names the crash log that holds the details
  70   any other bug in gradtui, likewise
"""


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, error_line(message))


def error_line(message: str) -> str:
    return f"gradtui: error: {' '.join(str(message).split())}\n"


def _default(name: str) -> str:
    value = getattr(Config(), name)
    return f"(default: {setting(value)})" if isinstance(value, float) else f"(default: {value})"


def _number(kind: type, lo: float | None = None, hi: float | None = None):
    """An argparse type: a number of ``kind`` (int or float) within [lo, hi], or a one-line error."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"not a {'whole ' if kind is int else ''}number: {text!r}") from None
        if kind is float and value != value:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be between {setting(lo)} and {setting(hi)}, not {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _threads(text: str) -> int | None:
    from ..blas import parse_threads

    return parse_threads(text)


def _path(text: str) -> str:
    """An argparse type: a path that is not empty (an empty one would silently write nothing)."""
    if not text:
        raise argparse.ArgumentTypeError("needs a path, not an empty string")
    return text


def _config_parser() -> Parser:
    """The network/training flags shared by the dashboard and the subcommands. Their dests are Config's fields."""
    p = Parser(add_help=False, argument_default=argparse.SUPPRESS, allow_abbrev=False)
    preset = ", ".join(f"{k.replace('_', ' ')} {setting(v)}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
                       for k, v in RECURRENT_PRESET.items())  # fmt: skip
    model = p.add_argument_group(
        "model",
        "a recurrent cell trains on a sequence task; unless given, its shared flags start from its own defaults "
        f"({preset})",
    )
    model.add_argument(
        "--model", choices=list(MODEL_NAMES), help="the MLP, a vanilla RNN, an LSTM or a GRU (default: mlp)"
    )
    model.add_argument(
        "--task", choices=list(TASK_INFO), help=f"recurrent: {'; '.join(TASK_INFO.values())} {_default('task')}"
    )
    model.add_argument(
        "--seq-len",
        type=_number(int, MIN_SEQ_LEN, MAX_SEQ_LEN),
        metavar="T",
        help=f"recurrent: steps per sequence, {MIN_SEQ_LEN} to {MAX_SEQ_LEN} {_default('seq_len')}",
    )
    model.add_argument(
        "--forget-bias",
        type=_number(float),
        metavar="X",
        help=f"LSTM: the forget gate's initial bias {_default('forget_bias')}",
    )
    model.add_argument(
        "--recurrent-init",
        metavar="I",
        help=f"recurrent: the initialiser of the recurrent weights (identity: the IRNN) {_default('recurrent_init')}",
    )
    net = p.add_argument_group("network")
    aliases = ", ".join(f"{a}={c}" for a, c in ACTIVATION_ALIASES.items())
    net.add_argument(
        "--activation", metavar="A", help=f"{', '.join(ACTIVATION_NAMES)} (aliases {aliases}) {_default('activation')}"
    )
    net.add_argument("--depth", type=_number(int), metavar="N", help=f"hidden layers {_default('depth')}")
    net.add_argument(
        "--width",
        type=_number(int),
        metavar="W",
        help=f"units per hidden layer; a cell's hidden size {_default('width')}",
    )
    net.add_argument("--init", metavar="I", help=f"{' '.join(initialiser_names())} {_default('init')}")
    net.add_argument(
        "--bias-init", type=_number(float), metavar="X", help=f"initial bias of hidden units {_default('bias_init')}"
    )
    net.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, help="batch norm before each activation")
    net.add_argument("--residual", action=argparse.BooleanOptionalAction, help="skip connections (width -> width)")
    net.add_argument("--output", choices=["auto", *LOSS_NAMES], help=f"output layer and loss {_default('output')}")
    train = p.add_argument_group("training")
    train.add_argument("--lr", type=_number(float), metavar="X", help=f"learning rate {_default('lr')}")
    train.add_argument("--optimizer", choices=list(OPTIMISER_NAMES), help=_default("optimizer"))
    train.add_argument(
        "--momentum",
        type=_number(float),
        metavar="X",
        help=f"the momentum optimiser's momentum, and Adam's beta1 {_default('momentum')}",
    )
    train.add_argument(
        "--weight-decay", type=_number(float), metavar="X", help=f"L2 on weights {_default('weight_decay')}"
    )
    train.add_argument(
        "--clip", type=_number(float), metavar="X", help=f"clip the gradient norm, 0 = off {_default('clip')}"
    )
    train.add_argument("--batch-size", type=_number(int), metavar="B", help=_default("batch_size"))
    train.add_argument("--dtype", choices=["float32", "float64"], help=_default("dtype"))
    train.add_argument(
        "--threads",
        type=_threads,
        metavar="N",
        help="BLAS threads: auto (timed after each rebuild, and again when the speed changes) or 1..CPUs "
        "(default: auto)",
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset",
        metavar="D",
        help=f"{' '.join(DATASET_INFO)} {_default('dataset')}; digits needs scikit-learn",
    )
    data.add_argument("--samples", type=_number(int), metavar="N", help=_default("samples"))
    data.add_argument("--noise", type=_number(float), metavar="X", help=_default("noise"))
    data.add_argument(
        "--seed", type=_number(int), metavar="S", help=f"one seed for data, weights and batches {_default('seed')}"
    )
    return p


def _view_parser(*, live: bool) -> Parser:
    """The dashboard's own flags."""
    p = Parser(add_help=False, allow_abbrev=False)
    view = p.add_argument_group("dashboard")
    view.add_argument(
        "--fps",
        type=_number(float, MIN_FPS, MAX_FPS),
        default=DEFAULT_FPS,
        metavar="N",
        help=f"refresh rate, {setting(MIN_FPS)} to {setting(MAX_FPS)} (default: {setting(DEFAULT_FPS)})",
    )
    view.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        default="auto",
        help="colours: auto-detect, 24-bit, 256, 16, or none (as NO_COLOR=1) (default: auto)",
    )
    if live:
        view.add_argument(
            "--speed",
            type=_number(float, 1, 1e6),
            default=None,
            metavar="N",
            help="train at most N steps per second, to watch it happen (keys < and >; default: as fast as it goes)",
        )
    return p


def build_parser() -> argparse.ArgumentParser:
    config = _config_parser()
    view = _view_parser(live=True)
    parser = Parser(
        prog="gradtui",
        description="Watch the gradient flow through a neural network as it trains, live in the terminal.\n"
        "Without a command: open the dashboard (default network: a deep sigmoid net on the spiral).",
        epilog=EPILOG_DASHBOARD,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        "the final loss and accuracy, and the diagnosis.",
        epilog=EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    opts = run.add_argument_group("run")
    opts.add_argument(
        "--steps", type=_number(int, 0, 10**9), default=1000, metavar="N", help="training steps (default: 1000)"
    )
    opts.add_argument(
        "--every",
        type=_number(int, 1, 10**9),
        default=100,
        metavar="K",
        help="take a snapshot every K steps and after the last (default: 100)",
    )
    opts.add_argument(
        "--jsonl",
        "--record",
        dest="jsonl",
        type=_path,
        metavar="PATH",
        help="write each snapshot as a JSON line to PATH (replaced if it exists; flushed line by line, so it "
        "can be watched and replayed); '-' writes them to stdout and the table to stderr",
    )
    opts.add_argument("--fail-on-diverge", action="store_true", help="exit with status 1 if the run diverges")

    compare = sub.add_parser(
        "compare",
        parents=[config, view],
        allow_abbrev=False,
        help="2 to 4 runs side by side that differ in the activation or the model (dashboard, or headless with "
        "--steps)",
        description="Train 2 to 4 runs that share the seed, data, batch order and initial weights (where shapes "
        "match), in lockstep, one per activation (gradtui compare relu sigmoid) or per model (gradtui compare rnn "
        "lstm --task adding). Without --steps: the dashboard, side by side. With --steps: headless, one table with "
        "a column group per run.",
    )
    compare.add_argument(
        "activations",
        nargs="+",
        metavar="NAME",
        help="2 to 4 activations, or 2 to 4 models (mlp rnn lstm gru)",
    )
    copts = compare.add_argument_group("headless")
    copts.add_argument(
        "--steps", type=_number(int, 0, 10**9), metavar="N", help="train N steps headless and print the table"
    )
    copts.add_argument(
        "--every", type=_number(int, 1, 10**9), default=100, metavar="K", help="snapshot every K steps (default: 100)"
    )
    copts.add_argument(
        "--jsonl",
        "--record",
        dest="jsonl",
        type=_path,
        metavar="PATH",
        help="write every snapshot, tagged with its run (as run --jsonl)",
    )

    check = sub.add_parser(
        "check",
        parents=[config],
        allow_abbrev=False,
        help="check the network's backward pass against finite differences (float64)",
        description="Build the network in float64 and compare every parameter's gradient on one training batch "
        "with central finite differences of the loss. Entries whose difference straddles a kink of the "
        "activation (ReLU at 0) are skipped and counted. Exit status 0 when the largest relative error is below "
        "--tolerance, 1 otherwise.",
    )
    check.add_argument(
        "--batch", type=_number(int, 1, 4096), default=32, metavar="N", help="examples in the batch (default: 32)"
    )
    check.add_argument(
        "--per-param",
        type=_number(int, 1, 10**6),
        default=6,
        metavar="K",
        help="entries checked per parameter array (default: 6)",
    )
    check.add_argument(
        "--tolerance", type=_number(float, 1e-300, 1.0), default=1e-4, metavar="X", help="(default: 1e-4)"
    )

    for name, help_, desc in (
        (
            "replay",
            "open the dashboard on a recording (from run --record, the R key, or gradtui.probe)",
            "Replay a recording in the dashboard: space play/pause, left/right step, Home/End, e/E next/previous "
            "event, >/< speed.",
        ),
        (
            "watch",
            "the dashboard on a recording another process is still writing, following it as it grows",
            "Follow a recording as it is written (gradtui run --record in another pane, or gradtui.probe on a remote "
            "box over a shared filesystem): new snapshots appear as they arrive; left/right, Home and e/E look back, "
            "End follows again; the status line says when the writer has stopped.",
        ),
    ):
        p = sub.add_parser(name, parents=[_view_parser(live=False)], allow_abbrev=False, help=help_, description=desc)
        p.add_argument("file", metavar="FILE")
        p.add_argument("--run", metavar="NAME", help="which run of a compare recording (default: the first)")

    export = sub.add_parser(
        "export",
        allow_abbrev=False,
        help="write a recording as tidy CSV tables",
        description="Write layers.csv (step, run, layer, metric, value), steps.csv and events.csv into DIR.",
    )
    export.add_argument("file", metavar="FILE")
    export.add_argument("--csv", required=True, type=_path, metavar="DIR", help="the folder to write the tables into")
    return parser


def given_fields(ns: argparse.Namespace) -> dict[str, Any]:
    """The Config fields given on the command line (the others are absent: argparse.SUPPRESS)."""
    names = {f.name for f in dataclasses.fields(Config)}
    return {k: v for k, v in vars(ns).items() if k in names}


def config_from_args(ns: argparse.Namespace, model: str | None = None, *, strict: bool = True) -> Config:
    """The Config of the parsed flags: the flags not given keep Config's defaults, or for a recurrent model
    (``--model``, or ``model``) its family's (``Config.for_model``). ``strict``: a flag that does not apply to the
    model is an error, in words (``Config.why_not``). Raises ConfigError."""
    given = given_fields(ns)
    if model is not None:
        given["model"] = model
    config = Config.for_model(given.pop("model", "mlp"), **given)
    if strict:
        for name in given:
            why = config.why_not(name)
            if why:
                raise ConfigError(f"--{name.replace('_', '-')}: {why}")
    return config


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
