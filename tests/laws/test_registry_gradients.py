"""Every registered law's analytic Jacobian against central differences.

Driven by the registry (:func:`scalinglab.laws.registry.list_laws`): a law added without the
means to check its gradient here (a range for each of its variables, a sample table for a law
that is specialised to its table) makes :func:`test_every_law_has_a_gradient_check` fail.

Points: each law's published parameter sets when it has any, then rows of its default starting
grid, each perturbed (seeded) and kept inside its bounds; rows where the law is not finite at
the sampled variables (e.g. a loss-curve law driven below zero) are dropped, and at least
``MIN_ROWS`` must remain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import pytest

from scalinglab.laws import Law, get_law, list_laws
from scalinglab.laws.base import FloatArray

Sampler = Callable[[np.random.Generator, int], FloatArray]


def log_uniform(lo: float, hi: float) -> Sampler:
    return lambda rng, n: np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def uniform(lo: float, hi: float) -> Sampler:
    return lambda rng, n: rng.uniform(lo, hi, n)


# natural ranges of every variable a law may have (units as the laws document them)
VARIABLES: dict[str, Sampler] = {
    "N": log_uniform(1e7, 1e11),  # parameters
    "D": log_uniform(1e8, 1e12),  # tokens (characters for vocabulary)
    "C": log_uniform(1e17, 1e23),  # FLOP
    "x": log_uniform(1.0, 1e6),  # a scale: N, D, C, steps...
    "unique_tokens": log_uniform(1e8, 1e11),
    "M": log_uniform(5.0, 1000.0),  # tokens per parameter
    "experts": log_uniform(1.0, 128.0),
    "streams": log_uniform(1.0, 8.0),
    "precision_bits": uniform(3.0, 16.0),
    "N_avg": log_uniform(1e7, 1e11),
    "N_nv": log_uniform(1e7, 1e11),
    "N_v": log_uniform(1e6, 1e9),
    "S1": log_uniform(0.5, 50.0),  # sum of learning rates up to a step
    "S2": uniform(0.0, 0.5),  # annealing area
    "batch_size": log_uniform(1.0, 1e5),  # sequences or tokens per step
}
# laws whose x is not a scale but a loss (nats)
X_IS_A_LOSS = {"downstream_error", "downstream_accuracy"}
# tables that specialise a law whose variables (or parameters) depend on the runs
SAMPLE_TABLES: dict[str, pd.DataFrame] = {
    "mixture": pd.DataFrame(
        {"mix_web": [0.5, 0.2, 0.3], "mix_code": [0.3, 0.6, 0.1], "mix_books": [0.2, 0.2, 0.6]}
    ),
    "m4": pd.DataFrame({"x": [1e2, 1e3, 1e4], "y": [3.0, 2.5, 2.2]}),
}
N_POINTS, ROWS, MIN_ROWS = 30, 8, 3


def concrete(law: Law) -> Law:
    """The law as a fit uses it (specialised to its sample table)."""
    if law.specialize is None:
        return law
    if law.name not in SAMPLE_TABLES:
        pytest.fail(
            f"law {law.name!r} is specialised to its table: add a sample table for it to "
            "SAMPLE_TABLES in tests/laws/test_registry_gradients.py"
        )
    return law.specialize(SAMPLE_TABLES[law.name])


def draw_variables(law: Law, rng: np.random.Generator) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    mix = [v for v in law.variables if v.startswith("mix_")]
    if mix:  # proportions summing to 1
        r = rng.dirichlet(np.ones(len(mix)), N_POINTS)
        out.update({v: r[:, i] for i, v in enumerate(mix)})
    for v in law.variables:
        if v in out:
            continue
        if v == "x" and law.name in X_IS_A_LOSS:
            out[v] = rng.uniform(1.8, 4.5, N_POINTS)
        elif v in VARIABLES:
            out[v] = VARIABLES[v](rng, N_POINTS)
        else:
            pytest.fail(
                f"law {law.name!r} has variable {v!r} with no range: add one to VARIABLES in "
                "tests/laws/test_registry_gradients.py"
            )
    return out


def candidate_points(law: Law, rng: np.random.Generator) -> FloatArray:
    """Published sets, then grid rows (internal coordinates), perturbed and inside bounds."""
    rows = [law.to_internal(p) for p in law.published.values()]
    grid = law.start_grid()
    pick = rng.choice(grid.shape[0], size=ROWS, replace=grid.shape[0] < ROWS)
    theta = np.vstack([*rows, grid[pick]]) if rows else grid[pick]
    lo, hi = law.bounds()
    theta = theta + rng.normal(scale=0.05, size=theta.shape)
    return np.clip(theta, np.nextafter(lo, np.inf), np.nextafter(hi, -np.inf))


def steps(theta: FloatArray) -> FloatArray:
    """(P, S) central-difference steps, relative to each parameter's size."""
    return np.asarray(1e-6 * np.maximum(1.0, np.abs(theta.T)), dtype=float)


