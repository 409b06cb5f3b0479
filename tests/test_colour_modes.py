"""Colour modes (issue item 5): truecolor, 256, 16 and none all readable.

1. The real ``gradtui`` in a pseudo-terminal: under ``--color none`` and under ``NO_COLOR=1`` its byte stream holds
   no colour code at all (SGR 30-38, 40-48, 90-97, 100-107; the default colours 39 and 49 are no colour); under
   ``--color 16`` only the 16 named colours (no 256-colour or 24-bit code), and it does hold some (the scanner can
   see colour).
2. The 16-colour palette keeps the flow bars' severity order (green, yellow, red) and gives the decision boundary's
   classes distinct colours.
3. The decision boundary tells its classes apart without colour in every mode: each class's region has its own
   glyph marks, the same as without colour.
"""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest
from conftest import make_boundary, make_snapshot
from ptyterm import ROOT, Term, gradtui_argv
from rich.color import Color, ColorType

from gradtui.tui.palette import CLASS_16, CLASS_GLYPHS, MODES, palette_for
from gradtui.tui.widgets.base import PanelView
from gradtui.tui.widgets.boundary import BoundaryPanel

SGR = re.compile(rb"\x1b\[([0-9;:]*)m")
MORE = re.compile(rb"[\s\S]{2000}")


def colour_codes(output: bytes) -> dict[str, list[str]]:
    """The colour parameters of every SGR sequence in ``output``, by kind: "16" (30-37, 40-47, 90-97, 100-107),
    "256" (38;5;N / 48;5;N), "truecolor" (38;2;R;G;B / 48;2;...). 39/49 (default colour) are not colours."""
    found: dict[str, list[str]] = {"16": [], "256": [], "truecolor": []}
    for m in SGR.finditer(output):
        params = re.split(rb"[;:]", m.group(1)) if m.group(1) else [b"0"]
        i = 0
        while i < len(params):
            p = int(params[i] or b"0")
            if p in (38, 48) and i + 1 < len(params):
                kind = params[i + 1]
                if kind == b"5":
                    found["256"].append(m.group(0).decode())
                    i += 3
                    continue
                if kind == b"2":
                    found["truecolor"].append(m.group(0).decode())
                    i += 5
                    continue
            if 30 <= p <= 37 or 40 <= p <= 47 or 90 <= p <= 97 or 100 <= p <= 107:
                found["16"].append(m.group(0).decode())
            i += 1
    return found


def test_the_scanner_sees_every_kind_of_colour():
    out = b"\x1b[1;31mred\x1b[0m\x1b[38;5;208mx\x1b[48;2;1;2;3my\x1b[39;49mz\x1b[1;2;4m\x1b[m\x1b[97;104m"
    found = colour_codes(out)
    assert found["16"] == ["\x1b[1;31m", "\x1b[97;104m", "\x1b[97;104m"]
    assert found["256"] == ["\x1b[38;5;208m"] and found["truecolor"] == ["\x1b[48;2;1;2;3m"]
    assert colour_codes(b"\x1b[39;49m\x1b[1m\x1b[2;7m\x1b[0m") == {"16": [], "256": [], "truecolor": []}


