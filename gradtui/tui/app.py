"""The dashboard: composition and routing only. Each mode is its own Screen (screens/), each panel its own widget
(widgets/). The app owns the source, polls it, and hands each update to the screen of the mode; which screen
follows from the source's capabilities, never from its type."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import signal
from collections.abc import Callable, Iterable

from rich.text import Text
from textual.app import App, SystemCommand
from textual.driver import Driver
from textual.screen import Screen

from ..crashlog import crash_line, write_crash_log
from ..engine import Config, Snapshot
from ..record import Recorder, RecordingWriteError
from ..source import SetRate, SetRuns, SnapshotSource, why_not
from .palette import Palette, mode_from_environment, palette_for
from .screens.compare import CompareScreen
from .screens.dashboard import DashboardScreen, guarded
from .screens.live import LiveScreen
from .screens.replay import ReplayScreen

EXIT_CRASH = 3  # the dashboard crashed (the one line names the crash log)
REFREEZE_AFTER = 0.2  # seconds after a mode switch: the old screen is collected (GradTUI._show_mode)


class GradTUI(App):
    CSS_PATH = "gradtui.tcss"
    TITLE = "gradtui"
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, source: SnapshotSource, *, fps: float = 10.0, color: str = "auto") -> None:
        # --color none: Textual's NO_COLOR path with ANSI colours kept as they are sends default colours only; a
        # NO_COLOR of the environment with --color auto is the same choice (left to Textual, it sends 256 greys)
        if color == "auto" and "NO_COLOR" in os.environ:
            color = "none"
        super().__init__(ansi_color=True if color in ("none", "16") else None)
        self.source = source
        self.fps = fps
        self.color = color
        self.recorder: Recorder | None = None
        self.crash_log: str | None = None
        self.crashed = False
        self._waiters: list[tuple[Callable[[Snapshot], bool], asyncio.Future]] = []
        self.last_snapshot: Snapshot | None = None
        self._palette: Palette | None = None
        self._signals: list[int] = []
        # what is printed after the terminal is given back (the crash line) is never broken at the terminal's width:
        # the terminal wraps it for the eye, and a path copied from it stays whole
        self.error_console.soft_wrap = True

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this terminal; on Linux and macOS its output goes through ``terminal.CellDiff``,
        which sends only the cells that change (``GRADTUI_RAW_OUTPUT=1``: Textual's output as it is)."""
        from . import terminal

        base = super().get_driver_class()
        try:
            from textual.drivers.linux_driver import LinuxDriver
        except ImportError:  # Windows
            return base
        return terminal.delta_driver(base) if base is LinuxDriver and terminal.wanted() else base

    @property
    def palette(self) -> Palette:
        if self._palette is None:
            mode = self.color if self.color != "auto" else mode_from_environment(self.console.color_system)
            if self.no_color:
                mode = "none"
            self._palette = palette_for(mode)
        return self._palette

    # ---- composition ---------------------------------------------------------------------------------------------
    def screen_for(self, source: SnapshotSource, target: int = 0) -> DashboardScreen:
        caps = source.capabilities
        if caps.can_seek:
            return ReplayScreen()
        configs = [c for c in source.configs if c is not None]
        if caps.can_fork and len(configs) > 1:
            return CompareScreen(configs, target)
        return LiveScreen(configs[0] if configs else None)

    @property
    def dashboard(self) -> DashboardScreen:
        """The mode's screen (under a help screen or the picker, when one is open)."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, DashboardScreen):
                return screen
        raise LookupError("no dashboard screen")

    async def _show_mode(self, screen: DashboardScreen) -> None:
        """Another mode's screen in place of the current one (fork, unfork)."""
        await self.switch_screen(screen)
        # the old screen was frozen with the rest (on_mount): once the key's action that switched is over (it
        # holds the old screen), it is thawed, collected and what is left frozen again -- one full collection
        # at a fork or unfork (~40 ms), and no old screen kept at each
        self.set_timer(REFREEZE_AFTER, self._refreeze)

    def _refreeze(self) -> None:
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def on_load(self) -> None:
        # SIGTERM and SIGHUP end the app as q does, restoring the terminal. Installed at Load, before Textual puts
        # the terminal in application mode: a signal from then on is never the default death that leaves the
        # terminal in the alternate screen with the cursor hidden.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.exit)
                self._signals.append(sig)

    async def on_mount(self) -> None:
        # pushed over Textual's blank default screen (which cannot be switched away), so that fork and unfork can
        # switch it for another mode's screen
        await self.push_screen(self.screen_for(self.source))
        # what exists now (Textual, Rich, the stylesheet, the widgets) lives as long as the app: out of the garbage
        # collector's sight, a full collection no longer walks it (measured 14-84 ms each, a few times a minute,
        # blocking the keys; bench_tui.py, 2026-12-04)
        gc.freeze()
        self.source.send(SetRate(min(self.fps, 10.0)))
        self.set_interval(1.0 / self.fps, self.poll)

    def on_unmount(self) -> None:
        gc.unfreeze()  # (in a process that goes on: the tests run many apps one after another)
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        self.source.close()
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        self._signals = []

    # ---- updates ---------------------------------------------------------------------------------------------
    @guarded
    def poll(self) -> None:
        if not self.is_running or self._exit:  # quitting: nothing to draw any more
            return
        try:
            screen = self.dashboard
        except LookupError:
            return
        if not screen.is_mounted:  # a mode's screen still composing (just after fork, unfork): the next poll
            return
        screen.take_update(self.source.poll())

    def resolve(self, snap: Snapshot) -> None:
        self.last_snapshot = snap
        for pred, fut in list(self._waiters):
            if not fut.done() and pred(snap):
                fut.set_result(snap)
                self._waiters.remove((pred, fut))

    async def wait_for_snapshot(self, predicate: Callable[[Snapshot], bool] = lambda s: True) -> Snapshot:
        """Resolve when a snapshot satisfying ``predicate`` has been shown (for tests and scripts)."""
        if self.last_snapshot is not None and predicate(self.last_snapshot):
            return self.last_snapshot
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, fut))
        return await fut

    # ---- modes -------------------------------------------------------------------------------------------------
    async def fork(self, configs: list[Config], target: int) -> None:
        """Twins from the same seed, in lockstep: the compare screen (the keys then change ``target``)."""
        why = why_not(self.source.capabilities, "fork")
        if why:
            self.dashboard.action_unavailable(why)
            return
        self._stop_recording("twins start afresh")
        self.source.send(SetRuns(tuple(configs)))
        self.last_snapshot = None
        await self._show_mode(CompareScreen(configs, target))

    async def unfork(self, config: Config) -> None:
        why = why_not(self.source.capabilities, "fork")
        if why:
            self.dashboard.action_unavailable(why)
            return
        self._stop_recording("back to one run")
        self.source.send(SetRuns((config,)))
        self.last_snapshot = None
        await self._show_mode(LiveScreen(config))

    # ---- recording ---------------------------------------------------------------------------------------------
    def toggle_recording(self, snap: Snapshot | None) -> None:
        if self.recorder is None:
            step = snap.step if snap else 0
            path = _fresh_path(f"gradtui-step{step}", ".jsonl")  # never over an earlier recording
            try:
                self.recorder = Recorder(path)
            except RecordingWriteError as e:
                self.dashboard.say(str(e), "error")
                return
            self.notify(f"recording to {path} (R stops)", title="Record")
        else:
            lines = self.recorder.lines
            self.recorder.close()
            self.recorder = None
            self.notify(f"{lines} snapshots recorded", title="Record")

    def record(self, snap: Snapshot) -> None:
        if self.recorder is None:
            return
        recorder = self.recorder
        try:
            recorder.write(snap)
        except RecordingWriteError as e:
            self.recorder = None
            recorder.close()  # writes nothing more once broken; closes the file
            self.dashboard.say(f"recording stopped: {e}; the {recorder.lines} snapshots before stay readable", "error")

    def _stop_recording(self, why: str) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.notify(f"recording stopped ({why}): {self.recorder.lines} snapshots", title="Record")
            self.recorder = None

    # ---- app-wide actions --------------------------------------------------------------------------------------
    def action_save_svg(self) -> None:
        step = self.last_snapshot.step if self.last_snapshot else 0
        try:
            path = self.save_screenshot(f"gradtui-step{step}.svg")
        except OSError as e:
            self.dashboard.say(f"cannot save the screenshot: {e.strerror or e}", "error")
            return
        self.notify(f"saved {path}", title="Screenshot")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, DashboardScreen):
            return
        seen = set()
        for k in screen.bar_keys() + [k for k in screen.KEYS if k.bar is None]:
            if k.action in ("quit", "command_palette") or k.action.startswith("view(") or k.action in seen:
                continue
            seen.add(k.action)
            yield SystemCommand(k.help[:1].upper() + k.help[1:], f"key: {k.shown}",
                                lambda a=k.action, s=screen: s.run_action(a))  # fmt: skip

    # ---- crashes -----------------------------------------------------------------------------------------------
    def crash(self, error: BaseException, details: str) -> None:
        """A bug in gradtui: write the traceback to a crash log, and exit with one line that names it."""
        if self.crashed:  # already crashing: one line, one log
            return
        self.crashed = True
        self.crash_log = write_crash_log(details)
        self.exit(return_code=EXIT_CRASH, message=_one_line(crash_line("the dashboard crashed", error, self.crash_log)))

    @property
    def return_code(self) -> int | None:
        """The exit status: EXIT_CRASH after a crash, whichever way it came (Textual's own handling says 1)."""
        return EXIT_CRASH if self.crashed else super().return_code

    def _handle_exception(self, error: Exception) -> None:
        # An exception that reached Textual (outside gradtui's guarded entry points): the same one line and crash
        # log instead of a traceback over the terminal. Textual's own handling (the app exits; a test run re-raises
        # the error) is kept; only what it prints is ours. A second exception while the app is going down joins the
        # crash log: one line, not "1 of 2 errors shown".
        import traceback

        details = "".join(traceback.format_exception(error))
        if self.crashed:
            if self.crash_log is not None:
                with contextlib.suppress(OSError), open(self.crash_log, "a", encoding="utf-8") as f:
                    f.write(f"\nand then:\n\n{details}\n")
            return
        self.crashed = True
        self.crash_log = write_crash_log(details)
        line = crash_line("the dashboard crashed", error, self.crash_log)
        with contextlib.suppress(Exception):
            error.__rich__ = lambda: _one_line(line)  # type: ignore[attr-defined]
        super()._handle_exception(error)


