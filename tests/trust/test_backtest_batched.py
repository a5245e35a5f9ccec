"""A grouped backtest of a Levenberg-Marquardt law searches every group's fit portion as one
batch, and its fits and scores equal those of each group fitted alone."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest

from scalinglab.fit import many
from scalinglab.fit.api import fit_spec, make_spec
from scalinglab.laws.registry import get_law
from scalinglab.trust.backtest import backtest


def _runs() -> pd.DataFrame:
    """Three planted power-law curves E + A x^-alpha, 12 to 14 points, 0.5% noise."""
    rng = np.random.default_rng(1)
    parts = []
    for g, (E, A, alpha) in enumerate([(1.5, 30.0, 0.3), (2.0, 80.0, 0.5), (0.8, 10.0, 0.2)]):
        x = np.geomspace(1e3, 1e7, 12 + g)
        y = (E + A * x**-alpha) * np.exp(0.005 * rng.normal(size=x.size))
        parts.append(pd.DataFrame({"x": x, "y": y, "curve": f"c{g}"}))
    return pd.concat(parts, ignore_index=True)


def test_grouped_backtest_batches_and_equals_fits_of_each_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def spy(tables, spec, **kw):  # type: ignore[no-untyped-def]
        calls.append(len(tables))
        return many.fit_spec_many(tables, spec, **kw)

    monkeypatch.setattr(importlib.import_module("scalinglab.trust.backtest"), "fit_spec_many", spy)
    runs = _runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = backtest(runs, ["power_law"], "x > 2e6", group_by="curve", n_boot=0)
    assert calls == [3]
    spec = make_spec(get_law("power_law"), n_boot=0)
    for (_, group), r in bt.fits.items():
        part = runs.loc[(runs["curve"] == group.split("=")[1]) & (runs["x"] <= 2e6)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            alone = fit_spec(part, spec)
        assert r.objective == pytest.approx(alone.objective, rel=1e-9)
        assert r.params["alpha"] == pytest.approx(alone.params["alpha"], rel=1e-6)
    assert bt.summary["error"].isna().all()
    assert np.all(bt.summary["rmse_log"] < 0.02)
