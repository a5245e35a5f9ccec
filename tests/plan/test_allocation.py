"""Compute-optimal allocation: closed form (Hoffmann et al. 2022, app. D.2) and the numeric path."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import HOFFMANN, make_fit

from scalinglab.errors import FitError
from scalinglab.plan.allocation import allocate, optimal_allocation
from scalinglab.plan.compute_optimal import compute_optimal
from scalinglab.plan.surface import Surface, argmin_log, surface
from scalinglab.units import FlopConvention

BUDGETS = [1e18, 1e21, 5.76e23, 1e24, 1e27]


def closed_form(p: dict[str, float], C: float) -> tuple[float, float]:
    s = p["alpha"] + p["beta"]
    G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / s)
    return G * (C / 6) ** (p["beta"] / s), (C / 6) ** (p["alpha"] / s) / G


def test_hoffmann_exponents() -> None:
    """Published approach-3 parameters: a = beta/(alpha+beta) = 0.452, b = 0.548 (the paper
    reports 0.46 / 0.54 from its unrounded fit)."""
    fit = make_fit("chinchilla", HOFFMANN)
    s = surface(fit)
    N = np.array([allocate(s, C, FlopConvention()).N[0] for C in BUDGETS])
    D = np.array([allocate(s, C, FlopConvention()).D[0] for C in BUDGETS])
    a = np.polyfit(np.log(BUDGETS), np.log(N), 1)[0]
    b = np.polyfit(np.log(BUDGETS), np.log(D), 1)[0]
    assert a == pytest.approx(0.28 / 0.62, abs=1e-9)
    assert round(a, 3) == 0.452 and round(b, 3) == 0.548
    assert a + b == pytest.approx(1.0)


@pytest.mark.parametrize("C", BUDGETS)
def test_closed_form_matches_formula_and_numeric(C: float) -> None:
    fit = make_fit("chinchilla", HOFFMANN)
    N0, D0 = closed_form(HOFFMANN, C)
    pp = optimal_allocation(surface(fit), C, FlopConvention())
    assert pp.N.value == pytest.approx(N0, rel=1e-12)
    assert pp.D.value == pytest.approx(D0, rel=1e-12)
    assert 6 * pp.N.value * pp.D.value == pytest.approx(C)
    # the generic path (no closed forms: Law.predict in blocks, grid + golden section) finds
    # the same optimum
    s = surface(fit)
    bare = dataclasses.replace(
        s.law, closed_form_allocation=None, inverse={}, asymptote=None, paired_rows=False
    )
    generic = Surface(bare, s.names, s.params, s.level)
    r = allocate(generic, C, FlopConvention())
    assert r.N[0] == pytest.approx(N0, rel=1e-6)
    assert r.method.startswith("numeric")
    # the pre-existing API agrees
    assert compute_optimal(fit, C).N.value == pytest.approx(N0, rel=1e-12)


def test_intervals_from_draws_cover_point(hoffmann) -> None:  # type: ignore[no-untyped-def]
    pp = optimal_allocation(surface(hoffmann), 1e24, FlopConvention())
    for e in (pp.N, pp.D, pp.tokens_per_param, pp.loss):
        assert e.low < e.value < e.high
    assert pp.compute.value == pp.compute.low == pp.compute.high == 1e24


def test_kaplan_numeric_matches_its_stationary_point() -> None:
    """Kaplan law along C = 6ND: minimise (N_c/N)^p + 6 D_c N / C, p = alpha_N/alpha_D, so
    N^(p+1) = p N_c^p C / (6 D_c)."""
    p = {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095}
    fit = make_fit("kaplan", p, rel_sd=0.01, n_draws=50)
    q = p["alpha_N"] / p["alpha_D"]
    for C in (1e20, 1e24):
        want = (q * p["N_c"] ** q * C / (6 * p["D_c"])) ** (1 / (q + 1))
        pp = optimal_allocation(surface(fit), C, FlopConvention())
        assert pp.N.value == pytest.approx(want, rel=1e-6)
        assert pp.N.low < pp.N.value < pp.N.high


def test_attention_convention_costs_more_per_token() -> None:
    fit = make_fit("chinchilla", HOFFMANN)
    fc = FlopConvention(name="6ND+attention", n_ctx=8192, aspect_ratio=64.0)
    s = surface(fit)
    plain = allocate(s, 1e22, FlopConvention())
    att = allocate(s, 1e22, fc)
    assert att.method.startswith("numeric")
    assert float(fc.flops(att.N[0], att.D[0])) == pytest.approx(1e22, rel=1e-9)
    assert att.loss[0] > plain.loss[0]  # the same FLOPs buy less under the fuller count


def test_argmin_log_two_minima_and_edges() -> None:
    def f(u: np.ndarray) -> np.ndarray:
        return np.minimum((u - 2.0) ** 2 + 0.5, (u - 8.0) ** 2)  # global minimum at 8

    u, _fu, edge = argmin_log(f, np.zeros(3), np.full(3, 10.0))
    assert np.allclose(u, 8.0, atol=1e-8) and not edge.any()
    u, _, edge = argmin_log(lambda x: x, np.zeros(2), np.ones(2))
    assert edge.all() and np.allclose(u, 0.0)


def test_no_interior_optimum_is_an_error() -> None:
    fit = make_fit("kaplan", {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.0, "alpha_D": 0.095})
    with pytest.raises(FitError, match=r"has no interior compute-optimal model size at C = 1e\+21"):
        optimal_allocation(surface(fit), 1e21, FlopConvention())


def test_non_positive_exponent_is_an_error() -> None:
    fit = make_fit("chinchilla", {**HOFFMANN, "beta": -0.1})
    with pytest.raises(FitError, match=r"exponents must be positive .*beta=-0\.1"):
        optimal_allocation(surface(fit), 1e21, FlopConvention())


@pytest.mark.parametrize(
    ("C", "msg"),
    [
        (0.0, r"compute must be a positive number of FLOP, got 0\.0"),
        (-1e21, r"compute must be a positive number of FLOP"),
        (math.nan, r"compute must be a positive number of FLOP"),
        (1e9, r"compute = 1e\+09 FLOP is outside the range .*\[1e\+10, 1e\+32\]"),
        (1e33, r"compute = 1e\+33 FLOP is outside the range"),
    ],
)
def test_bad_budgets(C: float, msg: str) -> None:
    with pytest.raises(FitError, match=msg):
        optimal_allocation(surface(make_fit("chinchilla", HOFFMANN)), C, FlopConvention())


def test_needs_a_law_of_N_and_D() -> None:
    fit = make_fit("power_law", {"E": 1.0, "A": 10.0, "alpha": 0.3})
    with pytest.raises(
        FitError, match=r"planning needs a law of model size N and tokens D .*'power_law' of \(x\)"
    ):
        surface(fit)


def test_bad_level() -> None:
    with pytest.raises(FitError, match=r"level must be between 0 and 1"):
        surface(make_fit("chinchilla", HOFFMANN), level=1.5)


@pytest.mark.parametrize(
    ("law", "params"),
    [
        ("chinchilla", HOFFMANN),
        ("kaplan", {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095}),
    ],
)
def test_law_closed_forms_match_generic_path(law: str, params: dict[str, float]) -> None:
    """The law's declared closed forms (paired evaluation, inverse in D, asymptote) agree with
    the generic path the surface takes for a law without them (blocked Law.predict, bisection
    in log D, the loss at N = D = 1e40)."""
    s = surface(make_fit(law, params, rel_sd=0.01, n_draws=20))
    bare = dataclasses.replace(s.law, inverse={}, asymptote=None, paired_rows=False)
    g = Surface(bare, s.names, s.params, s.level)
    N = np.geomspace(1e8, 1e11, 7)[None, :]
    D = np.geomspace(1e9, 1e13, 7)[None, :]
    assert np.allclose(s.loss(N, D), g.loss(N, D), rtol=1e-12)
    target = s.loss(N, D)[:, 3:4] * 1.01  # each row's own reachable target
    assert np.allclose(s.tokens_for_loss(N, target), g.tokens_for_loss(N, target), rtol=1e-9)
    # the limit lies below the loss at 1e40 (Kaplan's decays as 1e40^-0.095 ~ 0.01 there)
    assert np.all(s.irreducible() <= g.irreducible())
    assert np.allclose(s.irreducible(), g.irreducible(), atol=0.02)
