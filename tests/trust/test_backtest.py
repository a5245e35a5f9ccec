import warnings

import numpy as np
import pandas as pd
import pytest

from scalinglab.errors import FitError
from scalinglab.fit import fit, predict
from scalinglab.trust import backtest
from scalinglab.trust.backtest import scores


def planted(seed=0, sd=0.01):
    rng = np.random.default_rng(seed)
    N, D = np.meshgrid(np.logspace(7, 9.5, 6), np.logspace(9, 11, 5))
    N, D = N.ravel(), D.ravel()
    y = (1.8 + 400 * N**-0.34 + 1500 * D**-0.36) * np.exp(rng.normal(0, sd, N.size))
    return pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(N.size)],
            "N": N,
            "D": D,
            "y": y,
            "lab": np.where(np.arange(N.size) % 2, "a", "b"),
        }
    )


def test_scores_against_hand_computation():
    t = np.array([2.0, 3.0])
    v = np.array([2.2, 2.7])
    s = scores(t, v, np.array([1.9, 2.0]), np.array([2.1, 2.9]))
    assert s["rmse_log"] == pytest.approx(np.sqrt(np.mean(np.log(v / t) ** 2)))
    assert s["mare"] == pytest.approx(np.mean([0.1, 0.1]))
    assert s["max_are"] == pytest.approx(0.1)
    assert s["coverage"] == 0.5


def test_backtest_reports_each_law_and_auto_chooses_within_fit_portion():
    runs = planted()
    res = backtest(runs, ["chinchilla", "kaplan", "auto"], "top 20% by C", n_boot=100)
    s = res.summary.set_index("law")
    assert set(s.index) == {"chinchilla", "kaplan", "auto"}
    assert (s["n_holdout"] == 6).all() and (s["n_fit"] == 24).all()
    # the data are Chinchilla-shaped: it extrapolates better than Kaplan and auto picks it
    assert s.loc["chinchilla", "rmse_log"] < s.loc["kaplan", "rmse_log"]
    assert s.loc["auto", "chosen"] == "chinchilla"
    assert s.loc["chinchilla", "rmse_log"] < 0.03
    assert 0.0 <= s.loc["chinchilla", "coverage_90"] <= 1.0
    assert len(res.predictions) == 18


def test_backtest_group_by_and_worker_invariance():
    runs = planted(1)
    one = backtest(runs, ["chinchilla"], "top 1 by N", group_by="lab", n_boot=50, workers=1)
    two = backtest(runs, ["chinchilla"], "top 1 by N", group_by="lab", n_boot=50, workers=2)
    assert list(one.summary["group"]) == ["lab=a", "lab=b"]
    pd.testing.assert_frame_equal(one.summary, two.summary)


def test_held_out_runs_do_not_influence_the_fit():
    runs = planted(2)
    res = backtest(runs, ["chinchilla"], "top 20% by C", n_boot=50)
    changed = runs.copy()
    C = changed["N"] * changed["D"]
    top = C >= np.sort(C)[-6]
    changed.loc[top, "y"] *= 3.0  # wreck the held-out truths
    res2 = backtest(changed, ["chinchilla"], "top 20% by C", n_boot=50)
    a = res.fits[("chinchilla", None)].params
    b = res2.fits[("chinchilla", None)].params
    assert a == b


def test_calibrated_intervals_are_wider_than_bootstrap_ones():
    runs = planted(3, sd=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(runs, "chinchilla", n_boot=200, seed=0)
    pts = pd.DataFrame({"N": [1e10], "D": [2e11]})
    boot = predict(r, pts, interval="bootstrap")
    calib = predict(r, pts, interval="calibrated")
    assert (
        calib["low"][0] <= boot["low"][0] <= boot["value"][0] <= boot["high"][0] <= calib["high"][0]
    )
    assert (calib["high"] - calib["low"])[0] > (boot["high"] - boot["low"])[0]
    assert r.calibration is not None and len(r.calibration["z"]) >= 5


def test_backtest_errors():
    runs = planted()
    with pytest.raises(FitError, match="at least one --law"):
        backtest(runs, [], "top 20% by C")
    with pytest.raises(FitError, match="holds out no runs"):
        backtest(runs, ["chinchilla"], "N > 1e20")
    with pytest.raises(FitError, match="holds out every run"):
        backtest(runs, ["chinchilla"], "N > 0")
    with pytest.raises(FitError, match="unknown law 'chinchila'"):
        backtest(runs, ["chinchila"], "top 20% by C")
    with pytest.raises(FitError, match="level must be between 0 and 1"):
        backtest(runs, ["chinchilla"], "top 20% by C", level=1.5)
