"""Send the terminal only the cells that change.

Textual repaints a dirty region of a widget from the widget's left edge on that line to the region's right end
(``ChopsUpdate.render_segments`` crops on the right only), and re-sends every style around each run. Over SSH the
bytes are what counts: a panel whose newest heatmap column changed re-sends the whole row, the status line whose
step went from 12,340 to 12,350 re-sends 30 cells for two.

``CellDiff`` sits between Textual and the terminal, as curses' refresh does: it keeps the cells the terminal shows
(character and SGR style), reads what Textual writes (cursor moves, SGR, text), and writes only the cells that
differ, each run with one cursor move and its styles. Anything else Textual writes (modes, queries, titles) goes
through as it is, in order; what can change the screen behind its back (erase, scroll, the alternate screen, a
resize) makes it forget what the screen shows, so the next frame is sent whole. ``GRADTUI_RAW_OUTPUT=1`` turns it
off (to compare, or should a terminal ever disagree).
"""

from __future__ import annotations

import os
import re
import threading
from itertools import repeat
from typing import Any

from rich.cells import cell_len, get_character_cell_size

Cell = tuple[str, str]  # the character ("" for the right half of a wide one) and the SGR parameters in effect

_TOKEN = re.compile(
    r"\x1b\[([0-9;:?<>=]*)([ -/]*)([@-~])"  # CSI: parameters, intermediates, final
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC, ended by BEL or ST
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-OQ-WYZ\\`a-~]"  # any other escape (ESC 7, ESC =, ESC ( B ...)
    r"|[\x00-\x1a\x1c-\x1f\x7f]"  # one C0 control
    r"|[^\x00-\x1f\x7f]+"  # text
)
_FORGET_CSI = set("JKXLM@PSTr")  # erase, insert/delete, scroll, scroll region: the screen changes behind us
_SCREEN_MODES = {"?47", "?1047", "?1049"}  # the alternate screen: another screen, cleared
_SYNC_START, _SYNC_END = "\x1b[?2026h", "\x1b[?2026l"
GAP = 3  # unchanged cells between two changes sent again rather than a cursor move (ESC[r;cH is 6-8 bytes)


_PREFIX = re.compile(r"\x1b(?:\[[0-9;:?<>=]*[ -/]*|\][^\x07\x1b]*|[PX^_][^\x1b]*\x1b?|[ -/]*)?")  # unfinished


class CellDiff:
    """``feed(data) -> data'``: what to write to a terminal of ``cols`` x ``rows`` so that it shows what it would
    show after ``data``, sending only the cells that change. One instance per terminal; not thread-safe."""

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = max(1, cols), max(1, rows)
        self.forget()
        self.x = self.y = 0  # the cursor as the input means it
        self.sgr = ""  # the SGR parameters in effect in the input
        self.cursor_visible = True
        self._tail = ""  # an escape sequence cut by the end of the last feed
        self._held_sync = False  # a frame's start marker, not written until the frame turns out to change something

    def resize(self, cols: int, rows: int) -> None:
        """The terminal has a new size: what it shows is unknown (the input's cursor and style carry on)."""
        self.cols, self.rows = max(1, cols), max(1, rows)
        self.x, self.y = min(self.x, self.cols - 1), min(self.y, self.rows - 1)
        self.forget()

    def forget(self) -> None:
        """Nothing on the screen is known any more: every cell written next is sent."""
        self.shown: list[list[Cell | None]] = [[None] * self.cols for _ in range(self.rows)]
        self.out_x: int | None = None  # where the terminal's cursor is after what we wrote (None: unknown)
        self.out_y = 0
        self.out_sgr = ""

    def feed(self, data: str) -> str:
        out: list[str] = []
        pending: dict[tuple[int, int], Cell] = {}
        data, self._tail = self._tail + data, ""
        pos, n = 0, len(data)
        match = _TOKEN.match
        frame = False  # cursor moves or text: the cursor is put where the input leaves it
        while pos < n:
            m = match(data, pos)
            if m is None:
                if _PREFIX.fullmatch(data, pos):  # an unfinished escape sequence: the rest comes with the next feed
                    self._tail = data[pos:]
                    break
                self._flush(pending, out)  # an ESC that starts nothing we know: through, and forget
                out.append(data[pos])
                self.forget()
                pos += 1
                continue
            tok = m.group(0)
            pos = m.end()
            c0 = tok[0]
            if c0 != "\x1b" and c0 >= " " and c0 != "\x7f":
                x0, y0 = self.x, self.y
                frame = True
                if self._text(tok, pending):  # it goes past the right edge, where terminals differ (wrap or not):
                    self._flush(pending, out)  # written as it came, from where it began, and then forget
                    style = f"\x1b[0;{self.sgr}m" if self.sgr else "\x1b[0m"
                    out.append(f"\x1b[{y0 + 1};{x0 + 1}H{style}{tok}\x1b[0m")
                    self.forget()
                continue
            if m.group(3) is not None:  # CSI
                params, final = m.group(1), m.group(3)
                if m.group(2) == "" and self._csi(params, final):
                    frame = frame or final != "m"
                    continue
                self._flush(pending, out)
                out.append(tok)
                if final in _FORGET_CSI or (final in "hl" and params in _SCREEN_MODES):
                    self.forget()
                elif params == "?25" and final in "hl":
                    self.cursor_visible = final == "h"  # (the next frame puts it where Textual wants it)
                elif final not in "hlmnpqtu":  # (modes, reports, keyboard protocol: the cursor stays)
                    self.out_x = None
                continue
            if tok == "\r":
                self.x = 0
                continue
            if tok == "\n":
                self.x, self.y = 0, self.y + 1
                if self.y >= self.rows:  # a newline on the last row scrolls the screen
                    self._flush(pending, out)
                    out.append(tok)
                    self.y = self.rows - 1
                    self.forget()
                continue
            self._flush(pending, out)  # BEL, OSC (title, colours), other escapes: through, in order
            out.append(tok)
            if tok in ("\x1bc", "\x1bD", "\x1bE", "\x1bM"):
                self.forget()
            elif tok == "\x08":
                self.x = max(0, self.x - 1)
                self.out_x = None
            elif tok.startswith("\x1b") and not tok.startswith("\x1b]"):
                self.out_x = None
        self._flush(pending, out)
        if frame and self.cursor_visible and (self.out_x, self.out_y) != (self.x, self.y):
            out.append(f"\x1b[{self.y + 1};{self.x + 1}H")  # where Textual wants the visible cursor
            self.out_x, self.out_y = self.x, self.y
        return self._sync("".join(out))

    def _sync(self, written: str) -> str:
        """Drop a frame's synchronized-output markers when nothing between them is written (Textual writes the
        start marker, the frame and the end marker in three writes)."""
        if written == _SYNC_START:
            self._held_sync = True
            return ""
        if not self._held_sync:
            return written
        if written == _SYNC_END:
            self._held_sync = False
            return ""
        if written:
            self._held_sync = False
            return _SYNC_START + written
        return ""

    def _csi(self, params: str, final: str) -> bool:
        """Take a cursor move or an SGR into the input's state; False for anything else."""
        if final == "m":
            if params in ("", "0"):
                self.sgr = ""
            elif params.startswith("0;"):
                self.sgr = params[2:]
            else:
                self.sgr = f"{self.sgr};{params}" if self.sgr else params
            return True
        if final not in "HfABCDGd" or not all(p.isdigit() for p in params.split(";") if p):
            return False
        args = [int(p) if p else 0 for p in params.split(";")] if params else []
        first = args[0] if args else 0
        step = max(1, first)
        if final in "Hf":
            self.y = min(max(first, 1), self.rows) - 1
            self.x = min(max(args[1] if len(args) > 1 else 1, 1), self.cols) - 1
        elif final == "A":
            self.y = max(0, self.y - step)
        elif final == "B":
            self.y = min(self.rows - 1, self.y + step)
        elif final == "C":
            self.x = min(self.cols - 1, self.x + step)
        elif final == "D":
            self.x = max(0, self.x - step)
        elif final == "G":
            self.x = min(max(first, 1), self.cols) - 1
        else:  # d
            self.y = min(max(first, 1), self.rows) - 1
        return True

    def _text(self, text: str, pending: dict[tuple[int, int], Cell]) -> str:
        """Take ``text`` at the cursor into ``pending``; returns the part that would go past the right edge
        (Textual writes nothing there), not taken."""
        y, x, sgr, cols = self.y, self.x, self.sgr, self.cols
        n = len(text)
        if x + n <= cols and cell_len(text) == n:  # one cell a character (most of what Textual writes)
            # a wide character written over in part is blanked, which can only happen at the two ends: each cell
            # in between was just written by the character before it
            if x > 0 and self._at(pending, y, x)[0] == "":
                pending[(y, x - 1)] = (" ", "")
            pending.update(zip(zip(repeat(y), range(x, x + n)), zip(text, repeat(sgr))))
            end = x + n
            if end < cols and self._at(pending, y, end)[0] == "":
                pending[(y, end)] = (" ", "")
            self.x = end
            return ""
        ascii_ = text.isascii()
        for i, ch in enumerate(text):
            w = 1 if ascii_ else get_character_cell_size(ch)
            if w == 0:  # a combining mark joins the cell before
                if x > 0:
                    prev = pending.get((y, x - 1)) or self.shown[y][x - 1] or (" ", sgr)
                    pending[(y, x - 1)] = (prev[0] + ch, prev[1])
                continue
            if x + w > cols:
                self.x = x
                return text[i:]
            # a terminal blanks what is left of a wide character written over in part
            if self._at(pending, y, x)[0] == "" and x > 0:
                pending[(y, x - 1)] = (" ", "")
            end = x + w
            if end < cols and self._at(pending, y, end)[0] == "":
                pending[(y, end)] = (" ", "")
            pending[(y, x)] = (ch, sgr)
            if w == 2:
                pending[(y, x + 1)] = ("", sgr)
            x = end
        self.x = x
        return ""

    def _at(self, pending: dict[tuple[int, int], Cell], y: int, x: int) -> Cell:
        """What a cell will show (pending) or shows (" " when unknown)."""
        return pending.get((y, x)) or self.shown[y][x] or (" ", "")

    def _flush(self, pending: dict[tuple[int, int], Cell], out: list[str]) -> None:
        """Write the pending cells that differ from what the screen shows: one run per stretch of changes, runs
        fewer than GAP known cells apart sent as one."""
        if not pending:
            return
        shown = self.shown
        changed = {k for k, cell in pending.items() if shown[k[0]][k[1]] != cell}
        for y, x in list(changed):
            if x > 0 and pending[(y, x)][0] == "":  # the right half of a wide character: sent with its left
                changed.add((y, x - 1))
        run: list[tuple[int, int]] = []
        for key in sorted(changed):
            if run and key[0] == run[-1][0] and key[1] - run[-1][1] <= GAP + 1:
                y, x0 = run[-1]
                between = [(y, x) for x in range(x0 + 1, key[1])]
                if all(pending.get(k, shown[y][k[1]]) is not None for k in between):
                    run.extend(between)  # known, unchanged cells between two changes, sent again
                    run.append(key)
                    continue
            self._write_run(run, pending, out)
            run = [key]
        self._write_run(run, pending, out)
        if self.out_sgr:
            out.append("\x1b[0m")
            self.out_sgr = ""
        pending.clear()

    def _write_run(self, run: list[tuple[int, int]], pending: dict[tuple[int, int], Cell], out: list[str]) -> None:
        if not run:
            return
        shown = self.shown
        y, x = run[0]
        if (self.out_x, self.out_y) != (x, y):
            out.append(f"\x1b[{y + 1};{x + 1}H")
        sgr = self.out_sgr
        cur = x
        for ky, kx in run:
            cell = pending.get((ky, kx)) or shown[ky][kx]
            assert cell is not None
            ch, style = cell
            shown[ky][kx] = cell
            if not ch:
                continue  # the right half of the wide character just written
            if style != sgr:
                out.append(f"\x1b[0;{style}m" if style else "\x1b[0m")
                sgr = style
            out.append(ch)
            cur = kx + (1 if ch.isascii() else max(1, get_character_cell_size(ch[0])))
        self.out_sgr = sgr
        self.out_x, self.out_y = (cur, y) if cur < self.cols else (None, y)  # at the margin: the wrap state decides


def delta_driver(base: type[Any]) -> type[Any]:
    """A subclass of Textual's driver class ``base`` whose output goes through a ``CellDiff``."""

    class DeltaDriver(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._diff: CellDiff | None = None
            self._diff_lock = threading.Lock()

        def write(self, data: str) -> None:
            with self._diff_lock:
                cols, rows = _terminal_size(self)
                if self._diff is None:
                    self._diff = CellDiff(cols, rows)
                elif (cols, rows) != (self._diff.cols, self._diff.rows):
                    self._diff.resize(cols, rows)
                data = self._diff.feed(data)
            if data:
                super().write(data)

    DeltaDriver.__name__ = DeltaDriver.__qualname__ = f"Delta{base.__name__}"
    return DeltaDriver


def _terminal_size(driver: Any) -> tuple[int, int]:
    for stream in (getattr(driver, "_file", None), None):
        try:
            fd = stream.fileno() if stream is not None else 2
            size = os.get_terminal_size(fd)
            return size.columns, size.lines
        except (OSError, AttributeError, ValueError):
            continue
    return 80, 24


def wanted() -> bool:
    return os.environ.get("GRADTUI_RAW_OUTPUT", "") in ("", "0")
