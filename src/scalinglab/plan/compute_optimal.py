"""Compute-optimal allocation of a budget C between model size N and tokens D, in closed form.

A law offers one through ``Law.closed_form_allocation``. For the Chinchilla law
L = E + A/N^alpha + B/D^beta under C = 6ND, minimising L gives (Hoffmann et al. 2022,
appendix D.2, eq. 4; the formula lives in :mod:`scalinglab.laws.chinchilla`):

    N*(C) = G (C/6)^a,  D*(C) = G^-1 (C/6)^b,
    a = beta/(alpha+beta),  b = alpha/(alpha+beta),  G = (alpha A / (beta B))^(1/(alpha+beta)).

Intervals come from applying the formula to every bootstrap draw of the fit (not from the point
estimate alone): the exponents' uncertainty dominates at budgets far beyond the runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scalinglab.errors import FitError
from scalinglab.fit.result import FitResult, percentile_interval
from scalinglab.laws.base import ClosedFormAllocation, FloatArray, Law
from scalinglab.laws.registry import list_laws


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Allocation:
    compute: float
    N: Estimate
    D: Estimate
    tokens_per_param: Estimate
    loss: Estimate
    level: float

    def as_dict(self) -> dict[str, object]:
        return {
            "compute": self.compute,
            "N": self.N.as_dict(),
            "D": self.D.as_dict(),
            "tokens_per_param": self.tokens_per_param.as_dict(),
            "loss": self.loss.as_dict(),
            "level": self.level,
        }


def closed_form_laws() -> list[str]:
    """Names of the registered laws with a closed-form compute-optimal allocation."""
    return [law.name for law in list_laws() if law.closed_form_allocation is not None]


def closed_form(law: Law) -> ClosedFormAllocation:
    """The law's :class:`ClosedFormAllocation`; :class:`FitError` naming the laws that have one."""
    if law.closed_form_allocation is None:
        names = " or ".join(repr(n) for n in closed_form_laws())
        raise FitError(
            f"compute-optimal allocation needs a {names} fit; this fit is {law.name!r}, whose law "
            "has no closed-form allocation (`scalinglab plan` searches any law of N and D)."
        )
    return law.closed_form_allocation


def allocation_rows(
    law: Law, params: FloatArray, C: float | FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Closed-form N*, D* and the loss there for parameter sets ``params`` (K, P, natural
    units) at budgets ``C`` (FLOP; a float or a row (1, G)): arrays (K, G), NaN where a set has
    no interior optimum. The loss is the law's own prediction at (N*, D*)."""
    cf = closed_form(law)
    N, D = cf.solve(law.natural(params), np.atleast_2d(np.asarray(C, dtype=float)))
    N = np.asarray(N, dtype=float)
    D = np.asarray(D, dtype=float)
    theta = law.to_internal_array(np.atleast_2d(params))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        L = law.predict_paired(theta, {"N": N, "D": D})
    return N, D, np.where(np.isfinite(N) & np.isfinite(D), L, np.nan)


def no_optimum_error(law: Law, values: Mapping[str, float]) -> FitError:
    """The error for a point estimate without an interior optimum, naming its exponents (the
    parameters the law does not keep in log coordinates)."""
    shown = ", ".join(f"{p.name}={values[p.name]:.4g}" for p in law.params if not p.log)
    return FitError(
        f"the fitted exponents must be positive for a compute-optimal allocation ({shown})."
    )


def compute_optimal(result: FitResult, compute: float, *, level: float = 0.95) -> Allocation:
    """N*, D*, D*/N* and loss at budget ``compute`` (FLOP) for a fit of a law with a closed-form
    allocation (``Law.closed_form_allocation``, e.g. Chinchilla)."""
    law = result.law_obj()
    closed_form(law)
    if not (np.isfinite(compute) and compute > 0):
        raise FitError(f"compute must be a positive number of FLOP, got {compute!r}.")
    point = np.array([[result.params[n] for n in law.param_names]], dtype=float)
    N, D, L = (v[:, 0] for v in allocation_rows(law, point, compute))
    if not np.isfinite(N[0]):
        raise no_optimum_error(law, result.params)
    d = result.draws()
    if d.shape[0] >= 2:
        Nd, Dd, Ld = (v[:, 0] for v in allocation_rows(law, d, compute))
        good = ~np.isnan(Nd)  # draws without an interior optimum
        rows = np.stack([Nd, Dd, Dd / Nd, Ld], axis=1)[good]
        lo, hi = percentile_interval(rows, level)
    else:
        lo = hi = np.full(4, np.nan)
    return Allocation(
        compute=compute,
        N=Estimate(float(N[0]), float(lo[0]), float(hi[0])),
        D=Estimate(float(D[0]), float(lo[1]), float(hi[1])),
        tokens_per_param=Estimate(float(D[0] / N[0]), float(lo[2]), float(hi[2])),
        loss=Estimate(float(L[0]), float(lo[3]), float(hi[3])),
        level=level,
    )
