"""The `lr_opt_compute` law (DeepSeek-AI 2024, eq. 1): eta*(C) = a C^b with C = M D."""

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
from scalinglab.laws.lr_opt_compute import LAW

X = {"C": np.geomspace(1e17, 3e20, 24)}  # DeepSeek's range (1e17 - 2e19) and its 3e20 check
SIGMA = 0.05


def deepseek_M(n_layer: int, d_model: int, l_seq: int) -> float:
    """DeepSeek-AI 2024, eq. 2: non-embedding FLOPs per token."""
    return 72.0 * n_layer * d_model**2 + 12.0 * n_layer * d_model * l_seq


def test_published_deepseek_values() -> None:
    """DeepSeek-AI 2024, eq. 1: eta_opt = 0.3118 C^-0.1250, against values worked out by hand."""
    C = np.array([1e17, 1e20])
    lr = LAW.predict(LAW.to_internal(LAW.published["deepseek2024"]), {"C": C})[0]
    # by hand: 1e17^-0.125 = 10^-2.125 = 7.49894e-3, x 0.3118 = 2.33817e-3; 1e20^-0.125 =
    # 10^-2.5 = 3.16228e-3, x 0.3118 = 9.85998e-4; 1,000x the compute divides the LR by
    # 10^0.375 = 2.37137
    assert lr[0] == pytest.approx(2.33817e-3, rel=1e-5)
    assert lr[1] == pytest.approx(9.85998e-4, rel=1e-5)
    assert lr[0] / lr[1] == pytest.approx(2.37137, rel=1e-5)


def test_deepseek_compute_is_not_6nd() -> None:
    """C = M D differs from 6ND: for DeepSeek's 7B shape (30 layers, d_model 4096, 4K context),
    M = 84 x 30 x 4096^2 (attention included), while 6N with N = 12 n_layer d_model^2 is 72 x
    30 x 4096^2: C is 17% larger than 6ND for the same run."""
    M = deepseek_M(30, 4096, 4096)
    six_n = 6 * 12 * 30 * 4096**2
    assert M / six_n == pytest.approx(84 / 72)


@pytest.mark.parametrize("seed", [0, 1])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    Xr = {"C": np.exp(rng.uniform(np.log(1e16), np.log(1e24), 30))}
    theta = uniform_theta(rng, [(-3, 3), (-0.3, 0.0)])
    assert_jacobian(LAW, theta, Xr)


@SETTINGS
@given(b=st.floats(-0.3, -0.05), la=st.floats(-3.0, 1.0), seed=st.integers(0, 10_000))
def test_planted_parameters_are_recovered(b: float, la: float, seed: int) -> None:
    """24 budgets over 3.5 decades at 5% scatter: b's 95% bootstrap interval measures ~+-0.008;
    0.03 is about four half-widths."""
    truth = {"a": float(np.exp(la)), "b": b}
    r = fit_planted("lr_opt_compute", truth, X, SIGMA, seed)
    assert abs(r.params["b"] - b) < 0.03, r.params


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    assert_coverage("lr_opt_compute", LAW.published["deepseek2024"], X, SIGMA)


def test_missing_compute_column_explains_m_times_d() -> None:
    frame = pd.DataFrame({"N": [1e8, 1e9], "D": [1e10, 1e11], "y": [1e-3, 5e-4]})
    assert_fit_refuses(
        frame,
        "lr_opt_compute",
        FitError,
        r"needs column 'C'.*non-embedding FLOPs per token.*--map C=COLUMN",
    )


def test_compute_derived_as_6nd_is_refused() -> None:
    frame = pd.DataFrame(
        {"C": [1e18, 6e19, 1e20], "C_derived": [False, True, True], "y": [2e-3, 1e-3, 1e-3]}
    )
    assert_fit_refuses(
        frame, "lr_opt_compute", DataError, r"derived as 6ND \(C_derived\) at rows 2 \(6e\+19\), 3"
    )


def test_non_positive_compute_rows_are_listed() -> None:
    frame = pd.DataFrame({"C": [1e18, 0.0, -1.0], "y": [2e-3, 1e-3, 1e-3]})
    assert_fit_refuses(
        frame,
        "lr_opt_compute",
        DataError,
        r"column 'C' .* must be a finite number > 0.*rows 2 \(0.0\), 3 \(-1.0\)",
    )
