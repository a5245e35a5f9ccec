"""``--law auto`` in a backtest: evidence from every candidate, then the stacked ensemble.

Cost: per group and candidate, a point fit on the whole fit portion and at each rolling origin
of it, multi-start searches batched over the groups where the law allows (:func:`_evidence_job`); those fits give the selection scores, the stacking weights, the
conformal scale and the final predictions (:mod:`scalinglab.trust.ensemble`). The ensemble's
interval is conformal, from the same nested evidence, not from a bootstrap.

Bragging (bootstrap robust aggregating: Buhlmann and Yu 2002, "Analyzing bagging", Annals of
Statistics 30(4), section 2.2). A candidate solved by Levenberg-Marquardt (M4, the power law:
refits cost milliseconds) predicts with the median of :data:`BRAG_BOOT` pairs-bootstrap refits'
predictions instead of its point fit, at every origin and in the final fit alike, so the
evidence scores the estimator auto uses. M4's optimum lies on a flat ridge on several
revisiting_lang curves, and its point extrapolation follows whichever end of the ridge the
noise picks; the median of the refits does not (held-out mean RMSE(log) 0.00722 against 0.00801,
bench/extrapolation.py; bench/bragging.py: better on 13 of 20 curves). The mean of the refits
is worse than the point fit (0.0097): one refit that runs off along the ridge moves it. Laws
searched by L-BFGS (BNSL) are not bragged: forty refits of each would cost more than the rest
of auto together.

The held-out runs are used only to score the result (and each candidate as auto fits it,
``rmse_log`` of the selection table, reported for comparison).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import FitError, ScalinglabError
from scalinglab.fit.groups import run_jobs
from scalinglab.fit.many import fit_spec_many
from scalinglab.fit.prediction import predict as predict_fit
from scalinglab.fit.prediction import prediction_draws, to_target
from scalinglab.fit.records import FitSpec
from scalinglab.fit.result import FitResult
from scalinglab.fit.variables import law_variables
from scalinglab.laws.base import FloatArray, Law
from scalinglab.laws.registry import get_law
from scalinglab.trust import ensemble as ens
from scalinglab.trust.calibrate import default_axis, origins
from scalinglab.trust.holdout import axis_values
from scalinglab.trust.select import auto_candidates, group_scores, spec_for

Prepared = list[tuple[str | None, pd.DataFrame, np.ndarray]]
SELECTION_COLUMNS = ["group", "law", "origin_rmse_log", "score", "weight", "rmse_log"]
Item = tuple[str | None, pd.DataFrame, np.ndarray, tuple[np.ndarray, ...]]
EvidenceJob = tuple[FitSpec, list[Item], int]
#: groups per evidence job (each job fits one candidate on them as one batch)
CHUNK = 10
#: bootstrap refits per fit whose median prediction a bragged candidate gives (0: point fits)
BRAG_BOOT = 40


def _predictions(r: FitResult | ScalinglabError | None, frame: pd.DataFrame) -> FloatArray:
    """A point fit's predictions of every run of ``frame`` (target units; NaN where not
    finite, all NaN for a failed fit)."""
    if not isinstance(r, FitResult):
        return np.full(len(frame), np.nan)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = predict_fit(r, frame, interval="bootstrap")["value"].to_numpy(float)
    except ScalinglabError:
        return np.full(len(frame), np.nan)
    return np.where(np.isfinite(v), v, np.nan)


def _bragged(r: FitResult | ScalinglabError | None, frame: pd.DataFrame) -> FloatArray:
    """The median of the bootstrap refits' predictions of every run of ``frame`` (target
    units), taken in the fit's space; the point fit's where fewer than 5 refits predict every
    run (a median of a handful is no steadier than the point)."""
    if not isinstance(r, FitResult) or r.draws().shape[0] == 0:
        return _predictions(r, frame)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            X = law_variables(frame, r.law_obj(), "auto")
            center, draws = prediction_draws(r, X, noise=False)
            ok = np.isfinite(draws).all(axis=1)
            v = to_target(r.space, np.median(draws[ok], axis=0) if ok.sum() >= 5 else center)
    except ScalinglabError:
        return np.full(len(frame), np.nan)
    return np.where(np.isfinite(v), v, np.nan)


def _evidence_job(job: EvidenceJob) -> list[tuple[str | None, str, FloatArray, FloatArray, int]]:
    """One candidate on a chunk of groups: fits at each rolling origin and on the whole fit
    portion, each a full multi-start search, all searched as one batch where the law allows
    (:func:`scalinglab.fit.many.fit_spec_many`), with their predictions (bragged, with
    :data:`BRAG_BOOT` refits each, for a Levenberg-Marquardt law: :func:`_bragged`).

    No warm starts along the origins: the evidence must score the estimator a user gets (the
    law's own search on those runs). Tried on revisiting_lang, starting each origin's fit from
    the optimum of the next-longer horizon's fit kept BNSL in one basin, made its nested
    errors look better than its searched fits' and moved its weight from 0.01 to 0.47, auto's
    mean RMSE(log) from 0.0090 to 0.0103."""
    spec, items, seed = job
    brag = BRAG_BOOT if get_law(spec.law).solver == "lm" else 0
    point = replace(spec, n_boot=brag, seed=seed)
    pred = _bragged if brag else _predictions
    tables: list[pd.DataFrame] = []
    for _, frame, held, masks in items:
        fit_part = frame.loc[~held].reset_index(drop=True)
        tables += [fit_part.loc[~back] for back in masks] + [fit_part]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = iter(fit_spec_many(tables, point))
    n_free = len(get_law(spec.law).param_names) - len(spec.fixed)
    out = []
    for key, frame, held, masks in items:
        fit_part = frame.loc[~held].reset_index(drop=True)
        nested = np.full((len(masks), len(fit_part)), np.nan)
        for o in range(len(masks)):
            nested[o] = pred(next(fits), fit_part)
        out.append((key, spec.law, nested, pred(next(fits), frame), n_free))
    return out


def group_origins(
    fit_part: pd.DataFrame, law: Law, axis: str | None
) -> tuple[FloatArray, tuple[np.ndarray, ...]]:
    """The fit portion's extrapolation axis (``axis`` or ``law``'s default) and its rolling
    origins (:func:`scalinglab.trust.calibrate.origins`); none without an axis."""
    name = axis or default_axis(law, fit_part)
    try:
        ax = axis_values(fit_part, name) if name else None
    except ScalinglabError:
        ax = None
    if ax is None:
        return np.arange(len(fit_part), dtype=float), ()
    return ax, tuple(origins(ax))


def _candidates(prepared: Prepared, auto_from: tuple[FitSpec, ...]) -> list[str]:
    """The candidates that apply to every group (pooled weights need one set)."""
    names: list[str] | None = None
    for _, frame, held in prepared:
        mine = [lw.name for lw in auto_candidates(frame.loc[~held], [s.law for s in auto_from])]
        names = mine if names is None else [n for n in names if n in mine]
    if not names:
        raise FitError(
            "--law auto: no candidate law applies to every group; give --law explicitly."
        )
    return names


def _to_space(v: FloatArray, space: str) -> FloatArray:
    if space == "linear":
        return v
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.nan)


def collect_evidence(
    prepared: Prepared, auto_from: tuple[FitSpec, ...], opts: dict[str, Any], workers: int
) -> tuple[list[ens.GroupEvidence], list[FloatArray], str]:
    """Every candidate backtested at every group's rolling origins and fitted on its whole fit
    portion: the groups' :class:`GroupEvidence`, each group's axis over all its runs, and the
    mixing space (log unless a value is not positive)."""
    names = _candidates(prepared, auto_from)
    space = "log" if all((f["y"].to_numpy(float) > 0).all() for _, f, _ in prepared) else "linear"
    layout = []
    for key, frame, held in prepared:
        ax, masks = group_origins(frame.loc[~held], get_law(names[0]), opts["axis"])
        whole = group_origins(frame, get_law(names[0]), opts["axis"])[0]
        layout.append((key, frame, held, ax, masks, _coords(frame, names, whole)))
    items = [(key, frame, held, masks) for key, frame, held, _, masks, _ in layout]
    # fixed chunks of groups (not one per worker): results do not depend on ``workers``
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    jobs: list[EvidenceJob] = [
        (spec_for(n, auto_from, opts["defaults"]), chunk, opts["seed"])
        for n in names
        for chunk in chunks
    ]
    found = {
        (k, n): (a, b, c)
        for part in run_jobs(_evidence_job, jobs, workers)
        for k, n, a, b, c in part
    }
    groups, coords_all = [], []
    for key, frame, held, ax, masks, coords in layout:
        got = [found[(key, n)] for n in names]
        groups.append(
            ens.GroupEvidence(
                key=key,
                laws=tuple(names),
                truth=_to_space(frame.loc[~held, "y"].to_numpy(float), space),
                axis=ax,
                origins=masks,
                nested=_to_space(np.stack([g[0] for g in got]), space),
                final=_to_space(np.stack([g[1] for g in got]), space),
                n_free=np.array([g[2] for g in got], dtype=float),
                coords=coords[~held],
            )
        )
        coords_all.append(coords)
    return groups, coords_all, space


def _coords(frame: pd.DataFrame, names: list[str], axis: FloatArray) -> FloatArray:
    """(n, V): the candidates' variables that are numeric columns of ``frame`` (the
    extrapolation ``axis`` where none is)."""
    seen = dict.fromkeys(v for n in names for v in get_law(n).variables if v in frame.columns)
    cols = []
    for v in seen:
        c = pd.to_numeric(frame[v], errors="coerce").to_numpy(float)
        if np.isfinite(c).all():
            cols.append(c)
    return np.stack(cols, axis=1) if cols else axis[:, None]


@dataclass(frozen=True)
class AutoOutcome:
    """The ensemble per group: candidates, weights, the conformal scale, and the held-out
    runs' (value, low, high) in target units, or the reason there is none."""

    laws: tuple[str, ...]
    weights: dict[str | None, FloatArray]
    scale: dict[str | None, float]
    predictions: dict[str | None, tuple[FloatArray, FloatArray, FloatArray] | str]
    selection: pd.DataFrame