def central_jacobian(law: Law, theta: FloatArray, X: Mapping[str, FloatArray]) -> FloatArray:
    """(P, S, n) central differences of f in each internal parameter."""
    out = []
    h = steps(theta)
    for p in range(theta.shape[1]):
        up, dn = theta.copy(), theta.copy()
        up[:, p] += h[p]
        dn[:, p] -= h[p]
        out.append((law.evaluate(up, X)[0] - law.evaluate(dn, X)[0]) / (2 * h[p][:, None]))
    return np.stack(out)


def test_every_law_has_a_gradient_check() -> None:
    """Each registered law can be given variables and points here (else this names it)."""
    rng = np.random.default_rng(0)
    for law in list_laws():
        c = concrete(law)
        assert set(draw_variables(c, rng)) == set(c.variables), law.name


@pytest.mark.parametrize("law", list_laws(), ids=lambda law: law.name)
def test_law_jacobian_matches_central_differences(law: Law) -> None:
    check_jacobian(concrete(law))


def test_the_check_catches_a_wrong_derivative() -> None:
    """A Chinchilla whose d f / d beta is 0.1% off fails the check, naming beta."""
    law = get_law("chinchilla")

    def off(theta: FloatArray, X: Mapping[str, FloatArray]) -> tuple[FloatArray, list[FloatArray]]:
        f, J = law.evaluate(theta, X)
        return f, [*J[:4], 1.001 * J[4]]

    with pytest.raises(AssertionError, match=r"'chinchilla': d f / d beta off by"):
        check_jacobian(dataclasses.replace(law, evaluate=off))


def check_jacobian(c: Law) -> None:
    """The analytic Jacobian of ``c`` against central differences at its candidate points."""
    rng = np.random.default_rng(20250101)
    X = draw_variables(c, rng)
    theta = candidate_points(c, rng)
    with np.errstate(all="ignore"):
        f, J = c.evaluate(theta, X)
    assert len(J) == len(c.params)
    Js = np.stack([np.broadcast_to(j, f.shape) for j in J])
    ok = np.all(np.isfinite(f), axis=1) & np.all(np.isfinite(Js), axis=(0, 2))
    assert np.count_nonzero(ok) >= MIN_ROWS, (
        f"law {c.name!r}: only {np.count_nonzero(ok)} of {ok.size} points are finite at the "
        "sampled variables; give it published values or a better variable range"
    )
    theta, Js, f = theta[ok], Js[:, ok], f[ok]
    fd = central_jacobian(c, theta, X)
    # relative to each (parameter, point) row's largest entry, plus the rounding error of the
    # central difference itself, ~eps |f| / h (a large f, e.g. a linear-space law far from its
    # data, or an implicit law solved by Newton's method, carries noise of that size)
    eps = np.finfo(float).eps
    rounding = 16 * eps * (1.0 + np.max(np.abs(f), axis=1))[None, :] / steps(theta)
    tol = 1e-6 * np.max(np.abs(Js), axis=2, keepdims=True) + rounding[:, :, None]
    excess = np.abs(Js - fd) - tol
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    assert np.all(excess < 0), (
        f"law {c.name!r}: d f / d {c.param_names[worst[0]]} off by {excess.max():.3g} beyond "
        f"tolerance at point {theta[worst[1]]}"
    )
