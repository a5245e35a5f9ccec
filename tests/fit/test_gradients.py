"""Analytic Jacobians of every law and gradients of every objective against finite differences."""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np
import pytest

from scalinglab.fit.engine import Problem
from scalinglab.fit.objectives import Objective, rho_psi
from scalinglab.laws import Law, Param, get_law, list_laws
from scalinglab.laws.base import FloatArray

# natural ranges of the variables (log-uniform draws)
RANGES = {"N": (1e7, 1e11), "D": (1e8, 1e12), "x": (1.0, 1e6)}

# plausible parameter boxes, in internal coordinates, for the laws named in the design; other
# laws are checked at points of their own default start grid (slightly perturbed)
THETA_BOX: dict[str, list[tuple[float, float]]] = {
    # e = log E, a = log A, b = log B, alpha, beta
    "chinchilla": [(-0.5, 1.0), (3.0, 9.0), (3.0, 9.0), (0.1, 0.8), (0.1, 0.8)],
    # n_c = log N_c, d_c = log D_c, alpha_N, alpha_D
    "kaplan": [(25.0, 35.0), (25.0, 35.0), (0.03, 0.3), (0.03, 0.3)],
    # e = log E, a = log A, alpha
    "power_law": [(-1.0, 1.0), (0.0, 5.0), (0.05, 1.5)],
    # log c, alpha: -log PU from ~0.01 to ~15 over N in [1e7, 1e11], not flat at PU = 1 or 0
    "passuntil": [(5.0, 9.0), (0.25, 0.4)],
}


def _drawable(law: Law) -> bool:
    """Laws whose variables are plain columns with a natural range known here (not laws that
    derive their variables from the table, or whose parameter list depends on it)."""
    return (
        law.prepare is None and law.specialize is None and all(v in RANGES for v in law.variables)
    )


LAW_PARAMS = [pytest.param(law, id=law.name) for law in list_laws() if _drawable(law)]
# every law, drawable here or not, is also checked by tests/laws/test_registry_gradients.py


def _draw_X(law: Law, n: int, rng: np.random.Generator) -> dict[str, FloatArray]:
    out = {}
    for v in law.variables:
        lo, hi = RANGES[v]
        out[v] = np.exp(rng.uniform(np.log(lo), np.log(hi), size=n))
    return out


def _draw_theta(law: Law, S: int, rng: np.random.Generator) -> FloatArray:
    if law.name in THETA_BOX:
        box = THETA_BOX[law.name]
        return np.stack([rng.uniform(lo, hi, size=S) for lo, hi in box], axis=1)
    grid = law.start_grid()
    theta = grid[rng.choice(grid.shape[0], size=S, replace=grid.shape[0] < S)]
    lo, hi = law.bounds()
    return np.clip(theta + rng.normal(scale=0.05, size=theta.shape), lo, hi)


def test_core_laws_are_checked() -> None:
    checked = {p.values[0].name for p in LAW_PARAMS}  # type: ignore[union-attr]
    assert {"chinchilla", "kaplan", "power_law"} <= checked


def _central_jacobian(law: Law, theta: FloatArray, X: Mapping[str, FloatArray]) -> FloatArray:
    """(P, S, n) central differences of ``law.evaluate``'s f in each internal parameter."""
    S, P = theta.shape
    n = len(next(iter(X.values())))
    out = np.empty((P, S, n))
    for p in range(P):
        h = 1e-6 * np.maximum(1.0, np.abs(theta[:, p]))
        plus, minus = theta.copy(), theta.copy()
        plus[:, p] += h
        minus[:, p] -= h
        fp, _ = law.evaluate(plus, X)
        fm, _ = law.evaluate(minus, X)
        out[p] = (fp - fm) / (2 * h[:, None])
    return out


