"""A fitted loss law L(N, D) over many parameter sets at once, and the 1-D searches plans need.

Row 0 of every array is the point estimate; rows 1..K are the fit's bootstrap draws (natural
units, :meth:`FitResult.draws`). Every plan quantity is computed for all rows together, the value
is row 0 and the interval is the percentile interval of rows 1..K (:func:`estimate`).

Every law is evaluated through its own formula (:meth:`Law.predict_paired`); a law with a
closed-form inverse in D (``Law.inverse["D"]``) is inverted by it, any other by a bisection in
log D.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scalinglab.errors import FitError
from scalinglab.fit.result import FitResult
from scalinglab.laws.base import FloatArray, Law
from scalinglab.plan.compute_optimal import Estimate

# Search range of every quantity, in natural logs: 1 to 1e40 parameters or tokens.
LOG_MIN, LOG_MAX = 0.0, math.log(1e40)
_GRID = 257  # points of the shared coarse grid before golden-section refinement
_GOLDEN_ITERS = 60  # bracket shrinks by 0.618^60 ~ 3e-13
_BISECT_ITERS = 80


@dataclass(frozen=True)
class Surface:
    """Law plus parameter sets ``params`` (K+1, P): row 0 the point estimate, then the draws."""

    law: Law
    names: tuple[str, ...]
    params: FloatArray
    level: float

    @property
    def rows(self) -> int:
        return int(self.params.shape[0])

    def col(self, name: str) -> FloatArray:
        """Column (K+1, 1) of one parameter, shaped to broadcast against (K+1, G) arrays."""
        return self.params[:, self.names.index(name)][:, None]

    def subset(self, keep: FloatArray) -> Surface:
        """Rows where ``keep`` (a boolean (K+1,)) is true; row 0 is always kept."""
        k = np.asarray(keep, dtype=bool).copy()
        k[0] = True
        return Surface(self.law, self.names, self.params[k], self.level)

    # ----- the law -----
    def natural(self) -> dict[str, FloatArray]:
        """{parameter: column (K+1, 1)}, the form a law's closed forms take."""
        return self.law.natural(self.params)

    def loss(self, N: FloatArray, D: FloatArray) -> FloatArray:
        """L at (N, D) of shape (K+1, G) (or broadcastable), one row per parameter set,
        through the law's own formula (:meth:`Law.predict_paired`)."""
        N = np.broadcast_to(
            np.asarray(N, dtype=float),
            np.broadcast_shapes(np.shape(N), np.shape(D), (self.rows, 1)),
        )
        D = np.broadcast_to(np.asarray(D, dtype=float), N.shape)
        theta = self.law.to_internal_array(self.params)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return self.law.predict_paired(theta, {"N": N, "D": D})

    def irreducible(self) -> FloatArray:
        """The loss as N, D -> infinity, (K+1,): the law's ``asymptote`` (E for
        Chinchilla-type laws), else the law at N = D = 1e40."""
        if self.law.asymptote is not None:
            limit = np.asarray(self.law.asymptote(self.natural()), dtype=float)
            return np.broadcast_to(limit.reshape(self.rows, -1)[:, 0], (self.rows,)).copy()
        big = np.full((self.rows, 1), 1e40)
        return self.loss(big, big)[:, 0]

    def tokens_for_loss(self, N: FloatArray, target: FloatArray) -> FloatArray:
        """Tokens D at which L(N, D) = target, (K+1, G); inf where N alone cannot reach it.

        ``target`` broadcasts against (K+1, G) (a column gives each row its own target). The
        law's closed-form inverse in D when it has one, else a bisection in log D."""
        N = np.broadcast_to(
            np.asarray(N, dtype=float), np.broadcast_shapes(np.shape(N), (self.rows, 1))
        )
        t = np.broadcast_to(np.asarray(target, dtype=float), N.shape)
        solve = self.law.inverse.get("D")
        if solve is not None:
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                D = solve(self.natural(), {"N": N}, t)
            return np.broadcast_to(np.asarray(D, dtype=float), N.shape).copy()
        # no closed form: L decreases in D; bisection on log D
        lo = np.full(N.shape, LOG_MIN)
        hi = np.full(N.shape, LOG_MAX)
        reachable = self.loss(N, np.exp(hi)) <= t
        for _ in range(_BISECT_ITERS):
            mid = 0.5 * (lo + hi)
            above = self.loss(N, np.exp(mid)) > t
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
        return np.where(reachable, np.exp(hi), np.inf)