def run_app(
    config: Config | list[Config],
    *,
    fps: float = 10.0,
    color: str = "auto",
    mode: str = "process",
    speed_cap: float | None = None,
    threads: int | None = None,
) -> int:
    """Start the trainer (a process, before Textual starts: see shared/style.md), then the dashboard.
    A list of 2-4 configs opens compare mode. ``threads``: BLAS threads, None to choose them by measurement.
    Returns the exit status."""
    from ..session import Session

    hz = min(fps, 10.0) if math.isfinite(fps) else 10.0
    session = Session(config, mode=mode, hz=hz, speed_cap=speed_cap, threads=threads).start()
    try:
        app = GradTUI(session, fps=fps, color=color)
        app.run()
    finally:
        session.close()
    import sys

    log = session.kept_log
    if log is not None:
        sys.stderr.write(f"gradtui: the trainer wrote messages to {log}\n")
    return _status(app)


def _status(app: GradTUI) -> int:
    return app.return_code or 0


def replay_app(
    source: SnapshotSource, *, fps: float = 10.0, color: str = "auto", warnings: list[str] | None = None
) -> int:
    """The dashboard on a recording (replay) or a recording being written (watch)."""
    app = GradTUI(source, fps=fps, color=color)
    if warnings:
        app.call_later(lambda: app.dashboard.say(" ".join(warnings), "warning"))
    app.run()
    return _status(app)


def _one_line(line: str) -> Text:
    """A line that rendering never breaks (however narrow the terminal)."""
    return Text(line, no_wrap=True, overflow="ignore")


def _fresh_path(stem: str, suffix: str) -> str:
    """``stem + suffix`` in the current folder, or ``stem-2 + suffix``, ``-3``, ... the first name not taken."""
    import os

    path, n = stem + suffix, 1
    while os.path.lexists(path):
        n += 1
        path = f"{stem}-{n}{suffix}"
    return path
