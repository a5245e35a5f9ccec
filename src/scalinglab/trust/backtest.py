"""Backtests: fit on the small runs, predict the large ones you already have.

``backtest(runs, laws, holdout)`` holds out runs by a :mod:`holdout <scalinglab.trust.holdout>`
spec, fits each law on the rest (with its calibrated intervals, computed from the fit portion
only) and scores the predictions of the held-out runs:

* ``rmse_log``: root mean square of log(pred) - log(truth) (Alabdulmohsin et al. 2022 score
  learning-curve extrapolation this way); NaN when a value is not positive;
* ``mare`` / ``max_are``: mean / largest |pred - truth| / |truth|;
* ``coverage_90``: share of held-out truths inside the 90% prediction interval.

A law is given by name, or as a fit (:class:`FitResult`) or :class:`FitSpec`: the backtest then
refits exactly what was fitted (objective, fixed parameters, weights, shared parameters).
``"auto"`` is the stacked ensemble of the candidate laws (:mod:`scalinglab.trust.ensemble`):
weights and its conformal interval come from rolling-origin backtests inside each fit portion;
the held-out runs never influence them. Its row names the largest-weight law (``chosen``) and
all weights (``weights``); ``interval_score`` is the mean interval score of every row's
intervals (Gneiting and Raftery 2007). A law that fails in one group is reported
in that group's row (``error``) and never discards the others.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglab._version import RESULT_FORMAT
from scalinglab.data.select import group_runs
from scalinglab.errors import FitError, ScalinglabError
from scalinglab.fit.api import fit_spec
from scalinglab.fit.groups import run_jobs
from scalinglab.fit.many import batchable, fit_spec_many
from scalinglab.fit.records import FitSpec, jsonable
from scalinglab.fit.result import FitResult, parse_result
from scalinglab.laws.registry import get_law
from scalinglab.trust.auto import SELECTION_COLUMNS, AutoOutcome, auto_ensemble, collect_evidence
from scalinglab.trust.calibrate import calibrate
from scalinglab.trust.holdout import Holdout
from scalinglab.trust.predict import predict
from scalinglab.trust.select import AUTO_SCOPES, spec_for

LawLike = str | FitSpec | FitResult


@dataclass(frozen=True)
class BacktestResult:
    """A backtest: ``summary`` has one row per (law, group); ``predictions`` one row per
    held-out run and law; ``fits`` the fit of each (law, group) on its fit portion;
    ``selection`` ``--law auto``'s evidence (per group and candidate, RMSE(log) per rolling
    origin and the score)."""

    summary: pd.DataFrame
    predictions: pd.DataFrame
    fits: Mapping[tuple[str, str | None], FitResult] = field(repr=False)
    selection: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    holdout: str = ""
    level: float = 0.9

    kind = "backtest"

    def records(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {str(k): v for k, v in r.items()} for r in self.summary.to_dict(orient="records")
        ]
        return rows

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {
                "kind": self.kind,
                "format": RESULT_FORMAT,
                "holdout": self.holdout,
                "level": self.level,
                "summary": self.summary.to_dict(orient="split"),
                "predictions": self.predictions.to_dict(orient="split"),
                "selection": self.selection.to_dict(orient="split"),
                "fits": [
                    {"law": law, "group": group, "fit": f.to_dict()}
                    for (law, group), f in self.fits.items()
                ],
            }
        )
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BacktestResult:
        d = parse_result(d, origin="backtest", kinds=(cls.kind,))

        def table(t: Mapping[str, Any]) -> pd.DataFrame:
            return (
                pd.DataFrame(t["data"], columns=t["columns"])
                if t.get("columns")
                else pd.DataFrame()
            )

        return cls(
            summary=table(d["summary"]),
            predictions=table(d["predictions"]),
            selection=table(d["selection"]),
            fits={(f["law"], f["group"]): FitResult.from_dict(f["fit"]) for f in d["fits"]},
            holdout=str(d.get("holdout") or ""),
            level=float(d.get("level", 0.9)),
        )


def interval_score(truth: np.ndarray, low: np.ndarray, high: np.ndarray, level: float) -> float:
    """Mean interval score of central ``level`` intervals (Gneiting and Raftery 2007, eq. 43):
    width plus 2/alpha times the distance by which the truth misses, alpha = 1 - level. Lower
    is better; coverage cannot be bought with width. In log units when all values are
    positive (scale-free: comparable across curves), else in the target's units."""
    a = 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        if np.all(truth > 0) and np.all(low > 0) and np.all(high > 0):
            truth, low, high = np.log(truth), np.log(low), np.log(high)
        s = (high - low) + 2 / a * (np.maximum(low - truth, 0) + np.maximum(truth - high, 0))
    return float(np.mean(s)) if np.all(np.isfinite(s)) else math.nan


