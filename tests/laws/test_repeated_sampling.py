"""The `repeated_sampling` law: coverage c(k) = c_max exp(-a k^(-b)) (Brown et al. 2024,
arXiv:2407.21787, section 4.1; the ceiling c_max after Stroebl et al. 2024, arXiv:2411.17501)."""

from __future__ import annotations

import numpy as np
import pytest
from law_checks import assert_jacobian, fit_planted, max_log_error, planted, quiet_fit

from scalinglab.laws.repeated_sampling import LAW

X = {"x": np.unique(np.round(np.geomspace(1, 10_000, 30)))}
# a weak model with a verifier that lets some wrong samples through: coverage 2% at k = 1,
# flattening towards 60%
TRUTH = {"c_max": 0.6, "a": 3.4, "b": 0.35}


def test_ceiling_one_is_the_exponentiated_power_law() -> None:
    """Brown et al.: log c = a' k^b' with a', b' < 0; here a = -a', b = -b', c_max = 1."""
    a_brown, b_brown = -2.5, -0.4
    k = np.array([1.0, 10.0, 100.0, 1e4])
    theta = LAW.to_internal({"c_max": 1.0, "a": -a_brown, "b": -b_brown})
    np.testing.assert_allclose(
        LAW.predict(theta, {"x": k})[0], np.exp(a_brown * k**b_brown), rtol=1e-13
    )


def test_flattens_at_the_ceiling() -> None:
    """Resampling cannot pass the ceiling: at k -> infinity c -> c_max, at k = 1 it is
    c_max exp(-a); each extra sample helps less."""
    theta = LAW.to_internal(TRUTH)
    c = LAW.predict(theta, {"x": np.array([1.0, 1e3, 1e6, 1e12])})[0]
    assert c[0] == pytest.approx(0.6 * np.exp(-3.4), rel=1e-13)
    assert c[-1] == pytest.approx(0.6, rel=1e-3) and np.all(np.diff(c) > 0)
    assert np.all(c < 0.6)


@pytest.mark.parametrize("seed", [0, 1])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    theta = np.column_stack(
        [rng.uniform(-2.0, 0.0, 6), rng.uniform(-2.0, 2.0, 6), rng.uniform(0.05, 1.5, 6)]
    )
    assert_jacobian(LAW, theta, {"x": np.exp(rng.uniform(0.0, np.log(1e5), 30))})


def test_recovers_planted_parameters() -> None:
    """1% multiplicative noise on 30 sample counts from 1 to 10^4: the ceiling, shortfall and
    exponent come back within a few percent, and the fitted curve within 2% everywhere."""
    r = fit_planted("repeated_sampling", TRUTH, X, sigma=0.01, seed=0)
    assert r.params["c_max"] == pytest.approx(0.6, rel=0.03)
    assert r.params["a"] == pytest.approx(3.4, rel=0.05)
    assert r.params["b"] == pytest.approx(0.35, rel=0.05)
    assert max_log_error("repeated_sampling", r, TRUTH, X) < 0.02


def test_perfect_verifier_fixed_ceiling() -> None:
    """--fix c_max=1 fits Brown et al.'s two-parameter law."""
    truth = {"c_max": 1.0, "a": 2.0, "b": 0.3}
    r = quiet_fit(planted("repeated_sampling", truth, X, 0.005, 3), "repeated_sampling",
                  fix={"c_max": 1.0}, n_boot=0)  # fmt: skip
    assert r.params["c_max"] == 1.0
    assert r.params["a"] == pytest.approx(2.0, rel=0.03)
    assert r.params["b"] == pytest.approx(0.3, rel=0.03)
