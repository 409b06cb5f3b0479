"""How gradtui writes numbers and foreign text, everywhere: the dashboard's panels, its alerts, the headless table.

One quantity has one spelling on every screen: ``sci(3e-7)`` is ``3.0e-7`` in the flow panel, in the alerts line and
in ``gradtui run``'s table; a learning rate of 3e-7 is ``setting(3e-7)`` = ``3e-7`` in the header, the status line
and the alert that names it. No other module formats a number with ``:g``, ``:.Ne`` or ``%g`` (a test scans for
them). Pure Python (no NumPy, no Rich), so that the command line can use it before either loads.

- ``sci``: magnitudes (gradients, signals, update ratios): ``3.0e-7``, ``1.2e4``, an exact zero ``0``,
- ``num``: ordinary values (loss, mean, std): ``0.123``, ``12.3``, ``1.23e4``,
- ``pct``: fractions as percentages: ``83%``, ``4.1%``, ``0.4%``, ``<0.1%``,
- ``count``: whole numbers with thousands separators: ``12,345``,
- ``setting``: a setting's value (lr, clip, forget bias, a tolerance, a speed) as the user would type it, exactly:
  ``3e-7``, ``0.1``, ``0.003``, ``2`` -- the fewest digits that read back as the same number, a short exponent
  below 1e-4 and from 1e6 (the rule: gradtui/engine/spelling.py, where the engine's own texts take it from),
- a missing figure (NaN, None) is ``—`` everywhere; ±infinity is ``inf`` / ``-inf``,
- ``safe_text``: text that came from a file or another process, made safe to print on a terminal.
"""

from __future__ import annotations

import math
import re

from .engine.spelling import setting

__all__ = ["MISSING", "count", "num", "pct", "safe_text", "sci", "setting", "signed_sci"]

MISSING = "—"


def _special(x: float | None) -> str | None:
    if x is None:
        return MISSING
    x = float(x)
    if math.isnan(x):
        return MISSING
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return None


def _exp(text: str) -> str:
    """Python's ``1.2e-07`` -> ``1.2e-7``, ``1.2e+04`` -> ``1.2e4``."""
    if "e" not in text:
        return text
    mantissa, exp = text.split("e")
    return f"{mantissa}e{int(exp)}"


def sci(x: float | None, digits: int = 2) -> str:
    """A magnitude in scientific notation with ``digits`` significant digits: ``3.0e-7``, ``-1.2e4``; ``0`` for an
    exact zero (a vanishing gradient of 1e-36 is not zero, and must not look like one)."""
    special = _special(x)
    if special is not None:
        return special
    assert x is not None
    if x == 0:
        return "0"
    return _exp(f"{x:.{max(1, digits) - 1}e}")


def signed_sci(x: float | None, digits: int = 2) -> str:
    """Like ``sci`` with an explicit sign for positive values: ``+1.0e-3``."""
    text = sci(x, digits)
    return "+" + text if x is not None and x > 0 and not text.startswith(("inf", MISSING)) else text


def num(x: float | None, digits: int = 3) -> str:
    """An ordinary value with ``digits`` significant digits: ``0.123``, ``12.3``, ``1.23e4``, ``1.2e-5``."""
    special = _special(x)
    if special is not None:
        return special
    assert x is not None
    if x == 0:
        return "0"
    return _exp(f"{x:.{max(1, digits)}g}")


def pct(fraction: float | None) -> str:
    """``0.834`` -> ``83%``, ``0.041`` -> ``4.1%``, ``0.004`` -> ``0.4%``, ``0.0002`` -> ``<0.1%``; 0 -> ``0%``."""
    special = _special(fraction)
    if special is not None:
        return special
    assert fraction is not None
    p = fraction * 100
    if p == 0 or abs(p) >= 9.95:
        return f"{p:.0f}%"
    if abs(p) < 0.05:
        return "<0.1%" if p > 0 else ">-0.1%"
    return f"{p:.1f}%"


def count(n: int | float | None) -> str:
    """A whole number with thousands separators: ``12,345``."""
    special = _special(n)
    if special is not None:
        return special
    assert n is not None
    return f"{int(n):,}"


# C0 and C1 control characters, DEL, the Unicode format characters that reorder or hide text (bidirectional
# marks and overrides, zero-width joiners, interlinear annotations), the line and paragraph separators, and lone
# surrogates: a recording or a module name holding them could rewrite the user's terminal
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def safe_text(text: object, limit: int = 500) -> str:
    """``text`` made safe to show: every control or format character becomes ``?`` (newlines and tabs a space),
    and it is cut to ``limit`` characters (with ``…``). For everything that comes from a file or another process:
    a recording's event texts and messages, run tags, a probe's module names."""
    s = text if isinstance(text, str) else str(text)
    if len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    if _UNSAFE.search(s):
        s = s.replace("\n", " ").replace("\t", " ").replace("\r", " ")
        s = _UNSAFE.sub("?", s)
    return s
