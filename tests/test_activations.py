"""Every activation in the registry: backward against finite differences, stability, and reference values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gradtui.engine.activations import ACTIVATIONS, GELU, SELU, Activation, LeakyReLU, Swish, erf, make_activation
from gradtui.engine.gradcheck import numerical_jacobian_vector, rel_error

NAMES = sorted(ACTIVATIONS)
KINKS = (0.0, -3.0, 3.0, 6.0)  # ReLU family at 0, hard-swish at -3 and 3, ReLU6 at 6
UNITS = 4
# float64, h = 1e-6, points at least 1e-3 from any kink. Rounding leaves ~1e-9 of absolute noise (eps |f| / h with
# |f| <= 8), so entries below FLOOR are compared absolutely: in effect rtol 1e-6 with atol 1e-8.
TOL, FLOOR = 1e-6, 1e-2


def sample_z(act: Activation, n: int = 6, seed: int = 0) -> np.ndarray:
    """(n, pieces * units) float64 pre-activations spread over [-8, 8], none within 1e-3 of a kink (or of a tie)."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-8.0, 8.0, (n, act.pieces * act.units))

    def bad(z):
        near = np.zeros(z.shape, dtype=bool)
        for k in KINKS:
            near |= np.abs(z - k) < 1e-3
        if act.pieces == 2:  # maxout: the two pieces must not tie
            tie = np.abs(z[:, : act.units] - z[:, act.units :]) < 1e-3
            near |= np.concatenate([tie, tie], axis=1)
        return near

    while (mask := bad(z)).any():
        z[mask] = rng.uniform(-8.0, 8.0, mask.sum())
    return z


def build(name: str, dtype=np.float64, **kw) -> Activation:
    return make_activation(name, UNITS, np.dtype(dtype), np.random.default_rng(7), **kw)


def replay_forward(act: Activation, z: np.ndarray, train: bool, seed: int = 11):
    """forward() with the activation's generator reset first, so RReLU draws the same slopes on every call."""

    def f():
        act.rng = np.random.default_rng(seed)
        return act.forward(z, train=train)

    return f


# --- 1. backward == finite differences of forward ---------------------------------------------------------------


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_finite_differences(name, train):
    act = build(name)
    if name == "prelu":
        act.alpha[...] = np.random.default_rng(3).uniform(0.05, 0.6, UNITS)  # distinct slopes per unit
    z = sample_z(act)
    f = replay_forward(act, z, train)
    h = f()
    assert h.shape == (z.shape[0], UNITS)
    dout = np.random.default_rng(1).normal(size=h.shape)
    dz = np.array(act.backward(dout))
    assert dz.shape == z.shape
    num = numerical_jacobian_vector(f, z, dout, h=1e-6)
    assert rel_error(dz, num, FLOOR) < TOL


def test_prelu_alpha_gradient_matches_finite_differences():
    act = build("prelu")
    act.alpha[...] = np.random.default_rng(3).uniform(0.05, 0.6, UNITS)
    z = sample_z(act, n=8)
    assert (z < 0).any(axis=0).all()  # every unit has a negative input, so every dalpha is non-trivial
    dout = np.random.default_rng(1).normal(size=(z.shape[0], UNITS))
    act.forward(z, train=True)
    act.backward(dout)
    (name, value, grad), *rest = act.params()
    assert name == "alpha" and value is act.alpha and not rest
    analytic = grad.copy()
    num = numerical_jacobian_vector(lambda: act.forward(z, train=True), act.alpha, dout, h=1e-6)
    assert np.all(analytic != 0)
    assert rel_error(analytic, num, FLOOR) < TOL


