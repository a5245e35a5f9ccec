"""Allocations of compute between N and D for any fitted law of (N, D), with intervals.

* :func:`optimal_allocation`: minimise L(N, D) subject to C = D * per_token(N). A law with a
  closed form (``Law.closed_form_allocation``, e.g. Chinchilla: Hoffmann et al. 2022, appendix
  D.2) uses it under C = 6ND; any other law or FLOP convention a bounded 1-D search over log N (:func:`scalinglab.plan.surface.argmin_log`).
* :func:`compute_for_loss`: the least training compute that reaches a target loss.
* :func:`inference_aware`: Sardana et al. 2023 (arXiv:2401.00448, section 2): minimise training
  plus inference FLOPs, C_train + 2 N D_inf (2N FLOP per generated or prompt token, forward
  only), subject to L(N, D) = target; or minimise L for a total budget C_train + 2 N D_inf.

Every function works on all parameter sets of a :class:`Surface` at once (point estimate and
bootstrap draws); the interval of each quantity is the percentile interval over the draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from scalinglab.errors import FitError
from scalinglab.laws.base import FloatArray
from scalinglab.plan.compute_optimal import Estimate, allocation_rows, no_optimum_error
from scalinglab.plan.surface import LOG_MAX, LOG_MIN, Surface, argmin_log, estimate
from scalinglab.units import FlopConvention

MIN_COMPUTE, MAX_COMPUTE = 1e10, 1e32
NUMERIC = "numeric: bounded 1-D search over log N (grid + golden section), per bootstrap draw"


@dataclass(frozen=True)
class Rows:
    """Per-row (point estimate, then draws) arrays of one allocation."""

    N: FloatArray
    D: FloatArray
    loss: FloatArray
    compute: FloatArray
    method: str
    edge: FloatArray  # bool: the optimum sits at the edge of the searched range


@dataclass(frozen=True)
class PlanPoint:
    """One planned run: N, D, D/N, loss and training compute with intervals, plus any
    plan-specific quantities (``extra``) and notes."""

    kind: str
    N: Estimate
    D: Estimate
    tokens_per_param: Estimate
    loss: Estimate
    compute: Estimate
    method: str
    extra: dict[str, Estimate] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    rows: Rows | None = field(default=None, compare=False, repr=False)  # per-draw values

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "method": self.method,
            "N": self.N.as_dict(),
            "D": self.D.as_dict(),
            "tokens_per_param": self.tokens_per_param.as_dict(),
            "loss": self.loss.as_dict(),
            "compute": self.compute.as_dict(),
        }
        out.update({k: v.as_dict() for k, v in self.extra.items()})
        out["notes"] = list(self.notes)
        return out


def check_compute(compute: float, what: str = "compute") -> float:
    """A budget in FLOP within [1e10, 1e32]; :class:`FitError` otherwise."""
    try:
        c = float(compute)
    except (TypeError, ValueError):
        c = math.nan
    if not (math.isfinite(c) and c > 0):
        raise FitError(f"{what} must be a positive number of FLOP, got {compute!r}.")
    if not MIN_COMPUTE <= c <= MAX_COMPUTE:
        raise FitError(
            f"{what} = {c:.3g} FLOP is outside the range scalinglab plans for "
            f"[{MIN_COMPUTE:.0e}, {MAX_COMPUTE:.0e}]; give the budget in FLOP (e.g. 1e24)."
        )
    return c


def point(
    kind: str,
    s: Surface,
    r: Rows,
    *,
    extra: dict[str, FloatArray] | None = None,
    notes: tuple[str, ...] = (),
) -> PlanPoint:
    lvl = s.level
    return PlanPoint(
        kind=kind,
        N=estimate(r.N, lvl),
        D=estimate(r.D, lvl),
        tokens_per_param=estimate(r.D / r.N, lvl),
        loss=estimate(r.loss, lvl),
        compute=estimate(r.compute, lvl),
        method=r.method,
        extra={k: estimate(v, lvl) for k, v in (extra or {}).items()},
        notes=notes,
        rows=r,
    )


def _edge_notes(r: Rows, what: str) -> tuple[str, ...]:
    k = int(np.count_nonzero(r.edge[1:]))
    if k == 0:
        return ()
    return (
        f"{k} of {r.edge.size - 1} bootstrap draws put the {what} at the edge of the searched "
        "range (1 to 1e40 parameters): those draws have no interior optimum.",
    )


def allocate(s: Surface, compute: float, flops: FlopConvention) -> Rows:
    """Compute-optimal N, D and loss at ``compute`` for every row of ``s``."""
    cf = s.law.closed_form_allocation
    if cf is not None and flops.name == "6ND":  # the closed forms assume C = 6ND
        N, D, L = (v[:, 0] for v in allocation_rows(s.law, s.params, compute))
        if np.isnan(N[0]):
            raise no_optimum_error(s.law, dict(zip(s.names, s.params[0], strict=True)))
        method = f"closed form ({cf.source})"
        return Rows(N, D, L, np.full(s.rows, compute), method, np.zeros(s.rows, bool))

    def f(u: FloatArray) -> FloatArray:
        N = np.exp(u)
        return s.loss(N, flops.tokens(compute, N))

    hi = math.log(compute / 6.0)  # D >= 1 token
    u, L, edge = argmin_log(f, np.full(s.rows, LOG_MIN), np.full(s.rows, hi))
    if edge[0]:
        raise FitError(
            f"the fitted {s.law.name!r} law has no interior compute-optimal model size at "
            f"C = {compute:.3g} FLOP (the loss keeps falling towards N = "
            f"{'1' if u[0] < 0.5 * hi else f'{math.exp(hi):.3g}'}); check the fit's exponents."
        )
    N = np.exp(u)
    return Rows(N, flops.tokens(compute, N), L, np.full(s.rows, compute), NUMERIC, edge)


def optimal_allocation(s: Surface, compute: float, flops: FlopConvention) -> PlanPoint:
    c = check_compute(compute)
    r = allocate(s, c, flops)
    return point("compute_optimal", s, r, notes=_edge_notes(r, "optimum"))


def check_target(s: Surface, target: float) -> FloatArray:
    """Irreducible loss per row; :class:`FitError` when ``target`` is at or below the fit's."""
    t = float(target)
    E = s.irreducible()
    e = estimate(E, s.level)
    if not math.isfinite(t) or t <= E[0]:
        raise FitError(
            f"target loss {target!r} is at or below the fitted irreducible loss "
            f"E = {e.value:.4g} ({round(100 * s.level)}% interval [{e.low:.4g}, {e.high:.4g}]): "
            "no amount of compute reaches it. Choose a target above E."
        )
    return E


