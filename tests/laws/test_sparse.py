"""The `sparse` law (Jin et al. 2025): Chinchilla in the average parameter count N_avg."""

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

from scalinglab.errors import DataError, FitError
from scalinglab.laws import get_law
from scalinglab.laws.sparse import LAW, average_parameter_count, cubic_pruning_average

_N, _D = np.meshgrid(np.geomspace(1e7, 1e10, 6), np.geomspace(1e8, 1e11, 6))
X = {"N_avg": _N.ravel(), "D": _D.ravel()}
SIGMA = 0.005
TRUTH = {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.36}


def cubic_schedule_density(x: np.ndarray, s_f: float, start: float, end: float) -> np.ndarray:
    """Zhu & Gupta 2017: density 1 - s_f (1 - (1 - u)^3) over the window, u in [0, 1]."""
    u = np.clip((x - start) / (end - start), 0.0, 1.0)
    return 1.0 - s_f * (1.0 - (1.0 - u) ** 3)


def test_value_is_chinchilla_in_the_average_parameter_count() -> None:
    assert LAW.published == {}  # see the module
    chin = get_law("chinchilla")
    ours = LAW.predict(LAW.to_internal(TRUTH), X)[0]
    theirs = chin.predict(chin.to_internal(TRUTH), {"N": X["N_avg"], "D": X["D"]})[0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-14)
    plain = (
        TRUTH["E"]
        + TRUTH["A"] / X["N_avg"] ** TRUTH["alpha"]
        + TRUTH["B"] / X["D"] ** TRUTH["beta"]
    )
    np.testing.assert_allclose(ours, plain, rtol=1e-12)


def test_cubic_pruning_average_matches_integrating_the_schedule() -> None:
    x = (np.arange(1_000_000) + 0.5) / 1_000_000  # midpoints over the training tokens
    for s_f, start, end in ((0.5, 0.25, 0.75), (0.9, 0.0, 1.0), (0.75, 0.1, 0.5)):
        numeric = 7e8 * float(np.mean(cubic_schedule_density(x, s_f, start, end))) + 1e8
        assert cubic_pruning_average(7e8, s_f, start=start, end=end, n_fixed=1e8) == pytest.approx(
            numeric, rel=1e-8
        )
    # start = 0.25, end = 0.75: N_avg = N (1 - 0.625 s_f)
    assert cubic_pruning_average(1e9, 0.8, start=0.25, end=0.75) == pytest.approx(
        1e9 * (1 - 0.625 * 0.8)
    )
    assert cubic_pruning_average(1e9, 0.0, start=0.25, end=0.75) == 1e9  # dense: N_avg = N


def test_average_parameter_count_is_token_weighted() -> None:
    # dense 1e9 for the first 2e10 tokens, then 5e8 for 6e10 more
    assert average_parameter_count([2e10, 8e10], [1e9, 5e8]) == pytest.approx(
        (1e9 * 2 + 5e8 * 6) / 8
    )
    assert average_parameter_count([1e11], [3e8]) == 3e8
    with pytest.raises(DataError, match="strictly increasing"):
        average_parameter_count([2e10, 1e10], [1e9, 5e8])
    with pytest.raises(DataError, match="same length"):
        average_parameter_count([2e10], [1e9, 5e8])
    with pytest.raises(DataError, match=r"0 <= start <= end <= 1"):
        cubic_pruning_average(1e9, 0.5, start=0.8, end=0.2)


@pytest.mark.parametrize("seed", [0, 1])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    theta = uniform_theta(rng, [(-0.5, 1), (3, 9), (3, 9), (0.1, 0.8), (0.1, 0.8)])
    assert_jacobian(LAW, theta, X)


@pytest.mark.slow
@SETTINGS
@given(
    E=st.floats(1.0, 3.0),
    alpha=st.floats(0.2, 0.5),
    beta=st.floats(0.2, 0.5),
    ta=st.floats(0.3, 2.0),
    tb=st.floats(0.3, 2.0),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(
    E: float, alpha: float, beta: float, ta: float, tb: float, seed: int
) -> None:
    """36 runs at 0.5% noise: the 95% bootstrap half-widths measure ~0.014 (alpha) and ~0.007
    (beta); the tolerances are about four of them (five for beta)."""
    truth = {
        "E": E,
        "A": ta * E * 1e7**alpha,
        "B": tb * E * 1e8**beta,
        "alpha": alpha,
        "beta": beta,
    }
    r = fit_planted("sparse", truth, X, SIGMA, seed)
    assert abs(r.params["alpha"] - alpha) < 0.06
    assert abs(r.params["beta"] - beta) < 0.035
    assert max_log_error("sparse", r, truth, X) < 0.01


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    assert_coverage("sparse", TRUTH, X, SIGMA)


def test_missing_average_parameter_column_explains_it() -> None:
    frame = pd.DataFrame({"N": [1e8, 1e9], "D": [1e10, 1e11], "y": [3.0, 2.8]})
    assert_fit_refuses(
        frame,
        "sparse",
        FitError,
        r"law 'sparse' needs column 'N_avg': non-zero parameters averaged over the training tokens.*--map N_avg=COLUMN",
    )
