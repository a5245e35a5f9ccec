"""Many curves searched as one batch equal the same curves fitted one at a time; the
Levenberg-Marquardt polish is no worse than the L-BFGS engine on real learning curves."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from scalinglab.data import load_dataset, select_runs
from scalinglab.data.select import group_runs
from scalinglab.errors import FitError
from scalinglab.fit import checks, groups, many
from scalinglab.fit.api import build, fit_spec, make_spec
from scalinglab.fit.engine import Problem, multistart
from scalinglab.fit.groups import fit_runs
from scalinglab.fit.many import batchable, fit_spec_many
from scalinglab.fit.records import JointSpec
from scalinglab.fit.result import FitResult
from scalinglab.laws.registry import get_law

# curves of revisiting_lang (by position) whose M4 optimum is well identified (no ridge):
# their parameters, not only their objectives, must agree
IDENTIFIED = (2, 3, 5)


@pytest.fixture(scope="module")
def curves() -> list[pd.DataFrame]:
    runs = select_runs(load_dataset("revisiting_lang"), x="Seen Examples")
    return [f.loc[f["Training"] == 1] for _, f in group_runs(runs, ["Domain", "Task", "Model"])]


def _quiet(fn, *args, **kw):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def test_batched_m4_fits_equal_one_at_a_time(curves: list[pd.DataFrame]) -> None:
    spec = make_spec(get_law("m4"), n_boot=0)
    tables = [curves[i] for i in IDENTIFIED] + [curves[10]]  # curves of 19 and 11 points
    many = _quiet(fit_spec_many, tables, spec)
    for table, got in zip(tables, many, strict=True):
        one = _quiet(fit_spec, table, spec)
        assert isinstance(got, FitResult)
        assert got.objective == pytest.approx(one.objective, rel=1e-9)
        for name in one.params:
            assert got.params[name] == pytest.approx(one.params[name], rel=1e-5), name
        assert got.search.starts == one.search.starts == 243
        assert got.provenance == one.provenance
        assert got.n_points == one.n_points == len(table)
        assert got.spec == one.spec


def test_a_group_that_cannot_be_fitted_keeps_its_error_and_the_others_fit(
    curves: list[pd.DataFrame],
) -> None:
    spec = make_spec(get_law("power_law"), n_boot=0)
    tables = [curves[2], curves[2].iloc[:2], curves[12]]
    out = _quiet(fit_spec_many, tables, spec)
    assert isinstance(out[1], FitError)
    assert "fewer than the 3 free parameters" in str(out[1])
    for table, got in zip((tables[0], tables[2]), (out[0], out[2]), strict=True):
        assert isinstance(got, FitResult)
        assert got.objective == pytest.approx(_quiet(fit_spec, table, spec).objective, rel=1e-9)


def test_one_provenance_per_table() -> None:
    spec = make_spec(get_law("m4"), n_boot=0)
    with pytest.raises(FitError, match=r"2 tables but 1 provenances; give one per table"):
        fit_spec_many([pd.DataFrame(), pd.DataFrame()], spec, provenances=[None])


def test_laws_that_do_not_batch_are_fitted_one_at_a_time(
    curves: list[pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    bnsl = get_law("bnsl")
    assert not batchable(bnsl, make_spec(bnsl, n_boot=0))  # solved by L-BFGS
    joint = dataclasses.replace(make_spec(get_law("m4")), joint=JointSpec("g", ("a",), ("c",)))
    assert not batchable(get_law("m4"), joint)
    spec = make_spec(get_law("power_law"), n_boot=0)
    monkeypatch.setattr(many, "batchable", lambda law, spec: False)
    got = _quiet(fit_spec_many, [curves[15]], spec)[0]
    assert isinstance(got, FitResult)
    assert got.objective == _quiet(fit_spec, curves[15], spec).objective


def test_fit_by_group_uses_the_batch_and_matches_separate_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(0)
    x = np.geomspace(1e3, 1e7, 12)
    parts = []
    for g, (E, A, alpha) in enumerate([(1.5, 30.0, 0.3), (2.0, 80.0, 0.5), (0.8, 10.0, 0.2)]):
        y = (E + A * x**-alpha) * np.exp(0.005 * rng.normal(size=x.size))
        parts.append(pd.DataFrame({"x": x[: 10 + g], "y": y[: 10 + g], "g": f"c{g}"}))
    runs = pd.concat(parts, ignore_index=True)
    calls: list[int] = []

    def spy(tables, spec, **kw):  # type: ignore[no-untyped-def]
        calls.append(len(tables))
        return fit_spec_many(tables, spec, **kw)

    monkeypatch.setattr(groups, "fit_spec_many", spy)
    fits = _quiet(fit_runs, runs, "power_law", group_by="g", n_boot=0)
    assert calls == [3]  # one batch of the three groups
    for part, got in zip(parts, fits.fits, strict=True):
        alone = _quiet(fit_spec, part, make_spec(get_law("power_law"), n_boot=0))
        assert got.provenance.group == f"g={part['g'].iloc[0]}"
        assert got.objective == pytest.approx(alone.objective, rel=1e-9)
        assert got.params["alpha"] == pytest.approx(alone.params["alpha"], rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("index", [3, 12])
def test_m4_no_worse_than_the_lbfgs_engine(curves: list[pd.DataFrame], index: int) -> None:
    """The same problem and starts with the law's solver switched to L-BFGS (the engine
    before the Levenberg-Marquardt polish)."""
    spec = make_spec(get_law("m4"), n_boot=0)
    b = build(curves[index], spec, "y", None, None, "runs")
    starts = checks.starts(b.law, b.problem, None)
    lm = multistart(b.problem, starts)
    slow = dataclasses.replace(b.problem, law=dataclasses.replace(b.law, solver="lbfgs"))
    assert isinstance(slow, Problem)
    ref = multistart(slow, starts)
    assert lm.f <= ref.f * (1 + 1e-9)
    assert lm.n_eval < ref.n_eval
