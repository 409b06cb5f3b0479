"""How a setting (a learning rate, a clip norm, a forget bias, a tolerance) is spelled, on every screen and in
every message. Pure Python, in the engine so that ``Config.summary`` and ``Change.describe`` can use it; the UI and
the command line take it from ``gradtui.fmt``, which re-exports it.

The rule, ``setting(x)``:

- the fewest significant digits that read back as the same number (``float(setting(x)) == x``; for a NumPy
  ``float32``, the same float32), so that ``--lr 3e-7`` and ``--lr 0.1234567`` come back as typed,
- no trailing zeros and no trailing point: ``2``, not ``2.0``; ``0.5``, not ``0.50``,
- positional for ``1e-4 <= |x| < 1e6`` (``0.1``, ``0.003``, ``0.0001``, ``250000``), else scientific with a short
  exponent, no ``+`` and no leading zeros (``3e-7``, ``1.5e-5``, ``1e6``): the same switch points as Python's
  ``:g``, without its rounding to 6 digits or its ``e-07``,
- a whole number (``int``) as itself; NaN or None ``—``; ±infinity ``inf`` / ``-inf``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = ["setting"]

_MISSING = "—"  # = gradtui.fmt.MISSING (a test checks it)


def _is_float32(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return getattr(dtype, "kind", "") == "f" and getattr(dtype, "itemsize", 8) == 4


def _f32(v: float) -> float:
    """``v`` rounded to float32 (inf beyond its range)."""
    try:
        return float(struct.unpack("<f", struct.pack("<f", v))[0])
    except OverflowError:
        return math.inf


def setting(x: Any) -> str:
    """A setting's value as the user would type it: ``3e-7``, ``0.1``, ``0.003``, ``2``, ``1e6`` (the rule above)."""
    if x is None:
        return _MISSING
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    v = float(x)
    if math.isnan(v):
        return _MISSING
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    sign = "-" if math.copysign(1.0, v) < 0 else ""
    a = abs(v)
    if a == 0:
        return sign + "0"
    same = (lambda t: _f32(float(t)) == a) if _is_float32(x) else (lambda t: float(t) == a)
    digits, exp = _shortest(a, same)
    if -4 <= exp < 6:
        return sign + format(Decimal(f"{digits[0]}.{digits[1:] or '0'}e{exp}").normalize(), "f")
    return sign + (digits[0] + ("." + digits[1:] if len(digits) > 1 else "")) + f"e{exp}"


def _shortest(a: float, same: Callable[[str], bool]) -> tuple[str, int]:
    """The fewest significant digits that read back as ``a`` (by ``same``), and the decimal exponent of the first:
    (``"15"``, ``-8``) for 1.5e-8. At each length the nearest spelling, or where the nearest does not read back (an
    exact tie, rounded to even the wrong way: 2**-24 is ...0625) its neighbours, the closer first."""
    for p in range(1, 18):
        mantissa, e = f"{a:.{p - 1}e}".split("e")
        m, shift = int(mantissa.replace(".", "")), int(e) - (p - 1)
        ok = [c for c in (m, m + 1, m - 1) if c > 0 and same(f"{c}e{shift}")]
        if ok:
            best = str(min(ok, key=lambda c: abs(Decimal(f"{c}e{shift}") - Decimal(a))))
            return best.rstrip("0") or "0", shift + len(best) - 1
    raise AssertionError(f"{a!r}: 17 significant digits always read back")