def test_rrelu_train_mode_draws_slopes_in_range_and_backward_uses_them():
    act = build("rrelu")
    z = -np.random.default_rng(0).uniform(0.5, 2.0, (200, UNITS))  # all negative
    h = act.forward(z, train=True)
    a = h / z
    assert np.all((a >= 1 / 8) & (a <= 1 / 3))
    assert a.std() > 0.03  # random per element, not one slope (U[1/8, 1/3] has std 0.06)
    dh = np.random.default_rng(1).normal(size=h.shape)
    np.testing.assert_allclose(act.backward(dh), a * dh, rtol=1e-12)
    # positive inputs pass through, in both modes
    zp = np.abs(z)
    np.testing.assert_array_equal(act.forward(zp, train=True), zp)
    np.testing.assert_array_equal(act.backward(dh), dh)
    # eval: the mean slope, deterministic
    np.testing.assert_allclose(act.forward(z, train=False), z * (1 / 8 + 1 / 3) / 2, rtol=1e-12)


@pytest.mark.parametrize("name", [n for n in NAMES if ACTIVATIONS[n].pieces == 1])
def test_derivative_equals_backward_of_ones_in_eval_mode(name):
    act = build(name)
    z = sample_z(act)
    act.forward(z, train=False)
    from_backward = np.array(act.backward(np.ones((z.shape[0], UNITS))))
    np.testing.assert_allclose(act.derivative(z), from_backward, rtol=1e-15, atol=0)


def test_maxout_backward_routes_the_gradient_to_the_larger_piece():
    act = build("maxout")
    z = sample_z(act)
    h = act.forward(z)
    a, b = z[:, :UNITS], z[:, UNITS:]
    np.testing.assert_array_equal(h, np.maximum(a, b))
    dz = act.backward(np.ones_like(h))
    np.testing.assert_array_equal(dz[:, :UNITS] + dz[:, UNITS:], np.ones_like(h))
    np.testing.assert_array_equal(dz[:, :UNITS] == 1, a > b)


# --- 2. stability: huge inputs, both dtypes, no warnings --------------------------------------------------------

EXTREMES = np.array([0.0, 1e-30, 1e-3, 0.5, 1.0, 3.0, 6.0, 10.0, 20.0, 50.0, 88.0, 89.0, 100.0, 710.0, 1e3, 1e4])
EXTREMES = np.concatenate([-EXTREMES[::-1], EXTREMES])

VARIANTS = [(n, {}) for n in NAMES] + [("gelu", {"gelu_approximate": True}), ("leaky_relu", {"leaky_slope": 0.2})]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "kw"), VARIANTS, ids=[n + ("+" + "".join(kw) if kw else "") for n, kw in VARIANTS])
def test_no_warnings_and_finite_for_huge_inputs(name, kw, dtype):
    act = build(name, dtype, **kw)
    cols = act.pieces * UNITS
    z = np.stack([np.roll(EXTREMES, k) for k in range(cols)], axis=1).astype(dtype)  # maxout: pieces differ
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        warnings.simplefilter("error")
        for train in (False, True):
            h = act.forward(z, train=train)
            dz = act.backward(np.ones_like(h))
            for out in (h, dz):
                assert out.dtype == np.dtype(dtype)
                assert np.isfinite(out).all()
        d = act.derivative(z)
    assert d.dtype == np.dtype(dtype) and d.shape == h.shape
    assert np.isfinite(d).all()


# --- 3. the class attributes the measurements rely on -------------------------------------------------------------

GRID = np.linspace(-20.0, 20.0, 400_001)  # step 1e-4, includes 0 and the kinks


@pytest.mark.parametrize("name", [n for n in NAMES if ACTIVATIONS[n].pieces == 1])
def test_max_deriv_is_the_supremum_of_the_derivative(name):
    act = build(name)
    d = np.abs(act.derivative(GRID[:, None]))
    assert d.max() <= act.max_deriv * (1 + 1e-6)
    assert d.max() >= act.max_deriv * (1 - 1e-3)  # attained or approached on [-20, 20]


