"""The erf behind the exact GELU, and every activation on NaN, +-Inf, huge and tiny inputs (hypothesis)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradtui.engine import activations
from gradtui.engine.activations import ACTIVATIONS, GELU, SELU, erf, make_activation

F32 = np.finfo(np.float32)


def math_erf(x: np.ndarray) -> np.ndarray:
    return np.array([math.erf(float(v)) for v in x.ravel()]).reshape(x.shape)


def float32_line() -> np.ndarray:
    """Dense where erf moves ([-8, 8], 2M points), plus magnitudes from the smallest subnormal to the largest float32,
    both signs, and the special values."""
    dense = np.linspace(-8.0, 8.0, 2_000_001)
    mags = np.logspace(-45, 38.5, 5000)
    return np.concatenate([dense, mags, -mags, [0.0, -0.0, F32.max, -F32.max, F32.tiny, -F32.tiny]]).astype(np.float32)


def test_float32_erf_is_float32_and_within_1_5e_7_of_math_erf_over_the_whole_line():
    x = float32_line()
    y = erf(x)
    assert y.dtype == np.float32
    err = np.abs(y.astype(np.float64) - math_erf(x))
    assert err.max() < 1.5e-7  # 1.2 ulp of 1.0 (rounding to float32 alone can cost 0.5 ulp)
    assert np.all(np.abs(y) <= 1)
    assert np.all(np.diff(y[:2_000_001]) >= 0)  # monotone on the dense part, as erf is


def test_float64_erf_is_within_1e_12_of_math_erf():
    x = np.concatenate([np.linspace(-7.0, 7.0, 400_001), np.logspace(-300, 300, 2000), [5.999, 6.0, 6.001, -0.0]])
    x = np.concatenate([x, -x])
    y = erf(x)
    assert y.dtype == np.float64
    assert np.max(np.abs(y - math_erf(x))) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_of_nan_and_infinities_without_warnings(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="warn", under="ignore"):
        warnings.simplefilter("error")
        y = erf(x)
    assert np.isnan(y[0]) and y[1] == 1 and y[2] == -1 and y[3] == 0


def test_float32_exact_gelu_and_its_derivative_match_the_float64_definition():
    z = np.linspace(-12.0, 12.0, 240_001).astype(np.float32)[:, None]
    g = GELU(1, np.float32)
    h = g.forward(z, train=True).astype(np.float64)[:, 0]
    d = g.backward(np.ones_like(z)).astype(np.float64)[:, 0]
    z64 = z[:, 0].astype(np.float64)
    phi_cdf = 0.5 * (1 + math_erf(z64 / math.sqrt(2)))
    assert np.max(np.abs(h - z64 * phi_cdf) / np.maximum(1, np.abs(z64))) < 3e-7
    d_ref = phi_cdf + z64 * np.exp(-z64 * z64 / 2) / math.sqrt(2 * math.pi)
    assert np.max(np.abs(d - d_ref)) < 3e-7
    np.testing.assert_array_equal(g.derivative(z).astype(np.float64)[:, 0], d)  # eval and training agree


def test_float32_tanh_form_gelu_and_its_derivative_match_the_float64_formula():
    """The tanh form is computed as a logistic sigmoid, (1 + tanh g)/2 = 1/(1 + e^-2g): the same function, other
    roundings; its derivative from 1 - p = e^-2g p, without the cancellation of 1 - tanh^2 where p is near 1."""
    z = np.linspace(-12.0, 12.0, 240_001).astype(np.float32)[:, None]
    g = GELU(1, np.float32, approximate=True)
    h = g.forward(z, train=True).astype(np.float64)[:, 0]
    d = g.backward(np.ones_like(z)).astype(np.float64)[:, 0]
    z64 = z[:, 0].astype(np.float64)
    c, k = math.sqrt(2 / math.pi), 0.044715
    t = np.tanh(c * (z64 + k * z64**3))
    assert np.max(np.abs(h - 0.5 * z64 * (1 + t)) / np.maximum(1, np.abs(z64))) < 3e-7
    d_ref = 0.5 * (1 + t) + 0.5 * z64 * (1 - t * t) * c * (1 + 3 * k * z64 * z64)
    assert np.max(np.abs(d - d_ref)) < 3e-7
    np.testing.assert_array_equal(g.derivative(z).astype(np.float64)[:, 0], d)


def ulps(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|got - ref| in units of float32's spacing at ref (ref in float64, finite and within float32's range)."""
    spacing = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref) / spacing


