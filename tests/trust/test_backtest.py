import math
import warnings

import numpy as np
import pandas as pd
import pytest

from scalinglab.errors import FitError
from scalinglab.fit import fit
from scalinglab.trust import backtest, predict
from scalinglab.trust.backtest import scores
from scalinglab.trust.select import (
    choose_laws,
    group_scores,
    pooled_scores,
)


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
    assert len(res.predictions) == 18
    p = res.predictions[res.predictions["law"] == "chinchilla"]
    inside = ((p["low"] <= p["truth"]) & (p["truth"] <= p["high"])).mean()
    assert s.loc["chinchilla", "coverage_90"] == pytest.approx(inside)


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


def test_conformal_scale_is_the_split_conformal_quantile():
    from scalinglab.fit.records import Calibration
    from scalinglab.trust.calibrate import LEVELS, MIN_NESTED, scale_for

    rng = np.random.default_rng(1)
    z = rng.uniform(0.2, 3.0, size=(23, len(LEVELS)))
    cal = Calibration("m", LEVELS, tuple(map(tuple, z)))
    j = LEVELS.index(0.9)
    # independent: the k-th smallest with k = ceil((n + 1) * 0.9) (Lei et al. 2018)
    k = math.ceil((23 + 1) * 0.9)
    assert scale_for(cal, 0.9) == sorted(z[:, j])[k - 1]
    small = Calibration("m", LEVELS, tuple(map(tuple, z[: MIN_NESTED - 1])))
    assert scale_for(small, 0.9) == 1.0  # too few nested runs: no scale
    tight = Calibration("m", LEVELS, tuple(map(tuple, z * 0.1)))
    assert scale_for(tight, 0.9) == 1.0  # never narrower than the predictive interval