@pytest.mark.parametrize("law", LAW_PARAMS)
def test_law_jacobian_matches_finite_differences(law: Law) -> None:
    rng = np.random.default_rng(20240601)
    X = _draw_X(law, 40, rng)
    theta = _draw_theta(law, 6, rng)
    f, J_list = law.evaluate(theta, X)
    assert f.shape == (6, 40)
    assert len(J_list) == len(law.params)
    # each entry is (S, n) or broadcastable to it
    J = np.stack([np.broadcast_to(j, f.shape) for j in J_list])
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(J))
    J_fd = _central_jacobian(law, theta, X)
    # relative to each (parameter, start) row's largest entry; plus a 1e-9 absolute floor, as
    # an implicit law (solved by Newton's method) carries ~1e-15 noise in f, which central
    # differences amplify to ~1e-10 where a derivative is itself tiny
    tol = 1e-6 * np.max(np.abs(J), axis=2, keepdims=True) + 1e-9
    excess = np.abs(J - J_fd) - tol
    assert np.all(excess < 0), (
        f"worst excess {excess.max():.3g} at {np.unravel_index(excess.argmax(), excess.shape)}"
    )


@pytest.mark.parametrize("law", [get_law(n) for n in THETA_BOX], ids=list(THETA_BOX))
def test_law_value_matches_direct_formula(law: Law) -> None:
    """f is log of the published formula, computed naively in the test."""
    rng = np.random.default_rng(7)
    X = _draw_X(law, 25, rng)
    theta = _draw_theta(law, 3, rng)
    nat = law.to_natural(theta)
    f, _ = law.evaluate(theta, X)
    for s in range(3):
        v = dict(zip(law.param_names, nat[s], strict=True))
        if law.name == "chinchilla":
            L = v["E"] + v["A"] / X["N"] ** v["alpha"] + v["B"] / X["D"] ** v["beta"]
        elif law.name == "kaplan":
            L = ((v["N_c"] / X["N"]) ** (v["alpha_N"] / v["alpha_D"]) + v["D_c"] / X["D"]) ** v[
                "alpha_D"
            ]
        elif law.name == "passuntil":  # Hu et al. 2023, eq. 3
            L = np.exp(-v["c"] * X["N"] ** (-v["alpha"]))
        else:
            L = v["E"] + v["A"] * X["x"] ** (-v["alpha"])
        np.testing.assert_allclose(f[s], np.log(L), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(law.predict(theta[s], X)[0], L, rtol=1e-12)


def test_chinchilla_log_sum_exp_stays_finite_far_out() -> None:
    """Huge internal scales (a start far from any optimum) must not overflow f or J."""
    law = get_law("chinchilla")
    X = {"N": np.array([1e7, 1e11]), "D": np.array([1e8, 1e12])}
    theta = np.array([[-1.0, 900.0, 0.0, 0.0, 2.0], [1.0, 0.0, 900.0, 2.0, 0.0]])
    f, J = law.evaluate(theta, X)
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(J))


# ----- objectives -----

OBJECTIVES = {
    "huber_log": Objective(),
    "lsq_log": Objective(kind="lsq"),
    "lsq_linear": Objective(kind="lsq", space="linear"),
    "huber_linear": Objective(kind="huber", space="linear", delta=0.05),
    "huber_asym10": Objective(asymmetry=10.0),
    "lsq_asym3": Objective(kind="lsq", asymmetry=3.0),
}


def _planted_problem(
    law: Law, obj: Objective, rng: np.random.Generator, *, weighted: bool
) -> tuple[Problem, FloatArray]:
    """A problem whose data come from a parameter point, perturbed so that at points near it
    the log residuals spread across the Huber delta (1e-3) on both sides."""
    n = 60
    X = _draw_X(law, n, rng)
    theta0 = _draw_theta(law, 1, rng)
    L0 = law.predict(theta0, X)[0]
    # residual magnitudes from 1e-4 to 1e-2 in log space, both signs: straddle delta = 1e-3
    noise = np.exp(rng.uniform(np.log(1e-4), np.log(1e-2), n)) * rng.choice([-1.0, 1.0], n)
    y = L0 * np.exp(noise)
    w = rng.uniform(0.2, 3.0, n) if weighted else np.ones(n)
    prob = Problem(law=law, X=X, y=y, weights=w, objective=obj, fixed={})
    # evaluation points: the generating point and small perturbations of it
    pts = theta0 + rng.normal(scale=1e-3, size=(4, theta0.shape[1]))
    return prob, np.vstack([theta0, pts])