def _from_space(v: FloatArray, space: str) -> FloatArray:
    return np.exp(v) if space == "log" else v


def _scales(
    groups: list[ens.GroupEvidence],
    weights: dict[str | None, FloatArray],
    stacked: dict[str | None, FloatArray],
    scope: str,
    level: float,
) -> dict[str | None, float]:
    scores = {ev.key: ens.nested_scores(ev, weights[ev.key], stacked[ev.key]) for ev in groups}
    pooled = ens.conformal_scale(np.concatenate([*scores.values(), np.zeros(0)]), level)
    if scope == "pooled":
        return {k: pooled for k in scores}
    return {
        k: ens.conformal_scale(z, level) if z.size >= ens.MIN_SCORES else pooled
        for k, z in scores.items()
    }


def _selection_rows(
    ev: ens.GroupEvidence, w: FloatArray, truth_all: FloatArray, held: np.ndarray
) -> list[dict[str, Any]]:
    rows = []
    per_law: dict[str, list[float]] = {}
    for k, name in enumerate(ev.laws):
        errs = []
        for o, back in enumerate(ev.origins):
            e = ev.nested[k, o, back] - ev.truth[back]
            errs.append(float(np.sqrt(np.mean(e**2))) if np.isfinite(e).all() else math.nan)
        per_law[name] = errs
    sc = group_scores(per_law)
    for k, name in enumerate(ev.laws):
        e = ev.final[k, held] - truth_all[held]
        rows.append(
            {
                "group": ev.key,
                "law": name,
                "origin_rmse_log": per_law[name],
                "score": sc.get(name, math.nan),
                "weight": float(w[k]),
                "rmse_log": float(np.sqrt(np.mean(e**2))) if np.isfinite(e).all() else math.nan,
            }
        )
    return rows