def _min_cost(
    s: Surface, target: FloatArray, flops: FlopConvention, inference_tokens: float
) -> Rows:
    """Least training + inference compute reaching ``target`` (K+1, 1) on every row."""

    def cost(u: FloatArray) -> FloatArray:
        N = np.exp(u)
        D = s.tokens_for_loss(N, target)
        with np.errstate(over="ignore", invalid="ignore"):
            out: FloatArray = np.log(flops.flops(N, D) + 2.0 * N * inference_tokens)
        return out

    u, lc, edge = argmin_log(cost, np.full(s.rows, LOG_MIN), np.full(s.rows, LOG_MAX))
    N = np.exp(u)
    D = s.tokens_for_loss(N[:, None], target)[:, 0]
    unreachable = ~np.isfinite(lc)
    D = np.where(unreachable, np.inf, D)
    with np.errstate(invalid="ignore", over="ignore"):
        C = flops.flops(N, D)
    L = np.broadcast_to(target, (s.rows, 1))[:, 0].astype(float)
    return Rows(N, D, L, C, NUMERIC, edge & ~unreachable)


def compute_for_loss(s: Surface, target: float, flops: FlopConvention) -> PlanPoint:
    """The least training compute (and its N, D) whose predicted loss is ``target``."""
    E = check_target(s, target)
    r = _min_cost(s, np.full((s.rows, 1), float(target)), flops, 0.0)
    notes = list(_edge_notes(r, "optimum"))
    k = int(np.count_nonzero(E[1:] >= target))
    if k:
        notes.append(
            f"{k} of {E.size - 1} bootstrap draws put E at or above the target {target:g}: for "
            "them no compute reaches it, so the upper ends of the intervals are unbounded (inf)."
        )
    return point("target_loss", s, r, notes=tuple(notes))


def inference_aware(
    s: Surface,
    inference_tokens: float,
    flops: FlopConvention,
    *,
    compute: float | None = None,
    target_loss: float | None = None,
    total_compute: float | None = None,
) -> PlanPoint:
    """Sardana et al. 2023 plan for ``inference_tokens`` tokens served over the model's life.

    Exactly one of: ``target_loss`` (minimise training + inference FLOPs reaching it),
    ``compute`` (reach the loss of the compute-optimal model at that training budget, row by
    row, at the least total FLOPs) or ``total_compute`` (minimise the loss for training +
    inference FLOPs = total_compute).
    """
    Dinf = float(inference_tokens)
    if not (math.isfinite(Dinf) and Dinf >= 0):
        raise FitError(f"inference tokens must be a number >= 0, got {inference_tokens!r}.")
    given = [x is not None for x in (compute, target_loss, total_compute)]
    if sum(given) != 1:
        raise FitError(
            "an inference-aware plan needs exactly one of compute (match the compute-optimal "
            "loss at that training budget), target_loss, or total_compute."
        )
    notes: list[str] = []
    if total_compute is not None:
        Ct = check_compute(total_compute, "total compute")

        def loss(u: FloatArray) -> FloatArray:
            N = np.exp(u)
            left = Ct - 2.0 * N * Dinf  # FLOPs left for training
            D = np.where(left > 0, flops.tokens(np.maximum(left, 0.0), N), np.nan)
            return s.loss(N, D)

        hi = math.log(flops.max_params(Ct))
        if Dinf > 0:
            hi = min(hi, math.log(Ct / (2.0 * Dinf)))
        u, L, edge = argmin_log(loss, np.full(s.rows, LOG_MIN), np.full(s.rows, hi))
        N = np.exp(u)
        D = flops.tokens(Ct - 2.0 * N * Dinf, N)
        r = Rows(N, D, L, flops.flops(N, D), NUMERIC, edge)
    else:
        if target_loss is not None:
            check_target(s, target_loss)
            target = np.full((s.rows, 1), float(target_loss))
            notes.append(f"target loss {float(target_loss):g} (given)")
        else:
            assert compute is not None
            base = allocate(s, check_compute(compute), flops)
            target = base.loss[:, None]
            notes.append(
                f"target loss: that of the compute-optimal model at C = {float(compute):.3g} "
                "FLOP, for each bootstrap draw"
            )
        r = _min_cost(s, target, flops, Dinf)
    inf_c = 2.0 * r.N * Dinf
    notes.extend(_edge_notes(r, "optimum"))
    return point(
        "inference_aware",
        s,
        r,
        extra={
            "inference_tokens": np.full(s.rows, Dinf),
            "inference_compute": inf_c,
            "total_compute": r.compute + inf_c,
        },
        notes=tuple(notes),
    )
