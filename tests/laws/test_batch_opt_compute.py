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
    """DeepSeek-AI 2024, eq. 1: B_opt = 0.2920 C^0.3271 tokens, against values worked out by
    hand with decimal logs:

    * C = 1e17: 0.2920 x 10^(17 x 0.3271) = 0.2920 x 10^5.5607 = 0.2920 x 363,663 = 1.06190e5;
    * C = 1e20: 0.2920 x 10^6.542 = 0.2920 x 3.48337e6 (10^0.5 x 10^0.042 = 3.16228 x 1.10154)
      = 1.01714e6 tokens;
    * each 10x of compute multiplies the batch by 10^0.3271 = 2.12373.
    """
    theta = LAW.to_internal(LAW.published["deepseek2024"])
    B = LAW.predict(theta, {"C": np.array([1e17, 1e20, 1e21])})[0]
    assert B[0] == pytest.approx(1.06190e5, rel=1e-5)
    assert B[1] == pytest.approx(1.01714e6, rel=1e-5)
    assert B[2] / B[1] == pytest.approx(2.12373, rel=1e-5)


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
