"""The number of BLAS threads, chosen by matrix size (design.md section 3).

OpenBLAS workers spin-wait: below width ~128 a second thread gains nothing and keeps a second core busy (the one
the UI needs); from width 128 two threads pay off (+35-60% measured). So: one thread below 128, else two (or the
number of CPUs, if fewer). Done at run time with threadpoolctl, once NumPy has loaded its BLAS.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

__all__ = ["blas_threads_for", "set_blas_threads"]

WIDE = 128

_controller: Any = None  # threadpoolctl's ThreadpoolController: finding the loaded libraries is done once
_limiter: Any = None  # the limits in force (kept so that they could be restored)
_last: int | None = None


def blas_threads_for(width: int) -> int:
    return 1 if width < WIDE else min(2, os.cpu_count() or 1)


def set_blas_threads(width: int) -> int | None:
    """Limit BLAS to the thread count for ``width``. Returns that count, or None if threadpoolctl failed (no-op).

    Repeated calls with the same count do nothing.
    """
    global _controller, _limiter, _last
    n = blas_threads_for(width)
    if n == _last:
        return n
    try:
        with warnings.catch_warnings():  # threadpoolctl warns about some OpenMP mixes: not the user's business
            warnings.simplefilter("ignore")
            if _controller is None:
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
            _limiter = _controller.limit(limits=n, user_api="blas")
    except Exception:  # threadpoolctl missing or unable to read a library: keep the default threads
        return None
    _last = n
    return n
