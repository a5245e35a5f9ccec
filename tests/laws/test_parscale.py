"""The `parscale` law (Chen et al. 2025): L = (A / (N (k log P + 1)))^alpha + E."""

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
    quiet_fit,
    uniform_theta,
)

from scalinglab.errors import FitError
from scalinglab.laws.parscale import LAW

# Chen et al.'s released fitting script (QwenLM/ParScale, parametric_fit.py): non-embedding
# parameters of their 6 model sizes for P = 1, 2, 4, 8 (the parallel-stream parameters add a
# little), and the final loss of each on Stack-V2-Python.
RELEASED_N = [
    [535813376, 693753856, 1088376320, 1571472384, 2774773760, 4353203200],
    [538195842, 696738818, 1092762882, 1577522690, 2784937986, 4368529922],
    [540577412, 699722756, 1097148164, 1583571460, 2795100164, 4383854084],
    [545340552, 705690632, 1105918728, 1595669000, 2815424520, 4414502408],
]
RELEASED_STACK_V2_PYTHON = [
    [1.1722, 1.1496, 1.1131, 1.0817, 1.0451, 1.0213],
    [1.1507, 1.1262, 1.094, 1.0623, 1.0244, 1.0025],
    [1.1354, 1.1124, 1.0808, 1.049, 1.0126, 0.9906],
    [1.1231, 1.0997, 1.0688, 1.0383, 1.0016, 0.9794],
]

_N, _P = np.meshgrid(np.geomspace(5e8, 4.4e9, 6), np.array([1.0, 2.0, 4.0, 8.0]))
X = {"N": _N.ravel(), "streams": _P.ravel()}
SIGMA = 0.002
TRUTH = {"E": 0.69, "A": 1.13e7, "k": 0.39, "alpha": 0.19}


def test_value_matches_plain_formula() -> None:
    assert LAW.published == {}  # see the module: the paper's table could not be checked here
    rng = np.random.default_rng(2)
    N, P = np.exp(rng.uniform(19, 23, 20)), rng.integers(1, 17, 20).astype(float)
    for _ in range(3):
        E, A, k, alpha = (
            rng.uniform(0.5, 2),
            np.exp(rng.uniform(14, 20)),
            rng.uniform(0, 1),
            rng.uniform(0.1, 0.5),
        )
        L = (A / (N * (k * np.log(P) + 1))) ** alpha + E
        pred = LAW.predict(
            LAW.to_internal({"E": E, "A": A, "k": k, "alpha": alpha}), {"N": N, "streams": P}
        )[0]
        np.testing.assert_allclose(pred, L, rtol=1e-12)


def test_one_stream_is_the_plain_power_law() -> None:
    N = np.geomspace(1e8, 1e10, 4)
    L = LAW.predict(LAW.to_internal(TRUTH), {"N": N, "streams": np.ones(4)})[0]
    np.testing.assert_allclose(L, (TRUTH["A"] / N) ** TRUTH["alpha"] + TRUTH["E"], rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    Xr = {"N": np.exp(rng.uniform(18, 24, 30)), "streams": rng.integers(1, 33, 30).astype(float)}
    theta = uniform_theta(rng, [(-1, 1), (14, 20), (0.05, 1), (0.1, 0.6)])
    assert_jacobian(LAW, theta, Xr)


def test_released_stack_v2_fit_reproduces_the_authors_law_demo() -> None:
    """Fitted on the authors' 24 released Stack-V2-Python losses, the law gives what the
    authors' demonstration (Hugging Face Space ParScale/Parallel_Scaling_Law, Stack-V2 fit)
    prints: loss 1.01548 for a 2.8B model with P = 4, 'equivalent to a 4.33B model with P = 1,
    3.4B with P = 2, 2.38B with P = 8'."""
    frame = pd.DataFrame(
        {
            "N": np.ravel(RELEASED_N).astype(float),
            "streams": np.repeat([1.0, 2.0, 4.0, 8.0], 6),
            "y": np.ravel(RELEASED_STACK_V2_PYTHON),
        }
    )
    r = quiet_fit(frame, "parscale", n_boot=0)
    loss = LAW.predict(r.theta(), {"N": np.array([2.8e9]), "streams": np.array([4.0])})[0][0]
    assert loss == pytest.approx(1.01548, abs=1e-5)
    k = r.params["k"]
    gain4 = 1 + k * np.log(4)
    assert 2.8 * gain4 == pytest.approx(4.33, abs=0.005)
    assert 2.8 * gain4 / (1 + k * np.log(2)) == pytest.approx(3.4, abs=0.005)
    assert 2.8 * gain4 / (1 + k * np.log(8)) == pytest.approx(2.38, abs=0.005)
    fitted = LAW.predict(
        r.theta(), {"N": frame["N"].to_numpy(), "streams": frame["streams"].to_numpy()}
    )[0]
    assert np.max(np.abs(fitted / frame["y"].to_numpy() - 1)) < 0.01  # within 1% of every run


@pytest.mark.slow
@SETTINGS
@given(
    E=st.floats(0.5, 2.0),
    k=st.floats(0.2, 0.8),
    alpha=st.floats(0.12, 0.35),
    term=st.floats(0.2, 0.6),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(
    E: float, k: float, alpha: float, term: float, seed: int
) -> None:
    """24 runs (6 sizes x P = 1, 2, 4, 8) at 0.2% noise, the authors' design: the 95% bootstrap
    half-widths measure ~0.025 (k) and ~0.035 (alpha); the tolerances are about four."""
    A = 5e8 * (term * E) ** (1 / alpha)  # the reducible term is `term` x E at the smallest N
    truth = {"E": E, "A": A, "k": k, "alpha": alpha}
    r = fit_planted("parscale", truth, X, SIGMA, seed)
    assert abs(r.params["k"] - k) < 0.1 * max(1.0, k / 0.4)
    assert abs(r.params["alpha"] - alpha) < 0.15
    assert max_log_error("parscale", r, truth, X) < 0.004


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    assert_coverage("parscale", TRUTH, X, SIGMA)


def test_missing_streams_column_is_named() -> None:
    frame = pd.DataFrame({"N": [1e9, 2e9], "P": [1, 4], "y": [1.1, 1.0]})
    assert_fit_refuses(
        frame,
        "parscale",
        FitError,
        r"law 'parscale' needs column 'streams': number of parallel streams P.*--map streams=COLUMN",
    )
