"""The regions a panel refreshes (gradtui/tui/damage.py): copying the refreshed cells of the new drawing onto the
old one must give the new drawing, cell for cell as Rich renders them, and a line that looks the same is not sent."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.style import Style
from rich.text import Text

from gradtui.tui.damage import changed_regions, changed_spans, line_keys

WIDTH = 24
STYLES = [Style(), Style(bold=True), Style(color="red"), Style(bgcolor="blue"), Style(color="red", bold=True)]
CHARS = "ab █▇·漢"  # a wide character among them


def cells(text: Text, width: int = WIDTH) -> list[list[tuple[str, Style]]]:
    """What the terminal shows, per cell, as Rich renders it (a wide character and then a blank half)."""
    console = Console(width=width, color_system="truecolor", legacy_windows=False, force_terminal=True)
    out = []
    for line in console.render_lines(text, console.options.update_width(width), pad=True):
        row: list[tuple[str, Style]] = []
        for seg in line:
            for ch in seg.text:
                row.append((ch, seg.style or Style()))
                if console.measure(Text(ch)).maximum == 2:
                    row.append(("", seg.style or Style()))
        out.append((row + [(" ", Style())] * width)[:width])
    return out


@st.composite
def lines(draw) -> Text:
    t = Text(no_wrap=True, overflow="crop")
    for _ in range(draw(st.integers(0, 8))):
        t.append(draw(st.text(CHARS, min_size=1, max_size=6)), style=draw(st.sampled_from(STYLES)))
    return t


def drawing(rows: list[Text]) -> Text:
    return Text("\n", no_wrap=True, overflow="crop").join(rows)


@settings(max_examples=300, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=4), st.data())
def test_refreshing_the_regions_shows_the_new_drawing(old_rows, data):
    new_rows = [data.draw(lines()) if data.draw(st.booleans()) else r for r in old_rows]
    old, new = drawing(old_rows), drawing(new_rows)
    height = len(old_rows)
    screen = cells(old)
    want = cells(new)
    for r in changed_regions(line_keys(old), line_keys(new), WIDTH, height):
        assert r.height == 1 and 0 <= r.x < r.right <= WIDTH
        screen[r.y][r.x : r.right] = want[r.y][r.x : r.right]
    assert screen == want


@settings(max_examples=200, deadline=None)
@given(lines(), lines())
def test_a_span_starts_and_ends_on_a_changed_cell(a, b):
    """No cell is sent for nothing at either end of a run (cells between two changes may be; and the last cell, where
    a wide character was cropped at the edge)."""
    before, after = cells(a)[0], cells(b)[0]
    for x0, x1 in changed_spans(line_keys(a)[0], line_keys(b)[0], WIDTH):
        assert before[x0] != after[x0] or before[x0][0] == "" or after[x0][0] == ""
        last = x1 - 1
        assert x1 == WIDTH or before[last] != after[last] or before[last][0] == "" or after[last][0] == ""


def test_a_line_that_looks_the_same_is_not_sent():
    one = Text("step 1,230 ", style="")
    one.append("steps/s", style="dim")
    same = Text("step 1,230 ")
    same.append("steps/s", style="dim")
    assert changed_spans(line_keys(one)[0], line_keys(same)[0], 40) == []
    trailing = Text("step 1,230 steps/s   ")  # blanks past the end look like no character
    assert changed_spans(line_keys(Text("step 1,230 steps/s"))[0], line_keys(trailing)[0], 40) == []


def test_a_changed_digit_sends_only_its_cells():
    old, new = Text(" step 12,340  1,980 steps/s"), Text(" step 12,350  1,980 steps/s")
    assert changed_spans(line_keys(old)[0], line_keys(new)[0], 40) == [(10, 11)]
    recoloured = Text(" step 12,340  1,980 steps/s")
    recoloured.stylize("red", 6, 12)
    assert changed_spans(line_keys(old)[0], line_keys(recoloured)[0], 40) == [(6, 12)]


def test_a_new_or_vanished_line_is_sent_whole():
    assert changed_spans(None, line_keys(Text("x"))[0], 30) == [(0, 30)]
    assert changed_spans(line_keys(Text("x"))[0], None, 30) == [(0, 30)]
    assert changed_spans(None, None, 30) == []


def test_the_checker_can_fail():
    """The property test's own check catches a diff that misses a changed cell."""
    old, new = drawing([Text("abc")]), drawing([Text("abd")])
    screen, want = cells(old), cells(new)
    (r,) = changed_regions(line_keys(old), line_keys(new), WIDTH, 1)
    screen[0][r.x : r.right - 1] = want[0][r.x : r.right - 1]  # one cell short
    assert screen != want