def auto_ensemble(
    groups: list[ens.GroupEvidence],
    coords_all: list[FloatArray],
    prepared: Prepared,
    space: str,
    scope: str,
    level: float,
) -> AutoOutcome:
    """Weights, scale and held-out predictions of the ensemble in every group."""
    stacked = ens.ensemble_weights(groups, scope)
    weights = ens.point_weights(groups, stacked, scope)
    final_w = {ev.key: ens.group_weights_final(ev, weights[ev.key]) for ev in groups}
    spread = {ev.key: ens.group_weights_final(ev, stacked[ev.key]) for ev in groups}
    scale = _scales(groups, weights, stacked, scope, level)
    preds: dict[str | None, tuple[FloatArray, FloatArray, FloatArray] | str] = {}
    rows: list[dict[str, Any]] = []
    for ev, coords, (key, frame, held) in zip(groups, coords_all, prepared, strict=True):
        w = final_w[key]
        truth_all = _to_space(frame["y"].to_numpy(float), space)
        rows += _selection_rows(ev, w, truth_all, held)
        if not w.any():
            preds[key] = (
                "--law auto: no candidate law could be fitted"
                + (f" in group {key}" if key else "")
                + f" (candidates: {', '.join(ev.laws)}); give --law explicitly."
            )
            continue
        s = scale[key] if math.isfinite(scale[key]) else math.nan
        c, lo, hi = ens.mixture_interval(ev, w, spread[key], held, coords, s)
        preds[key] = (_from_space(c, space), _from_space(lo, space), _from_space(hi, space))
    return AutoOutcome(
        laws=groups[0].laws,
        weights=final_w,
        scale=scale,
        predictions=preds,
        selection=pd.DataFrame(rows, columns=SELECTION_COLUMNS),
    )
