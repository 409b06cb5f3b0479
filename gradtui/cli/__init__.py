"""The command line: ``gradtui [flags]`` opens the dashboard; ``run``, ``compare``, ``check``, ``replay``,
``watch`` and ``export`` are its subcommands (``python -m gradtui`` too).

- parser.py: the flags (pure Python: ``--help`` and ``--version`` load neither NumPy nor Textual),
- headless.py: ``run``, ``compare --steps`` and ``check``,
- report.py: the tables and the doctor's alerts they print,
- files.py: ``replay``, ``watch`` and ``export``.

Every mistake in a flag, a value or a file is one line on stderr and exit status 2, never a traceback; so is an
output that cannot be written (stdout on a full disk). A bug in gradtui itself is one line naming a crash log, and
exit status 70.
"""

from __future__ import annotations

import codecs  # (these two are loaded by Python's own start-up: free)
import contextlib
import sys

TYPE_CHECKING = False  # typing is not loaded either: ``gradtui --version`` needs none of it
if TYPE_CHECKING:
    import argparse
    from typing import IO, Any

__all__ = ["apply_color", "build_parser", "main"]

EXIT_USAGE = 2  # as parser.EXIT_USAGE (not imported from there: ``--version`` loads no argparse)
EXIT_BROKEN_PIPE = 141
EXIT_SOFTWARE = 70  # a bug in gradtui (sysexits.h EX_SOFTWARE)
EXIT_NO_DASHBOARD = 1  # the dashboard cannot start (no terminal, Textual missing)


def __getattr__(name: str) -> Any:  # the parser's names, loaded on first use (PEP 562)
    if name in ("apply_color", "build_parser", "config_from_args", "error_line"):
        from . import parser

        return getattr(parser, name)
    raise AttributeError(f"module 'gradtui.cli' has no attribute {name!r}")


class OutputError(OSError):
    """stdout could not be written (a full disk, a closed terminal): one line and exit status 2, not a crash."""


class _Output:
    """sys.stdout for the time of ``main``: a failed write is remembered (argparse swallows its own) and raised as
    OutputError, an OSError, so that a Recorder writing to ``-`` still reports it as a recording that failed. A
    broken pipe stays a BrokenPipeError (exit status 141, silently, as ``| head`` expects)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.failure: OSError | None = None
        self.reader_gone = False  # a broken pipe (even one that argparse swallowed)

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._stream, method)(*args)
        except BrokenPipeError:
            self.reader_gone = True
            raise
        except OSError as e:
            self.failure = self.failure or e
            raise OutputError(e.errno, e.strerror or str(e)) from None

    def write(self, text: str) -> int:
        return int(self._call("write", text) or 0)

    def flush(self) -> None:
        self._call("flush")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Errors:
    """sys.stderr for the time of ``main``: if even stderr cannot be written there is nobody left to tell, and the
    exit status still says what happened."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError):
            self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _has_terminal() -> bool:
    """The dashboard reads keys from stdin and draws on stderr: both must be a terminal. (Without one, Textual
    would draw into a file or pipe with no way to quit it, or hang once a pipe's reader has gone.)"""
    return all(s is not None and s.isatty() for s in (sys.__stdin__, sys.__stderr__))


def _dashboard(
    ns: argparse.Namespace, configs: list[Any] | None = None, *, source: Any = None, warnings: list[str] | None = None
) -> int:
    """Open the dashboard: on a live trainer for ``configs`` (1 run, or 2-4 twins), or on a recording ``source``
    (replay, watch). Returns the exit status. Every mode opens through here (tests replace it)."""
    if not _has_terminal():
        sys.stderr.write(
            "gradtui: error: the dashboard needs a terminal (stdin and stderr are not one); "
            "train headless with: gradtui run\n"
        )
        return EXIT_NO_DASHBOARD
    from .parser import apply_color

    apply_color(ns.color)
    import os

    # Textual's refresh tick (a frame at most every 1/TEXTUAL_FPS s): the frame that shows a key's effect waits for
    # the next tick. 120 Hz instead of Textual's 60: key p95 at 120x40 73/51/57 -> 57/31/56 ms side by side
    # (bench_tui.py, 2026-12-04), the same bytes and frames (the panels change at most 10 times a second). The
    # user's own TEXTUAL_FPS wins.
    os.environ.setdefault("TEXTUAL_FPS", "120")
    try:
        from ..tui.app import replay_app, run_app
    except ModuleNotFoundError as e:
        if e.name and (e.name.startswith("gradtui.tui") or e.name.split(".")[0] in ("textual", "plotext", "rich")):
            sys.stderr.write(f"gradtui: error: the dashboard cannot start: {e}\n")
            return EXIT_NO_DASHBOARD
        raise
    if source is not None:
        return int(replay_app(source, fps=ns.fps, color=ns.color, warnings=warnings or []) or 0)
    assert configs
    return int(run_app(configs if len(configs) > 1 else configs[0], fps=ns.fps, color=ns.color,
                       speed_cap=getattr(ns, "speed", None), threads=getattr(ns, "threads", None)) or 0)  # fmt: skip


