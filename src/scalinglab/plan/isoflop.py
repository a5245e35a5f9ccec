"""IsoFLOP analysis, Hoffmann et al. 2022 "approach 2" (arXiv:2203.15556, section 3.2).

Runs are grouped by compute budget (:func:`group_budgets`, the one grouping rule of the
package, also behind the report's IsoFLOP figures): sorted by log10 C, a run joins the current
group while its log10 C is within ``tolerance`` of the group's first run. A group with at least
``min_runs`` distinct model sizes is a budget; the runs of smaller groups belong to no budget
(``IsoflopResult.runs`` says which budget each run is in). For each budget a parabola
L = c0 + c1 x + c2 x^2 in x = ln N - (mean ln N of its runs) is fitted by least squares; its
vertex x* = -c1 / (2 c2) is the budget's loss-optimal size N*(C), and D*(C) = C / per_token(N*)
follows from the FLOP convention. The interval of each minimum comes from a seeded bootstrap
over that budget's runs.

Then ln N* = ln k_N + a ln C and ln D* = ln k_D + b ln C are fitted by least squares over the
budgets; the interval of (a, b) comes from refitting on each bootstrap replicate of all minima.

Warnings (a minimum the runs do not bracket): the parabola is not convex (c2 <= 0: no minimum;
that budget is left out of the power laws) or its vertex lies outside the budget's sampled
range of ln N (kept, but extrapolated). Approach 2 is known to be biased when the sampling is
off-centre (the true iso-FLOP curve is not a parabola in ln N).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from scalinglab.errors import DataError, FitError
from scalinglab.laws.base import FloatArray
from scalinglab.plan.compute_optimal import Estimate
from scalinglab.plan.surface import estimate
from scalinglab.units import FlopConvention

SOURCE = "Hoffmann et al. 2022, arXiv:2203.15556, section 3.2 (approach 2: IsoFLOP profiles)"


@dataclass(frozen=True)
class IsoflopBudget:
    """One compute budget: its runs' parabola minimum with intervals.

    ``parabola`` (c0, c1, c2) and ``centre`` give the point fit L = c0 + c1 x + c2 x^2 with
    x = ln N - centre (NaN when the runs' sizes make it singular); they are not in
    :meth:`as_dict`, whose keys the ``plan --json`` output keeps."""

    compute: float  # geometric mean of the group's C, FLOP
    n_runs: int
    N_range: tuple[float, float]
    N: Estimate
    D: Estimate
    loss: Estimate
    convex: bool
    bracketed: bool
    warning: str | None
    parabola: tuple[float, float, float]
    centre: float

    def loss_at(self, N: FloatArray) -> FloatArray:
        """The point fit's parabola at model sizes ``N`` (parameters)."""
        c0, c1, c2 = self.parabola
        x: FloatArray = np.log(np.asarray(N, dtype=float)) - self.centre
        return c0 + c1 * x + c2 * x * x

    def as_dict(self) -> dict[str, object]:
        return {
            "compute": self.compute,
            "n_runs": self.n_runs,
            "N_range": list(self.N_range),
            "N": self.N.as_dict(),
            "D": self.D.as_dict(),
            "loss": self.loss.as_dict(),
            "convex": self.convex,
            "bracketed": self.bracketed,
            "warning": self.warning,
        }


@dataclass(frozen=True)
class IsoflopResult:
    """``runs``: one row per input run, columns N, C (FLOP), y (the target) and budget (the
    index into ``budgets`` of the run's budget, -1 when its group had too few sizes); budgets
    are in increasing C."""

    budgets: tuple[IsoflopBudget, ...]
    a: Estimate  # N* ~ C^a
    b: Estimate  # D* ~ C^b
    coef: FloatArray  # rows (point, draws...) x (ln k_N, a, ln k_D, b)
    level: float
    flops: FlopConvention
    warnings: tuple[str, ...]
    runs: pd.DataFrame

    def predict(self, compute: float) -> tuple[Estimate, Estimate]:
        """N*(C) and D*(C) from the fitted power laws, with intervals."""
        lc = math.log(compute)
        with np.errstate(over="ignore", invalid="ignore"):
            N = np.exp(self.coef[:, 0] + self.coef[:, 1] * lc)
            D = np.exp(self.coef[:, 2] + self.coef[:, 3] * lc)
        return estimate(N, self.level), estimate(D, self.level)

    def as_dict(self, compute: float | None = None) -> dict[str, object]:
        out: dict[str, object] = {
            "method": SOURCE,
            "a": self.a.as_dict(),
            "b": self.b.as_dict(),
            "budgets": [b.as_dict() for b in self.budgets],
            "warnings": list(self.warnings),
        }
        if compute is not None:
            N, D = self.predict(compute)
            out["N"], out["D"] = N.as_dict(), D.as_dict()
        return out


def group_budgets(C: FloatArray, tolerance: float) -> NDArray[np.intp]:
    """Group label per run: runs within ``tolerance`` (log10) of their group's first run."""
    order = np.argsort(C, kind="stable")
    lc = np.log10(C[order])
    labels = np.empty(C.size, dtype=np.intp)
    g, start = 0, lc[0] if lc.size else 0.0
    for i, v in enumerate(lc):
        if v - start > tolerance:
            g, start = g + 1, v
        labels[order[i]] = g
    return labels


def _parabolas(x: FloatArray, y: FloatArray, w: FloatArray) -> FloatArray:
    """Weighted least-squares (c0, c1, c2) for each weight row of ``w`` (B, n) -> (B, 3).

    x is centred by the caller. Singular systems (fewer than 3 distinct x) give NaN."""
    X = np.stack([np.ones_like(x), x, x * x], axis=1)  # (n, 3)
    XtWX = np.einsum("bn,ni,nj->bij", w, X, X)
    XtWy = np.einsum("bn,ni,n->bi", w, X, y)
    out = np.full((w.shape[0], 3), np.nan)
    det = np.linalg.det(XtWX)
    scale = np.einsum("bii->b", XtWX) ** 3
    ok = np.abs(det) > 1e-12 * np.maximum(scale, 1e-300)
    if ok.any():
        out[ok] = np.linalg.solve(XtWX[ok], XtWy[ok][..., None])[..., 0]
    return out


def _line(x: FloatArray, Y: FloatArray) -> FloatArray:
    """Least-squares (intercept, slope) of each row of Y (R, m) on x (m,), ignoring NaN."""
    out = np.full((Y.shape[0], 2), np.nan)
    for r in range(Y.shape[0]):
        ok = np.isfinite(Y[r])
        if np.count_nonzero(ok) >= 2 and np.ptp(x[ok]) > 0:
            slope, icpt = np.polyfit(x[ok], Y[r, ok], 1)
            out[r] = (icpt, slope)
    return out


def isoflop(
    runs: pd.DataFrame,
    *,
    y: str = "y",
    tolerance: float = 0.1,
    min_runs: int = 3,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
    flops: FlopConvention | None = None,
) -> IsoflopResult:
    """Approach 2 on a sweep: per-budget parabola minima, then N*(C), D*(C) power laws.

    ``runs``: columns N (parameters), y (loss) and C (FLOP) or D (tokens; then C from the FLOP
    convention). ``tolerance``: width in log10 C of a budget group (0.1 = 26%). ``n_boot``
    0: no bootstrap (intervals NaN).
    """
    fc = flops or FlopConvention()
    if not (tolerance > 0 and math.isfinite(tolerance)):
        raise FitError(f"IsoFLOP tolerance (log10 C) must be positive, got {tolerance!r}.")
    if min_runs < 3:
        raise FitError(f"a parabola needs at least 3 runs per budget; min_runs={min_runs}.")
    N, L, C = _sweep_columns(runs, y, fc)
    labels = group_budgets(C, tolerance)
    rng = np.random.default_rng(seed)
    budgets: list[IsoflopBudget] = []
    minima: list[FloatArray] = []  # ln N* per row (point, then draws) of each convex budget
    budget_of = np.full(N.size, -1, dtype=np.intp)
    for g in np.unique(labels):
        idx = np.flatnonzero(labels == g)
        if np.unique(N[idx]).size < min_runs:
            continue
        budget, lnNv = _budget(N[idx], L[idx], C[idx], rng, n_boot, level, fc)
        budget_of[idx] = len(budgets)
        budgets.append(budget)
        if budget.convex:
            minima.append(lnNv)
    warn = [b.warning for b in budgets if b.warning]
    table = pd.DataFrame({"N": N, "C": C, "y": L, "budget": budget_of})
    lnC = [math.log(b.compute) for b in budgets if b.convex]
    if len(lnC) < 2:
        warn.append(
            f"IsoFLOP: {len(lnC)} budget(s) with a minimum (at least 2 needed, each with "
            f">= {min_runs} model sizes within {tolerance} in log10 C): no N*(C) power law."
        )
        nanE = Estimate(math.nan, math.nan, math.nan)
        coef4 = np.full((n_boot + 1, 4), np.nan)
        return IsoflopResult(tuple(budgets), nanE, nanE, coef4, level, fc, tuple(warn), table)
    coef4 = _power_laws(np.array(lnC), np.stack(minima, axis=1), fc)
    return IsoflopResult(
        tuple(budgets),
        estimate(coef4[:, 1], level),
        estimate(coef4[:, 3], level),
        coef4,
        level,
        fc,
        tuple(warn),
        table,
    )


def _sweep_columns(
    runs: pd.DataFrame, y: str, fc: FlopConvention
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """N (parameters), loss and C (FLOP; from D by the convention when absent), validated."""
    if y not in runs.columns and "loss" in runs.columns:
        y = "loss"
    need = [c for c in ("N", y) if c not in runs.columns]
    if need or ("C" not in runs.columns and "D" not in runs.columns):
        raise DataError(
            f"an IsoFLOP analysis needs columns N, {y} and C or D; missing "
            f"{', '.join(need) or 'C/D'}. Columns: {', '.join(map(str, runs.columns))}."
        )
    N = pd.to_numeric(runs["N"], errors="coerce").to_numpy(dtype=float)
    L = pd.to_numeric(runs[y], errors="coerce").to_numpy(dtype=float)
    if "C" in runs.columns:
        C = pd.to_numeric(runs["C"], errors="coerce").to_numpy(dtype=float)
    else:
        C = fc.flops(N, pd.to_numeric(runs["D"], errors="coerce").to_numpy(dtype=float))
    bad = ~(np.isfinite(N) & np.isfinite(L) & np.isfinite(C) & (N > 0) & (C > 0))
    if bad.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad)[:20])
        raise DataError(
            f"IsoFLOP runs need finite positive N, C and a finite loss; bad rows {rows}."
        )
    return N, L, C


