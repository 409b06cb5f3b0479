"""Initialisers: the identity (IRNN) next to the orthogonal one it is compared with."""

from __future__ import annotations

import numpy as np
import pytest

from gradtui.engine.init import INITIALISERS, init_weights, parse_init


@pytest.mark.parametrize(("fan_in", "fan_out"), [(5, 5), (3, 5), (5, 3)])
def test_identity_is_eye_and_ignores_the_generator(fan_in, fan_out):
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    np.testing.assert_array_equal(init_weights("identity", fan_in, fan_out, rng), np.eye(fan_in, fan_out))
    assert rng.bit_generator.state == state  # deterministic: draws nothing


def test_identity_takes_no_value_and_is_listed():
    assert parse_init("identity") == ("identity", None)
    with pytest.raises(ValueError, match="takes no value"):
        parse_init("identity:0.5")
    assert "identity" in INITIALISERS


def test_orthogonal_square_is_orthogonal():
    q = init_weights("orthogonal", 16, 16, np.random.default_rng(3))
    np.testing.assert_allclose(q.T @ q, np.eye(16), atol=1e-12)