def _fd_grad(fun, x: FloatArray, rel_step: float = 1e-8) -> FloatArray:  # type: ignore[no-untyped-def]
    S, P = x.shape
    g = np.empty((S, P))
    rows = np.arange(S)
    for p in range(P):
        h = rel_step * np.maximum(1.0, np.abs(x[:, p]))
        xp, xm = x.copy(), x.copy()
        xp[:, p] += h
        xm[:, p] -= h
        g[:, p] = (fun(xp, rows)[0] - fun(xm, rows)[0]) / (2 * h)
    return g


def _fd_error(fun, x: FloatArray, g: FloatArray) -> FloatArray:  # type: ignore[no-untyped-def]
    """Per-row relative error of ``g`` against central differences, at the best of three steps.

    One step cannot suit every row: a large step straddles a Huber kink (|r| = delta) when a
    residual sits within h * |J| of it, a small one loses digits to rounding when the objective
    is large. A correct gradient agrees to ~1e-8 at one of them; a wrong one at none.
    """
    scale = np.linalg.norm(g, axis=1)
    errs = [np.max(np.abs(g - _fd_grad(fun, x, h)), axis=1) / scale for h in (1e-6, 1e-7, 1e-8)]
    return np.min(errs, axis=0)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("obj_name", list(OBJECTIVES))
@pytest.mark.parametrize("law", LAW_PARAMS)
def test_objective_gradient_matches_finite_differences(
    law: Law, obj_name: str, weighted: bool
) -> None:
    obj = OBJECTIVES[obj_name]
    rng = np.random.default_rng(zlib.crc32(f"{law.name}-{obj_name}-{weighted}".encode()))
    prob, x = _planted_problem(law, obj, rng, weighted=weighted)
    fun = prob.batch_fun()
    f, g = fun(x, np.arange(x.shape[0]))
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(g))
    assert np.all(np.linalg.norm(g, axis=1) > 0)
    np.testing.assert_array_less(_fd_error(fun, x, g), 1e-6)


def test_residuals_straddle_huber_delta() -> None:
    """The points used for the Huber gradient checks really exercise both branches."""
    law = get_law("chinchilla")
    prob, x = _planted_problem(law, Objective(), np.random.default_rng(3), weighted=False)
    f, _ = law.evaluate(x, prob.X)
    r = np.abs(f - np.log(prob.y))
    assert np.any(r < 1e-3) and np.any(r > 1e-3)


def test_scipy_check_grad_on_fixed_parameter_problem() -> None:
    """Gradient over free parameters only (alpha fixed), via scipy's own checker."""
    from scipy.optimize import check_grad

    law = get_law("chinchilla")
    rng = np.random.default_rng(11)
    base, x = _planted_problem(law, Objective(asymmetry=10.0), rng, weighted=True)
    prob = Problem(
        law=law,
        X=base.X,
        y=base.y,
        weights=base.weights,
        objective=base.objective,
        fixed={"alpha": float(x[0, 3])},
    )
    fun = prob.batch_fun()
    free = np.delete(x[0], 3)

    def value(v: FloatArray) -> float:
        return float(fun(v[None, :], np.arange(1))[0][0])

    def grad(v: FloatArray) -> FloatArray:
        return fun(v[None, :], np.arange(1))[1][0]

    # check_grad uses forward differences (error ~ eps * curvature): a small step, looser bound
    err = check_grad(value, grad, free, epsilon=1e-9)
    assert err <= 1e-5 * np.linalg.norm(grad(free))


