"""The `mixture` law (Ye et al. 2024): L(r) = c + exp(sum_j t_j r_j), one t per mix_ column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
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

from scalinglab.errors import DataError, FitError
from scalinglab.fit import FitResult, fit
from scalinglab.laws import get_law
from scalinglab.laws.mixture import LAW, mixture_columns
from scalinglab.trust import predict

_R = np.random.default_rng(3).dirichlet([1.0, 1.0, 1.0], size=40)  # 40 random 3-domain mixtures
X = {"mix_code": _R[:, 0], "mix_math": _R[:, 1], "mix_web": _R[:, 2]}
SIGMA = 0.005
TRUTH = {"c": 1.5, "t_code": -0.5, "t_math": 0.3, "t_web": -1.0}


def frame_of(X: dict[str, np.ndarray], **extra: object) -> pd.DataFrame:
    return pd.DataFrame({**X, **extra})


def test_specialize_gives_one_exponent_per_mixture_column() -> None:
    frame = frame_of(X, N=1e8, y=2.0)
    law = LAW.specialize(frame)  # type: ignore[misc]
    assert mixture_columns(frame) == ("mix_code", "mix_math", "mix_web")
    assert law.variables == ("mix_code", "mix_math", "mix_web")
    assert law.param_names == ("c", "t_code", "t_math", "t_web")
    assert law.name == "mixture" and law.specialize is None


def test_value_matches_ye_et_al_formula_for_any_k() -> None:
    """c + exp(sum_j t_j r_j) equals Ye et al.'s c + k exp(sum_j t'_j r_j) with t'_j = t_j - log k,
    for every k, because the proportions sum to 1 (why the law fixes k = 1)."""
    assert LAW.published == {}
    law = LAW.specialize(frame_of(X))  # type: ignore[misc]
    pred = law.predict(law.to_internal(TRUTH), X)[0]
    R = np.column_stack([X["mix_code"], X["mix_math"], X["mix_web"]])
    t = np.array([TRUTH["t_code"], TRUTH["t_math"], TRUTH["t_web"]])
    for k in (1.0, 0.3, 7.0):
        ye = TRUTH["c"] + k * np.exp(R @ (t - np.log(k)))
        np.testing.assert_allclose(pred, ye, rtol=1e-12)
    # training on one domain alone: c + exp(t_j)
    alone = law.predict(
        law.to_internal(TRUTH),
        {"mix_code": np.array([1.0]), "mix_math": np.array([0.0]), "mix_web": np.array([0.0])},
    )[0]
    assert alone[0] == pytest.approx(TRUTH["c"] + np.exp(TRUTH["t_code"]), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_central_differences(seed: int) -> None:
    law = LAW.specialize(frame_of(X))  # type: ignore[misc]
    rng = np.random.default_rng(seed)
    theta = np.column_stack([rng.uniform(-1, 1, 5), rng.normal(0, 1, (5, 3))])
    assert_jacobian(law, theta, X)


@pytest.mark.slow
@SETTINGS
@given(
    c=st.floats(0.8, 3.0),
    t=st.lists(st.floats(-1.5, 1.0), min_size=3, max_size=3),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(c: float, t: list[float], seed: int) -> None:
    """40 mixtures at 0.5% noise: predictions within 1% everywhere, and each t within 0.8 (its
    95% bootstrap half-width measures 0.06-0.27 at these settings, widest for the domain whose
    reducible loss is smallest). Mixtures must matter: with equal t's the loss is the same for
    every mixture and c trades off against the common t (nothing to recover)."""
    assume(max(t) - min(t) >= 0.5)
    truth = {"c": c, "t_code": t[0], "t_math": t[1], "t_web": t[2]}
    r = fit_planted("mixture", truth, X, SIGMA, seed)
    assert max_log_error("mixture", r, truth, X) < 0.01
    for k in ("t_code", "t_math", "t_web"):
        assert abs(r.params[k] - truth[k]) < 0.8, (k, r.params)


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    assert_coverage("mixture", TRUTH, X, SIGMA)


def test_fit_result_rebuilds_the_law_and_predicts_new_mixtures() -> None:
    r = quiet_fit(planted("mixture", TRUTH, X, SIGMA, 0), "mixture", n_boot=20, seed=0)
    again = FitResult.from_json(r.to_json())
    assert again.law_obj().param_names == ("c", "t_code", "t_math", "t_web")
    new = pd.DataFrame({"mix_code": [0.2, 0.5], "mix_math": [0.3, 0.0], "mix_web": [0.5, 0.5]})
    out = predict(again, new, interval="bootstrap")
    law = get_law("mixture").specialize(new)  # type: ignore[misc]
    truth_pred = law.predict(law.to_internal(TRUTH), {k: new[k].to_numpy() for k in new})[0]
    np.testing.assert_allclose(out["value"].to_numpy(), truth_pred, rtol=0.02)


def test_fewer_than_two_mixture_columns_is_an_error() -> None:
    with pytest.raises(
        FitError,
        match=r"needs the training-mixture proportions as columns named mix_<domain>.*found only 'mix_web'.*--map mix_web=COLUMN",
    ):
        fit(
            pd.DataFrame({"mix_web": [1.0, 1.0], "web_share": [1.0, 1.0], "y": [2.0, 2.1]}),
            "mixture",
            n_boot=0,
        )
    with pytest.raises(FitError, match=r"mix_<domain>"):
        fit(pd.DataFrame({"N": [1.0], "y": [2.0]}), "mixture", n_boot=0)


def test_proportions_outside_unit_interval_are_listed() -> None:
    frame = pd.DataFrame(
        {"mix_a": [0.5, 1.2, -0.1], "mix_b": [0.5, -0.2, 1.1], "y": [2.0, 2.1, 2.2]}
    )
    assert_fit_refuses(
        frame,
        "mixture",
        DataError,
        r"'mix_a' .* must be a finite number >= 0 and <= 1.*rows 2 \(1.2\), 3 \(-0.1\)",
    )


def test_proportions_not_summing_to_one_are_listed() -> None:
    frame = pd.DataFrame(
        {
            "mix_a": [0.5, 0.6, 0.333, 0.2],
            "mix_b": [0.5, 0.6, 0.333, 0.2],
            "mix_c": [0.0, 0.0, 0.334, 0.2],
            "y": 2.0,
        }
    )
    assert_fit_refuses(frame, "mixture", DataError, r"must sum to 1 .* at rows 2 \(1.2\), 4 \(0.6")
