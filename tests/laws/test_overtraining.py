"""The `overtraining` law (Gadre et al. 2024, eq. 4): L(C, M) = E + (a M^eta + b M^-eta) C^-eta."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from law_checks import SETTINGS, assert_jacobian, assert_sane

from scalinglab.data import load_dataset, select_runs
from scalinglab.errors import ExtrapolationWarning, FitError
from scalinglab.fit import FitResult, Objective, fit
from scalinglab.laws.overtraining import LAW
from scalinglab.trust import predict
from scalinglab.units import training_flops

# 5 model sizes x 8 token multipliers, Gadre et al.'s grid (M = 5 ... 640)
_ROWS = list(itertools.product(np.geomspace(1e7, 4e8, 5), [5, 10, 20, 40, 80, 160, 320, 640]))
RUNS = pd.DataFrame({"N": [r[0] for r in _ROWS], "D": [r[0] * r[1] for r in _ROWS]})
SIGMA = 0.01  # nats: the law is fitted in linear space, so the noise is additive
# close to the fit on Gadre et al.'s RedPajama runs (see the figure test below)
TRUTH = {"E": 1.84, "a": 212.0, "b": 367.0, "eta": 0.136}
SMALL = ["d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8"]


def _XCM(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return LAW.prepare(frame) if LAW.prepare is not None else {}


def _planted(truth: dict[str, float], seed: int) -> pd.DataFrame:
    frame = RUNS.copy()
    clean = LAW.predict(LAW.to_internal(truth), _XCM(frame))[0]
    frame["y"] = clean + SIGMA * np.random.default_rng(seed).standard_normal(len(frame))
    return frame


def _quiet_fit(frame: pd.DataFrame, **kw: object) -> FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(frame, "overtraining", **kw)  # type: ignore[arg-type]


def test_value_matches_plain_formula() -> None:
    """No parameter set is printed in the paper (its fits are in the released notebooks); the
    formula itself, computed plainly from N and D with C = 6ND."""
    assert LAW.published == {}
    rng = np.random.default_rng(1)
    X = _XCM(RUNS)
    N, D = RUNS["N"].to_numpy(), RUNS["D"].to_numpy()
    for _ in range(3):
        E, a, b, eta = (
            rng.uniform(1, 3),
            rng.uniform(10, 1e3),
            rng.uniform(10, 1e3),
            rng.uniform(0.05, 0.4),
        )
        M, C = D / N, 6 * N * D
        want = E + (a * M**eta + b * M ** (-eta)) * C ** (-eta)
        got = LAW.predict(LAW.to_internal({"E": E, "a": a, "b": b, "eta": eta}), X)[0]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_it_is_chinchilla_with_equal_exponents() -> None:
    """E + A/N^eta' + B/D^eta' with C = 6ND, M = D/N: a = A 6^eta... (Gadre et al., section 3)."""
    E, a, b, eta = 1.8, 200.0, 400.0, 0.15
    N, D = RUNS["N"].to_numpy(), RUNS["D"].to_numpy()
    A, B = a * 6.0 ** (-eta), b * 6.0 ** (-eta)  # a M^eta C^-eta = a 6^-eta N^-2eta
    chin = E + A / N ** (2 * eta) + B / D ** (2 * eta)
    got = LAW.predict(LAW.to_internal({"E": E, "a": a, "b": b, "eta": eta}), _XCM(RUNS))[0]
    np.testing.assert_allclose(got, chin, rtol=1e-12)


def test_compute_comes_from_the_table_or_6ND() -> None:
    frame = RUNS.iloc[:3].copy()
    X = _XCM(frame)
    np.testing.assert_array_equal(X["C"], training_flops(frame["N"], frame["D"]).to_numpy())
    np.testing.assert_allclose(X["M"], frame["D"] / frame["N"])
    frame["C"] = [1e18, 2e18, 3e18]  # the table's C wins (e.g. a different FLOP count)
    np.testing.assert_array_equal(_XCM(frame)["C"], [1e18, 2e18, 3e18])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = {"C": np.exp(rng.uniform(35, 50, 30)), "M": np.exp(rng.uniform(1, 7, 30))}
    theta = np.column_stack(
        [
            rng.uniform(0, 1.2, 5),
            rng.uniform(3, 8, 5),
            rng.uniform(3, 8, 5),
            rng.uniform(0.05, 0.4, 5),
        ]
    )
    assert_jacobian(LAW, theta, X)


def _gadre() -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = select_runs(
        load_dataset("overtraining_models"), metric="loss_c4_val", where="dataset == 'rpj'"
    )
    m, arch = runs["token_multiplier"], runs["architecture"]
    fit_set = runs[(arch.isin(SMALL) & (m == 20)) | ((arch == "d=96_l=8_h=4") & (m == 320))]
    targets = runs[((arch == "open_lm_1b") & (m == 640)) | ((arch == "open_lm_7b") & (m == 20))]
    return fit_set, targets


def test_reproduces_gadre_et_al_figure_1() -> None:
    """Gadre et al. 2024, figure 1: fitted on 5 RedPajama runs (the four small architectures at
    M = 20, the 0.011B model at M = 320; C4-eval loss), the law predicts the 1.4B M=640 and
    the 6.9B M=20 runs with relative errors 0.71% and 0.73%. With their objective (least
    squares on the loss, this law's default) we get 0.7103% and 0.7320%, as their notebook."""
    fit_set, targets = _gadre()
    assert len(fit_set) == 5 and len(targets) == 2
    assert set(fit_set["C"]) == set(6 * fit_set["N"] * fit_set["D"])  # the bundled C is 6ND
    r = _quiet_fit(fit_set, n_boot=0)
    assert r.objective_spec.kind == "lsq" and r.objective_spec.space == "linear"
    with pytest.warns(
        ExtrapolationWarning, match="392x outside the fitted range"
    ):  # 392x the largest C
        pred = predict(r, targets)["value"].to_numpy()
    rel = np.abs(pred - targets["y"].to_numpy()) / targets["y"].to_numpy()
    np.testing.assert_allclose(rel, [0.0071, 0.0073], atol=0.0005)
    assert np.all(np.abs(rel - [0.0071, 0.0073]) < 0.015)
    # the package's usual Huber objective on log L lands within 0.35 point of them
    rh = _quiet_fit(fit_set, n_boot=0, objective=Objective(kind="huber", space="log"))
    with pytest.warns(ExtrapolationWarning):
        ph = predict(rh, targets)["value"].to_numpy()
    relh = np.abs(ph - targets["y"].to_numpy()) / targets["y"].to_numpy()
    assert np.all(np.abs(relh - [0.0071, 0.0073]) < 0.0035), relh


@SETTINGS
@given(
    E=st.floats(1.6, 2.2),
    eta=st.floats(0.1, 0.2),
    ratio=st.floats(1.0, 3.0),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(E: float, eta: float, ratio: float, seed: int) -> None:
    """40 runs at 0.01 nats of noise. The 95% bootstrap intervals are about +-0.05 (E),
    +-0.01 (eta) and a factor ~1.3 (a, b); tolerances are about twice that, and the fitted
    surface stays within 3 sigma of the true one."""
    truth = {"E": E, "a": 200.0, "b": 200.0 * ratio, "eta": eta}
    r = _quiet_fit(_planted(truth, seed), n_boot=100, seed=seed)
    assert_sane(r)
    assert abs(r.params["E"] - E) < 0.1
    assert abs(r.params["eta"] - eta) < 0.02
    assert abs(np.log(r.params["b"] / truth["b"])) < 0.5
    X = _XCM(RUNS)
    fitted = LAW.predict(r.theta(), X)[0]
    assert np.max(np.abs(fitted - LAW.predict(LAW.to_internal(truth), X)[0])) < 3 * SIGMA


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    inside = dict.fromkeys(TRUTH, 0)
    for seed in range(10):
        r = _quiet_fit(_planted(TRUTH, seed), n_boot=200, seed=seed)
        assert_sane(r)
        for k, (lo, hi) in r.intervals.items():
            inside[k] += lo <= TRUTH[k] <= hi
    assert all(n >= 8 for n in inside.values()), inside


def test_missing_tokens_column_is_named() -> None:
    frame = pd.DataFrame(
        {"N": [1e8, 1e9, 1e9, 2e9], "C": [1e19, 1e20, 2e20, 5e20], "y": [3, 2.8, 2.7, 2.6]}
    )
    with pytest.raises(
        FitError, match=r"law 'overtraining' needs column 'D': training tokens.*--map D=COLUMN"
    ):
        fit(frame, "overtraining", n_boot=0)
