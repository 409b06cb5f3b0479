"""terminal.CellDiff sends only the cells that change: a terminal fed its output must show, cell for cell (character
and what the SGR codes mean), what a terminal fed Textual's own output shows -- for generated frames cut at any
byte, and for a real run of the dashboard in a pseudo-terminal."""

from __future__ import annotations

import os
import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ptyterm import ROOT, Term, gradtui_argv
from rich.cells import cell_len, get_character_cell_size, set_cell_size
from rich.style import Style

from gradtui.tui.terminal import CellDiff

ESC_TOKEN = re.compile(
    r"\x1b\[([0-9;:?<>=]*)([ -/]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-Z\\^-~]"
    r"|[\x00-\x1a\x1c-\x1f]|[^\x00-\x1f]"
)  # (an escape sequence not yet whole matches nothing: it waits for the next feed)


class Emulator:
    """A terminal, independent of CellDiff: cursor moves, erase, text with wide characters, and SGR read for what it
    means (bold, dim, italic, underline, reverse, foreground, background)."""

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.blank = (" ", ())
        self.cells = [[self.blank] * cols for _ in range(rows)]
        self.x = self.y = 0
        self.attrs: dict[str, object] = {}
        self.tail = ""

    def feed(self, data: str) -> None:
        data, self.tail = self.tail + data, ""
        pos = 0
        while pos < len(data):
            m = ESC_TOKEN.match(data, pos)
            if m is None:
                self.tail = data[pos:]
                return
            tok, pos = m.group(0), m.end()
            if m.group(3) is not None:
                self.csi(m.group(1), m.group(3))
            elif tok == "\n":
                self.x, self.y = 0, self.y + 1
                if self.y == self.rows:
                    self.cells = self.cells[1:] + [[self.blank] * self.cols]
                    self.y -= 1
            elif tok == "\r":
                self.x = 0
            elif tok[0] not in "\x1b" and tok >= " ":
                self.put(tok)

    def style(self) -> tuple:
        return tuple(sorted(self.attrs.items()))

    def put(self, ch: str) -> None:
        w = get_character_cell_size(ch)
        if w == 0:
            if self.x > 0:
                c, s = self.cells[self.y][self.x - 1]
                self.cells[self.y][self.x - 1] = (c + ch, s)
            return
        if self.x + w > self.cols:
            return
        row, x = self.cells[self.y], self.x
        if row[x][0] == "" and x > 0:  # over the right half of a wide character: its left half is blanked
            row[x - 1] = self.blank
        if x + w < self.cols and row[x + w][0] == "":  # over a left half: its right half is blanked
            row[x + w] = self.blank
        self.cells[self.y][self.x] = (ch, self.style())
        if w == 2:
            self.cells[self.y][self.x + 1] = ("", self.style())
        self.x += w

    def csi(self, params: str, final: str) -> None:
        nums = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []
        if final in "Hf":
            self.y = min(max(nums[0] if nums else 1, 1), self.rows) - 1
            self.x = min(max(nums[1] if len(nums) > 1 else 1, 1), self.cols) - 1
        elif final == "m":
            self.sgr(nums or [0])
        elif final == "J" and params in ("2", "3") or final in "hl" and params == "?1049":
            self.cells = [[self.blank] * self.cols for _ in range(self.rows)]

    def sgr(self, nums: list[int]) -> None:
        i = 0
        names = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 7: "reverse"}
        while i < len(nums):
            n = nums[i]
            if n == 0:
                self.attrs = {}
            elif n in names:
                self.attrs[names[n]] = True
            elif n == 22:
                self.attrs.pop("bold", None)
                self.attrs.pop("dim", None)
            elif 30 <= n <= 37 or 90 <= n <= 97:
                self.attrs["fg"] = n
            elif 40 <= n <= 47 or 100 <= n <= 107:
                self.attrs["bg"] = n
            elif n in (38, 48):
                key = "fg" if n == 38 else "bg"
                if nums[i + 1 : i + 2] == [5]:
                    self.attrs[key] = (5, nums[i + 2])
                    i += 2
                else:
                    self.attrs[key] = (2, *nums[i + 2 : i + 5])
                    i += 4
            elif n == 39:
                self.attrs.pop("fg", None)
            elif n == 49:
                self.attrs.pop("bg", None)
            i += 1

    def text(self) -> list[str]:
        return ["".join(c for c, _ in row) for row in self.cells]


STYLES = [
    Style(),
    Style(bold=True),
    Style(color="red"),
    Style(color="color(231)", bgcolor="color(236)"),
    Style(color="#ff8800", bold=True, underline=True),
    Style(bgcolor="blue", dim=True),
    Style(reverse=True, italic=True),
]
WORDS = st.text("ab ·█▇▁▂漢é│─", min_size=1, max_size=12)
COLS, ROWS = 30, 6