def surface(result: FitResult, *, level: float | None = None) -> Surface:
    """The :class:`Surface` of a fit of a law of (N, D); :class:`FitError` otherwise."""
    law = result.law_obj()
    if set(law.variables) != {"N", "D"}:
        raise FitError(
            f"planning needs a law of model size N and tokens D (e.g. chinchilla, kaplan); "
            f"this fit is {result.law!r} of ({', '.join(law.variables)}). Fit such a law first: "
            "`scalinglab fit RUNS --law chinchilla`."
        )
    lvl = result.level if level is None else level
    if not 0.0 < lvl < 1.0:
        raise FitError(f"level must be between 0 and 1 (e.g. 0.95), got {lvl!r}.")
    names = tuple(law.param_names)
    point = np.array([[result.params[n] for n in names]], dtype=float)
    draws = result.draws()
    return Surface(law, names, np.vstack([point, draws]) if draws.size else point, lvl)


def estimate(values: FloatArray, level: float) -> Estimate:
    """Row 0 is the value; the percentile interval of rows 1.. (NaN without draws).

    Infinite draws (a draw that cannot reach a target) are kept: an interval end that falls
    on them is reported as inf."""
    v = np.asarray(values, dtype=float).ravel()
    d = v[1:]
    d = d[~np.isnan(d)]
    if d.size < 2:
        return Estimate(float(v[0]), math.nan, math.nan)
    a = (1.0 - level) / 2.0
    if np.all(np.isfinite(d)):
        lo, hi = np.quantile(d, [a, 1.0 - a])
    else:  # no interpolation between a finite and an infinite draw
        lo, hi = np.quantile(d, [a, 1.0 - a], method="inverted_cdf")
    return Estimate(float(v[0]), float(lo), float(hi))


def argmin_log(
    f: Callable[[FloatArray], FloatArray], lo: FloatArray, hi: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Minimise ``f`` over u in [lo, hi] for every row at once (u is a natural log).

    ``f`` takes u of shape (R, G) and returns (R, G); NaN counts as +inf. A shared grid of
    257 points per row finds the best cell (robust to a second local minimum), then
    golden-section search refines within the two neighbouring cells. Returns u* (R,), f(u*)
    (R,) and a flag (R,) that is true where the minimum sits at the edge of [lo, hi].
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    t = np.linspace(0.0, 1.0, _GRID)[None, :]
    u = lo[:, None] + (hi - lo)[:, None] * t
    fv = np.asarray(f(u), dtype=float)
    fv = np.where(np.isnan(fv), np.inf, fv)
    i = np.argmin(fv, axis=1)
    rows = np.arange(u.shape[0])
    edge = (i == 0) | (i == _GRID - 1) | ~np.isfinite(fv[rows, i])
    a = u[rows, np.maximum(i - 1, 0)]
    b = u[rows, np.minimum(i + 1, _GRID - 1)]
    g = (math.sqrt(5.0) - 1.0) / 2.0

    def fcol(x: FloatArray) -> FloatArray:
        y = np.asarray(f(x[:, None]), dtype=float)[:, 0]
        return np.where(np.isnan(y), np.inf, y)

    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = fcol(c), fcol(d)
    # both interior points are re-evaluated each step (2 evaluations instead of 1): simpler,
    # and the evaluations are vectorised over all rows anyway
    for _ in range(_GOLDEN_ITERS):
        left = fc < fd  # the minimum lies in [a, d], else in [c, b]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c, d = b - g * (b - a), a + g * (b - a)
        fc, fd = fcol(c), fcol(d)
    x = 0.5 * (a + b)
    fx = fcol(x)
    best = fv[rows, i]
    worse = ~(fx <= best)  # keep the grid point if refinement did not improve (e.g. inf)
    x = np.where(worse, u[rows, i], x)
    fx = np.where(worse, best, fx)
    return x, fx, edge
