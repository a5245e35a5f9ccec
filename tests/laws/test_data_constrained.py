"""The `data_constrained` law (Muennighoff et al. 2023, eqs. 5-7): Chinchilla at effective
parameters N' and effective data D'."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from law_checks import (
    SETTINGS,
    assert_sane,
    coverage,
    max_log_error,
    planted,
    quiet_fit,
)

from scalinglab.errors import DataError, FitError
from scalinglab.fit import fit
from scalinglab.laws.chinchilla import LAW as CHINCHILLA
from scalinglab.laws.data_constrained import LAW

PUBLISHED = LAW.published["muennighoff2023"]
# 5 model sizes x 3 unique-data sizes x 6 epoch counts (0.5 to 60): repeated data in 2/3 of
# the runs and models larger than N_opt(U_D) in 3/4 of them, so R*_D and R*_N are identified
_ROWS = list(
    itertools.product(np.geomspace(1e8, 9e9, 5), [1e9, 5e9, 2.5e10], [0.5, 1, 3, 10, 30, 60])
)
X = {
    "N": np.array([r[0] for r in _ROWS]),
    "D": np.array([r[1] * r[2] for r in _ROWS]),
    "unique_tokens": np.array([r[1] for r in _ROWS]),
}
SIGMA = 0.005


def _plain(v: dict[str, float], N: np.ndarray, D: np.ndarray, U: np.ndarray) -> np.ndarray:
    """Muennighoff et al.'s formula as written, with N_opt from Hoffmann et al.'s G."""
    E, A, B, a, b = v["E"], v["A"], v["B"], v["alpha"], v["beta"]
    rd, rn = v["R_D_star"], v["R_N_star"]
    UD = np.minimum(D, U)
    Dp = UD + UD * rd * (1 - np.exp(-(D / UD - 1) / rd))
    G = (a * A / (b * B)) ** (1 / (a + b))
    N_opt = G * (G * UD) ** (b / a)
    UN = np.minimum(N_opt, N)
    Np = UN + UN * rn * (1 - np.exp(-(N / UN - 1) / rn))
    out: np.ndarray = E + A / Np**a + B / Dp**b
    return out


def _random_theta(rng: np.random.Generator, S: int) -> np.ndarray:
    """Points around the published fit, where N_opt(U_D) falls inside the range of N."""
    return np.column_stack(
        [
            rng.uniform(0.0, 1.0, S),
            rng.uniform(5.0, 7.0, S),
            rng.uniform(6.5, 8.0, S),
            rng.uniform(0.3, 0.45, S),
            rng.uniform(0.3, 0.45, S),
            rng.uniform(0.5, 4.0, S),
            rng.uniform(0.0, 3.0, S),
        ]
    )


def test_published_fit_reproduces_the_papers_figure_1_models() -> None:
    """Muennighoff et al.'s repository (README of huggingface/datablations) prints the law's
    loss for the two models of their figure 1 (right): 6.34B parameters on 242B tokens and
    8.67B on 178B tokens, both from 25B unique tokens."""
    X1 = {
        "N": np.array([6.34e9, 8.67e9]),
        "D": np.array([242e9, 178e9]),
        "unique_tokens": np.array([25e9, 25e9]),
    }
    got = LAW.predict(LAW.to_internal(PUBLISHED), X1)[0]
    np.testing.assert_allclose(got, [2.2256440889984477, 2.2269634075087867], rtol=1e-12)
    np.testing.assert_allclose(got, _plain(PUBLISHED, X1["N"], X1["D"], X1["unique_tokens"]))
    # the paper's rounded values (section 3.1 / appendix): E = 1.87, A = 521, B = 1488
    assert PUBLISHED["E"] == pytest.approx(1.87, abs=0.005)
    assert PUBLISHED["A"] == pytest.approx(521, abs=0.5)
    assert PUBLISHED["B"] == pytest.approx(1488, abs=0.5)
    assert PUBLISHED["R_D_star"] == pytest.approx(15.4, abs=0.05)
    assert PUBLISHED["R_N_star"] == pytest.approx(5.3, abs=0.05)


def test_value_matches_plain_formula() -> None:
    rng = np.random.default_rng(2)
    theta = _random_theta(rng, 4)
    got = LAW.predict(theta, X)
    for s in range(4):
        v = dict(zip(LAW.param_names, LAW.to_natural(theta[s]), strict=True))
        np.testing.assert_allclose(
            got[s], _plain(v, X["N"], X["D"], X["unique_tokens"]), rtol=1e-12
        )


def test_without_repetition_or_excess_parameters_it_is_chinchilla() -> None:
    """D <= U (one epoch at most) and N <= N_opt(U_D): D' = D, N' = N."""
    v = dict(PUBLISHED)
    N, D = np.array([1e8, 3e8]), np.array([2e10, 5e10])
    Xc = {"N": N, "D": D, "unique_tokens": 2 * D}
    chin = {k: v[k] for k in CHINCHILLA.param_names}
    np.testing.assert_allclose(
        LAW.predict(LAW.to_internal(v), Xc),
        CHINCHILLA.predict(CHINCHILLA.to_internal(chin), {"N": N, "D": D}),
        rtol=1e-13,
    )


def test_n_opt_is_hoffmanns_compute_optimal_size() -> None:
    """N_opt(U_D) and U_D lie on Hoffmann et al.'s compute-optimal frontier for one C: at
    N = N_opt the law has no excess parameters, and just above it R_N > 0 starts lowering N'."""
    v = dict(PUBLISHED)
    a, b = v["alpha"], v["beta"]
    G = (a * v["A"] / (b * v["B"])) ** (1 / (a + b))
    U = 1e10
    C6 = (G * U) ** ((a + b) / a)  # D*(C) = U  <=>  C/6 = (G U)^((a+b)/a)
    N_opt = G * C6 ** (b / (a + b))
    assert U == pytest.approx(C6 ** (a / (a + b)) / G, rel=1e-12)
    N = N_opt * np.array([0.999, 1.0, 1.001, 3.0])
    Xn = {"N": N, "D": np.full(4, U), "unique_tokens": np.full(4, U)}
    L = LAW.predict(LAW.to_internal(v), Xn)[0]
    chin = CHINCHILLA.predict(
        CHINCHILLA.to_internal({k: v[k] for k in CHINCHILLA.param_names}),
        {"N": N, "D": np.full(4, U)},
    )[0]
    np.testing.assert_allclose(L[:2], chin[:2], rtol=1e-14)
    assert L[3] > chin[3]  # excess parameters are worth less than needed ones


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_central_differences_on_both_sides_of_the_min(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    Xr = {
        "N": np.exp(rng.uniform(np.log(1e7), np.log(1e10), n)),
        "D": np.exp(rng.uniform(np.log(1e8), np.log(1e12), n)),
        "unique_tokens": np.exp(rng.uniform(np.log(1e7), np.log(1e12), n)),
    }
    theta = _random_theta(rng, 6)
    f, J = LAW.evaluate(theta, Xr)
    Js = np.stack([np.broadcast_to(j, f.shape) for j in J])
    # both branches of U_N = min(N_opt, N) occur among these points
    excess = []
    for row in LAW.to_natural(theta):
        v = dict(zip(LAW.param_names, row, strict=True))
        a, b = v["alpha"], v["beta"]
        G = (a * v["A"] / (b * v["B"])) ** (1 / (a + b))
        excess.append(Xr["N"] > G * (G * np.minimum(Xr["D"], Xr["unique_tokens"])) ** (b / a))
    assert 0.1 < np.mean(excess) < 0.9
    scale = np.max(np.abs(Js), axis=(0, 2))[:, None]
    for p in range(theta.shape[1]):
        h = 1e-6 * np.maximum(1e-2, np.abs(theta[:, p]))
        up, dn = theta.copy(), theta.copy()
        up[:, p] += h
        dn[:, p] -= h
        fd = (LAW.evaluate(up, Xr)[0] - LAW.evaluate(dn, Xr)[0]) / (2 * h[:, None])
        err = float(np.max(np.abs(Js[p] - fd) / scale))
        assert err < 1e-7, (LAW.param_names[p], err)


def test_derivative_is_continuous_across_the_switch() -> None:
    """d log N' / d log N_opt vanishes at R_N = 0: the Jacobian on either side of N = N_opt
    agrees (no kink for the optimiser)."""
    v = dict(PUBLISHED)
    a, b = v["alpha"], v["beta"]
    G = (a * v["A"] / (b * v["B"])) ** (1 / (a + b))
    U = 1e10
    N_opt = G * (G * U) ** (b / a)
    Xs = {
        "N": N_opt * np.array([1 - 1e-9, 1 + 1e-9]),
        "D": np.full(2, 4 * U),
        "unique_tokens": np.full(2, U),
    }
    _, J = LAW.evaluate(LAW.to_internal(v)[None, :], Xs)
    for j in J:
        np.testing.assert_allclose(j[0, 0], j[0, 1], rtol=1e-6, atol=1e-12)


@SETTINGS
@given(
    r_d=st.floats(8.0, 30.0),
    r_n=st.floats(3.0, 10.0),
    beta=st.floats(0.32, 0.38),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(r_d: float, r_n: float, beta: float, seed: int) -> None:
    """90 runs (above) at 0.5% noise, parameters around the published fit. The 95% bootstrap
    intervals of R*_D and R*_N span about +-20% and +-30% of their values, those of the
    exponents ~0.02: the tolerances are about twice that (over 16 random draws the largest
    errors were 0.18 and 0.27 in log R*, 0.023 in the exponents); the fitted surface stays
    within 2 sigma of the true one. Far from the published fit (R*_N ~ 2 with beta well below
    alpha) this design admits a second optimum (small R*_N, large alpha) that fits the noisy
    data better than the truth: R*_N is the weakest-identified parameter of the law."""
    truth = {**PUBLISHED, "R_D_star": r_d, "R_N_star": r_n, "beta": beta}
    frame = planted("data_constrained", truth, X, SIGMA, seed)
    r = quiet_fit(frame, "data_constrained", n_boot=100, seed=seed)
    assert_sane(r)
    assert abs(math.log(r.params["R_D_star"] / r_d)) < 0.4
    assert abs(math.log(r.params["R_N_star"] / r_n)) < 0.6
    assert abs(r.params["alpha"] - truth["alpha"]) < 0.05
    assert abs(r.params["beta"] - beta) < 0.05
    assert max_log_error("data_constrained", r, truth, X) < 0.01


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    inside = coverage("data_constrained", PUBLISHED, X, SIGMA)
    assert all(n >= 8 for n in inside.values()), inside


def test_published_r_stars_can_be_held_fixed_without_repeated_data() -> None:
    """Runs with one epoch at most identify nothing about R*_D, R*_N: the documented way is
    to fix them; the other parameters are then fitted as in Chinchilla."""
    N, D = np.meshgrid(np.geomspace(1e7, 1e9, 6), np.geomspace(1e9, 1e11, 6))
    Xc = {"N": N.ravel(), "D": D.ravel(), "unique_tokens": 1e13 * np.ones(36)}
    frame = planted("data_constrained", PUBLISHED, Xc, SIGMA, 3)
    fixed = {"R_D_star": 15.4, "R_N_star": 5.3}
    r = quiet_fit(frame, "data_constrained", n_boot=0, fix=fixed)
    assert r.fixed == fixed
    assert r.params["R_D_star"] == pytest.approx(15.4) and r.intervals["R_N_star"] == (5.3, 5.3)
    assert abs(r.params["alpha"] - PUBLISHED["alpha"]) < 0.05
    assert not any("R_D_star" in w for w in r.warnings)


def test_missing_unique_tokens_column_is_named() -> None:
    frame = pd.DataFrame({"N": [1e8, 1e9], "D": [1e10, 1e11], "y": [3.0, 2.8]})
    with pytest.raises(
        FitError,
        match=r"law 'data_constrained' needs column 'unique_tokens': the number of unique tokens.*--map unique_tokens=COLUMN",
    ):
        fit(frame, "data_constrained", n_boot=0)


def test_non_positive_unique_tokens_are_listed() -> None:
    frame = pd.DataFrame(
        {
            "N": [1e8, 1e9, 1e9],
            "D": [1e10, 1e11, 1e11],
            "unique_tokens": [1e9, 0.0, -1.0],
            "y": [3.0, 2.8, 2.7],
        }
    )
    with pytest.raises(DataError, match=r"'unique_tokens'.*rows 2 \(0.0\), 3 \(-1.0\)"):
        fit(frame, "data_constrained", n_boot=0)
