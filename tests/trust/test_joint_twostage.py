import warnings

import numpy as np
import pandas as pd
import pytest

from scalinglab.errors import FitError
from scalinglab.fit import FitResult, fit
from scalinglab.trust import predict
from scalinglab.trust.twostage import predict_two_stage


def two_groups(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for g, (E, A, B) in {"web": (1.8, 400.0, 1500.0), "code": (1.2, 300.0, 900.0)}.items():
        for N in np.logspace(7, 9.5, 5):
            for D in np.logspace(9, 11, 4):
                y = (E + A * N**-0.34 + B * D**-0.36) * np.exp(rng.normal(0, 0.005))
                rows.append({"N": N, "D": D, "y": y, "dataset": g})
    return pd.DataFrame(rows)


def test_joint_fit_shares_exponents_and_recovers_group_terms():
    runs = two_groups()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(
            runs,
            "chinchilla",
            group_by="dataset",
            shared=["alpha", "beta"],
            n_boot=50,
        )
    assert set(r.params) == {
        "alpha",
        "beta",
        "E[code]",
        "E[web]",
        "A[code]",
        "A[web]",
        "B[code]",
        "B[web]",
    }
    assert r.params["alpha"] == pytest.approx(0.34, abs=0.03)
    assert r.params["beta"] == pytest.approx(0.36, abs=0.03)
    assert r.params["E[web]"] == pytest.approx(1.8, rel=0.05)
    assert r.params["E[code]"] == pytest.approx(1.2, rel=0.05)
    again = FitResult.from_json(r.to_json())
    p = predict(
        again, pd.DataFrame({"N": [1e8, 1e8], "D": [1e10, 1e10], "dataset": ["web", "code"]})
    )
    truth = [
        1.8 + 400 * 1e8**-0.34 + 1500 * 1e10**-0.36,
        1.2 + 300 * 1e8**-0.34 + 900 * 1e10**-0.36,
    ]
    assert p["value"].to_numpy() == pytest.approx(truth, rel=0.01)
    with pytest.raises(FitError, match="were not among the fitted groups"):
        predict(again, pd.DataFrame({"N": [1e8], "D": [1e10], "dataset": ["math"]}))


def test_joint_fit_errors():
    runs = two_groups()
    with pytest.raises(FitError, match="needs both --group-by"):
        fit(runs, "chinchilla", shared=["alpha"])
    with pytest.raises(FitError, match="not parameters of law 'chinchilla'"):
        fit(runs, "chinchilla", group_by="dataset", shared=["gamma"], n_boot=0)
    with pytest.raises(FitError, match="no such column"):
        fit(runs, "chinchilla", group_by="lab", shared=["alpha"], n_boot=0)


def test_two_stage_propagates_both_stages():
    rng = np.random.default_rng(0)
    N, D = np.meshgrid(np.logspace(7, 9, 5), np.logspace(9, 11, 4))
    N, D = N.ravel(), D.ravel()
    L = (1.8 + 400 * N**-0.34 + 1500 * D**-0.36) * np.exp(rng.normal(0, 0.005, N.size))
    err = (0.9 - 2.0 * np.exp(-0.9 * L)) * np.exp(rng.normal(0, 0.003, N.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss_fit = fit(pd.DataFrame({"N": N, "D": D, "y": L}), "chinchilla", n_boot=100, seed=0)
        # a stand-in downstream law of the loss: power law in x = loss (a decreasing error)
        ds = fit(pd.DataFrame({"x": L, "y": err}), "power_law", n_boot=100, seed=0)
    out = predict_two_stage(loss_fit, ds, {"N": [3e9], "D": [3e11]}, level=0.9)
    assert out["loss_low"][0] <= out["loss"][0] <= out["loss_high"][0]
    assert out["low"][0] <= out["value"][0] <= out["high"][0]
    # the interval through both stages is wider than stage 2's own at the central loss
    own = predict(ds, {"x": [out["loss"][0]]}, level=0.9)
    assert out["high"][0] - out["low"][0] > own["high"][0] - own["low"][0]
    with pytest.raises(FitError, match="second stage must be a law of the loss"):
        predict_two_stage(ds, loss_fit, {"x": [2.0]})