def scores(
    truth: np.ndarray,
    value: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    level: float = 0.9,
) -> dict[str, float]:
    """Scores of held-out predictions: ``rmse_log``, ``mare``, ``max_are``, ``coverage`` of
    the intervals (NaN without intervals) and their ``interval_score`` at ``level``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if np.all(truth > 0) and np.all(value > 0):
            rmse_log = float(np.sqrt(np.mean((np.log(value) - np.log(truth)) ** 2)))
        else:
            rmse_log = math.nan
        are = np.abs(value - truth) / np.abs(truth)
    inside = (low <= truth) & (truth <= high)
    has = bool(np.all(np.isfinite(low)) and np.all(np.isfinite(high)))
    return {
        "rmse_log": rmse_log,
        "mare": float(np.mean(are)),
        "max_are": float(np.max(are)),
        "coverage": float(np.mean(inside)) if has else math.nan,
        "interval_score": interval_score(truth, low, high, level) if has else math.nan,
    }


def _fit_and_predict(
    spec: FitSpec,
    frame: pd.DataFrame,
    held: np.ndarray,
    opts: Mapping[str, Any],
    prefit: FitResult | ScalinglabError | None = None,
) -> tuple[FitResult, pd.DataFrame]:
    """``spec`` fitted on the fit portion (or its ``prefit``, from :func:`_prefit`),
    calibrated there, and its held-out predictions."""
    fit_part = frame.loc[~held]
    if isinstance(prefit, ScalinglabError):
        raise prefit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = (
            prefit
            if prefit is not None
            else fit_spec(fit_part, replace(spec, n_boot=opts["n_boot"], seed=opts["seed"]))
        )
        r = calibrate(r, fit_part)
        return r, predict(r, frame, level=opts["level"], rows=held)


def _row(label: str, key: str | None, held: np.ndarray) -> dict[str, Any]:
    return {
        "law": label,
        "group": key,
        "n_fit": int((~held).sum()),
        "n_holdout": int(held.sum()),
        "chosen": None,
        "weights": None,
    }


def _one(
    job: tuple[str, FitSpec, str | None, pd.DataFrame, np.ndarray, dict[str, Any]],
) -> tuple[dict[str, Any], pd.DataFrame, FitResult | None]:
    """One (law, group): fit, predict, score; a failure is the row's ``error``."""
    label, spec, key, frame, held, opts = job
    row = _row(label, key, held)
    try:
        r, p = _fit_and_predict(spec, frame, held, opts, opts["prefit"].get((label, key)))
    except ScalinglabError as exc:
        row.update(_failed(str(exc)))
        return row, pd.DataFrame(), None
    value, low, high = (p[c].to_numpy() for c in ("value", "low", "high"))
    return (*_scored(row, frame.loc[held], value, low, high, opts["level"]), r)


