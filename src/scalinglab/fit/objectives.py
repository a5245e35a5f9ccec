"""Fitting objectives: pure functions of residuals, with their gradients.

The default is the Chinchilla objective (Hoffmann et al. 2022, section 3.3; Besiroglu et al.
2024): the sum over runs of ``scipy.special.huber(delta, r)`` with ``r = log L_pred - log L_obs``
and ``delta = 1e-3``. Also available: least squares (``kind="lsq"``) in log or linear space,
per-run weights, and an asymmetric variant that multiplies the loss of over-predictions
(``r > 0``) by ``asymmetry``: an under-tuned small run overstates the best loss reachable at its
(N, D), so a law should rather pass below such points than above (the ``chinchilla`` package and
OLMo's ladder analysis weight over-estimates more heavily; our backtests decide if it helps).

Objective value: ``sum_i w_i * rho(r_i)`` (a sum, not a mean, as in the papers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from scalinglab.errors import FitError
from scalinglab.laws.base import FloatArray, Jacobian, Law

Kind = Literal["huber", "lsq"]
Space = Literal["log", "linear"]


@dataclass(frozen=True)
class Objective:
    """What the fit minimises. ``space=None`` means the law's own space."""

    kind: Kind = "huber"
    space: Space | None = None
    delta: float = 1e-3
    asymmetry: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("huber", "lsq"):
            raise FitError(f"objective kind {self.kind!r} is unknown; use 'huber' or 'lsq'.")
        if self.space not in (None, "log", "linear"):
            raise FitError(f"objective space {self.space!r} is unknown; use 'log' or 'linear'.")
        if not (self.delta > 0 and np.isfinite(self.delta)):
            raise FitError(f"Huber delta must be a positive number, got {self.delta!r}.")
        if not (self.asymmetry > 0 and np.isfinite(self.asymmetry)):
            raise FitError(
                f"asymmetry must be a positive factor (1 = symmetric), got {self.asymmetry!r}."
            )

    def resolved_space(self, law: Law) -> Space:
        return self.space if self.space is not None else law.space

    def describe(self, law: Law) -> str:
        space = self.resolved_space(law)
        r = "log pred - log obs" if space == "log" else "pred - obs"
        core = f"huber(delta={self.delta:g})" if self.kind == "huber" else "0.5 r^2"
        asym = f", over-predictions x{self.asymmetry:g}" if self.asymmetry != 1.0 else ""
        return f"sum_i w_i {core}, r = {r}{asym}"


def rho_psi(r: FloatArray, obj: Objective) -> tuple[FloatArray, FloatArray]:
    """Per-residual loss rho(r) and its derivative psi(r)."""
    if obj.kind == "huber":
        d = obj.delta
        a = np.abs(r)
        rho = np.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))
        psi = np.clip(r, -d, d)
    else:
        rho = 0.5 * r * r
        psi = r
    if obj.asymmetry != 1.0:
        scale = np.where(r > 0, obj.asymmetry, 1.0)
        rho, psi = rho * scale, psi * scale
    return rho, psi


def transform_target(y: FloatArray, law: Law, obj: Objective) -> FloatArray:
    """Observed target in the objective's space (log y for log space)."""
    return np.log(y) if obj.resolved_space(law) == "log" else np.asarray(y, dtype=float)


def to_objective_space(
    f: FloatArray, J: Jacobian, law: Law, obj: Objective
) -> tuple[FloatArray, Jacobian]:
    """Convert a law's output (f, J) from its own space to the objective's."""
    space = obj.resolved_space(law)
    if space == law.space:
        return f, J
    if law.space == "log":  # law gives log L; objective wants L
        p = np.exp(f)
        return p, [j * p for j in J]
    with np.errstate(divide="ignore", invalid="ignore"):  # non-positive predictions -> inf loss
        return np.log(f), [j / f for j in J]


def value_and_grad(
    f: FloatArray, J: Jacobian, y_t: FloatArray, w: FloatArray, obj: Objective
) -> tuple[FloatArray, FloatArray]:
    """Objective (S,) and gradient (S, P) for predictions f (S, n) with Jacobian J (P x (S, n)),
    transformed targets y_t (n,) and weights w, (n,) or (S, n)."""
    r = f - y_t
    rho, psi = rho_psi(r, obj)
    wpsi = w * psi
    loss = rho @ w if w.ndim == 1 else np.einsum("sn,sn->s", w, rho)
    grad = np.empty((f.shape[0], len(J)))
    for p, j in enumerate(J):
        grad[:, p] = np.einsum("sn,sn->s", np.broadcast_to(j, wpsi.shape), wpsi)
    bad = ~np.isfinite(loss)
    if bad.any():  # a start in a region where the law overflows: make it lose, never win
        loss = np.where(bad, np.inf, loss)
        grad[bad] = 0.0
    return loss, grad
