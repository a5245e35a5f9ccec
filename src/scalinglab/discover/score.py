"""Scoring a candidate law: point fits with the engine, nested rolling-origin errors.

Each candidate is fitted by :func:`scalinglab.fit.engine.multistart` (L-BFGS from every start,
successive halving) with the law's default objective (Huber, delta = 1e-3, on log residuals for
a positive target: Hoffmann et al. 2022, 2203.15556, section 3.3). Its extrapolation error is
measured inside the search data only: at each rolling origin of
:func:`origin_masks` (hold back the top 10%, 20%, 30% of the runs along each extrapolation
axis: compute and model size for laws of N and D) the candidate is fitted on the rest and
scored by the RMSE of log values on the held-back runs. Runs held out by the user's ``--holdout`` are not in the search
data at all (:class:`Part` keeps them apart), so the search never sees them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from scalinglab.discover.grammar import Candidate
from scalinglab.errors import FitError, ScalinglabError
from scalinglab.fit.engine import Problem, multistart
from scalinglab.fit.objectives import Objective
from scalinglab.fit.variables import law_variables
from scalinglab.laws.base import FloatArray, Law
from scalinglab.laws.registry import get_law
from scalinglab.trust.calibrate import NESTED_FRACTIONS
from scalinglab.trust.ensemble import Z_COMBINE, clustered_mean_se

#: a grammar candidate whose error at the first origin is this many times the best seed's
#: (geometric mean over groups) is not fitted at the other origins: it cannot win, and most
#: forms of the grammar are such (it saves about half the search's fits)
ABANDON = 3.0


@dataclass(frozen=True)
class Part:
    """One group's runs: ``search`` (what the search sees, index reset), ``held`` (the user's
    holdout, empty without one) and the rolling origins (masks over ``search``'s rows, True =
    held back at that origin; None where an axis' origin repeats an earlier one or leaves
    fewer than 2 runs: slot ``3 * axis + fraction`` means the same origin in every group)."""

    key: str | None
    search: pd.DataFrame
    held: pd.DataFrame
    origins: tuple[NDArray[np.bool_] | None, ...]


def origin_masks(axes: list[FloatArray]) -> tuple[NDArray[np.bool_] | None, ...]:
    """Per axis and fraction of :data:`NESTED_FRACTIONS`, the runs held back: those whose axis
    value is at least the ceil(fraction * n)-th largest (ties held back together, as
    :func:`scalinglab.trust.calibrate.origins` does); None for a repeat or an origin that
    leaves fewer than 2 runs."""
    out: list[NDArray[np.bool_] | None] = []
    seen: list[NDArray[np.bool_]] = []
    for axis in axes:
        order = np.sort(axis)
        for frac in NESTED_FRACTIONS:
            k = max(1, math.ceil(frac * axis.size))
            held = axis >= order[axis.size - k]
            if (~held).sum() < 2 or any(np.array_equal(held, m) for m in seen):
                out.append(None)
                continue
            seen.append(held)
            out.append(held)
    return tuple(out)


@dataclass(frozen=True)
class Settings:
    """How each candidate is fitted: at most ``cap`` starts (grammar candidates; catalogue
    laws use their own grid), drawn with ``seed``; successive halving down to ``min_keep``
    starts and at most ``max_iter`` L-BFGS iterations. A search fit needs the optimum's
    prediction, not its last digits: on chinchilla_epoch, for nine forms from 2 to 7
    parameters, these settings (48, 4, 250) gave the nested errors of (96, 16, 3000) to within
    5% (most identical to 3 digits) in 2.5x less time."""

    cap: int = 48
    seed: int = 0
    min_keep: int = 4
    max_iter: int = 250
    #: the best seed's error at the first origin, per group (None: never abandon)
    reference: tuple[float, ...] | None = None


def fit_theta(
    cand: Candidate, law: Law, frame: pd.DataFrame, settings: Settings
) -> tuple[Law, FloatArray]:
    """The candidate's best point on ``frame`` (internal coordinates) and the law it belongs
    to (specialised to the data for laws that are). :class:`FitError` when it cannot be fitted
    (fewer runs than parameters, no finite start)."""
    if law.specialize is not None:
        law = law.specialize(frame)
    X = law_variables(frame, law, "discover")
    y = frame["y"].to_numpy(dtype=float)
    if y.size < len(law.params):
        raise FitError(f"{y.size} runs for {len(law.params)} parameters")
    objective = Objective(kind=law.default_objective)
    problem = Problem(law, X, y, np.ones(y.size), objective, {})
    grid = cand.starts(law, X, y, cap=settings.cap, seed=settings.seed)
    if grid is None:
        grid = np.unique(law.start_grid(X, y), axis=0)
    ms = multistart(problem, grid, min_keep=settings.min_keep, max_iter=settings.max_iter)
    if not math.isfinite(ms.f):
        raise FitError("no start gave a finite objective")
    return law, problem.full_theta(ms.x[None, :])[0]


def rmse_log(law: Law, theta: FloatArray, frame: pd.DataFrame) -> float:
    """RMSE of log values of the law's predictions on ``frame`` (NaN when a prediction is not
    positive and finite)."""
    X = law_variables(frame, law, "discover")
    pred = law.predict(theta[None, :], X)[0]
    truth = frame["y"].to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        e = float(np.sqrt(np.mean((np.log(pred) - np.log(truth)) ** 2)))
    return e if math.isfinite(e) else math.nan


def nested_errors(
    cand: Candidate, parts: tuple[Part, ...], settings: Settings
) -> tuple[FloatArray, int]:
    """RMSE(log) of the candidate at every (group, origin slot): array (G, slots), NaN
    where it could not be fitted or predicted, was abandoned (see :data:`ABANDON`) or the group
    has fewer origins; and the number of fits tried."""
    out = np.full((len(parts), max(len(p.origins) for p in parts)), math.nan)
    n_fits = 0
    try:
        law = get_law(cand.law_name)
    except ScalinglabError:
        return out, 0  # e.g. a form whose parameters cannot be identified
    for o in range(out.shape[1]):
        if o == 1 and _abandon(out[:, 0], settings.reference):
            break
        for g, part in enumerate(parts):
            held = part.origins[o] if o < len(part.origins) else None
            if held is None:
                continue
            n_fits += 1
            try:
                fitted, theta = fit_theta(cand, law, part.search.loc[~held], settings)
                out[g, o] = rmse_log(fitted, theta, part.search.loc[held])
            except (ScalinglabError, FloatingPointError, ValueError, np.linalg.LinAlgError):
                continue
    return out, n_fits


def _abandon(first: FloatArray, reference: tuple[float, ...] | None) -> bool:
    """Whether errors ``first`` (per group, first origin) are hopeless against ``reference``:
    their geometric mean ratio exceeds :data:`ABANDON`, or none is finite where the reference
    is."""
    if reference is None:
        return False
    ref = np.asarray(reference, dtype=float)
    both = np.isfinite(first) & np.isfinite(ref) & (ref > 0)
    if not both.any():
        return bool(np.isfinite(ref).any())
    return float(np.mean(np.log(np.maximum(first[both], 1e-300) / ref[both]))) > math.log(ABANDON)


def reference_errors(errors: list[FloatArray]) -> tuple[float, ...] | None:
    """Per group, the lowest first-origin error among ``errors`` (the seeds'); None if none."""
    if not errors:
        return None
    first = np.array([e[:, 0] for e in errors])
    if not np.isfinite(first).any():
        return None
    with np.errstate(all="ignore"):
        return tuple(
            float(v) for v in np.nanmin(np.where(np.isfinite(first), first, np.nan), axis=0)
        )


def score_job(job: tuple[Candidate, tuple[Part, ...], Settings]) -> tuple[FloatArray, int]:
    """One candidate's nested errors and the number of fits (a worker's unit of work)."""
    cand, parts, settings = job
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nested_errors(cand, parts, settings)


@dataclass(frozen=True)
class FullFit:
    """A candidate fitted on each group's search data: in-fit and held-out RMSE(log) per group
    (NaN without a holdout or where it failed) and the natural parameter values per group."""

    in_fit: tuple[float, ...]
    heldout: tuple[float, ...]
    params: tuple[dict[str, float], ...]


def full_job(job: tuple[Candidate, tuple[Part, ...], Settings]) -> FullFit:
    """Fit the candidate on every group's search data; score it there and on the holdout."""
    cand, parts, settings = job
    in_fit: list[float] = []
    heldout: list[float] = []
    params: list[dict[str, float]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for part in parts:
            try:
                law, theta = fit_theta(cand, get_law(cand.law_name), part.search, settings)
            except (ScalinglabError, FloatingPointError, ValueError, np.linalg.LinAlgError):
                in_fit.append(math.nan)
                heldout.append(math.nan)
                params.append({})
                continue
            in_fit.append(rmse_log(law, theta, part.search))
            heldout.append(rmse_log(law, theta, part.held) if len(part.held) else math.nan)
            natural = law.to_natural(theta)
            params.append({p.name: float(v) for p, v in zip(law.params, natural, strict=True)})
    return FullFit(tuple(in_fit), tuple(heldout), tuple(params))


def aggregate(errors: FloatArray, n_params: NDArray[np.int_], penalty: float) -> dict[str, Any]:
    """Scores of candidates from their nested errors ``errors`` (candidates, groups, origins).

    Where a candidate could not be backtested at a (group, origin) that another was, it counts
    as the worst of them there (as :func:`scalinglab.trust.select.group_scores` does: laws are
    compared on the same origins and no evidence is bad evidence). ``nested`` is the geometric
    mean of the RMSE(log) over groups and origins; ``score = mean log RMSE + penalty * k``
    (k = number of parameters): each parameter must cut the nested error by a factor
    exp(penalty) to pay for itself. Candidates never backtested get NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.maximum(errors, 1e-300))
    finite = np.isfinite(logs)
    seen = finite.any(axis=0)  # (G, O) cells some candidate reached
    worst = np.max(np.where(finite, logs, -np.inf), axis=0)
    filled = np.where(finite, logs, worst)
    mean_log = np.array([float(np.mean(row[seen])) if seen.any() else math.nan for row in filled])
    scored = finite.reshape(len(errors), -1).any(axis=1)
    mean_log = np.where(scored, mean_log, math.nan)
    return {
        "nested": np.exp(mean_log),
        "score": mean_log + penalty * n_params,
        "coverage": finite.reshape(len(errors), -1).sum(axis=1),
        "logs": np.where(seen, filled, np.nan),
    }


@dataclass(frozen=True)
class Margin:
    """How much lower a challenger's nested log errors are than a reference law's: the mean
    paired difference ``gain`` (log units, positive = the challenger is better), its standard
    error ``se`` and ``units`` (groups, or origins with one group: ``of`` says which)."""

    gain: float
    se: float
    units: int
    of: str = "groups"

    @property
    def significant(self) -> bool:
        """Whether ``gain`` exceeds ``Z_COMBINE`` standard errors (one-sided 5%)."""
        return self.units > 1 and self.gain - Z_COMBINE * self.se > 0

    def text(self) -> str:
        return f"{self.gain:.3f} +/- {self.se:.3f} log units over {self.units} {self.of}"


def margin(challenger: FloatArray, reference: FloatArray) -> Margin:
    """The paired difference of two candidates' filled nested log errors (groups, origins) of
    :func:`aggregate`: with several groups, each group's mean difference is one unit (the
    origins of a group share most of their runs, so they are not independent: a
    cluster-robust standard error); with one group, each origin is a unit."""
    d = reference - challenger
    by_group = d.shape[0] > 1
    gain, se, n = clustered_mean_se([r[np.isfinite(r)] for r in d], by_group=by_group)
    return Margin(gain, se, n, "groups" if by_group else "origins")
