"""Panel 6, decision boundary: the predicted class over the input plane (half-blocks: two grid rows per text row),
paler where the model is unsure, with the training points; for the 1-D sine data, the fitted curve over the data."""

from __future__ import annotations

import functools
import math

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text

from ..fmt import CLASS_COLORS, CLASS_GLYPHS, append_runs
from .base import Panel


def _blend(hex_color: str, conf: float, n_classes: int) -> str:
    """Fade a class colour towards the background as confidence drops to chance level (in 10 steps, so that
    neighbouring cells share styles and Rich can send them as one run)."""
    return _blend_q(hex_color, round(conf * 10) / 10, n_classes)


@functools.lru_cache(maxsize=512)
def _blend_q(hex_color: str, conf: float, n_classes: int) -> str:
    chance = 1.0 / max(n_classes, 2)
    t = min(1.0, max(0.0, (conf - chance) / (1 - chance)))
    r, g, b = Color.parse(hex_color).get_truecolor()
    k = 0.25 + 0.75 * t
    return f"#{int(r * k):02x}{int(g * k):02x}{int(b * k):02x}"


class BoundaryPanel(Panel):
    TITLE = "Decision boundary"
    HELP = "Predicted class over the input plane; paler = less sure; dots = training points."

    def data_key(self):
        b = self.snap.boundary if self.snap else None
        return (None if b is None else (b.step, b.extent), self.snap.config if self.snap else None, self.app.no_color)

    def draw(self, width: int, height: int) -> Text:
        s = self.snap
        assert s is not None
        b = s.boundary
        if b is None:
            return Text("no 2-D inputs to draw (this dataset has more than two)", style="dim")
        if b.classes is None:
            return self._curve(b, width, height)
        return self._plane(b, width, height)

    def _plane(self, b, width: int, height: int) -> Text:
        gh, gw = b.classes.shape
        rows = height * 2
        ys = (np.arange(rows) * gh // rows).clip(0, gh - 1)
        xs = (np.arange(width) * gw // width).clip(0, gw - 1)
        cls = b.classes[np.ix_(ys, xs)]
        conf = b.confidence[np.ix_(ys, xs)]
        n_classes = int(max(b.classes.max(), b.labels.max() if b.labels is not None else 0)) + 1
        # training points onto the cell grid
        pts = {}
        if b.points is not None:
            x0, x1, y0, y1 = b.extent
            for (px, py), lab in zip(b.points, b.labels):
                c = int((px - x0) / (x1 - x0) * width)
                r = int((y1 - py) / (y1 - y0) * height)
                if 0 <= c < width and 0 <= r < height:
                    pts[(r, c)] = int(lab)
        out = Text(no_wrap=True, overflow="crop")
        no_color = self.app.no_color
        for r in range(height):
            if r:
                out.append("\n")
            append_runs(out, (self._cell(r, c, cls, conf, pts, n_classes, no_color) for c in range(width)))
        return out

    @staticmethod
    def _cell(r, c, cls, conf, pts, n_classes: int, no_color: bool) -> tuple[str, Style]:
        """One text cell: a training point, or two grid rows as a half block (top: foreground, bottom: background)."""
        if (r, c) in pts:
            lab = pts[(r, c)]
            pred = int(cls[2 * r, c])
            if no_color:
                return "o+x*#@%&=$"[lab % 10], Style(bold=True)
            # the point in its class's colour on the region's own colour; on a region of its own class (correctly
            # placed) a dark dot, so that it still shows
            region = _blend(CLASS_COLORS[pred % 10], float(conf[2 * r, c]), n_classes)
            dot = "#111111" if lab == pred else CLASS_COLORS[lab % 10]
            return "•", Style(color=dot, bold=True, bgcolor=region)
        top, bot = int(cls[2 * r, c]), int(cls[2 * r + 1, c])
        if no_color:
            return CLASS_GLYPHS[top % 10], Style()
        return "▀", Style(
            color=_blend(CLASS_COLORS[top % 10], float(conf[2 * r, c]), n_classes),
            bgcolor=_blend(CLASS_COLORS[bot % 10], float(conf[2 * r + 1, c]), n_classes),
        )

    def _curve(self, b, width: int, height: int) -> Text:
        x0, x1, y0, y1 = b.extent
        if not (math.isfinite(y0) and math.isfinite(y1)) or y1 <= y0:
            y0, y1 = -1.5, 1.5
        grid = [[" "] * width for _ in range(height)]
        styles = [[""] * width for _ in range(height)]

        def put(x: float, y: float, ch: str, style: str) -> None:
            if not (math.isfinite(x) and math.isfinite(y)):
                return
            c = int((x - x0) / (x1 - x0) * (width - 1))
            r = int((y1 - y) / (y1 - y0) * (height - 1))
            if 0 <= c < width and 0 <= r < height:
                grid[r][c], styles[r][c] = ch, style

        if b.points is not None:
            for (px,), py in zip(b.points, b.labels):
                put(px, py, "·", "dim")
        for x, y in zip(b.curve_x, b.curve_y):
            put(x, y, "█", "bold cyan")
        out = Text(no_wrap=True, overflow="crop")
        for r in range(height):
            if r:
                out.append("\n")
            for c in range(width):
                out.append(grid[r][c], style=styles[r][c])
        return out
