"""The law abstraction: a vectorised formula with its analytic Jacobian, plus parameter metadata.

A law is stateless. It evaluates many parameter vectors at once (one per optimiser start or
bootstrap resample) on the same data points:

    evaluate(theta, X) -> (f, J)

* ``theta``: array (S, P) of parameters in *internal* coordinates (``log(value)`` for parameters
  declared ``log=True``, the value itself otherwise), one row per start.
* ``X``: mapping from variable name (``"N"``, ``"D"``, ``"x"``, ...) to a float array (n,).
  By default each variable is the runs column of that name (positive and finite); a law with
  ``prepare`` computes its variables from the table itself (and validates them).
* ``f``: array (S, n), the prediction in the law's ``space``: ``log`` of the target for laws with a
  positive target (computed with log-sum-exp, never by taking the log of a sum), the target itself
  for laws fitted in linear space.
* ``J``: a sequence of P arrays, each (S, n) (or broadcastable to it): the derivative of ``f``
  with respect to each internal parameter (a list, not one stacked array: stacking costs a copy
  of P * S * n numbers on every evaluation). ``np.stack(J)`` gives the (P, S, n) Jacobian.

Internal log coordinates make positive scale parameters (E, A, B) unconstrained and put them on
the scale the optimiser handles well (Besiroglu et al. 2024 fit ``e = log E`` and so on).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import pandas as pd

FloatArray = NDArray[np.float64]
Jacobian = Sequence[FloatArray]
Evaluate = Callable[[FloatArray, Mapping[str, FloatArray]], tuple[FloatArray, Jacobian]]
DataGrid = Callable[[Mapping[str, FloatArray], FloatArray], Mapping[str, Sequence[float]]]
# Computes a law's variables from the runs table when they are not plain columns (e.g. the
# cumulative learning-rate sums of a loss-curve law). Must raise DataError/FitError naming the
# missing column and what it means.
Prepare = Callable[["pd.DataFrame"], dict[str, FloatArray]]
# Builds a concrete law from the runs table for laws whose parameter list depends on the data
# (e.g. a data-mixture law with one exponent per mixture component).
Specialize = Callable[["pd.DataFrame"], "Law"]

# Closed forms a law may offer beyond ``evaluate``, all on *natural* parameter values: a mapping
# from parameter name to an array (one value per parameter set, shaped to broadcast against the
# variables, e.g. a column (K, 1) against a grid (K, G)).
NaturalParams = Mapping[str, FloatArray]
# The inverse of the law in one variable: (params, the other variables, target) -> the value of
# that variable at which the law equals the target (inf where no value reaches it).
Inverse = Callable[[NaturalParams, Mapping[str, FloatArray], FloatArray], FloatArray]
# The target as every variable grows without bound (the irreducible loss), one per parameter set.
Asymptote = Callable[[NaturalParams], FloatArray]


@dataclass(frozen=True)
class ClosedFormAllocation:
    """A law of (N, D) whose compute-optimal split of a budget C = 6ND has a closed form.

    ``solve(params, C)`` returns (N*, D*) broadcast over parameter sets and budgets (C in FLOP),
    NaN where the parameters give no interior optimum (e.g. a non-positive exponent).
    ``source`` cites the derivation."""

    solve: Callable[[NaturalParams, FloatArray], tuple[FloatArray, FloatArray]]
    source: str


# Arguments of exp() are clipped here so that a wild start cannot overflow to inf (exp(700) is
# about 1e304). Only far-off starts ever reach the clip; no optimum does.
EXP_CLIP = 700.0


@dataclass(frozen=True)
class Param:
    """One parameter of a law.

    ``lower``/``upper`` are bounds in natural units (``None`` means unbounded). ``grid`` holds
    starting values in internal coordinates: ``log(value)`` when ``log`` is true.
    """

    name: str
    meaning: str
    unit: str = "1"
    log: bool = False
    lower: float | None = None
    upper: float | None = None
    grid: tuple[float, ...] = (0.0,)

    def internal_bounds(self) -> tuple[float, float]:
        lo = -math.inf if self.lower is None else self.lower
        hi = math.inf if self.upper is None else self.upper
        if self.log:
            lo = math.log(lo) if lo > 0 else -math.inf
            hi = math.log(hi) if hi < math.inf else math.inf
        return lo, hi


@dataclass(frozen=True)
class Law:
    """A published functional form. See :mod:`scalinglab.laws` for the catalogue."""

    name: str
    version: str
    title: str
    formula: str
    citation: str
    variables: tuple[str, ...]
    params: tuple[Param, ...]
    evaluate: Evaluate
    space: Literal["log", "linear"] = "log"
    positive_target: bool = True
    data_grid: DataGrid | None = None
    # the objective when the caller names none: "huber" (Hoffmann et al. 2022, for losses) or
    # "lsq" (least squares, what the papers use for noisy targets such as optimal learning rates)
    default_objective: Literal["huber", "lsq"] = "huber"
    prepare: Prepare | None = None
    specialize: Specialize | None = None
    notes: str = ""
    published: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # a default candidate of ``--law auto`` (scalinglab.trust.select) for tables with its variables
    auto_candidate: bool = False
    # ----- capabilities: what the planner and reports may ask of the law without knowing it -----
    # ``evaluate`` also accepts variables of shape (S, n), row s paired with theta row s (true
    # when it only broadcasts theta's (S, 1) columns against the variables)
    paired_rows: bool = False
    # the batched optimiser of a fit: "lbfgs" (:mod:`scalinglab.fit.lbfgs`, any law) or "lm",
    # Levenberg-Marquardt on the residuals (:mod:`scalinglab.fit.lsq`), for small curve laws
    # whose optima lie on flat, ill-conditioned ridges that L-BFGS follows slowly
    solver: Literal["lbfgs", "lm"] = "lbfgs"
    # closed-form inverses in single variables (e.g. {"D": ...}: tokens reaching a loss)
    inverse: Mapping[str, Inverse] = field(default_factory=dict)
    asymptote: Asymptote | None = None
    closed_form_allocation: ClosedFormAllocation | None = None
    # which training hyperparameter the law predicts the optimum of ("lr": peak learning rate,
    # "batch": batch size in tokens); None for a law of a loss or other metric
    hyperparameter: Literal["lr", "batch"] | None = None

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_internal(self, values: Mapping[str, float]) -> FloatArray:
        """Natural parameter values -> internal vector (P,)."""
        out = np.empty(len(self.params))
        for i, p in enumerate(self.params):
            v = float(values[p.name])
            # a positive parameter that reached 0 (an underflowed optimum on a short fit) maps to
            # -inf, which the laws evaluate as 0, as to_internal_array does
            out[i] = (math.log(v) if v > 0 else -math.inf) if p.log else v
        return out

    def to_internal_array(self, values: FloatArray) -> FloatArray:
        """Natural values (..., P) -> internal coordinates (a value of 0 for a log parameter,
        e.g. an underflowed bootstrap draw, maps to -inf, which the laws evaluate as 0)."""
        out = np.array(values, dtype=float, copy=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            for i, p in enumerate(self.params):
                if p.log:
                    out[..., i] = np.log(out[..., i])
        return out

    def to_natural(self, theta: FloatArray) -> FloatArray:
        """Internal coordinates (..., P) -> natural values (..., P)."""
        theta = np.asarray(theta, dtype=float)
        out = theta.copy()
        for i, p in enumerate(self.params):
            if p.log:
                out[..., i] = np.exp(theta[..., i])
        return out

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        lo, hi = zip(*(p.internal_bounds() for p in self.params), strict=True)
        return np.array(lo, dtype=float), np.array(hi, dtype=float)

    def start_grid(
        self, X: Mapping[str, FloatArray] | None = None, y: FloatArray | None = None
    ) -> FloatArray:
        """The default starting grid (internal coordinates), the Cartesian product of each
        parameter's grid; laws with ``data_grid`` adapt some axes to the data's scale."""
        axes: dict[str, Sequence[float]] = {p.name: p.grid for p in self.params}
        if self.data_grid is not None and X is not None and y is not None:
            axes.update(self.data_grid(X, y))
        rows = list(itertools.product(*(axes[p.name] for p in self.params)))
        return np.array(rows, dtype=float)

    def predict(self, theta: FloatArray, X: Mapping[str, FloatArray]) -> FloatArray:
        """Prediction in natural target units, shape (S, n) for theta (S, P)."""
        f, _ = self.evaluate(np.atleast_2d(theta), X)
        return np.exp(f) if self.space == "log" else f

    def predict_paired(self, theta: FloatArray, X: Mapping[str, FloatArray]) -> FloatArray:
        """Prediction (S, G) in natural target units where row s of theta (S, P) is evaluated
        at its own points: each variable of ``X`` is (S, G). Laws with ``paired_rows`` do this
        in one call; others are evaluated in blocks of rows, keeping each block's diagonal."""
        theta = np.atleast_2d(theta)
        S = theta.shape[0]
        cols = {v: np.broadcast_to(np.asarray(X[v], dtype=float), np.shape(X[v])) for v in X}
        shape = np.broadcast_shapes((S, 1), *(c.shape for c in cols.values()))
        cols = {v: np.broadcast_to(c, shape) for v, c in cols.items()}
        if self.paired_rows:
            return np.broadcast_to(self.predict(theta, cols), shape).copy()
        G = shape[1]
        out = np.empty(shape)
        m = max(1, min(S, int(math.sqrt(200_000 / max(G, 1)))))  # m * m * G evaluations a block
        idx = np.arange(m)
        for s in range(0, S, m):
            e = min(S, s + m)
            block = {v: c[s:e].ravel() for v, c in cols.items()}
            f = self.predict(theta[s:e], block).reshape(e - s, e - s, G)
            out[s:e] = f[idx[: e - s], idx[: e - s]]  # row i's parameters at row i's points
        return out

    def natural(self, values: FloatArray) -> dict[str, FloatArray]:
        """Natural parameter values (K, P) -> {name: column (K, 1)}, the form the closed forms
        (``inverse``, ``asymptote``, ``closed_form_allocation``) take."""
        v = np.atleast_2d(np.asarray(values, dtype=float))
        return {p.name: v[:, i : i + 1] for i, p in enumerate(self.params)}


def log_sum_exp(terms: Sequence[FloatArray]) -> tuple[FloatArray, list[FloatArray]]:
    """Stable log(sum_k exp(t_k)) of broadcastable arrays, with the softmax weights w_k
    (the derivative of the result with respect to each t_k)."""
    m = terms[0]
    for t in terms[1:]:
        m = np.maximum(m, t)
    exps = [np.exp(t - m) for t in terms]
    s = exps[0]
    for e in exps[1:]:
        s = s + e
    inv = 1.0 / s
    return m + np.log(s), [e * inv for e in exps]


def column(X: Mapping[str, FloatArray], name: str) -> FloatArray:
    return np.asarray(X[name], dtype=float)
