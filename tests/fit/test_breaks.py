"""The BNSL search (scalinglab.fit.breaks): break restarts, no worse than the plain L-BFGS
search on the learning curves where a simpler search was worse, fixed parameters kept."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalinglab.data import load_dataset, select_runs
from scalinglab.data.select import group_runs
from scalinglab.fit import breaks, checks
from scalinglab.fit.api import build, fit_spec, make_spec
from scalinglab.fit.engine import multistart
from scalinglab.laws._bnsl_common import break_seeds
from scalinglab.laws.registry import get_law

RTOL = 1e-9


@pytest.fixture(scope="module")
def curves() -> list[pd.DataFrame]:
    runs = select_runs(load_dataset("revisiting_lang"), x="Seen Examples")
    return [f.loc[f["Training"] == 1] for _, f in group_runs(runs, ["Domain", "Task", "Model"])]


def test_break_seeds_one_break() -> None:
    """4 data points: 7 places (points and midpoints), each with a sharp and a moderate break,
    for each of the 2 points; only d1 and f1 change."""
    lx = np.log(np.array([1e2, 1e4, 1e3, 1e5]))  # unsorted on purpose
    pts = np.array([[0.1, 1.0, 0.5, 0.3, 8.0, -1.0], [0.2, 2.0, 0.4, -0.3, 9.0, 0.0]])
    s = break_seeds(pts, lx, 1)
    assert s.shape == (2 * 7 * 2, 6)
    places = np.log(10.0) * np.array([2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0])
    np.testing.assert_allclose(np.unique(s[:, 4]), places)
    np.testing.assert_allclose(np.unique(s[:, 5]), [np.log(1e-3), -0.7])
    np.testing.assert_array_equal(s[:28:14, :4], pts[:, :4])  # the rest of each point kept
    np.testing.assert_array_equal(np.unique(s[:14, :4], axis=0), pts[:1, :4])


def test_break_seeds_two_breaks_pairs_are_ordered_and_sharp() -> None:
    """Two breaks, 3 points (5 places): 5 moves of each break (moderate) plus C(5, 2) = 10
    sharp pairs with d1 < d2."""
    lx = np.log(np.array([1e2, 1e3, 1e4]))
    pt = np.array([0.1, 1.0, 0.5, 0.3, 5.0, -1.0, 0.2, 8.0, -1.0])
    s = break_seeds(pt[None, :], lx, 2)
    assert s.shape == (5 + 5 + 10, 9)
    pairs = s[10:]
    assert np.all(pairs[:, 4] < pairs[:, 7])
    assert np.all(pairs[:, [5, 8]] == np.log(1e-3))
    assert len({(a, b) for a, b in pairs[:, [4, 7]]}) == 10
    moves = s[:10]
    assert np.all(moves[:5, 7] == 8.0) and np.all(moves[5:, 4] == 5.0)  # one break at a time


def test_break_seeds_cap_places_at_quantiles() -> None:
    """100 points give 199 places; at most 40 are moved to, at quantiles, ends included."""
    lx = np.linspace(0.0, 10.0, 100)
    s = break_seeds(np.zeros((1, 6)), lx, 1)
    d = np.unique(s[:, 4])
    assert d.size == 40 and d[0] == 0.0 and d[-1] == 10.0


def test_planted_sharp_break_is_recovered() -> None:
    """Noise-free data from a sharp one-break law (break between two points): the search
    reaches the rounding floor of the objective and the true break."""
    law = get_law("bnsl")
    x = np.geomspace(1e3, 1e7, 17)
    truth = np.array([np.log(0.5), np.log(30.0), 0.05, 0.5, np.log(3e4), np.log(0.05)])
    y = np.exp(law.evaluate(truth[None, :], {"x": x})[0][0])
    r = _quiet(fit_spec, pd.DataFrame({"x": x, "y": y}), make_spec(law, n_boot=0))
    assert r.objective < 1e-20
    assert abs(np.log(r.params["d1"] / 3e4)) < 0.05
    assert abs(r.params["c1"] - 0.5) < 0.02


def test_fixed_break_stays_fixed(curves: list[pd.DataFrame]) -> None:
    """A fixed d1 is never moved by the restarts; the fit is no better than the free one."""
    law = get_law("bnsl")
    free = _quiet(fit_spec, curves[18], make_spec(law, n_boot=0))
    fixed = _quiet(fit_spec, curves[18], make_spec(law, n_boot=0, fix={"d1": 1e7}))
    assert fixed.params["d1"] == pytest.approx(1e7, rel=1e-12)
    assert fixed.objective >= free.objective * (1 - RTOL)


def test_applies_only_to_bnsl() -> None:
    assert breaks.applies(get_law("bnsl")) and breaks.applies(get_law("bnsl2"))
    assert not breaks.applies(get_law("m4"))


@pytest.mark.slow  # the plain L-BFGS search takes 2-6 s per curve
@pytest.mark.parametrize(
    ("law", "index"),
    [("bnsl", 1), ("bnsl", 4), ("bnsl", 8), ("bnsl", 9), ("bnsl2", 12), ("bnsl2", 18)],
)
def test_no_worse_than_plain_lbfgs(curves: list[pd.DataFrame], law: str, index: int) -> None:
    """The curves of revisiting_lang on which a simpler search ended higher than the plain
    L-BFGS search: Levenberg-Marquardt from the screened survivors alone (bnsl 1, 4, 8), without
    the 50 L-BFGS iterations before it (bnsl 9), without moderate single-break restarts
    (bnsl2 12) or without pairs of breaks (bnsl2 18)."""
    b = build(curves[index], make_spec(get_law(law), n_boot=0), "y", None, None, "runs")
    starts = checks.starts(b.law, b.problem, None)
    new = _quiet(multistart, b.problem, starts)
    old = _quiet(multistart, b.problem, starts, method="lbfgs")
    assert new.f <= old.f * (1 + RTOL), (new.f, old.f)
    assert new.n_starts > starts.shape[0]  # restarts counted among the rows searched


def _quiet(fn, *args, **kw):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)
