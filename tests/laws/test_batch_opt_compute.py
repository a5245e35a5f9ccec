"""The `batch_opt_compute` law (DeepSeek-AI 2024, eq. 1): B*(C) = d C^e with C = M D."""

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

from scalinglab.errors import DataError, FitError
from scalinglab.laws.batch_opt_compute import LAW

X = {"C": np.geomspace(1e17, 3e20, 24)}
SIGMA = 0.1


def test_published_deepseek_values() -> None:
    """DeepSeek-AI 2024, eq. 1: B_opt = 0.2920 C^0.3271 tokens, computed plainly."""
    p = LAW.published["deepseek2024"]
    assert (p["d"], p["e"]) == (0.2920, 0.3271)
    C = np.array([1e17, 1e20, 1e23])
    B = LAW.predict(LAW.to_internal(p), {"C": C})[0]
    np.testing.assert_allclose(B, 0.2920 * C**0.3271, rtol=1e-12)
    assert B[0] == pytest.approx(0.2920 * 10 ** (17 * 0.3271), rel=1e-12)  # ~1.1e5 tokens


@pytest.mark.parametrize("seed", [0, 1])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    Xr = {"C": np.exp(rng.uniform(np.log(1e16), np.log(1e24), 30))}
    theta = uniform_theta(rng, [(-3, 3), (0.1, 0.6)])
    assert_jacobian(LAW, theta, Xr)


@SETTINGS
@given(e=st.floats(0.15, 0.5), ld=st.floats(-3.0, 1.0), seed=st.integers(0, 10_000))
def test_planted_parameters_are_recovered(e: float, ld: float, seed: int) -> None:
    """24 budgets over 3.5 decades at 10% scatter: e's 95% bootstrap interval measures ~+-0.016;
    0.05 is three half-widths."""
    truth = {"d": float(np.exp(ld)), "e": e}
    r = fit_planted("batch_opt_compute", truth, X, SIGMA, seed)
    assert abs(r.params["e"] - e) < 0.05, r.params


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    assert_coverage("batch_opt_compute", LAW.published["deepseek2024"], X, SIGMA)


def test_missing_compute_column_explains_m_times_d() -> None:
    frame = pd.DataFrame({"N": [1e8, 1e9], "D": [1e10, 1e11], "y": [1e5, 5e5]})
    assert_fit_refuses(
        frame, "batch_opt_compute", FitError, r"needs column 'C'.*not 6ND.*--map C=COLUMN"
    )


def test_compute_derived_as_6nd_is_refused() -> None:
    frame = pd.DataFrame({"C": [1e18, 6e19], "C_derived": [True, False], "y": [1e5, 5e5]})
    assert_fit_refuses(
        frame, "batch_opt_compute", DataError, r"derived as 6ND \(C_derived\) at rows 1 \(1e\+18\)"
    )
