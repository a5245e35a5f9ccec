"""The `lr_opt` law (Li et al. 2025, Step Law): lr*(N, D) = a N^b D^c."""

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
    planted,
    quiet_fit,
    uniform_theta,
)

from scalinglab.errors import FitError
from scalinglab.laws.lr_opt import LAW

N_GRID = np.geomspace(5e7, 5e9, 6)
D_GRID = np.geomspace(1e9, 1e11, 6)
_NN, _DD = np.meshgrid(N_GRID, D_GRID)
X = {"N": _NN.ravel(), "D": _DD.ravel()}  # 36 (N, D) cells, each with its optimal LR
SIGMA = 0.1  # log-normal scatter of a sweep's optimum (a LR grid in steps of ~2^0.5)


def test_published_step_law_values() -> None:
    """Li et al. 2025: eta(N, D) = 1.79 N^-0.713 D^0.307, against values worked out by hand
    with decimal logs:

    * N = 1e9, D = 1e11: 1.79 x 10^(-6.417 + 3.377) = 1.79 x 10^-3.040 = 1.79 x 9.12011e-4
      = 1.63250e-3;
    * 10x the parameters at the same D divides it by 10^0.713 = 5.16416;
    * 10x the tokens at the same N multiplies it by 10^0.307 = 2.02768.
    """
    p = LAW.to_internal(LAW.published["li2025"])
    N, D = np.array([1e9, 1e10, 1e9]), np.array([1e11, 1e11, 1e12])
    lr = LAW.predict(p, {"N": N, "D": D})[0]
    assert lr[0] == pytest.approx(1.63250e-3, rel=1e-5)
    assert lr[0] / lr[1] == pytest.approx(5.16416, rel=1e-5)
    assert lr[2] / lr[0] == pytest.approx(2.02768, rel=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    Xr = {
        "N": np.exp(rng.uniform(np.log(1e7), np.log(1e11), 30)),
        "D": np.exp(rng.uniform(np.log(1e8), np.log(1e13), 30)),
    }
    theta = uniform_theta(rng, [(-2, 3), (-1, 0), (0, 0.6)])
    assert_jacobian(LAW, theta, Xr)


def test_noise_free_data_recover_the_truth() -> None:
    r = quiet_fit(planted("lr_opt", LAW.published["li2025"], X, 0.0, 0), "lr_opt", n_boot=0)
    for k, v in LAW.published["li2025"].items():
        assert r.params[k] == pytest.approx(v, rel=1e-6), k


@SETTINGS
@given(
    b=st.floats(-1.0, -0.2),
    c=st.floats(0.0, 0.5),
    la=st.floats(-2.0, 2.0),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(b: float, c: float, la: float, seed: int) -> None:
    """36 cells at 10% scatter: the exponents' 95% bootstrap intervals measure ~+-0.02 (b and
    c); 0.08 is four half-widths, small next to the exponents themselves."""
    truth = {"a": float(np.exp(la)), "b": b, "c": c}
    r = fit_planted("lr_opt", truth, X, SIGMA, seed)
    assert abs(r.params["b"] - b) < 0.08 and abs(r.params["c"] - c) < 0.08, r.params


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    assert_coverage("lr_opt", LAW.published["li2025"], X, SIGMA)


def test_missing_column_is_named() -> None:
    frame = pd.DataFrame({"N": [1e8, 1e9], "tokens": [1e10, 1e11], "y": [1e-3, 5e-4]})
    assert_fit_refuses(frame, "lr_opt", FitError, r"law 'lr_opt' needs column 'D'")