def test_calibrated_interval_is_the_predictive_one_scaled():
    from scalinglab.trust.calibrate import calibrate, scale_for

    runs = planted(3, sd=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = calibrate(fit(runs, "chinchilla", n_boot=200, seed=0), runs)
    assert r.calibration is not None and len(r.calibration.z) >= 5
    s = scale_for(r.calibration, 0.9)
    pts = pd.DataFrame({"N": [1e10, 3e9], "D": [2e11, 5e10]})
    pred = predict(r, pts, interval="predictive", level=0.9)
    calib = predict(r, pts, interval="calibrated", level=0.9)
    lv, cv = np.log(pred["value"]), np.log(calib["value"])
    np.testing.assert_allclose(cv, lv)
    np.testing.assert_allclose(
        np.log(calib["high"]) - cv, s * (np.log(pred["high"]) - lv), rtol=1e-12
    )
    np.testing.assert_allclose(
        cv - np.log(calib["low"]), s * (lv - np.log(pred["low"])), rtol=1e-12
    )


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


def kaplan_shaped(seed=0, sd=0.005):
    rng = np.random.default_rng(seed)
    N, D = np.meshgrid(np.logspace(7, 9.5, 6), np.logspace(9, 11, 5))
    N, D = N.ravel(), D.ravel()
    y = ((8.8e13 / N) ** (0.076 / 0.095) + 5.4e13 / D) ** 0.095
    y = y * np.exp(rng.normal(0, sd, N.size))
    return pd.DataFrame({"run_id": [f"k{i}" for i in range(N.size)], "N": N, "D": D, "y": y})


def two_families():
    a = planted(4, sd=0.005).drop(columns="lab").assign(lab="chin")
    b = kaplan_shaped(5).assign(lab="kap")
    return pd.concat([a, b], ignore_index=True)


def test_choose_laws_per_group_and_pooled():
    nan = math.nan
    errors = {
        "g1": {"p": [0.01, 0.01], "q": [0.02, 0.02]},  # p better by log 2
        "g2": {"p": [0.04, 0.04], "q": [0.03, 0.03]},  # q better by log(4/3)
        "g3": {"p": [0.01, 0.01], "q": [nan, nan]},  # q never backtested here
    }
    assert choose_laws(errors, "group") == {"g1": "p", "g2": "q", "g3": "p"}
    # pooled: mean over groups of each group's mean log error; q counts as g3's worst (p's)
    mean_p = np.mean([np.log(0.01), np.log(0.04), np.log(0.01)])
    mean_q = np.mean([np.log(0.02), np.log(0.03), np.log(0.01)])
    assert pooled_scores(errors) == pytest.approx({"p": mean_p, "q": mean_q})
    assert mean_p < mean_q
    assert choose_laws(errors, "pooled") == {"g1": "p", "g2": "p", "g3": "p"}
    # a pooled winner never backtested in a group leaves that group its own best
    errors2 = {
        "g1": {"p": [0.02, 0.02], "q": [0.01, 0.01]},
        "g2": {"p": [0.02, 0.02], "q": [0.01, 0.01]},
        "g3": {"p": [0.01, 0.01], "q": [nan, nan]},
    }
    assert choose_laws(errors2, "pooled") == {"g1": "q", "g2": "q", "g3": "p"}
    # laws are compared on the same origins: q, backtested only at the easy first origin, counts
    # as the worst candidate (r) at the second and loses to p, though its own mean is lowest
    errors3 = {"g1": {"p": [0.02, 0.02], "q": [0.015, nan], "r": [0.03, 0.05]}}
    assert group_scores(errors3["g1"]) == pytest.approx(
        {
            "p": np.mean(np.log([0.02, 0.02])),
            "q": np.mean(np.log([0.015, 0.05])),
            "r": np.mean(np.log([0.03, 0.05])),
        }
    )
    assert choose_laws(errors3, "group") == {"g1": "p"}
    with pytest.raises(FitError, match="auto scope must be one of pooled, group"):
        choose_laws(errors, "global")
    with pytest.raises(FitError, match="no candidate law could be backtested"):
        choose_laws({"g1": {"p": [nan], "q": [nan]}}, "group")


def test_auto_pooled_mixes_the_candidates_with_one_weight_set_from_the_fit_portions():
    runs = two_families()
    laws = ["chinchilla", "kaplan", "auto"]
    pooled = backtest(runs, laws, "top 20% by C", group_by="lab", n_boot=10, workers=2)
    sel = pooled.selection
    assert set(sel["group"]) == {"lab=chin", "lab=kap"}
    assert set(sel["law"]) == {"chinchilla", "kaplan"}
    for _, row in sel.iterrows():
        assert row["score"] == pytest.approx(np.mean(np.log(row["origin_rmse_log"])))
    # pooled: the same weights in both groups, on the simplex
    w = sel.pivot(index="group", columns="law", values="weight")
    assert np.allclose(w.sum(axis=1), 1.0)
    assert np.allclose(w.loc["lab=chin"], w.loc["lab=kap"])
    # auto's prediction is the weighted geometric mean of the candidates' point predictions
    # (their backtest rows share the point fit: the bootstrap does not move it)
    p = pooled.predictions.set_index(["law", "group", "run_id"])["value"].sort_index()
    for g in ("lab=chin", "lab=kap"):
        mix = sum(w.loc[g, n] * np.log(p.loc[n, g]) for n in ("chinchilla", "kaplan"))
        np.testing.assert_allclose(np.log(p.loc["auto", g]), mix, rtol=1e-9)
    # per group, with the held-out truths wrecked: weights, scores and intervals are unchanged
    # (nested: the fit portions only) and each family's own law carries most of its weight
    wrecked = runs.copy()
    C = wrecked["N"] * wrecked["D"]
    for lab in ("chin", "kap"):
        m = wrecked["lab"] == lab
        wrecked.loc[m & (C >= np.sort(C[m])[-6]), "y"] *= 3.0
    own = backtest(
        wrecked, laws, "top 20% by C", group_by="lab", n_boot=10, workers=2, auto_scope="group"
    )
    pooled_own = backtest(wrecked, laws, "top 20% by C", group_by="lab", n_boot=10, workers=2)
    keep = ["group", "law", "origin_rmse_log", "score", "weight"]
    pd.testing.assert_frame_equal(pooled_own.selection[keep], pooled.selection[keep])
    a, b = (r.predictions.query("law == 'auto'") for r in (pooled, pooled_own))
    for c in ("value", "low", "high"):
        np.testing.assert_array_equal(a[c].to_numpy(), b[c].to_numpy())
    chosen_own = own.summary.set_index("law").loc["auto"].set_index("group")["chosen"]
    assert chosen_own.to_dict() == {"lab=chin": "chinchilla", "lab=kap": "kaplan"}
    with pytest.raises(FitError, match="--auto-scope must be one of"):
        backtest(runs, laws, "top 20% by C", group_by="lab", auto_scope="global")