def dispatch(ns: argparse.Namespace) -> int:
    from ..engine import ConfigError
    from ..engine.names import available_datasets
    from .parser import config_from_args

    if ns.command in ("replay", "watch"):
        from .files import replay

        return replay(ns, follow=ns.command == "watch")
    if ns.command == "export":
        from .files import export

        return export(ns)
    try:
        config = config_from_args(ns, strict=ns.command != "compare")  # compare checks the flags per run
    except ConfigError as e:
        return _usage(str(e))
    if not config.recurrent and config.dataset not in available_datasets():
        return _usage(f"the {config.dataset} dataset needs scikit-learn: pip install 'gradtui[digits]'")
    if ns.command == "run":
        from .headless import run

        return run(ns, config)
    if ns.command == "check":
        from .headless import check

        return check(ns, config)
    configs = [config]
    if ns.command == "compare":
        from .headless import compare, compare_configs

        try:
            configs = compare_configs(ns, config)
        except ConfigError as e:
            return _usage(str(e))
        if ns.steps is not None:
            return compare(ns, configs)
    from ..engine.config import fits_in_memory

    try:
        fits_in_memory(configs)
    except ConfigError as e:
        return _usage(str(e))
    return _dashboard(ns, configs)


def _usage(message: str) -> int:
    from .parser import error_line

    sys.stderr.write(error_line(message))
    return EXIT_USAGE


def _silence_stdout() -> None:
    """After stdout failed: point it at /dev/null, so that Python's exit flush does not complain in a traceback."""
    try:
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _output_failed(e: OSError) -> int:
    _silence_stdout()
    return _usage(f"cannot write to stdout: {e.strerror or e}")


def _tolerant(stream: Any) -> None:
    """A stdout that cannot encode every character (PYTHONIOENCODING=ascii, a Latin-1 locale) escapes the ones it
    cannot, as Python's stderr always does, instead of failing on the first "Δ" of the table."""
    try:
        if codecs.lookup(stream.encoding).name.startswith("utf") or stream.errors != "strict":
            return
        stream.reconfigure(errors="backslashreplace")
    except (AttributeError, LookupError, TypeError, ValueError, OSError):
        pass


def main(argv: list[str] | None = None) -> int:
    _tolerant(sys.stdout)
    out, err = sys.stdout, sys.stderr
    guarded = _Output(out)
    sys.stdout, sys.stderr = guarded, _Errors(err)
    try:
        return _main(argv, guarded)
    finally:
        sys.stdout, sys.stderr = out, err


def _flush(out: _Output) -> None:
    with contextlib.suppress(OutputError):  # remembered in out.failure
        out.flush()


def _main(argv: list[str] | None, out: _Output) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        if args == ["--version"]:  # answered before argparse, NumPy or anything else is loaded
            from .. import __version__

            with contextlib.suppress(OutputError):
                out.write(f"gradtui {__version__}\n")
            _flush(out)
            return _output_failed(out.failure) if out.failure is not None else 0
        from .parser import build_parser

        try:
            ns = build_parser().parse_args(args)
        except SystemExit as e:  # --help, --version, or a usage error already reported on one line
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
            with contextlib.suppress(BrokenPipeError):
                _flush(out)
            if code == 0 and out.reader_gone:
                _silence_stdout()
                return EXIT_BROKEN_PIPE
            return _output_failed(out.failure) if out.failure is not None and code == 0 else code
        status = dispatch(ns)
        _flush(out)
        if out.failure is not None:
            if status == EXIT_USAGE:  # the command has said so already (a recording to '-' that failed)
                _silence_stdout()
                return EXIT_USAGE
            return _output_failed(out.failure)
        return status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # gradtui check | head -0: the reader has gone
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OutputError as e:
        return _output_failed(e)
    except Exception as e:  # a bug in gradtui: one line and a crash log, never a traceback
        import traceback

        from ..crashlog import crash_line, write_crash_log

        sys.stderr.write(crash_line("internal error", e, write_crash_log(traceback.format_exc())) + "\n")
        return EXIT_SOFTWARE