@st.composite
def frame(draw) -> str:
    """A frame as Textual writes one: for some lines, a cursor move and styled segments, lines joined by newlines;
    now and then a mode, a title or an erase in between; never past the right edge (Textual does not write there,
    and terminals differ in what they do)."""
    out = []
    for _ in range(draw(st.integers(1, 5))):
        y, x = draw(st.integers(1, ROWS)), draw(st.integers(1, COLS))
        out.append(f"\x1b[{y};{x}H")
        room = COLS - x + 1
        for _ in range(draw(st.integers(1, 4))):
            style, text = draw(st.sampled_from(STYLES)), draw(WORDS)
            text = set_cell_size(text, min(cell_len(text), room)).rstrip("\u200b") if room > 0 else ""
            room -= cell_len(text)
            if text:
                out.append(style.render(text, color_system="truecolor") if style else text)
        extra = draw(st.sampled_from(["", "", "", "\n", "\x1b[?25l", "\x1b]0;title\x07", "\x1b[2J", "\x1b[?1049h"]))
        out.append(extra)
    out.append(f"\x1b[{draw(st.integers(1, ROWS))};1H")
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(frame(), min_size=1, max_size=8), st.data())
def test_the_terminal_shows_the_same_cells(frames, data):
    raw, sent = Emulator(COLS, ROWS), Emulator(COLS, ROWS)
    diff = CellDiff(COLS, ROWS)
    for f in frames:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(f)), max_size=3)))  # writes cut anywhere
        pieces = [f[a:b] for a, b in zip([0, *cuts], [*cuts, len(f)])]
        for piece in ["\x1b[?2026h", *pieces, "\x1b[?2026l"]:
            raw.feed(piece)
            sent.feed(diff.feed(piece))
        assert sent.cells == raw.cells


def test_an_unchanged_frame_sends_nothing_and_a_changed_digit_one_cell():
    diff = CellDiff(40, 2)
    line = "\x1b[1;1H" + Style(bold=True).render(" step 12,340 ") + " 1,980 steps/s"
    first = diff.feed(line)
    assert "step 12,340" in first
    assert diff.feed("\x1b[?2026h") + diff.feed(line) + diff.feed("\x1b[?2026l") == ""
    again = diff.feed(line.replace("12,340", "12,350"))
    screen = Emulator(40, 2)
    screen.feed(first + again)
    assert screen.text()[0].startswith(" step 12,350  1,980 steps/s")
    assert re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", again) == "5"  # the one character that changed


def test_text_past_the_right_edge_is_written_as_it_came_and_the_screen_forgotten():
    diff = CellDiff(10, 2)
    diff.feed("\x1b[1;1Habcdefghij")
    out = diff.feed("\x1b[2;8Hxyz漢k")
    assert "\x1b[2;8H\x1b[0mxyz漢k\x1b[0m" in out
    assert "abcdefghij" in diff.feed("\x1b[1;1Habcdefghij")  # what the screen shows is not known any more


def test_what_is_not_a_frame_goes_through_in_order():
    diff = CellDiff(20, 3)
    out = diff.feed("\x1b[?1049h\x1b[?25l\x1b]0;gradtui\x07\x1b[1;1Hab")
    assert out.index("\x1b[?1049h") < out.index("\x1b[?25l") < out.index("\x1b]0;gradtui\x07") < out.index("ab")


def test_the_checker_can_fail():
    """The emulators tell two screens apart by style alone."""
    a, b = Emulator(5, 1), Emulator(5, 1)
    a.feed("\x1b[1;1H\x1b[1mab\x1b[0m")
    b.feed("\x1b[1;1H\x1b[2mab\x1b[0m")
    assert a.text() == b.text() and a.cells != b.cells


@pytest.mark.skipif(sys.platform == "win32", reason="pty")
def test_a_real_run_of_the_dashboard_shows_the_same_screen():
    """Textual's own output for a few seconds of the dashboard at 100x30 (GRADTUI_RAW_OUTPUT=1), fed through a
    CellDiff as it came: after every frame the two terminals show the same cells, for far fewer bytes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "GRADTUI_RAW_OUTPUT": "1"}
    env.pop("COLORTERM", None)
    term = Term(gradtui_argv("--fps", "10"), env=env, cwd=ROOT, cols=100, rows=30)
    frame_end = re.compile(rb"\x1b\[\?2026l")

    def frames(n: int) -> None:  # until n more frames have come
        pos = len(term.output)
        for _ in range(n):
            pos = term.wait_for(frame_end, start=pos).end()

    try:
        term.wait_for(re.compile(re.escape(b"\x1b[?2026$p")))  # Textual asks whether frames can be synchronized:
        term.write(b"\x1b[?2026;2$y")  # yes, as xterm-class terminals answer (a frame: ESC[?2026h ... ESC[?2026l)
        term.ready()
        frames(10)
        for key in (b"l", b"a", b"d", b"]"):  # lr, activation and dataset (rebuilds), width (new rows)
            term.write(key)
            frames(12)
        term.write(b"q")
        term.wait()
    finally:
        term.close()
    raw_bytes = term.output
    raw_text = raw_bytes.decode("utf-8", "replace")
    raw, sent, diff = Emulator(100, 30), Emulator(100, 30), CellDiff(100, 30)
    frames = raw_text.split("\x1b[?2026l")
    assert len(frames) > 20
    sent_bytes = 0
    for k, f in enumerate(frames[:-1]):
        for piece in (f, "\x1b[?2026l"):
            out = diff.feed(piece)
            sent_bytes += len(out.encode())
            raw.feed(piece)
            sent.feed(out)
        assert sent.cells == raw.cells, f"frame {k}"
    assert any("step" in line for line in sent.text())
    assert sent_bytes < len(raw_bytes) / 2
