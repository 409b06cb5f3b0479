"""Panel 6, decision boundary: the predicted class over the input plane, with the training points; for the 1-D
sine data, the fitted curve over the data.

Each class has its own glyph (``CLASS_GLYPHS``), so that the classes differ without colour in every mode. Without
colour every cell is its class's glyph. With 16 colours (no blending) too, in the class's named colour: dim where
the network is unsure, bold where it is sure. With truecolor or 256 colours, half-blocks draw two grid rows per text
row and a class's colour fades towards the background as the confidence drops; every fourth cell of every other
row (staggered) inside one class's region carries the class's glyph, in a darker shade of the region's colour."""

from __future__ import annotations

import functools
import math

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text

from ...fmt import num
from ..draw import append_runs, fit
from ..palette import CLASS_GLYPHS, POINT_GLYPHS, Palette
from .base import Panel

MARK_EVERY = 4  # truecolor / 256: a class glyph every 4th column, on every other row


def is_mark(r: int, c: int) -> bool:
    """Does text cell (row, column) of a blended boundary carry its class's glyph (a staggered lattice)?"""
    return r % 2 == 0 and (c + (r // 2) * (MARK_EVERY // 2)) % MARK_EVERY == 0


@functools.lru_cache(maxsize=1024)
def _blend(hex_color: str, conf: float, n_classes: int) -> str:
    """Fade a class colour towards the background as confidence drops to chance level."""
    chance = 1.0 / max(n_classes, 2)
    t = min(1.0, max(0.0, (conf - chance) / (1 - chance)))
    r, g, b = Color.parse(hex_color).get_truecolor()
    k = 0.25 + 0.75 * t
    return f"#{int(r * k):02x}{int(g * k):02x}{int(b * k):02x}"


@functools.lru_cache(maxsize=1024)
def _darker(hex_color: str) -> str:
    """The mark's colour: the region's, darker (it stays that class's hue and shows on it)."""
    r, g, b = Color.parse(hex_color).get_truecolor()
    return f"#{int(r * 0.45):02x}{int(g * 0.45):02x}{int(b * 0.45):02x}"


@functools.lru_cache(maxsize=4096)
def _style(
    color: str | None = None,
    bgcolor: str | None = None,
    bold: bool | None = None,
    dim: bool | None = None,
    reverse: bool | None = None,
) -> Style:
    """One Style object per look (a panel of 56 x 11 cells has a few dozen): no Style built per cell, and runs of
    equal cells compare by identity first."""
    return Style(color=color, bgcolor=bgcolor, bold=bold, dim=dim, reverse=reverse)


def _blend_grid(cls: np.ndarray, conf: np.ndarray, n_classes: int, colors) -> list[list[str]]:
    """``_blend`` of every cell of a grid at once: the colour of each cell's class (``colors[class % 10]``) faded
    by its confidence, as "#rrggbb" (float64 arithmetic in the same order: the same digits as ``_blend``)."""
    chance = 1.0 / max(n_classes, 2)
    rgb = np.array([Color.parse(c).get_truecolor() for c in colors[:10]], dtype=np.float64)[cls % 10]
    with np.errstate(invalid="ignore"):
        t = (conf.astype(np.float64) - chance) / (1 - chance)
        t = np.where(t > 0.0, t, 0.0)  # max(0.0, t): 0 for NaN too
        t = np.where(t < 1.0, t, 1.0)
    k = 0.25 + 0.75 * t
    v = (rgb * k[..., None]).astype(np.int64)
    packed = (v[..., 0] << 16) | (v[..., 1] << 8) | v[..., 2]
    names = {int(u): f"#{int(u):06x}" for u in np.unique(packed)}
    return [[names[u] for u in row] for row in packed.tolist()]


def _points_at(b, width: int, height: int) -> dict[tuple[int, int], int]:
    """The training points' text cells (row, column) -> label, over a width x height plane (the last point of a
    cell wins); points off the plane or off any scale (NaN, or 1e308 away: the difference overflows) are left out."""
    if b.points is None or b.labels is None or not len(b.points):
        return {}
    x0, x1, y0, y1 = b.extent
    pts = np.asarray(b.points)
    labels = np.asarray(b.labels)
    with np.errstate(all="ignore"):
        fc = (pts[:, 0] - x0) / (x1 - x0) * width
        fr = (y1 - pts[:, 1]) / (y1 - y0) * height
    # int() truncates towards 0: a column in (-1, 0) is column 0
    keep = np.isfinite(fc) & np.isfinite(fr) & np.isfinite(labels)
    keep &= (fc > -1) & (fc < width) & (fr > -1) & (fr < height)
    cols = fc[keep].astype(np.int64).tolist()
    rows = fr[keep].astype(np.int64).tolist()
    return dict(zip(zip(rows, cols), labels[keep].astype(np.int64).tolist()))


class BoundaryPanel(Panel):
    TITLES = ("Decision boundary", "Boundary")
    HELP = "Predicted class over the input plane, a glyph per class (· ░ ▒ …); paler = less sure; bold = data points."
    MAX_HZ = 2.0

    def data_key(self):
        s = self.snap
        b = s.boundary if s is not None else None
        return (None if b is None else (b.step, id(b)), s.build_step if s else None)

    def title_note(self) -> str:
        s = self.snap
        if s is None or s.boundary is None or not s.stale(s.boundary.step):
            return ""
        return f"from step {s.boundary.step:,}"

    def draw(self, width: int, height: int) -> Text:
        v = self.view
        assert v is not None
        b = v.snap.boundary
        if b is None:
            if v.snap.config is not None and v.snap.config.dataset == "digits":
                msg = "no 2-D inputs to draw (digits has 64)"
            elif v.snap.axis == "layer" and v.snap.config is not None:
                msg = "drawing the boundary…"
            else:
                msg = "no input plane for this model"
            return fit([(msg, "dim", 0)], width)
        if b.classes is None or b.confidence is None:
            return self._curve(b, width, height, v.palette)
        return self._plane(b, width, height, v.palette)

    def _plane(self, b, width: int, height: int, pal: Palette) -> Text:
        gh, gw = b.classes.shape
        half = pal.blends  # two grid rows per text row
        rows = height * 2 if half else height
        ys = (np.arange(rows) * gh // rows).clip(0, gh - 1)
        xs = (np.arange(width) * gw // width).clip(0, gw - 1)
        cls = b.classes[np.ix_(ys, xs)]
        conf = b.confidence[np.ix_(ys, xs)]
        n_classes = (
            int(max(int(b.classes.max()), int(b.labels.max()) if b.labels is not None and len(b.labels) else 0)) + 1
        )
        pts = _points_at(b, width, height)
        out = Text(no_wrap=True, overflow="crop")
        if pal.blends:
            self._blended(out, cls, conf, pts, n_classes, pal, width, height)
            return out
        for r in range(height):
            if r:
                out.append("\n")
            append_runs(out, (self._cell(r, c, cls, conf, pts, n_classes, pal) for c in range(width)))
        return out

    @staticmethod
    def _blended(out: Text, cls, conf, pts, n_classes: int, pal: Palette, width: int, height: int) -> None:
        """Half-blocks, two grid rows a text row, as ``_cell`` draws them (the same cells, the same styles), with the
        colours of the whole grid computed at once (a 56 x 22 grid: 1,232 blends)."""
        hexes = _blend_grid(cls, conf, n_classes, pal.classes)
        classes = cls.tolist()
        glyphs = CLASS_GLYPHS
        for r in range(height):
            if r:
                out.append("\n")
            top, bot = classes[2 * r], classes[2 * r + 1]
            upper, lower = hexes[2 * r], hexes[2 * r + 1]
            cells: list[tuple[str, Style]] = []
            for c in range(width):
                lab = pts.get((r, c))
                if lab is not None:
                    dot = "#111111" if lab == top[c] else pal.classes[lab % 10]
                    cells.append(("•", _style(dot, upper[c], bold=True)))
                elif top[c] == bot[c] and is_mark(r, c):
                    cells.append((glyphs[top[c] % len(glyphs)], _style(_darker(upper[c]), upper[c])))
                else:
                    cells.append(("▀", _style(upper[c], lower[c])))
            append_runs(out, cells)

    @staticmethod
    def _cell(r, c, cls, conf, pts, n_classes: int, pal: Palette) -> tuple[str, Style]:
        k = 2 * r if pal.blends else r
        if (r, c) in pts:
            lab = pts[(r, c)]
            pred = int(cls[k, c])
            if not pal.color:
                return POINT_GLYPHS[lab % 10], _style(bold=True)
            if pal.blends:
                # the point in its class's colour on the region's own colour; on a region of its own class (where
                # it belongs) a dark dot, so that it still shows
                region = _blend(pal.classes[pred % 10], float(conf[k, c]), n_classes)
                dot = "#111111" if lab == pred else pal.classes[lab % 10]
                return "•", _style(dot, region, bold=True)
            return POINT_GLYPHS[lab % 10], _style(pal.classes[lab % 10], bold=True, reverse=lab != pred)
        top = int(cls[k, c])
        glyph = CLASS_GLYPHS[top % len(CLASS_GLYPHS)]
        if not pal.color:
            return glyph, _style()
        if not pal.blends:
            chance = 1.0 / max(n_classes, 2)
            t = min(1.0, max(0.0, (float(conf[k, c]) - chance) / (1 - chance)))
            return glyph, _style(pal.classes[top % 10], dim=t < 1 / 3, bold=t > 2 / 3)
        bot = int(cls[k + 1, c])
        upper = _blend(pal.classes[top % 10], float(conf[k, c]), n_classes)
        lower = _blend(pal.classes[bot % 10], float(conf[k + 1, c]), n_classes)
        if top == bot and is_mark(r, c):
            return glyph, _style(_darker(upper), upper)
        return "▀", _style(upper, lower)

    def _curve(self, b, width: int, height: int, pal: Palette) -> Text:
        x0, x1, y0, y1 = b.extent
        if not (math.isfinite(y0) and math.isfinite(y1)) or y1 <= y0:
            y0, y1 = -1.5, 1.5
        plot_h = max(1, height - 1)
        grid = [[" "] * width for _ in range(plot_h)]
        styles: list[list[str | Style]] = [[""] * width for _ in range(plot_h)]

        def put(x: float, y: float, ch: str, style: str | Style) -> None:
            fc = (x - x0) / (x1 - x0) * (width - 1)
            fr = (y1 - y) / (y1 - y0) * (plot_h - 1) if plot_h > 1 else 0.0
            if not (math.isfinite(fc) and math.isfinite(fr)):  # NaN, or so far off that the difference overflows
                return
            c, r = int(fc), int(fr)
            if 0 <= c < width and 0 <= r < plot_h:
                grid[r][c], styles[r][c] = ch, style

        if b.points is not None and b.labels is not None:
            for p, t in zip(b.points, np.ravel(b.labels)):
                put(float(np.ravel(p)[0]), float(t), "·", "dim")
        if b.curve_x is not None and b.curve_y is not None:
            for x, y in zip(b.curve_x, b.curve_y):
                put(float(x), float(y), "█", pal.style("accent", bold=True))
        out = Text(no_wrap=True, overflow="crop")
        for r in range(plot_h):
            if r:
                out.append("\n")
            append_runs(out, zip(grid[r], styles[r]))
        out.append("\n")
        out.append_text(fit([("█ the model's curve", pal.style("accent"), 0), ("  · training data", "dim", 1),
                             (f"   y {num(y0, 2)} … {num(y1, 2)}", "dim", 2)], width))  # fmt: skip
        return out
