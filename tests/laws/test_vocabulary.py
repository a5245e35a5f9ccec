"""The `vocabulary` law (Tao et al. 2024): L_u = -E + A1/N_nv^a1 + A2/N_v^a2 + B/D^b (linear space)."""

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
    planted,
    quiet_fit,
)

from scalinglab.errors import FitError
from scalinglab.laws.vocabulary import LAW

_NNV, _NV, _D = np.meshgrid(
    np.geomspace(3e7, 3e9, 5), np.geomspace(2e6, 4e8, 5), np.geomspace(1e9, 1e11, 5)
)
X = {"N_nv": _NNV.ravel(), "N_v": _NV.ravel(), "D": _D.ravel()}  # 125 runs
SIGMA = 0.005  # nats, additive (the target is a difference of losses)
RELEASED = LAW.published["tao2024"]


def test_released_coefficients_in_the_authors_units() -> None:
    """The published set reproduces the authors' formula in their normalised units (N_nv and
    N_v in millions, D in billions of tokens; sail-sg/scaling-with-vocab, approach3/optimal_Nv)."""
    A1, A2, B, E = 1.8313851559554126, 0.19584238398665638, 2.1241123120064955, 5.5327846803337435
    a1, a2, b = 0.44660634152009615, 0.6707374679896795, 0.44660634152009615
    Nnv, Nv, D = np.array([3e8, 7e9]), np.array([4e7, 1.2e9]), np.array([6e9, 1.4e11])
    authors = -E + A1 / (Nnv / 1e6) ** a1 + A2 / (Nv / 1e6) ** a2 + B / (D / 1e9) ** b
    ours = LAW.predict(LAW.to_internal(RELEASED), {"N_nv": Nnv, "N_v": Nv, "D": D})[0]
    np.testing.assert_allclose(ours, authors, rtol=1e-12)
    assert RELEASED["alpha1"] == RELEASED["beta"]  # Tao et al. tie the two exponents
    assert np.all(ours < 0)  # unigram-normalised losses are negative at these scales


def test_value_matches_plain_formula() -> None:
    rng = np.random.default_rng(8)
    Xr = {k: v[:20] for k, v in X.items()}
    for _ in range(3):
        p = {
            "E": rng.uniform(3, 7),
            "A1": np.exp(rng.uniform(2, 6)),
            "A2": np.exp(rng.uniform(2, 6)),
            "B": np.exp(rng.uniform(5, 10)),
            "alpha1": rng.uniform(0.2, 0.6),
            "alpha2": rng.uniform(0.2, 0.8),
            "beta": rng.uniform(0.2, 0.6),
        }
        L = (
            -p["E"]
            + p["A1"] / Xr["N_nv"] ** p["alpha1"]
            + p["A2"] / Xr["N_v"] ** p["alpha2"]
            + p["B"] / Xr["D"] ** p["beta"]
        )
        np.testing.assert_allclose(LAW.predict(LAW.to_internal(p), Xr)[0], L, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_central_differences(seed: int) -> None:
    """At realistic points: each term 0.1 to 3 nats at the geometric mean of its variable (with
    one term tiny, central differences of the sum lose its digits to rounding)."""
    rng = np.random.default_rng(seed)
    expo = rng.uniform(0.2, 0.8, (5, 3))
    mids = np.array([np.mean(np.log(X[v])) for v in ("N_nv", "N_v", "D")])
    scales = np.log(rng.uniform(0.1, 3.0, (5, 3))) + expo * mids
    theta = np.column_stack([rng.uniform(3, 7, 5), scales, expo])
    assert_jacobian(LAW, theta, X)


def test_negative_targets_are_fitted_in_linear_space() -> None:
    frame = planted("vocabulary", RELEASED, X, 0.0, 0)
    assert (frame["y"] < 0).all()
    r = quiet_fit(frame, "vocabulary", n_boot=0)
    assert r.objective_spec.space == "linear"
    assert max_log_error("vocabulary", r, RELEASED, X) < 1e-6


@pytest.mark.slow
@SETTINGS
@given(
    E=st.floats(4.0, 7.0),
    a1=st.floats(0.3, 0.6),
    a2=st.floats(0.4, 0.8),
    b=st.floats(0.3, 0.6),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(
    E: float, a1: float, a2: float, b: float, seed: int
) -> None:
    """125 runs at 0.005 nats noise, each term ~0.5-1 nat at the smallest size: the 95% bootstrap
    half-widths measure ~0.015 (alpha1), ~0.04 (alpha2), ~0.003 (beta) for the released
    coefficients; the tolerances are about four of them."""
    truth = {
        "E": E,
        "alpha1": a1,
        "alpha2": a2,
        "beta": b,
        "A1": 1.0 * 3e7**a1,
        "A2": 0.5 * 2e6**a2,
        "B": 1.0 * 1e9**b,
    }
    r = fit_planted("vocabulary", truth, X, SIGMA, seed)
    assert abs(r.params["alpha1"] - a1) < 0.06
    assert abs(r.params["alpha2"] - a2) < 0.16
    assert abs(r.params["beta"] - b) < 0.03
    assert max_log_error("vocabulary", r, truth, X) < 0.01  # nats


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    assert_coverage("vocabulary", RELEASED, X, SIGMA)


def test_missing_vocabulary_parameters_column_is_named() -> None:
    frame = pd.DataFrame(
        {"N_nv": [1e8, 1e9], "D": [1e10, 1e11], "vocab": [32000, 64000], "y": [-4.0, -4.5]}
    )
    assert_fit_refuses(
        frame,
        "vocabulary",
        FitError,
        r"law 'vocabulary' needs column 'N_v': vocabulary parameters.*--map N_v=COLUMN",
    )
