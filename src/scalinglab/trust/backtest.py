"""Backtests: fit on the small runs, predict the large ones you already have.

``backtest(runs, laws, holdout)`` holds out runs by a :mod:`holdout <scalinglab.trust.holdout>`
spec, fits each law on the rest (with its calibrated intervals, computed from the fit portion
only) and scores the predictions of the held-out runs:

* ``rmse_log``: root mean square of log(pred) - log(truth) (Alabdulmohsin et al. 2022 score
  learning-curve extrapolation this way); NaN when a value is not positive;
* ``mare`` / ``max_are``: mean / largest |pred - truth| / |truth|;
* ``coverage_90``: share of held-out truths inside the 90% prediction interval.

``law="auto"`` chooses a law per group by rolling-origin backtests *inside the fit portion*
(hold back its top 10%, 20%, 30% along the extrapolation axis, fit the rest, score RMSE of log
values; lowest mean wins), then refits the winner on the whole fit portion. The held-out runs
never influence the choice nor the calibration.
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


@dataclass(frozen=True)
class BacktestResult:
    summary: pd.DataFrame  # one row per (law, group)
    predictions: pd.DataFrame  # one row per held-out run and law
    fits: dict[tuple[str, str | None], FitResult] = field(repr=False)

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


def select_law(
    fit_part: pd.DataFrame,
    candidates: Sequence[Law],
    *,
    axis: str | None,
    seed: int,
    fit_kwargs: dict[str, Any],
) -> tuple[Law, dict[str, float]]:
    """The candidate with the lowest mean RMSE(log) over rolling-origin backtests inside
    ``fit_part`` (held-back top 10/20/30% along ``axis``, or each law's default axis)."""
    mean_err: dict[str, float] = {}
    for law in candidates:
        ax_name = axis or default_axis(law, fit_part)
        if ax_name is None:
            continue
        try:
            ax = axis_values(fit_part, ax_name)
        except ScalinglabError:
            continue
        order = np.sort(ax)
        errs = []
        for frac in SELECTION_FRACTIONS:
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
                errs.append(s["rmse_log"])
        if errs:
            mean_err[law.name] = float(np.mean(errs))
    if not mean_err:
        raise FitError(
            "--law auto: no candidate law could be backtested inside the fit portion "
            f"(candidates: {', '.join(c.name for c in candidates)}); give --law explicitly."
        )
    best = min(mean_err, key=lambda n: (mean_err[n], n))
    return get_law(best), mean_err


def _one(
    job: tuple[str, str | None, pd.DataFrame, np.ndarray, dict[str, Any]],
) -> tuple[dict[str, Any], pd.DataFrame, FitResult | None]:
    law_name, key, frame, held, opts = job
    level = opts["level"]
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
            law, _ = select_law(
                fit_part,
                auto_candidates(fit_part, opts["auto_from"]),
                axis=opts["axis"],
                seed=opts["seed"],
                fit_kwargs=fit_kwargs,
            )
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
    **fit_kwargs: Any,
) -> BacktestResult:
    """Backtest ``laws`` on ``runs`` (a selected table with ``y``). ``laws`` may include
    ``"auto"``; the other names listed with it are then its candidates. Results do not depend
    on ``workers``."""
    if not laws:
        raise FitError("give at least one --law (or --law auto).")
    if not 0.0 < level < 1.0:
        raise FitError(f"level must be between 0 and 1, got {level!r}.")
    spec = Holdout.parse(holdout)
    names = list(dict.fromkeys(laws))
    auto_from = tuple(n for n in names if n != "auto") if "auto" in names else ()
    for n in names:
        if n != "auto":
            get_law(n)
    groups = group_runs(runs, group_by) if group_by else [(None, runs)]
    opts = {
        "level": level,
        "n_boot": n_boot,
        "seed": seed,
        "fit_kwargs": fit_kwargs,
        "auto_from": auto_from,
        "axis": spec.column,
    }
    jobs = []
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
        for n in names:
            jobs.append((n, key, frame, held, opts))
    if workers > 1 and len(jobs) > 1:
        ctx = (
            multiprocessing.get_context("fork")
            if "fork" in multiprocessing.get_all_start_methods()
            else None
        )
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            out = list(pool.map(_one, jobs))
    else:
        out = [_one(j) for j in jobs]
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
    )