@pytest.mark.parametrize("obj", list(OBJECTIVES.values()), ids=list(OBJECTIVES))
def test_rho_psi_derivative_and_values(obj: Objective) -> None:
    r = np.concatenate([np.linspace(-0.02, 0.02, 401), [-1e-3, 1e-3, 0.0]])
    rho, psi = rho_psi(r, obj)
    h = 1e-9
    num = (rho_psi(r + h, obj)[0] - rho_psi(r - h, obj)[0]) / (2 * h)
    # at r = 0 the asymmetric rho has a curvature jump: central differences are off by O(h)
    np.testing.assert_allclose(psi, num, rtol=1e-5, atol=1e-8)
    assert np.all(rho >= 0) and rho_psi(np.zeros(1), obj)[0][0] == 0.0
    if obj.kind == "huber" and obj.asymmetry == 1.0:
        from scipy.special import huber

        np.testing.assert_allclose(rho, huber(obj.delta, r), rtol=1e-14, atol=0)


def test_asymmetry_scales_only_overpredictions() -> None:
    r = np.array([-0.01, -5e-4, 5e-4, 0.01])
    base, _ = rho_psi(r, Objective())
    asym, _ = rho_psi(r, Objective(asymmetry=10.0))
    np.testing.assert_allclose(asym, base * np.array([1, 1, 10, 10]))


def _linear_law() -> Law:
    """A law fitted in linear space (L = c0 + c1 x), to exercise the log-objective branch."""

    def evaluate(theta: FloatArray, X: Mapping[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
        x = np.asarray(X["x"], dtype=float)
        c0, c1 = theta[:, :1], theta[:, 1:2]
        f = c0 + c1 * x
        return f, np.stack([np.ones_like(f), np.broadcast_to(x, f.shape)])

    return Law(
        name="test_linear",
        version="0",
        title="line",
        formula="c0 + c1 x",
        citation="test",
        variables=("x",),
        params=(Param("c0", "offset"), Param("c1", "slope")),
        evaluate=evaluate,
        space="linear",
        positive_target=False,
    )


@pytest.mark.parametrize(
    "obj",
    [Objective(kind="lsq"), Objective(space="log", delta=1e-2), Objective(kind="lsq", space="log")],
    ids=["lsq_own_space", "huber_log", "lsq_log"],
)
def test_linear_law_gradients(obj: Objective) -> None:
    law = _linear_law()
    rng = np.random.default_rng(5)
    X = {"x": np.linspace(1.0, 10.0, 30)}
    y = (2.0 + 0.5 * X["x"]) * np.exp(rng.normal(scale=0.02, size=30))
    prob = Problem(law=law, X=X, y=y, weights=np.ones(30), objective=obj, fixed={})
    fun = prob.batch_fun()
    x = np.array([[2.0, 0.5], [1.9, 0.52], [2.2, 0.45]])
    _, g = fun(x, np.arange(3))
    g_fd = _fd_grad(fun, x)
    np.testing.assert_allclose(g, g_fd, rtol=1e-6, atol=1e-9 * np.abs(g).max())


def test_linear_law_log_objective_non_positive_prediction_loses() -> None:
    """A prediction <= 0 in a log-space objective is an infinite loss with zero gradient."""
    law = _linear_law()
    X = {"x": np.array([1.0, 2.0, 3.0])}
    prob = Problem(
        law=law,
        X=X,
        y=np.array([1.0, 2.0, 3.0]),
        weights=np.ones(3),
        objective=Objective(space="log"),
        fixed={},
    )
    f, g = prob.batch_fun()(np.array([[-10.0, 0.0], [0.0, 1.0]]), np.arange(2))
    assert f[0] == np.inf and np.all(g[0] == 0.0)
    assert f[1] == pytest.approx(0.0, abs=1e-15)
