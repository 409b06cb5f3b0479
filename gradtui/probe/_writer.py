"""The probe's recording, written off the training thread: a slow disk, a full disk, or a pipe whose reader died
never blocks or stops the user's loop.

Snapshots go into a bounded queue; a daemon thread opens the file (creating its folder) and writes them with
``gradtui.record.Recorder``. A snapshot that finds the queue full is dropped and counted. A failure is kept as one
sentence (``problem``) for the probe to report once, on the training thread; what was written before stays readable.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import IO

from ..engine.stats import Snapshot
from ..record import Recorder, RecordingWriteError

__all__ = ["Writer"]

QUEUE = 64  # snapshots waiting to be written, at most: a probe writes one every ``every`` steps
_STOP = object()


class Writer:
    def __init__(self, target: str | os.PathLike[str] | IO[str]) -> None:
        """``target``: a path (its folder is created), or an open text stream (flushed, never closed)."""
        self._stream: IO[str] | None = None
        if isinstance(target, (str, os.PathLike)):
            self.path = os.fspath(target)
        else:
            self._stream = target
            self.path = str(getattr(target, "name", "the stream"))
        self.problem: str | None = None  # one sentence, set by the thread when a write failed
        self.dropped = 0  # snapshots not written because the thread was behind
        self.written = 0
        self._queued = 0  # snapshots handed to the thread
        self._done = 0  # of those, written or given up on
        self._cond = threading.Condition()
        self._q: queue.Queue[object] = queue.Queue(maxsize=QUEUE)
        self._thread = threading.Thread(target=self._run, name="gradtui-probe-writer", daemon=True)
        self._thread.start()

    def put(self, snap: Snapshot) -> None:
        if self.problem is not None:
            return
        try:
            self._q.put_nowait(snap)
            with self._cond:
                self._queued += 1
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every snapshot handed over so far is written (or failed); False after ``timeout`` s."""
        with self._cond:
            return self._cond.wait_for(lambda: self._done >= self._queued, timeout)

    def _finished_one(self) -> None:
        with self._cond:
            self._done += 1
            self._cond.notify_all()

    def _open(self) -> Recorder | None:
        if self._stream is not None:
            return Recorder(self._stream)
        try:
            folder = os.path.dirname(self.path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            return Recorder(self.path)
        except RecordingWriteError as e:
            self.problem = str(e)
        except OSError as e:
            self.problem = f"cannot write {self.path}: {e.strerror or e}"
        return None

    def _run(self) -> None:
        rec = self._open()
        while True:
            item = self._q.get()
            if item is _STOP:
                break
            try:
                if rec is not None and self.problem is None:  # else keep draining: put() never blocks
                    rec.write(item)  # type: ignore[arg-type]
                    self.written += 1
            except RecordingWriteError as e:
                self.problem = str(e)
            except Exception as e:  # noqa: BLE001 - a bug in encoding must not kill the thread silently
                self.problem = f"cannot write {self.path}: {type(e).__name__}: {e}"
            finally:
                self._finished_one()
        if rec is not None:
            rec.close()

    def close(self, timeout: float = 10.0) -> bool:
        """Write what is queued, the end marker, and close the file. Returns False if the thread did not finish
        within ``timeout`` seconds (a blocked pipe): it is left behind, as a daemon."""
        try:
            self._q.put(_STOP, timeout=timeout)
        except queue.Full:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()
