"""Diagnostics of a fit's optimum: parameters at a bound, flat optima, rival optima, inverse
scaling and parameters the data do not separate. Each is a message for the fit's warnings."""

from __future__ import annotations

import math

import numpy as np

from scalinglab.fit.engine import MultiStartResult, Problem, hessian
from scalinglab.fit.records import BoundFlag
from scalinglab.laws.base import FloatArray


def at_bounds(problem: Problem, x: FloatArray, names: list[str]) -> tuple[BoundFlag, ...]:
    """The free parameters (``names``, internal point ``x``) within 1e-6 (relative) of a
    finite bound, with the bound in natural units."""
    lo, hi = problem.bounds()
    flags: list[BoundFlag] = []
    law = problem.law
    for j, name in enumerate(names):
        p = law.param(name)
        for side, b, natural in (("lower", lo[j], p.lower), ("upper", hi[j], p.upper)):
            if math.isfinite(b) and abs(x[j] - b) <= 1e-6 * (1.0 + abs(b)):
                flags.append(BoundFlag(name, side, float(natural if natural is not None else b)))  # type: ignore[arg-type]
    return tuple(flags)


def diagnose_optimum(problem: Problem, ms: MultiStartResult, names: list[str]) -> list[str]:
    """Warnings about the optimum: a parameter at a bound, a flat optimum, a rival optimum,
    parameters the data do not separate (scale-free Hessian)."""
    warn = [
        f"parameter {f.param} sits at its {f.side} bound; the data do not pin it down: fix it "
        f"(--fix {f.param}=...) or collect runs that vary it."
        for f in at_bounds(problem, ms.x, names)
    ]
    if np.any(ms.spread > 1e-4 * (1.0 + np.abs(ms.x))):
        worst = names[int(np.argmax(ms.spread))]
        warn.append(
            f"starts reaching the same objective disagree on {worst} (spread {float(np.max(ms.spread)):.3g} in internal units): the optimum is flat; treat {worst} with caution."
        )
    if ms.second_best is not None and ms.second_best <= ms.f * (1.0 + 1e-3) + 1e-300:
        warn.append(
            f"another optimum is within 0.1% of the best objective ({ms.second_best:.6g} vs {ms.f:.6g}): the fit may be ambiguous; compare the bootstrap intervals."
        )
    law = problem.law
    full = law.to_natural(problem.full_theta(ms.x[None, :])[0])
    for i, p in enumerate(law.params):
        if "exponent" in p.meaning and full[i] < 0 and p.name not in problem.fixed:
            warn.append(
                f"exponent {p.name} = {full[i]:.4g} < 0: the fitted law moves away from its "
                "asymptote as scale grows (inverse scaling); check the runs with `scalinglab "
                "diagnose` before extrapolating."
            )
    H = hessian(problem, ms.x)
    diag = np.sqrt(np.abs(np.diag(H))) if np.all(np.isfinite(H)) else np.zeros(0)
    if diag.size and np.all(diag > 0):
        ev, vec = np.linalg.eigh(H / np.outer(diag, diag))  # curvature in each one's own units
        if ev[0] <= 1e-8 * ev[-1]:
            loads = np.abs(vec[:, 0])
            pair = [names[i] for i in np.argsort(loads)[::-1][:2]]
            warn.append(
                f"the objective is flat along a direction mixing {' and '.join(pair)}: these parameters are not separately identified by the data."
            )
    return warn