def exp_family_references(z64: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(f, f') of ELU, SELU and softplus in float64, from NumPy's float64 expm1, log1p and exp."""
    lam, alpha = SELU.lam, SELU.alpha
    neg = np.minimum(z64, 0.0)
    e = np.exp(-np.abs(z64))
    sigmoid = np.where(z64 >= 0, 1 / (1 + e), e / (1 + e))
    return {
        "elu": (np.where(z64 > 0, z64, np.expm1(neg)), np.where(z64 > 0, 1.0, np.exp(neg))),
        "selu": (
            lam * np.where(z64 > 0, z64, alpha * np.expm1(neg)),
            lam * np.where(z64 > 0, 1.0, alpha * np.exp(neg)),
        ),
        "softplus": (np.maximum(z64, 0) + np.log1p(e), sigmoid),
    }


@pytest.mark.parametrize("kahan", [True, False], ids=["kahan", "numpy"])
@pytest.mark.parametrize("name", ["elu", "selu", "softplus"])
def test_float32_exp_family_is_within_6_ulp_of_float64_over_the_float32_line(name, kahan, monkeypatch):
    """Without AVX-512, float32 ELU, SELU and softplus build expm1 and log1p from np.exp and np.log (NumPy vectorises
    only those two there). Kahan's trick keeps the result within a few ulp -- mostly np.log's own 3.8 -- on the whole
    float32 line, including where e^z rounds to 1, where 1 + e^-|z| does, and past the float32 range of e^z. Both
    paths are checked on every machine (the machine's own choice is ``KAHAN_FLOAT32``)."""
    monkeypatch.setattr(activations, "KAHAN_FLOAT32", kahan)
    mags = np.logspace(-45, 30, 5000)  # up to 1e30: SELU's lam z stays finite
    z = np.concatenate([np.linspace(-30.0, 30.0, 1_200_001), mags, -mags, [0.0, -0.0, F32.tiny, -F32.tiny]])
    z = z.astype(np.float32)
    z64 = z.astype(np.float64)
    h_ref, d_ref = exp_family_references(z64)[name]
    act = make_activation(name, 1, np.dtype(np.float32), np.random.default_rng(0))
    for train in (True, False):
        h = act.forward(z[:, None], train=train)[:, 0]
        d = act.backward(np.ones((len(z), 1), np.float32))[:, 0].astype(np.float64)
        assert h.dtype == np.float32
        assert ulps(h, h_ref).max() < 6, (name, train, z[np.argmax(ulps(h, h_ref))])
        if name == "softplus":  # sigmoid(z) from e^-|z|: relative accuracy on both tails, down to float32's normals
            normal = d_ref > F32.tiny
            assert np.max(np.abs(d - d_ref)[normal] / d_ref[normal]) < 5e-7
            assert np.max(np.abs(d - d_ref)[~normal]) < F32.tiny
        else:  # from h: e^z = h + 1 below 0, so the error is h's, absolute
            assert np.max(np.abs(d - d_ref)) < 2e-7 * act.max_deriv
    np.testing.assert_array_equal(act.derivative(z[:, None])[:, 0], d)  # eval and training agree


# --- every activation on non-finite and extreme inputs --------------------------------------------------------------

UNITS = 3
VARIANTS = [(n, {}) for n in sorted(ACTIVATIONS)] + [
    ("gelu", {"gelu_approximate": True}),
    ("leaky_relu", {"leaky_slope": 0.0}),
    ("leaky_relu", {"leaky_slope": 1.0}),
]


def values(dtype: type) -> st.SearchStrategy[float]:
    """NaN, +-Inf, huge (up to half the largest float, so that a slope of 1.76 stays finite), tiny, subnormal."""
    fi = np.finfo(dtype)
    special = [math.nan, math.inf, -math.inf, 0.0, -0.0, float(fi.max) / 2, -float(fi.max) / 2, float(fi.tiny)]
    special += [float(fi.smallest_subnormal), -float(fi.smallest_subnormal), 1e30, -1e30, 88.0, -88.0, 710.0, -710.0]
    width = 32 if dtype == np.float32 else 64
    half = float(fi.max) / 2
    return st.one_of(
        st.sampled_from(special),
        st.floats(-half, half, width=width),
        st.floats(-50.0, 50.0, width=width),
    )


def cases(dtype: type) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(dtype, st.tuples(st.integers(1, 6), st.just(2 * UNITS)), elements=values(dtype))


def check(name: str, kw: dict, z: np.ndarray) -> None:
    act = make_activation(name, UNITS, z.dtype, np.random.default_rng(0), **kw)
    z = z[:, : act.pieces * UNITS]
    with warnings.catch_warnings(), np.errstate(all="warn", under="ignore"):
        warnings.simplefilter("error")  # any RuntimeWarning (overflow, invalid, cast) fails the test
        outs = []
        for train in (True, False):
            h = act.forward(z, train=train).copy()
            dz = act.backward(np.ones_like(h)).copy()
            outs.append((h, dz))
        d = act.derivative(z)
    finite_in = np.isfinite(z)
    nan_in = np.isnan(z)
    if act.pieces == 2:  # maxout: a unit reads both of its pieces
        finite_in = finite_in[:, :UNITS] & finite_in[:, UNITS:]
        nan_in = nan_in[:, :UNITS] | nan_in[:, UNITS:]
    for h, dz in outs:
        assert h.dtype == z.dtype and dz.dtype == z.dtype
        assert np.isfinite(h[finite_in]).all(), (name, z[finite_in], h[finite_in])
        assert np.isnan(h[nan_in]).all(), "NaN must propagate through the forward"
        finite_z = np.isfinite(z)
        assert np.isfinite(dz[finite_z]).all()
    assert np.isfinite(d[finite_in]).all()


IDS = [n + "".join(f"+{k}={v}" for k, v in kw.items()) for n, kw in VARIANTS]


@pytest.mark.parametrize(("name", "kw"), VARIANTS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_no_raise_no_warning_nan_propagates_and_finite_stays_finite(name, kw, dtype):
    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(cases(dtype))
    def run(z):
        check(name, kw, z)

    run()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["gelu", "selu", "softplus", "swish", "maxout", "prelu", "hardswish"])
def test_a_diverging_network_is_reported_not_crashed(activation, dtype):
    """Issue 11: `gradtui run` on a diverging exact-GELU net died with an IndexError (NaN cast to a table index).
    At lr 1e3 these nets diverge or die; either way training goes on without an exception until it stops."""
    from gradtui.engine import Config, Trainer

    t = Trainer(Config(activation=activation, dtype=dtype, lr=1e3, samples=300))  # the CLI's default depth, width
    for i in range(100):
        if not t.step(measure=i % 5 == 0):
            break
    snap = t.snapshot()
    assert (snap.diverged is not None) == (t.diverged is not None)
    if activation == "gelu":
        assert t.diverged is not None  # the case of the issue


@pytest.mark.parametrize("kahan", [True, False], ids=["kahan", "numpy"])
@pytest.mark.parametrize("name", ["elu", "selu", "softplus"])
def test_both_float32_expm1_log1p_paths_survive_non_finite_inputs(name, kahan, monkeypatch):
    """The machine runs one of the two float32 paths in the test above; this runs the other one on NaN/Inf too."""
    monkeypatch.setattr(activations, "KAHAN_FLOAT32", kahan)

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(cases(np.float32))
    def run(z):
        check(name, {}, z)

    run()
