"""The `batch_opt` law (Li et al. 2025, Step Law): B*(D) = d D^e."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from law_checks import (
    SETTINGS,
    assert_coverage,
    assert_fit_refuses,
    assert_jacobian,
    fit_planted,
    uniform_theta,
)

from scalinglab.errors import FitError
from scalinglab.laws.batch_opt import LAW

X = {"D": np.repeat(np.geomspace(1e9, 1e11, 6), 4)}  # 6 data sizes x 4 model sizes
SIGMA = 0.15  # a sweep's optimum batch sits on a grid of powers of 2: ~15% log scatter


def test_published_step_law_values() -> None:
    """Li et al. 2025: B(D) = 0.58 D^0.571 tokens, computed plainly."""
    p = LAW.published["li2025"]
    assert (p["d"], p["e"]) == (0.58, 0.571)
    D = np.array([1e9, 1e11, 1e12])
    B = LAW.predict(LAW.to_internal(p), {"D": D})[0]
    np.testing.assert_allclose(B, 0.58 * D**0.571, rtol=1e-12)
    # 100B tokens -> 0.58 * 10^6.281 = 0.58 * 1.9099e6 = 1.1077e6 tokens per step (by hand)
    assert B[1] == pytest.approx(1.1077e6, rel=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    Xr = {"D": np.exp(rng.uniform(np.log(1e8), np.log(1e13), 30))}
    theta = uniform_theta(rng, [(-3, 3), (0.2, 0.8)])
    assert_jacobian(LAW, theta, Xr)


@SETTINGS
@given(e=st.floats(0.3, 0.8), ld=st.floats(-3.0, 1.0), seed=st.integers(0, 10_000))
def test_planted_parameters_are_recovered(e: float, ld: float, seed: int) -> None:
    """24 runs at 15% scatter over two decades of D: e's 95% bootstrap interval measures
    ~+-0.033; 0.1 is three half-widths."""
    truth = {"d": float(np.exp(ld)), "e": e}
    r = fit_planted("batch_opt", truth, X, SIGMA, seed)
    assert abs(r.params["e"] - e) < 0.1, r.params


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    assert_coverage("batch_opt", LAW.published["li2025"], X, SIGMA)


def test_missing_column_is_named() -> None:
    frame = pd.DataFrame({"tokens": [1e10, 1e11], "y": [1e5, 4e5]})
    assert_fit_refuses(frame, "batch_opt", FitError, r"law 'batch_opt' needs column 'D'")
