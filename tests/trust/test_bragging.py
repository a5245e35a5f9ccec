"""Auto's bragged candidates: the median of bootstrap refits' predictions (Buhlmann and Yu
2002), checked against the refits' parameters evaluated independently."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglab.fit import fit
from scalinglab.laws.registry import get_law
from scalinglab.trust import auto


def _curve() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    x = np.geomspace(10, 1e4, 14)
    y = (2.0 + 30.0 * x**-0.45) * np.exp(rng.normal(0, 0.01, x.size))
    return pd.DataFrame({"x": x, "y": y})


def test_bragged_prediction_is_the_median_of_the_refits_predictions() -> None:
    runs = _curve()
    r = fit(runs, "power_law", n_boot=40, seed=0)
    at = pd.DataFrame({"x": [2e4, 1e5]})
    got = auto._bragged(r, at)
    draws = r.draws()
    ok = np.isfinite(draws).all(axis=1)
    E, A, alpha = (draws[ok, r.law_obj().param_names.index(n)] for n in ("E", "A", "alpha"))
    each = E[:, None] + A[:, None] * at["x"].to_numpy()[None, :] ** -alpha[:, None]
    # the median is taken in the fit's space (log for the power law): with an even number of
    # refits it is the geometric mean of the middle two
    assert r.space == "log"
    np.testing.assert_allclose(got, np.exp(np.median(np.log(each), axis=0)), rtol=1e-12)
    # not the point fit's prediction: the refits are spread and the median moves off it
    assert not np.allclose(got, auto._predictions(r, at), rtol=1e-12)


def test_a_point_fit_brags_as_itself() -> None:
    r = fit(_curve(), "power_law", n_boot=0, seed=0)
    at = pd.DataFrame({"x": [2e4]})
    np.testing.assert_array_equal(auto._bragged(r, at), auto._predictions(r, at))


def test_only_the_fast_refitting_laws_brag() -> None:
    assert auto.BRAG_BOOT > 0
    assert get_law("m4").solver == get_law("power_law").solver == "lm"
    assert get_law("bnsl").solver != "lm"