def _budget(
    N: FloatArray,
    L: FloatArray,
    C: FloatArray,
    rng: np.random.Generator,
    n_boot: int,
    level: float,
    fc: FlopConvention,
) -> tuple[IsoflopBudget, FloatArray]:
    """One budget's parabola of loss against ln N (point fit, then ``n_boot`` resamples of its
    runs) and its minimum; returns the budget and ln N* per row (NaN where not convex)."""
    Cg = float(np.exp(np.mean(np.log(C))))
    x_all = np.log(N)
    mu = float(np.mean(x_all))
    x = x_all - mu
    n = N.size
    w = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)])
    coef = _parabolas(x, L, w.astype(float))
    c1, c2 = coef[:, 1], coef[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        xv = np.where(c2 > 0, -c1 / (2.0 * c2), np.nan)
        lv = coef[:, 0] + c1 * xv + c2 * xv**2
    convex = bool(c2[0] > 0)
    lo, hi = float(x.min()), float(x.max())
    bracketed = convex and lo <= xv[0] <= hi
    Nv = np.exp(xv + mu)
    msg = None
    if not convex:
        msg = (
            f"budget C = {Cg:.3g} FLOP: the parabola of loss against ln N is not convex "
            f"(curvature {c2[0]:.3g}); its runs do not show a minimum; left out of the power laws."
        )
    elif not bracketed:
        side = "above the largest" if xv[0] > hi else "below the smallest"
        msg = (
            f"budget C = {Cg:.3g} FLOP: the minimum N* = {Nv[0]:.3g} lies {side} model size "
            f"sampled ({math.exp(lo + mu):.3g} to {math.exp(hi + mu):.3g}): off-centre sweep, "
            "the minimum is extrapolated; add runs on that side."
        )
    budget = IsoflopBudget(
        compute=Cg,
        n_runs=int(n),
        N_range=(float(math.exp(lo + mu)), float(math.exp(hi + mu))),
        N=estimate(Nv, level),
        D=estimate(fc.tokens(Cg, Nv), level),
        loss=estimate(lv, level),
        convex=convex,
        bracketed=bracketed,
        warning=msg,
        parabola=(float(coef[0, 0]), float(c1[0]), float(c2[0])),
        centre=mu,
    )
    return budget, np.log(Nv)


def _power_laws(lnC: FloatArray, lnN: FloatArray, fc: FlopConvention) -> FloatArray:
    """(intercept, slope) of ln N* and of ln D* against ln C for every row of ``lnN``
    (rows, budgets): (rows, 4)."""
    lnD = np.log(fc.tokens(np.exp(lnC)[None, :], np.exp(lnN)))
    return np.hstack([_line(lnC, lnN), _line(lnC, lnD)])
