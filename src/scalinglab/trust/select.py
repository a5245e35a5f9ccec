"""``--law auto``'s candidates and the single-law scores of its rolling-origin evidence.

The candidates by default are the laws that declare themselves ``auto_candidate`` and whose
variables the table has (laws of one variable x when it has x, else laws of N and D). Each is
backtested inside every group's fit portion at the same rolling origins (hold back the top
10%, 20%, 30% along the extrapolation axis, fit the rest, score the RMSE of log values;
:mod:`scalinglab.trust.auto`). Since auto became a stacked ensemble
(:mod:`scalinglab.trust.ensemble`), these per-law scores are reported, not used to pick: a
law's score in a group is the mean log of its errors over the origins, where a law that cannot
be backtested at an origin counts as the worst candidate there. :func:`choose_laws` gives the
single law the scores favour (pooled over the groups or per group), for comparison with the
ensemble. On the 20 curves of ``revisiting_lang`` choosing one law per curve did worse than M4
alone, choosing one pooled law picked M4 for every curve (bench/extrapolation.py, before the
ensemble).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import FitError, ScalinglabError
from scalinglab.fit.objectives import Objective
from scalinglab.fit.records import FitSpec
from scalinglab.laws.base import Law
from scalinglab.laws.registry import get_law, list_laws

AUTO_SCOPES = ("pooled", "group")


#: The law fitted when none is named: by the variables a table offers.
DEFAULT_LAWS = {"x": "power_law", "ND": "chinchilla"}


def default_law(frame: pd.DataFrame) -> str:
    """The law to fit when the user names none: the power law for a one-variable table
    (``x``), Chinchilla for runs of N and D."""
    return DEFAULT_LAWS["x" if "x" in frame.columns else "ND"]


def spec_for(name: str, given: Sequence[FitSpec], defaults: Mapping[str, Any]) -> FitSpec:
    """The spec of law ``name``: one given for it, else ``defaults`` (objective, fix, weights)
    with the law's own default objective where none is given."""
    for s in given:
        if s.law == name:
            return s
    law = get_law(name)
    objective = defaults.get("objective") or Objective(kind=law.default_objective)
    fix = {k: v for k, v in (defaults.get("fix") or {}).items() if k in law.param_names}
    return FitSpec(law=law.name, objective=objective, fixed=fix, weights=defaults.get("weights"))


def _applicable(law: Law, frame: pd.DataFrame) -> bool:
    if law.prepare is not None:
        try:
            law.prepare(frame)
        except ScalinglabError:
            return False
        return True
    return all(v in frame.columns for v in law.variables)


def auto_candidates(frame: pd.DataFrame, listed: Sequence[str] = ()) -> list[Law]:
    """Laws --law auto chooses from: those listed with it, else every ``auto_candidate`` law
    that applies: the laws of one variable x when the table has x, else those of N and D."""
    if listed:
        return [get_law(n) for n in listed]
    want = ("x",) if "x" in frame.columns else ("N", "D")
    return [
        lw
        for lw in list_laws()
        if lw.auto_candidate and set(want) <= set(lw.variables) and _applicable(lw, frame)
    ]


def group_scores(per_law: dict[str, list[float]]) -> dict[str, float]:
    """Each law's selection score in one group: the mean over the origins of log RMSE(log),
    where a law that could not be backtested at an origin some other law was backtested at
    counts as the worst of them there (no evidence that it extrapolates is treated as bad
    evidence, and laws are compared on the same origins). Laws never backtested in the group
    get no score."""
    names = [n for n, e in per_law.items() if np.isfinite(e).any()]
    if not names:
        return {}
    logs = np.log(np.array([per_law[n] for n in names], dtype=float))  # laws x origins
    seen = np.isfinite(logs).any(axis=0)
    worst = np.max(np.where(np.isfinite(logs), logs, -np.inf), axis=0)
    filled = np.where(np.isfinite(logs), logs, worst)[:, seen]
    return {n: float(v) for n, v in zip(names, filled.mean(axis=1), strict=True)}


def _pool(by_group: Sequence[dict[str, float]]) -> dict[str, float]:
    by_group = [sc for sc in by_group if sc]
    names = sorted({n for sc in by_group for n in sc})
    return {n: float(np.mean([sc.get(n, max(sc.values())) for sc in by_group])) for n in names}


def pooled_scores(errors: dict[str | None, dict[str, list[float]]]) -> dict[str, float]:
    """Each law's pooled score: the mean over the groups of its :func:`group_scores`, a law
    never backtested in a group counting as that group's worst score."""
    return _pool([group_scores(per_law) for per_law in errors.values()])


def _nothing_backtested(key: str | None, per_law: dict[str, list[float]]) -> FitError:
    return FitError(
        "--law auto: no candidate law could be backtested inside the fit portion"
        + (f" of group {key}" if key else "")
        + f" (candidates: {', '.join(per_law)}); give --law explicitly."
    )


def choose_laws(
    errors: dict[str | None, dict[str, list[float]]], scope: str = "pooled"
) -> dict[str | None, str]:
    """The law ``--law auto`` uses in each group, from the rolling-origin errors
    ``errors[group][law]`` (see :func:`selection_errors` and :func:`group_scores`).

    ``scope="group"``: each group's own lowest score. ``scope="pooled"``: one law for all
    groups, the lowest mean over the groups of the group scores (a scale-free comparison: a
    curve with small errors weighs as much as one with large errors; a law never backtested in
    a group counts as the worst there). A group where the pooled choice was never backtested
    keeps its own best. Ties go to the alphabetically first name."""
    if scope not in AUTO_SCOPES:
        raise FitError(f"auto scope must be one of {', '.join(AUTO_SCOPES)}, got {scope!r}.")
    own: dict[str | None, str] = {}
    by_group: dict[str | None, dict[str, float]] = {}
    for key, per_law in errors.items():
        sc = group_scores(per_law)
        if not sc:
            raise _nothing_backtested(key, per_law)
        by_group[key] = sc
        own[key] = min(sc, key=lambda n: (sc[n], n))
    if scope == "group" or len(errors) == 1:
        return own
    pooled = _pool(list(by_group.values()))
    best = min(pooled, key=lambda n: (pooled[n], n))
    return {k: best if best in by_group[k] else own[k] for k in errors}


def errors_from_selection(selection: pd.DataFrame) -> dict[str | None, dict[str, list[float]]]:
    """``errors[group][law]`` (as :func:`choose_laws` takes them) from a
    :attr:`BacktestResult.selection` table."""
    errors: dict[str | None, dict[str, list[float]]] = {}
    for group, law, errs in zip(
        selection["group"], selection["law"], selection["origin_rmse_log"], strict=True
    ):
        errors.setdefault(group, {})[str(law)] = [float(e) for e in errs]
    return errors
