"""Backtests: fit on the small runs, predict the large ones you already have.

``backtest(runs, laws, holdout)`` holds out runs by a :mod:`holdout <scalinglab.trust.holdout>`
spec, fits each law on the rest (with its calibrated intervals, computed from the fit portion
only) and scores the predictions of the held-out runs:

* ``rmse_log``: root mean square of log(pred) - log(truth) (Alabdulmohsin et al. 2022 score
  learning-curve extrapolation this way); NaN when a value is not positive;
* ``mare`` / ``max_are``: mean / largest |pred - truth| / |truth|;
* ``coverage_90``: share of held-out truths inside the 90% prediction interval.

``law="auto"`` chooses a law by rolling-origin backtests *inside the fit portion*: hold back
its top 10%, 20%, 30% along the extrapolation axis, fit the rest, score the RMSE of log values.
A law's score in a group is the mean log of those errors, all laws compared on the same
origins: where a law cannot be backtested (too few runs left for its parameters, a failed
fit) it counts as the worst candidate there, so a many-parameter law is not favoured by being
scored only on the short, easy horizons. The winner is refitted on the whole fit portion. The
held-out runs never influence the choice nor the calibration.

With groups the choice is by default *pooled*: one law for all groups, the lowest score
averaged over the groups (scale-free: a curve with small errors weighs as much as one with
large errors). ``auto_scope="group"`` chooses each group's own best instead. Pooling is the
default because one curve's in-fit backtest is a noisy guide to its own far extrapolation. On
the 20 curves of ``revisiting_lang`` (9 to 59 fitted points each; bench/extrapolation.py),
choosing per curve gives a mean RMSE(log) of 0.0085 between the power law and M4 and 0.0104
from the four default candidates, both worse than M4 alone (0.0080), while the pooled choice is
M4 for every curve from either set. The price: pooled, every group gets the family's best law,
so when no candidate suits most groups (say, power law and BNSL only on those curves) a
per-group choice does better. The per-law, per-group evidence is returned as
``BacktestResult.selection``.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.data.select import group_runs
from scalinglab.errors import FitError, ScalinglabError
from scalinglab.fit.api import fit, predict
from scalinglab.fit.result import FitResult
from scalinglab.laws.base import Law
from scalinglab.laws.registry import get_law, list_laws
from scalinglab.trust.calibrate import default_axis
from scalinglab.trust.holdout import Holdout, axis_values

# Candidates of --law auto, by the variables a table offers (in this order; missing laws skipped)
AUTO_CANDIDATES: dict[str, tuple[str, ...]] = {
    "x": ("power_law", "m4", "bnsl", "bnsl2"),
    "ND": ("chinchilla", "kaplan", "overtraining"),
}
SELECTION_FRACTIONS = (0.1, 0.2, 0.3)
AUTO_SCOPES = ("pooled", "group")


@dataclass(frozen=True)
class BacktestResult:
    summary: pd.DataFrame  # one row per (law, group)
    predictions: pd.DataFrame  # one row per held-out run and law
    fits: dict[tuple[str, str | None], FitResult] = field(repr=False)
    # --law auto's evidence: per group and candidate, RMSE(log) per rolling origin and score
    selection: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def records(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {str(k): v for k, v in r.items()} for r in self.summary.to_dict(orient="records")
        ]
        return rows


def _applicable(law: Law, frame: pd.DataFrame) -> bool:
    if law.prepare is not None:
        try:
            law.prepare(frame)
        except ScalinglabError:
            return False
        return True
    return all(v in frame.columns for v in law.variables)


def auto_candidates(frame: pd.DataFrame, listed: Sequence[str] = ()) -> list[Law]:
    """Laws --law auto chooses from: those listed with it, else the defaults that apply."""
    if listed:
        return [get_law(n) for n in listed]
    known = {lw.name: lw for lw in list_laws()}
    names = AUTO_CANDIDATES["x"] if "x" in frame.columns else AUTO_CANDIDATES["ND"]
    return [known[n] for n in names if n in known and _applicable(known[n], frame)]


def scores(
    truth: np.ndarray, value: np.ndarray, low: np.ndarray, high: np.ndarray
) -> dict[str, float]:
    with np.errstate(invalid="ignore", divide="ignore"):
        if np.all(truth > 0) and np.all(value > 0):
            rmse_log = float(np.sqrt(np.mean((np.log(value) - np.log(truth)) ** 2)))
        else:
            rmse_log = math.nan
        are = np.abs(value - truth) / np.abs(truth)
    inside = (low <= truth) & (truth <= high)
    return {
        "rmse_log": rmse_log,
        "mare": float(np.mean(are)),
        "max_are": float(np.max(are)),
        "coverage": float(np.mean(inside)) if np.all(np.isfinite(low)) else math.nan,
    }


def _quiet_fit(frame: pd.DataFrame, law: Law, **kw: Any) -> FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(frame, law, **kw)


def selection_errors(
    fit_part: pd.DataFrame,
    law: Law,
    *,
    axis: str | None,
    seed: int,
    fit_kwargs: dict[str, Any],
) -> list[float]:
    """RMSE(log) of ``law`` in rolling-origin backtests inside ``fit_part``, one per origin of
    :data:`SELECTION_FRACTIONS`: hold back the top 10%, 20%, 30% along ``axis`` (or the law's
    default axis), fit the rest, predict the held back runs. NaN where the law could not be
    backtested (too few runs left for its parameters, a failed fit, a non-positive value)."""
    errs = [math.nan] * len(SELECTION_FRACTIONS)
    ax_name = axis or default_axis(law, fit_part)
    if ax_name is None:
        return errs
    try:
        ax = axis_values(fit_part, ax_name)
    except ScalinglabError:
        return errs
    order = np.sort(ax)
    for i, frac in enumerate(SELECTION_FRACTIONS):
        k = max(1, math.ceil(frac * ax.size))
        held = ax >= order[ax.size - k]
        if held.all():
            continue
        try:
            r = _quiet_fit(
                fit_part.loc[~held], law, n_boot=0, calibrate=False, seed=seed, **fit_kwargs
            )
            p = predict(r, fit_part, interval="bootstrap", rows=held)
        except ScalinglabError:
            continue
        s = scores(
            fit_part.loc[held, "y"].to_numpy(float),
            p["value"].to_numpy(),
            p["low"].to_numpy(),
            p["high"].to_numpy(),
        )
        if math.isfinite(s["rmse_log"]):
            errs[i] = max(s["rmse_log"], 1e-300)
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
    job: tuple[str | None, pd.DataFrame, str, dict[str, Any]],
) -> tuple[str | None, str, list[float]]:
    key, fit_part, law_name, opts = job
    errs = selection_errors(
        fit_part,
        get_law(law_name),
        axis=opts["axis"],
        seed=opts["seed"],
        fit_kwargs=dict(opts["fit_kwargs"]),
    )
    return key, law_name, errs


def _one(
    job: tuple[str, str | None, pd.DataFrame, np.ndarray, dict[str, Any]],
) -> tuple[dict[str, Any], pd.DataFrame, FitResult | None]:
    law_name, key, frame, held, opts = job
    level = opts["level"]
    chosen: str | None = opts["chosen"].get(key)
    fit_part, test = frame.loc[~held], frame.loc[held]
    row: dict[str, Any] = {
        "law": law_name,
        "group": key,
        "n_fit": len(fit_part),
        "n_holdout": len(test),
        "chosen": None,
    }
    fit_kwargs = dict(opts["fit_kwargs"])
    try:
        if law_name == "auto":
            if chosen is None:
                raise FitError(opts["auto_error"].get(key, "--law auto chose no law."))
            law = get_law(chosen)
            row["chosen"] = law.name
        else:
            law = get_law(law_name)
        r = _quiet_fit(
            fit_part,
            law,
            n_boot=opts["n_boot"],
            seed=opts["seed"],
            level=level,
            workers=1,
            **fit_kwargs,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = predict(r, frame, level=level, rows=held)
    except ScalinglabError as exc:
        row.update(
            rmse_log=math.nan, mare=math.nan, max_are=math.nan, coverage=math.nan, error=str(exc)
        )
        return row, pd.DataFrame(), None
    truth = test["y"].to_numpy(float)
    row.update(scores(truth, p["value"].to_numpy(), p["low"].to_numpy(), p["high"].to_numpy()))
    row["error"] = None
    pred = pd.DataFrame(
        {
            "law": law_name,
            "group": key,
            "run_id": test["run_id"].astype(str).to_numpy()
            if "run_id" in test.columns
            else np.arange(len(test)).astype(str),
            "truth": truth,
            "value": p["value"].to_numpy(),
            "low": p["low"].to_numpy(),
            "high": p["high"].to_numpy(),
        }
    )
    return row, pred, r


def backtest(
    runs: pd.DataFrame,
    laws: Sequence[str],
    holdout: str,
    *,
    group_by: str | Sequence[str] | None = None,
    level: float = 0.9,
    n_boot: int = 200,
    seed: int = 0,
    workers: int = 1,
    auto_scope: str = "pooled",
    **fit_kwargs: Any,
) -> BacktestResult:
    """Backtest ``laws`` on ``runs`` (a selected table with ``y``). ``laws`` may include
    ``"auto"``; the other names listed with it are then its candidates, chosen from by
    rolling-origin backtests inside each group's fit portion, pooled over the groups or per
    group (``auto_scope``, see :func:`choose_laws`). Results do not depend on ``workers``."""
    if not laws:
        raise FitError("give at least one --law (or --law auto).")
    if not 0.0 < level < 1.0:
        raise FitError(f"level must be between 0 and 1, got {level!r}.")
    if auto_scope not in AUTO_SCOPES:
        raise FitError(f"--auto-scope must be one of {', '.join(AUTO_SCOPES)}, got {auto_scope!r}.")
    spec = Holdout.parse(holdout)
    names = list(dict.fromkeys(laws))
    auto_from = tuple(n for n in names if n != "auto") if "auto" in names else ()
    for n in names:
        if n != "auto":
            get_law(n)
    groups = group_runs(runs, group_by) if group_by else [(None, runs)]
    opts: dict[str, Any] = {
        "level": level,
        "n_boot": n_boot,
        "seed": seed,
        "fit_kwargs": fit_kwargs,
        "axis": spec.column,
        "chosen": {},
        "auto_error": {},
    }
    jobs = []
    prepared = []
    for key, frame in groups:
        frame = frame.reset_index(drop=True)
        held = spec.mask(frame)
        if not held.any():
            raise FitError(
                f"--holdout {holdout!r} holds out no runs"
                + (f" in group {key}" if key else "")
                + "."
            )
        if held.all():
            raise FitError(
                f"--holdout {holdout!r} holds out every run"
                + (f" in group {key}" if key else "")
                + "; nothing is left to fit."
            )
        prepared.append((key, frame, held))
    selection = pd.DataFrame(columns=["group", "law", "origin_rmse_log", "score"])
    if "auto" in names:
        opts["chosen"], opts["auto_error"], selection = _auto_choices(
            prepared, auto_from, auto_scope, opts, workers
        )
    for key, frame, held in prepared:
        for n in names:
            jobs.append((n, key, frame, held, opts))
    out = _run_jobs(_one, jobs, workers)
    rows = [o[0] for o in out]
    preds = [o[1] for o in out if len(o[1])]
    fits = {(o[0]["law"], o[0]["group"]): o[2] for o in out if o[2] is not None}
    summary = pd.DataFrame(rows)
    cov_key = "coverage_90" if abs(level - 0.9) < 1e-12 else f"coverage_{round(level * 100)}"
    summary = summary.rename(columns={"coverage": cov_key})
    cols = [
        "law",
        "group",
        "n_fit",
        "n_holdout",
        "rmse_log",
        "mare",
        "max_are",
        cov_key,
        "chosen",
        "error",
    ]
    return BacktestResult(
        summary=summary[cols],
        predictions=pd.concat(preds, ignore_index=True) if preds else pd.DataFrame(),
        fits=fits,
        selection=selection,
    )


def _run_jobs(fn: Any, jobs: list[Any], workers: int) -> list[Any]:
    if workers > 1 and len(jobs) > 1:
        ctx = (
            multiprocessing.get_context("fork")
            if "fork" in multiprocessing.get_all_start_methods()
            else None
        )
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            return list(pool.map(fn, jobs))
    return [fn(j) for j in jobs]


def _auto_choices(
    prepared: list[tuple[str | None, pd.DataFrame, np.ndarray]],
    auto_from: tuple[str, ...],
    scope: str,
    opts: dict[str, Any],
    workers: int,
) -> tuple[dict[str | None, str], dict[str | None, str], pd.DataFrame]:
    """Backtest every candidate inside every group's fit portion, then choose per group."""
    jobs = []
    for key, frame, held in prepared:
        fit_part = frame.loc[~held]
        for law in auto_candidates(fit_part, auto_from):
            jobs.append((key, fit_part, law.name, opts))
    errors: dict[str | None, dict[str, list[float]]] = {key: {} for key, _, _ in prepared}
    for key, name, errs in _run_jobs(_select_job, jobs, workers):
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
