"""Crash logs: a bug in gradtui is written here, and the user sees one line that names the file."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time

__all__ = ["crash_line", "write_crash_log"]


def write_crash_log(details: str) -> str | None:
    """Write ``details`` (a traceback) to a new file in the temp folder (or, if it cannot be written, the current
    folder); returns its path, or None if neither can be written. Never raises: it runs while handling a crash."""
    text = f"gradtui crashed at {time.strftime('%Y-%m-%d %H:%M:%S')}\n\n{details}\n"
    for folder in (None, os.curdir):
        try:
            fd, path = tempfile.mkstemp(prefix="gradtui-crash-", suffix=".log", dir=folder)
        except OSError:
            continue
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
                f.write(text)
        except OSError:
            with contextlib.suppress(OSError):
                os.remove(path)
            continue
        return os.path.abspath(path)
    return None


def crash_line(what: str, error: BaseException, log: str | None) -> str:
    """``gradtui: <what> (<Error>: <message>); details in <log>`` on one line, without its newline."""
    try:
        message = " ".join(str(error).split())
    except Exception:  # an exception whose str() fails: its type is still worth a line
        message = ""
    if len(message) > 200:
        message = message[:199] + "…"
    where = f"details in {log}" if log else "no crash log could be written"
    return f"gradtui: {what} ({type(error).__name__}{': ' + message if message else ''}); {where}"
