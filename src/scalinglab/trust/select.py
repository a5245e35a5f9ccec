"""``--law auto``: choose a law by rolling-origin backtests inside the fit portion.

Hold back the fit portion's top 10%, 20%, 30% along the extrapolation axis, fit the rest, score
the RMSE of log values. A law's score in a group is the mean log of those errors, all laws
compared on the same origins: where a law cannot be backtested (too few runs left for its
parameters, a failed fit) it counts as the worst candidate there, so a many-parameter law is
not favoured by being scored only on the short, easy horizons. The held-out runs never
influence the choice. The candidates by default are the laws that declare themselves
``auto_candidate`` and whose variables the table has (laws of one variable x when it has x,
else laws of N and D).

With groups the choice is by default *pooled*: one law for all groups, the lowest score
averaged over the groups (scale-free: a curve with small errors weighs as much as one with
large errors). ``auto_scope="group"`` chooses each group's own best instead. Pooling is the
default because one curve's in-fit backtest is a noisy guide to its own far extrapolation. On
the 20 curves of ``revisiting_lang`` (9 to 59 fitted points each; bench/extrapolation.py),
choosing per curve gives a mean RMSE(log) of 0.0085 between the power law and M4 and 0.0086
from the four default candidates, both worse than M4 alone (0.0080), while the pooled choice is
M4 for every curve from either set. The price: pooled, every group gets the family's best law,
so when no candidate suits most groups (say, power law and BNSL only on those curves) a
per-group choice does better.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import FitError, ScalinglabError
from scalinglab.fit.api import fit_spec
from scalinglab.fit.groups import run_jobs
from scalinglab.fit.objectives import Objective
from scalinglab.fit.prediction import predict as predict_fit
from scalinglab.fit.records import FitSpec
from scalinglab.laws.base import Law
from scalinglab.laws.registry import get_law, list_laws
from scalinglab.trust.calibrate import default_axis
from scalinglab.trust.holdout import axis_values

SELECTION_FRACTIONS = (0.1, 0.2, 0.3)
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


def selection_errors(
    fit_part: pd.DataFrame, spec: FitSpec, *, axis: str | None, seed: int
) -> list[float]:
    """RMSE(log) of the fit ``spec`` in rolling-origin backtests inside ``fit_part``, one per
    origin of :data:`SELECTION_FRACTIONS`: hold back the top 10%, 20%, 30% along ``axis`` (or
    the law's default axis), fit the rest (point fits), predict the held back runs. NaN where
    the law could not be backtested (too few runs left for its parameters, a failed fit, a
    non-positive value)."""
    errs = [math.nan] * len(SELECTION_FRACTIONS)
    ax_name = axis or default_axis(get_law(spec.law), fit_part)
    if ax_name is None:
        return errs
    try:
        ax = axis_values(fit_part, ax_name)
    except ScalinglabError:
        return errs
    order = np.sort(ax)
    point = replace(spec, n_boot=0, seed=seed)
    for i, frac in enumerate(SELECTION_FRACTIONS):
        k = max(1, math.ceil(frac * ax.size))
        held = ax >= order[ax.size - k]
        if held.all():
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = fit_spec(fit_part.loc[~held], point)
                p = predict_fit(r, fit_part, interval="bootstrap", rows=held)
        except ScalinglabError:
            continue
        truth = fit_part.loc[held, "y"].to_numpy(float)
        value = p["value"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            e = float(np.sqrt(np.mean((np.log(value) - np.log(truth)) ** 2)))
        if math.isfinite(e):
            errs[i] = max(e, 1e-300)
    return errs


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


def choices_from_selection(selection: pd.DataFrame, scope: str) -> dict[str | None, str]:
    """:func:`choose_laws` on a :attr:`BacktestResult.selection` table: what ``--law auto``
    would choose with the other ``scope``, from the same in-fit evidence."""
    return choose_laws(errors_from_selection(selection), scope)


def _select_job(
    job: tuple[str | None, pd.DataFrame, FitSpec, dict[str, Any]],
) -> tuple[str | None, str, list[float]]:
    key, fit_part, spec, opts = job
    return key, spec.law, selection_errors(fit_part, spec, axis=opts["axis"], seed=opts["seed"])


def auto_choices(
    prepared: list[tuple[str | None, pd.DataFrame, np.ndarray]],
    auto_from: tuple[FitSpec, ...],
    scope: str,
    opts: dict[str, Any],
    workers: int,
) -> tuple[dict[str | None, str], dict[str | None, str], pd.DataFrame]:
    """Backtest every candidate inside every group's fit portion, then choose per group."""
    jobs = []
    for key, frame, held in prepared:
        fit_part = frame.loc[~held]
        for law in auto_candidates(fit_part, [s.law for s in auto_from]):
            jobs.append((key, fit_part, spec_for(law.name, auto_from, opts["defaults"]), opts))
    errors: dict[str | None, dict[str, list[float]]] = {key: {} for key, _, _ in prepared}
    for key, name, errs in run_jobs(_select_job, jobs, workers):
        errors[key][name] = errs
    scores_of = {key: group_scores(per_law) for key, per_law in errors.items()}
    failed = {
        key: str(_nothing_backtested(key, per_law))
        for key, per_law in errors.items()
        if not scores_of[key]
    }
    usable = {key: per_law for key, per_law in errors.items() if key not in failed}
    chosen = choose_laws(usable, scope) if usable else {}
    table = pd.DataFrame(
        [
            {"group": key, "law": n, "origin_rmse_log": e, "score": scores_of[key].get(n, math.nan)}
            for key, per_law in errors.items()
            for n, e in per_law.items()
        ],
        columns=["group", "law", "origin_rmse_log", "score"],
    )
    return chosen, failed, table
