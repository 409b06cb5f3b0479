"""No activation's forward, backward or derivative raises on NaN or ±Inf -- a grid of the special values in every
position, train and eval, both dtypes (test_activations_nonfinite.py fuzzes the same with hypothesis): a diverging
run reaches them with such values, and divergence must be reported in words."""

from __future__ import annotations

import numpy as np
import pytest

from gradtui.engine.activations import ACTIVATIONS, erf, make_activation

UNITS = 4
VALUES = [np.nan, np.inf, -np.inf, 0.0, 1.0, -1.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_nan_and_inf_never_raise(name, train, dtype):
    act = make_activation(name, UNITS, np.dtype(dtype), np.random.default_rng(0))
    cols = act.pieces * UNITS
    rows = [[VALUES[(r + c) % len(VALUES)] for c in range(cols)] for r in range(len(VALUES))]
    rows.append([0.5 * (c - cols / 2) for c in range(cols)])  # and one row of ordinary values
    z = np.array(rows, dtype=dtype)
    with np.errstate(all="ignore"):
        h = act.forward(z, train=train)
        dz = act.backward(np.ones_like(h))
        d = act.derivative(z)
    assert h.shape == d.shape == (len(rows), UNITS) and dz.shape == z.shape
    assert h.dtype == dz.dtype == np.dtype(dtype)
    finite = np.isfinite(z).all(axis=1)  # a row without NaN or ±Inf stays finite
    assert finite.any() and np.isfinite(h[finite]).all()


def test_erf_of_nan_is_nan_and_of_inf_is_one():
    x = np.array([np.nan, np.inf, -np.inf, 0.0])
    y = erf(x)
    assert np.isnan(y[0]) and list(y[1:]) == [1.0, -1.0, 0.0]