@pytest.mark.parametrize("name", [n for n in NAMES if ACTIVATIONS[n].pieces == 1])
def test_bounds_nonneg_and_can_die_describe_the_function(name):
    act = build(name)
    h = act.forward(GRID[:, None])
    if act.bounds is not None:
        lo, hi = act.bounds
        assert h.min() >= lo and h.max() <= hi
        assert h.min() < lo + 1e-3 and h.max() > hi - 1e-3  # the range is tight
    if act.nonneg:
        assert h.min() >= 0
    d = act.derivative(GRID[:, None])
    zero_below = d[GRID < -5].max() == 0 and d[GRID < -5].min() == 0
    assert zero_below == act.can_die  # "dead" needs f' exactly 0 on a half-line


# --- 4. reference values ------------------------------------------------------------------------------------------


def test_erf_matches_math_erf():
    xs = np.concatenate([np.linspace(-7.0, 7.0, 20_001), [-1e4, -6.0, -5.999, 5.999, 6.0, 6.001, 1e4, 0.0, -0.0]])
    ref = np.array([math.erf(x) for x in xs])
    assert np.max(np.abs(erf(xs) - ref)) < 1e-10
    x32 = xs.astype(np.float32)
    out32 = erf(x32)
    assert out32.dtype == np.float32
    assert np.max(np.abs(out32 - np.array([math.erf(float(x)) for x in x32]))) < 1e-6


def test_gelu_exact_is_z_times_phi():
    z = np.linspace(-10.0, 10.0, 4001)
    phi = np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in z])
    np.testing.assert_allclose(build("gelu").forward(z[:, None])[:, 0], z * phi, rtol=0, atol=1e-10)


def test_gelu_tanh_approximation_differs_by_about_4_7e_4():
    z = np.linspace(-10.0, 10.0, 200_001)[:, None]
    exact, approx = build("gelu"), build("gelu", gelu_approximate=True)
    assert isinstance(approx, GELU) and approx.approximate and not exact.approximate
    diff = np.abs(exact.forward(z) - approx.forward(z)).max()
    assert 4e-4 < diff < 4.75e-4
    ddiff = np.abs(exact.derivative(z) - approx.derivative(z)).max()
    assert 8e-4 < ddiff < 8.75e-4  # design.md: "its derivative by 8.7e-4"


@pytest.mark.parametrize(("cls", "argmax", "peak"), [(GELU, math.sqrt(2.0), 1.128904), (Swish, 2.39936, 1.099839)])
def test_peak_derivative_reference_values(cls, argmax, peak):
    assert cls.max_deriv == pytest.approx(peak, abs=1e-6)
    z = np.linspace(0.0, 4.0, 400_001)[:, None]
    d = cls(1, np.float64).derivative(z)[:, 0]
    assert d.max() == pytest.approx(peak, abs=1e-6)
    assert z[d.argmax(), 0] == pytest.approx(argmax, abs=1e-3)


def test_selu_constants_are_self_normalising():
    """lambda and alpha are defined by: z ~ N(0, 1) gives f(z) mean 0 and variance 1 (Klambauer et al. 2017)."""
    assert SELU.lam == pytest.approx(1.0507009873554805, rel=1e-15)
    assert SELU.alpha == pytest.approx(1.6732632423543772, rel=1e-15)
    z = np.linspace(-12.0, 12.0, 2_400_001)
    w = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) * (z[1] - z[0])
    h = build("selu").forward(z[:, None])[:, 0]
    assert abs(np.sum(w * h)) < 1e-7
    assert np.sum(w * h * h) == pytest.approx(1.0, abs=1e-7)
    assert SELU.max_deriv == pytest.approx(SELU.lam * SELU.alpha)


def test_leaky_slope_is_configurable():
    act = build("leaky_relu", leaky_slope=0.2)
    assert isinstance(act, LeakyReLU)
    np.testing.assert_allclose(act.forward(np.array([[-2.0, 3.0]])), [[-0.4, 3.0]])
    np.testing.assert_allclose(act.derivative(np.array([[-2.0, 3.0]])), [[0.2, 1.0]])