def run_dashboard(*args: str, env_extra: dict[str, str] | None = None) -> bytes:
    """A few seconds of the real dashboard at 120x40, through every view and a dataset change; its raw output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", **(env_extra or {})}
    env.pop("NO_COLOR", None) if "NO_COLOR" not in (env_extra or {}) else None
    env.pop("COLORTERM", None)
    env.pop("GRADTUI_RAW_OUTPUT", None)
    term = Term(gradtui_argv("--fps", "20", "--depth", "4", "--width", "16", *args), env=env, cwd=ROOT)
    try:
        term.ready()
        # a dataset change (moons: two classes), the boundary zoomed and back, the loss chart, the doctor's fix in a
        # twin (compare mode: runs A and B); after each, until the dashboard has drawn 2 kB more
        for key in (b"d", b"6", b"6", b"5", b"5", b"x"):
            term.write(key)
            term.wait_for(MORE, start=len(term.output))
        term.write(b"q")
        assert term.wait() == 0, term.output[-400:]
    finally:
        term.close()
    return term.output


@pytest.mark.skipif(sys.platform == "win32", reason="pty")
@pytest.mark.parametrize(
    ("args", "env"), [(("--color", "none"), {}), ((), {"NO_COLOR": "1"})], ids=["--color-none", "NO_COLOR"]
)
def test_no_colour_means_no_colour_code_at_all(args, env):
    out = run_dashboard(*args, env_extra=env)
    assert b"step" in out and len(SGR.findall(out)) > 10  # it drew, with bold and reverse
    found = colour_codes(out)
    assert found == {"16": [], "256": [], "truecolor": []}, {k: sorted(set(v))[:5] for k, v in found.items()}


@pytest.mark.skipif(sys.platform == "win32", reason="pty")
def test_sixteen_colours_use_only_the_named_colours():
    found = colour_codes(run_dashboard("--color", "16"))
    assert found["16"], "no colour at all in 16-colour mode"
    assert not found["256"] and not found["truecolor"], (sorted(set(found["256"]))[:5], found["truecolor"][:5])


# ---- the palettes ---------------------------------------------------------------------------------------------------
def _rgb(name: str) -> tuple[int, int, int]:
    """A named colour as the usual xterm palette shows it (Rich's standard-colour table)."""
    c = Color.parse(name)
    assert c.type in (ColorType.STANDARD, ColorType.TRUECOLOR, ColorType.EIGHT_BIT), name
    t = c.get_truecolor()
    return (t.red, t.green, t.blue)


def _hue(rgb: tuple[int, int, int]) -> float:
    import colorsys

    return colorsys.rgb_to_hsv(*(v / 255 for v in rgb))[0] * 360


@pytest.mark.parametrize("mode", ["truecolor", "256", "16"])
def test_the_severity_order_is_green_yellow_red(mode):
    """The flow bars: a layer within 10x of the largest is good, within 1000x warn, below bad; the three colours
    run green -> yellow -> red by hue (120 > 60 > 0 degrees) in every colour mode, and are three different ones."""
    pal = palette_for(mode)
    good, warn, bad = (pal.severity(r) for r in (1.0, 1e-2, 1e-5))
    assert (good, warn, bad) == (pal.good, pal.warn, pal.bad)
    hues = [_hue(_rgb(c)) for c in (good, warn, bad)]
    assert 90 <= hues[0] <= 150 and 40 <= hues[1] <= 75 and (hues[2] <= 20 or hues[2] >= 340), hues
    assert hues[0] > hues[1] > (hues[2] if hues[2] <= 20 else hues[2] - 360)
    if mode == "16":
        assert all(Color.parse(c).type == ColorType.STANDARD for c in (good, warn, bad))


def test_sixteen_colour_classes_are_distinct():
    """The boundary's classes in 16 colours: named colours, no two the same, and the classes a dataset has (up to
    4: blobs) far apart in the usual xterm palette."""
    pal = palette_for("16")
    assert pal.classes == tuple(CLASS_16)
    assert all(Color.parse(c).type == ColorType.STANDARD for c in pal.classes)
    assert len({Color.parse(c).number for c in pal.classes}) == len(pal.classes)
    rgb = [np.array(_rgb(c), float) for c in pal.classes[:4]]
    gaps = [float(np.linalg.norm(a - b)) for i, a in enumerate(rgb) for b in rgb[i + 1 :]]
    assert min(gaps) > 100, gaps


# ---- the boundary without colour -----------------------------------------------------------------------------------
def _boundary_text(mode: str, width: int, height: int, classes: int) -> tuple[str, np.ndarray]:
    b = make_boundary(classes)
    snap = make_snapshot(boundary=b)
    panel = BoundaryPanel()
    panel.view = PanelView(snap, None, selected=0, palette=palette_for(mode))
    text = panel.draw(width, height).plain
    return text, b.classes


@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("mode", MODES)
def test_each_class_of_the_boundary_has_its_own_glyph_in_every_mode(mode, classes):
    """Strip the colour: the plain text alone still shows which region is which class. In every mode a class's
    region carries its class glyph (CLASS_GLYPHS), and no class's glyph appears in another class's region."""
    width, height = 40, 12
    text, grid = _boundary_text(mode, width, height, classes)
    lines = text.splitlines()
    gh, gw = grid.shape
    seen: dict[int, set[str]] = {}
    rows = height * 2 if palette_for(mode).blends else height
    for r, line in enumerate(lines[:height]):
        for c, ch in enumerate(line):
            k = (r * 2 if rows > height else r) * gh // rows
            cls = int(grid[min(k, gh - 1), min(c * gw // width, gw - 1)])
            if ch in CLASS_GLYPHS:
                seen.setdefault(cls, set()).add(ch)
    n = int(grid.max()) + 1
    assert n == classes and sorted(seen) == list(range(n)), (mode, seen)
    for cls, glyphs in seen.items():
        assert CLASS_GLYPHS[cls % len(CLASS_GLYPHS)] in glyphs, (mode, cls, glyphs)
        others = {CLASS_GLYPHS[k] for k in range(n) if k != cls}
        assert not (glyphs & others), (mode, cls, glyphs)