def _auto_rows(
    outcome: AutoOutcome, prepared: list[tuple[str | None, pd.DataFrame, np.ndarray]], level: float
) -> dict[str | None, tuple[dict[str, Any], pd.DataFrame]]:
    """The ensemble's row and held-out predictions in each group."""
    out = {}
    for key, frame, held in prepared:
        row = _row("auto", key, held)
        got = outcome.predictions[key]
        if isinstance(got, str):
            row.update(_failed(got))
            out[key] = (row, pd.DataFrame())
            continue
        w = outcome.weights[key]
        order = np.argsort(-w, kind="stable")
        row["chosen"] = outcome.laws[int(order[0])]
        row["weights"] = ", ".join(f"{outcome.laws[i]} {w[i]:.3f}" for i in order if w[i] > 0)
        out[key] = _scored(row, frame.loc[held], *got, level)
    return out


def _failed(error: str) -> dict[str, Any]:
    nan = math.nan
    return {
        "rmse_log": nan,
        "mare": nan,
        "max_are": nan,
        "coverage": nan,
        "interval_score": nan,
        "error": error,
    }


def _scored(
    row: dict[str, Any],
    test: pd.DataFrame,
    value: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    level: float,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """``row`` with the scores of the held-out runs ``test``, and their predictions table."""
    truth = test["y"].to_numpy(float)
    row.update(scores(truth, value, low, high, level), error=None)
    ids = test["run_id"].astype(str).to_numpy() if "run_id" in test.columns else None
    pred = pd.DataFrame(
        {
            "law": row["law"],
            "group": row["group"],
            "run_id": ids if ids is not None else np.arange(len(test)).astype(str),
            "truth": truth,
            "value": value,
            "low": low,
            "high": high,
        }
    )
    return row, pred


def _label(law: LawLike) -> str:
    return law if isinstance(law, str) else law.law


def _spec_of(law: LawLike, defaults: Mapping[str, Any]) -> FitSpec | None:
    """The spec to backtest: a fit's or a spec as given, a name with the shared options."""
    if isinstance(law, FitResult):
        return law.spec
    if isinstance(law, FitSpec):
        return law
    if law == "auto":
        return None
    return spec_for(get_law(law).name, (), defaults)


def _prepare(
    runs: pd.DataFrame, spec: Holdout, holdout: str, group_by: str | Sequence[str] | None
) -> list[tuple[str | None, pd.DataFrame, np.ndarray]]:
    groups = group_runs(runs, group_by) if group_by else [(None, runs)]
    prepared = []
    for key, frame in groups:
        frame = frame.reset_index(drop=True)
        held = spec.mask(frame)
        where = f" in group {key}" if key else ""
        if not held.any():
            raise FitError(f"--holdout {holdout!r} holds out no runs{where}.")
        if held.all():
            raise FitError(
                f"--holdout {holdout!r} holds out every run{where}; nothing is left to fit."
            )
        prepared.append((key, frame, held))
    return prepared


def _prefit(
    specs: Sequence[tuple[str, FitSpec | None]],
    prepared: Sequence[tuple[str | None, pd.DataFrame, np.ndarray]],
    opts: Mapping[str, Any],
    workers: int,
) -> dict[tuple[str, str | None], FitResult | ScalinglabError]:
    """Fits of the fit portions of every group searched as one batch per law, for laws that
    allow it (:func:`scalinglab.fit.many.batchable`); not when bootstrap refits are to run in
    parallel processes (those stay one job per group)."""
    out: dict[tuple[str, str | None], FitResult | ScalinglabError] = {}
    if workers > 1 and opts["n_boot"] > 0:
        return out
    for label, spec in specs:
        if spec is None or not batchable(get_law(spec.law), spec):
            continue
        spec = replace(spec, n_boot=opts["n_boot"], seed=opts["seed"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits = fit_spec_many([frame.loc[~held] for _, frame, held in prepared], spec)
        out.update({(label, key): f for (key, _, _), f in zip(prepared, fits, strict=True)})
    return out


SUMMARY_COLUMNS = ("law", "group", "n_fit", "n_holdout", "rmse_log", "mare", "max_are")


def backtest(
    runs: pd.DataFrame,
    laws: Sequence[LawLike],
    holdout: str,
    *,
    group_by: str | Sequence[str] | None = None,
    level: float = 0.9,
    n_boot: int = 200,
    seed: int = 0,
    workers: int = 1,
    auto_scope: str = "pooled",
    objective: Any = None,
    fix: Mapping[str, float] | None = None,
    weights: str | None = None,
) -> BacktestResult:
    """Backtest ``laws`` on ``runs`` (a selected table with ``y``). Each law is a name, a
    :class:`FitSpec` or a fit (its spec is refitted). ``objective``, ``fix`` and ``weights``
    apply to the laws given by name (``fix`` only to the parameters a law has). ``laws`` may
    include ``"auto"``; the other laws listed with it are then its candidates, mixed with weights
    learned from rolling-origin backtests inside each group's fit portion, pooled over the
    groups or per group (``auto_scope``, see :func:`scalinglab.trust.ensemble.ensemble_weights`). Results do not
    depend on ``workers``."""
    if not laws:
        raise FitError("give at least one --law (or --law auto).")
    if not (isinstance(level, int | float) and 0.0 < level < 1.0):
        raise FitError(f"level must be between 0 and 1, got {level!r}.")
    if auto_scope not in AUTO_SCOPES:
        raise FitError(f"--auto-scope must be one of {', '.join(AUTO_SCOPES)}, got {auto_scope!r}.")
    hold = Holdout.parse(holdout)
    defaults = {"objective": objective, "fix": dict(fix or {}), "weights": weights}
    specs: list[tuple[str, FitSpec | None]] = []
    for law in laws:  # each label once, in the order given
        if all(_label(law) != label for label, _ in specs):
            specs.append((_label(law), _spec_of(law, defaults)))
    auto_from = (
        tuple(s for label, s in specs if s is not None) if any(s is None for _, s in specs) else ()
    )
    prepared = _prepare(runs, hold, holdout, group_by)
    opts: dict[str, Any] = {
        "level": level,
        "n_boot": n_boot,
        "seed": seed,
        "axis": hold.column,
        "auto_from": auto_from,
        "defaults": defaults,
    }
    selection = pd.DataFrame(columns=SELECTION_COLUMNS)
    auto: dict[str | None, tuple[dict[str, Any], pd.DataFrame]] = {}
    if any(s is None for _, s in specs):
        groups, axes, space = collect_evidence(prepared, auto_from, opts, workers)
        outcome = auto_ensemble(groups, axes, prepared, space, auto_scope, level)
        selection, auto = outcome.selection, _auto_rows(outcome, prepared, level)
    opts["prefit"] = _prefit(specs, prepared, opts, workers)
    jobs = [
        (label, s, key, frame, held, opts)
        for key, frame, held in prepared
        for label, s in specs
        if s is not None
    ]
    fitted = iter(run_jobs(_one, jobs, workers))
    out = [
        next(fitted) if s is not None else (*auto[key], None)
        for key, _, _ in prepared
        for _, s in specs
    ]
    preds = [o[1] for o in out if len(o[1])]
    cov_key = "coverage_90" if abs(level - 0.9) < 1e-12 else f"coverage_{round(level * 100)}"
    summary = pd.DataFrame([o[0] for o in out]).rename(columns={"coverage": cov_key})
    return BacktestResult(
        summary=summary[
            [*SUMMARY_COLUMNS, cov_key, "interval_score", "chosen", "weights", "error"]
        ],
        predictions=pd.concat(preds, ignore_index=True) if preds else pd.DataFrame(),
        fits={(o[0]["law"], o[0]["group"]): o[2] for o in out if o[2] is not None},
        selection=selection,
        holdout=holdout,
        level=level,
    )
