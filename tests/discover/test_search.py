"""discover(): scoring, determinism, budget, holdout, law files and the errors it raises."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from discover_planted import PLANTED, equivalent, runs_of

from scalinglab.discover import DiscoverResult, discover, write_law_file
from scalinglab.discover.grammar import Atom, Candidate
from scalinglab.discover.score import aggregate, margin
from scalinglab.discover.search import _choose, catalogue_laws, make_parts
from scalinglab.errors import DataError, FitError
from scalinglab.laws import get_law

EXP_SAT = PLANTED[4]  # E + A exp(-x/s): not in the catalogue, so the grammar must find it


def small_runs(seed: int = 0, n: int = 16) -> pd.DataFrame:
    x = np.geomspace(1e3, 2e5, n)
    rng = np.random.default_rng(seed)
    y = (0.5 + 2.0 * np.exp(-x / 3e4)) * np.exp(rng.normal(0, 0.005, n))
    return pd.DataFrame({"x": x, "y": y})


def test_aggregate_fills_missing_origins_with_the_worst_and_penalises_parameters() -> None:
    errors = np.array([[[0.01, 0.02, np.nan]], [[0.02, 0.04, 0.08]], [[np.nan] * 3]])
    sc = aggregate(errors, np.array([2, 3, 1]), 0.1)
    # candidate 0 gets the worst error (0.08) at the origin it missed
    first = (math.log(0.01) + math.log(0.02) + math.log(0.08)) / 3
    second = (math.log(0.02) + math.log(0.04) + math.log(0.08)) / 3
    np.testing.assert_allclose(sc["score"][:2], [first + 0.2, second + 0.3])
    np.testing.assert_allclose(sc["nested"][:2], np.exp([first, second]))
    assert math.isnan(sc["score"][2])


def test_margin_is_paired_and_clustered_by_group() -> None:
    rng = np.random.default_rng(1)
    ref = np.log(rng.uniform(0.01, 0.02, (20, 3)))
    # a challenger 10% better on every origin of every group: gain log(1/0.9), no spread
    m = margin(ref + math.log(0.9), ref)
    assert (
        m.units == 20
        and m.text().endswith("over 20 groups")
        and m.se < 1e-12
        and m.gain == pytest.approx(-math.log(0.9))
    )
    assert m.significant
    # much better on 4 groups' origins, a little worse on 16: a large mean, but carried by
    # few groups; the 60 origins taken one by one would call it significant
    step = np.where(np.arange(20)[:, None] < 4, -1.0, 0.08) + 0.001 * rng.normal(size=(20, 3))
    m = margin(ref + step, ref)
    per_group = -step.mean(axis=1)
    assert m.gain == pytest.approx(per_group.mean())
    assert m.se == pytest.approx(per_group.std(ddof=1) / math.sqrt(20))
    assert not m.significant
    flat = (-step).ravel()
    assert flat.mean() - 1.645 * flat.std(ddof=1) / math.sqrt(60) > 0
    # one group: its origins are the units; one unit is never significant
    one = margin(ref[:1] + math.log(0.9), ref[:1])
    assert one.units == 3 and one.significant and one.text().endswith("over 3 origins")
    assert not margin(ref[:1, :1] - 1.0, ref[:1, :1]).significant


def test_a_grammar_form_replaces_the_catalogue_law_only_when_significantly_better() -> None:
    done = [
        Candidate("power_law", 3, catalogue="power_law"),
        Candidate("m4", 5, catalogue="m4"),
        Candidate("formula:E + A1*exp(-x/s1)", 3, (Atom("exp", ("x",)),), offset=True),
    ]
    nested = np.array([0.012, 0.010, 0.009])
    ref = np.log(np.array([[0.010, 0.011, 0.009], [0.012, 0.010, 0.011]]))
    near = ref + np.array([[-0.3, 0.25, -0.2], [0.1, -0.2, 0.15]])  # noise around M4
    logs = np.stack([ref + 0.2, ref, near])
    # the grammar form scores best, power law next (fewer parameters); the reference is M4,
    # the catalogue law of lowest nested error, and the grammar form does not beat it
    chosen, reference, why = _choose([2, 0, 1], done, nested, logs)
    assert (chosen, reference) == (1, 1)
    assert why.startswith("E + A1*exp(-x/s1) scored best of the grammar") and why.endswith(
        "m4 is kept"
    )
    # better at every origin of both groups, but by 0.2 in one and 0.02 in the other: two
    # groups are two units, and two units that disagree this much show nothing
    logs[2] = ref - np.array([[0.2], [0.02]])
    assert _choose([2, 0, 1], done, nested, logs)[0] == 1
    logs[2] = ref - 0.2 + 0.01 * np.array([[1, 0, -1], [0, 1, -1]])
    assert margin(logs[2][:1], ref[:1]).significant  # within one group, origins are units


def test_recovers_exponential_saturation_fast() -> None:
    # the power-law seed, then the simplest grammar forms up to E + A exp(-x/s)
    runs = runs_of(EXP_SAT, 0)
    r = discover(runs, ["x"], max_candidates=6, seed=0, seeds=["power_law"])
    assert r.leaderboard[0].formula == "E + A1*exp(-x/s1)"
    ok, dev = equivalent(EXP_SAT, r)
    assert ok, dev
    assert r.best_catalogue == "power_law"
    assert r.row("power_law") is not None
    assert r.n_scored == 6 and 6 < r.n_fits <= 6 * 3 and r.candidates_per_s > 0


def test_catalogue_seeds_are_the_laws_of_the_variables() -> None:
    runs = small_runs()
    assert {law.name for law in catalogue_laws(runs, ["x"])} == {"power_law", "m4", "bnsl", "bnsl2"}
    nd = pd.DataFrame({"N": [1e8, 1e9], "D": [1e10, 1e11], "y": [3.0, 2.5]})
    assert {law.name for law in catalogue_laws(nd, ["N", "D"])} == {
        "chinchilla", "kaplan", "overtraining"
    }  # fmt: skip
    with pytest.raises(FitError, match=r"seed laws \['chinchilla'\] are not catalogue laws"):
        discover(runs, ["x"], seeds=["chinchilla"])


@pytest.mark.slow
def test_same_seed_same_result_whatever_the_workers() -> None:
    runs = small_runs()
    a = discover(runs, ["x"], max_candidates=4, seed=3, workers=1, seeds=[])
    b = discover(runs, ["x"], max_candidates=4, seed=3, workers=2, seeds=[])
    keys = ("law", "nested", "score", "in_fit")
    assert [[getattr(r, k) for k in keys] for r in a.leaderboard] == [
        [getattr(r, k) for k in keys] for r in b.leaderboard
    ]


def test_budget_stops_after_a_prefix_of_candidates() -> None:
    r = discover(small_runs(), ["x"], budget_s=1e-3, seeds=[])
    assert r.n_scored >= 1 and not r.complete and r.n_scored < r.n_candidates


def test_holdout_runs_are_never_searched_and_scored_at_the_end() -> None:
    runs = small_runs(n=20)
    parts = make_parts(runs, ["x"], "top 4 by x", None)
    assert parts[0].search["x"].max() < np.sort(runs["x"])[-4]
    assert len(parts[0].held) == 4
    r = discover(runs, ["x"], holdout="top 4 by x", max_candidates=4, seeds=["power_law"])
    assert all(math.isfinite(row.heldout) for row in r.leaderboard)


def test_result_round_trips_through_dict() -> None:
    r = discover(small_runs(), ["x"], max_candidates=3, seeds=["power_law"])
    assert DiscoverResult.from_dict(r.to_dict()) == r


def test_law_file_is_accepted_wherever_a_law_is(tmp_path: Path) -> None:
    path = write_law_file("E + A1*exp(-x/s1)", tmp_path / "best.law", ["found by a test"])
    assert path.read_text().startswith("# found by a test\n")
    assert get_law(str(path)).name == "formula:E + A1*exp(-x/s1)"
    with pytest.raises(DataError, match=r"must end in \.law"):
        write_law_file("chinchilla", tmp_path / "best.txt")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# only a comment\n", "found 0"),
        ("chinchilla\nkaplan\n", "found 2"),
        ("other.law\n", "names another law file"),
    ],
)
def test_bad_law_files(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "bad.law"
    p.write_text(text)
    with pytest.raises(FitError, match=message):
        get_law(str(p))


def test_missing_law_file() -> None:
    with pytest.raises(FitError, match="cannot be read"):
        get_law("/nonexistent/best.law")


@pytest.mark.parametrize(
    ("change", "variables", "message"),
    [
        ({}, [], "name at least one variable"),
        ({}, ["N"], "no such column"),
        ({"x y": 1.0}, ["x y"], "not usable as a name"),
        ({"A1": 1.0}, ["A1"], "clashes with the grammar"),
        ({"x": -1.0}, ["x"], "must be positive and finite"),
        ({"y": 0.0}, ["x"], "target must be positive"),
    ],
)
def test_bad_input(change: dict[str, float], variables: list[str], message: str) -> None:
    runs = small_runs()
    for col, v in change.items():
        runs[col] = v
    with pytest.raises(DataError, match=message):
        discover(runs, variables)


def test_too_few_runs() -> None:
    with pytest.raises(DataError, match="too few runs to backtest"):
        discover(small_runs(n=2), ["x"])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"budget_s": 0.0}, "give a positive time"),
        ({"workers": 0}, "processes >= 1"),
        ({"max_terms": 4}, "1, 2 or 3 terms"),
        ({"penalty": -1.0}, "number >= 0"),
    ],
)
def test_bad_options(option: dict[str, float], message: str) -> None:
    with pytest.raises(FitError, match=message):
        discover(small_runs(), ["x"], **option)  # type: ignore[arg-type]


def test_no_candidate_backtested() -> None:
    # five runs: each origin leaves at most four, fewer than BNSL's six parameters
    with pytest.raises(FitError, match="no candidate law could be backtested"):
        discover(small_runs(n=5), ["x"], max_candidates=1, seeds=["bnsl"])


def test_law_file_as_toml_reloads_the_formula_law(tmp_path: Path) -> None:
    """`discover --out best.toml` writes the TOML law file of scalinglab.laws.law_file (the
    search's notes as comments); every --law reads it back as the same law. A catalogue law
    has no formula file: the error says to use its name."""
    from scalinglab.discover.lawfile import write_law_file as write_discovered
    from scalinglab.errors import DataError
    from scalinglab.laws.registry import get_law

    law = get_law("E + A/x^a")
    out = write_discovered(law.name, tmp_path / "best.toml", ["nested error 0.01"])
    assert out.read_text(encoding="utf-8").startswith("# nested error 0.01\n")
    assert get_law(str(out)).name == law.name
    with pytest.raises(DataError, match="catalogue law 'chinchilla', which has no formula file"):
        write_discovered("chinchilla", tmp_path / "c.toml")
    with pytest.raises(DataError, match=r"must end in \.law or \.toml"):
        write_discovered(law.name, tmp_path / "best.txt")
