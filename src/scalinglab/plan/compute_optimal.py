"""Compute-optimal allocation of a budget C between model size N and tokens D.

For the Chinchilla law L = E + A/N^alpha + B/D^beta under C = 6ND, minimising L gives
(Hoffmann et al. 2022, appendix D.2, eq. 4):

    N*(C) = G (C/6)^a,  D*(C) = G^-1 (C/6)^b,
    a = beta/(alpha+beta),  b = alpha/(alpha+beta),  G = (alpha A / (beta B))^(1/(alpha+beta)).

Intervals come from applying the formula to every bootstrap draw of the fit (not from the point
estimate alone): the exponents' uncertainty dominates at budgets far beyond the runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalinglab.errors import FitError
from scalinglab.fit.result import FitResult, percentile_interval
from scalinglab.laws.base import FloatArray
from scalinglab.units import FLOPS_PER_PARAM_TOKEN


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


def chinchilla_allocation(
    E: FloatArray, A: FloatArray, B: FloatArray, alpha: FloatArray, beta: FloatArray, C: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Closed-form N*, D* and the loss there, vectorised over parameter sets."""
    s = alpha + beta
    G = (alpha * A / (beta * B)) ** (1.0 / s)
    c6 = C / FLOPS_PER_PARAM_TOKEN
    N = G * c6 ** (beta / s)
    D = c6 ** (alpha / s) / G
    L = E + A / N**alpha + B / D**beta
    return N, D, L


def compute_optimal(result: FitResult, compute: float, *, level: float = 0.95) -> Allocation:
    """N*, D*, D*/N* and loss at budget ``compute`` (FLOP) for a Chinchilla fit."""
    if result.law != "chinchilla":
        raise FitError(
            f"compute-optimal allocation needs a 'chinchilla' fit; this fit is {result.law!r}."
        )
    if not (np.isfinite(compute) and compute > 0):
        raise FitError(f"compute must be a positive number of FLOP, got {compute!r}.")
    p = result.params
    if p["alpha"] <= 0 or p["beta"] <= 0:
        raise FitError(
            "the fitted exponents must be positive for a compute-optimal allocation "
            f"(alpha={p['alpha']:.4g}, beta={p['beta']:.4g})."
        )
    pv = [np.array([p[k]]) for k in ("E", "A", "B", "alpha", "beta")]
    N, D, L = chinchilla_allocation(pv[0], pv[1], pv[2], pv[3], pv[4], compute)
    d = result.draws()
    if d.shape[0] >= 2:
        good = (d[:, 3] > 0) & (d[:, 4] > 0)
        g = d[good]
        Nd, Dd, Ld = chinchilla_allocation(g[:, 0], g[:, 1], g[:, 2], g[:, 3], g[:, 4], compute)
        lo, hi = percentile_interval(np.stack([Nd, Dd, Dd / Nd, Ld], axis=1), level)
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
