"""Work arrays reused from one training step to the next (the engine's answer to per-call allocation).

A layer keeps its buffers in a small dict, keyed by purpose; ``buffer`` hands back the one of that key when its shape
and dtype still fit (the batch size can change live: then it is replaced). What a layer returns from a buffer is
valid until that layer's next call of the same kind: callers that keep a result across calls copy it.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

__all__ = ["Buffers", "buffer", "offset_in", "ones"]

Buffers = dict[Hashable, np.ndarray]


def buffer(store: Buffers, key: Hashable, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The work array ``key`` of ``store`` with this shape and dtype (new and uninitialised if it did not fit)."""
    b = store.get(key)
    if b is None or b.shape != shape or b.dtype != dtype:
        b = store[key] = np.empty(shape, dtype)
    return b


def ones(store: Buffers, n: int, dtype: np.dtype) -> np.ndarray:
    """A reused vector of ``n`` ones: ``ones @ a`` is the column sum of ``a``, ~5x faster than sum(axis=0)."""
    key = ("ones", n)
    b = store.get(key)
    if b is None or b.dtype != dtype:
        b = store[key] = np.ones(n, dtype)
    return b


def offset_in(view: np.ndarray, base: np.ndarray) -> int:
    """Where ``view`` starts in the flat array ``base``, in elements."""
    return (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // base.itemsize
