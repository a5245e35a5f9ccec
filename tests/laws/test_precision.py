"""The `precision` law (Kumar et al. 2024): Chinchilla with N_eff = N (1 - exp(-P / gamma))."""

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
    max_log_error,
    uniform_theta,
)

from scalinglab.errors import FitError
from scalinglab.laws import get_law
from scalinglab.laws.precision import LAW

# Kumar et al.'s design, widened in N: sizes x token budgets x training precisions 3-16 bits
_N, _D, _P = np.meshgrid(
    np.geomspace(3e7, 1.7e9, 5), np.geomspace(1.5e9, 2.6e10, 4), np.array([3, 4, 5, 6, 8, 12, 16.0])
)
X = {"N": _N.ravel(), "D": _D.ravel(), "precision_bits": _P.ravel()}  # 140 runs
SIGMA = 0.005
TRUTH = {"E": 2.0, "A": 400.0, "B": 2000.0, "alpha": 0.35, "beta": 0.37, "gamma": 2.7}


def test_value_matches_plain_formula() -> None:
    assert LAW.published == {}  # see the module: the paper's constants could not be checked here
    rng = np.random.default_rng(6)
    Xr = {k: v[::7] for k, v in X.items()}
    for _ in range(3):
        p = {
            "E": rng.uniform(1, 3),
            "A": np.exp(rng.uniform(4, 8)),
            "B": np.exp(rng.uniform(5, 9)),
            "alpha": rng.uniform(0.2, 0.5),
            "beta": rng.uniform(0.2, 0.5),
            "gamma": rng.uniform(1, 5),
        }
        Neff = Xr["N"] * (1 - np.exp(-Xr["precision_bits"] / p["gamma"]))
        L = p["E"] + p["A"] / Neff ** p["alpha"] + p["B"] / Xr["D"] ** p["beta"]
        np.testing.assert_allclose(LAW.predict(LAW.to_internal(p), Xr)[0], L, rtol=1e-12)


def test_high_precision_is_chinchilla() -> None:
    """N_eff -> N as P/gamma grows: at 64 bits the law is Chinchilla's to 1e-9."""
    chin = get_law("chinchilla")
    Xc = {"N": np.geomspace(1e7, 1e10, 5), "D": np.geomspace(1e9, 1e12, 5)}
    p = {k: v for k, v in TRUTH.items() if k != "gamma"}
    ours = LAW.predict(LAW.to_internal(TRUTH), {**Xc, "precision_bits": np.full(5, 64.0)})[0]
    np.testing.assert_allclose(ours, chin.predict(chin.to_internal(p), Xc)[0], rtol=1e-9)


def test_lower_precision_costs_loss() -> None:
    bits = np.array([2.0, 3.0, 4.0, 8.0, 16.0])
    L = LAW.predict(
        LAW.to_internal(TRUTH),
        {"N": np.full(5, 1e8), "D": np.full(5, 1e10), "precision_bits": bits},
    )[0]
    assert np.all(np.diff(L) < 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    theta = uniform_theta(rng, [(0, 1), (4, 8), (5, 9), (0.2, 0.5), (0.2, 0.5), (1, 6)])
    theta[:, 5] = np.log(theta[:, 5])  # gamma is fitted as log(gamma)
    assert_jacobian(LAW, theta, X)


@pytest.mark.slow
@SETTINGS
@given(
    gamma=st.floats(1.5, 4.0),
    alpha=st.floats(0.25, 0.45),
    beta=st.floats(0.25, 0.45),
    E=st.floats(1.5, 2.5),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(
    gamma: float, alpha: float, beta: float, E: float, seed: int
) -> None:
    """140 runs at 0.5% noise: the 95% bootstrap half-widths measure ~0.02 (alpha), ~0.04
    (beta) and ~0.2-0.3 bits (gamma at 2.7); the tolerances are about four of them."""
    truth = {
        "E": E,
        "A": 0.5 * E * 3e7**alpha,
        "B": 0.5 * E * 1.5e9**beta,
        "alpha": alpha,
        "beta": beta,
        "gamma": gamma,
    }
    r = fit_planted("precision", truth, X, SIGMA, seed)
    assert abs(r.params["alpha"] - alpha) < 0.08
    assert abs(r.params["beta"] - beta) < 0.15
    assert r.params["gamma"] == pytest.approx(gamma, rel=0.4)
    assert max_log_error("precision", r, truth, X) < 0.01


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    assert_coverage("precision", TRUTH, X, SIGMA)


def test_missing_precision_column_is_named() -> None:
    frame = pd.DataFrame({"N": [1e8, 1e9], "D": [1e10, 1e11], "bits": [4, 8], "y": [3.0, 2.8]})
    assert_fit_refuses(
        frame,
        "precision",
        FitError,
        r"law 'precision' needs column 'precision_bits': training precision P in bits.*--map precision_bits=COLUMN",
    )
