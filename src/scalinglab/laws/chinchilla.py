"""Chinchilla law: L(N, D) = E + A / N^alpha + B / D^beta.

Source: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
arXiv:2203.15556, eq. (2) and section 3.3 ("approach 3"). Hoffmann et al. fit it with a Huber
loss (delta = 1e-3) on log L from a grid of starts; Besiroglu et al. 2024 (arXiv:2404.10102)
re-fitted the paper's own data and published the 4,500-point grid used as our default.

| name  | meaning                                  | unit          | internal  |
|-------|------------------------------------------|---------------|-----------|
| E     | irreducible loss (N, D -> infinity)      | target (nats) | e = log E |
| A     | model-size term scale                    | target * N^alpha | a = log A |
| B     | data term scale                          | target * D^beta | b = log B |
| alpha | model-size exponent                      | 1             | alpha     |
| beta  | data exponent                            | 1             | beta      |

Computed as log L = LSE(e, a - alpha log N, b - beta log D) (log-sum-exp), so the log-space
objective never takes the log of a sum. Target must be positive.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scalinglab.laws.base import (
    ClosedFormAllocation,
    FloatArray,
    Law,
    NaturalParams,
    Param,
    column,
    log_sum_exp,
)
from scalinglab.units import FLOPS_PER_PARAM_TOKEN

# Besiroglu et al. 2024, section 2: alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1},
# a, b in {0, 5, ..., 25}: 5 * 5 * 5 * 6 * 6 = 4,500 starts.
_EXP_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)
_LOGSCALE_GRID = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lN, lD = np.log(column(X, "N")), np.log(column(X, "D"))
    e, a, b, alpha, beta = (theta[:, i : i + 1] for i in range(5))
    t1 = a - alpha * lN  # (S, n): log(A / N^alpha)
    t2 = b - beta * lD  # (S, n): log(B / D^beta)
    f, (w0, w1, w2) = log_sum_exp([np.broadcast_to(e, t1.shape), t1, t2])
    J = [w0, w1, w2, -w1 * lN, -w2 * lD]
    return f, J


def _tokens_for_loss(
    p: NaturalParams, X: Mapping[str, FloatArray], target: FloatArray
) -> FloatArray:
    """D at which L(N, D) = target: B / D^beta = target - E - A / N^alpha (inf when N alone
    cannot bring the loss down to the target)."""
    gap = target - p["E"] - p["A"] / column(X, "N") ** p["alpha"]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        D = np.where(gap > 0, (p["B"] / gap) ** (1.0 / p["beta"]), np.inf)
    return np.asarray(D, dtype=float)


def _irreducible(p: NaturalParams) -> FloatArray:
    """L as N, D -> infinity: E."""
    return p["E"]


def _allocate(p: NaturalParams, C: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Hoffmann et al. 2022, appendix D.2 (eq. 4): minimising L under C = 6ND gives
    N* = G (C/6)^(beta/(alpha+beta)), D* = G^-1 (C/6)^(alpha/(alpha+beta)) with
    G = (alpha A / (beta B))^(1/(alpha+beta)); NaN unless both exponents are positive."""
    a, b = p["alpha"], p["beta"]
    s = a + b
    c6 = np.asarray(C, dtype=float) / FLOPS_PER_PARAM_TOKEN
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        G = (a * p["A"] / (b * p["B"])) ** (1.0 / s)
        N = G * c6 ** (b / s)
        D = c6 ** (a / s) / G
    ok = (a > 0) & (b > 0)
    return np.where(ok, N, np.nan), np.where(ok, D, np.nan)


LAW = Law(
    name="chinchilla",
    version="1",
    title="Chinchilla parametric loss (Hoffmann et al. 2022, approach 3)",
    formula="L(N, D) = E + A / N^alpha + B / D^beta",
    citation=(
        "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, "
        "arXiv:2203.15556, eq. 2; grid and re-fit: Besiroglu et al. 2024, arXiv:2404.10102"
    ),
    variables=("N", "D"),
    params=(
        Param(
            "E",
            "irreducible loss",
            "target unit",
            log=True,
            lower=0.0,
            grid=(-1.0, -0.5, 0.0, 0.5, 1.0),
        ),
        Param(
            "A",
            "scale of the model-size term",
            "target unit * N^alpha",
            log=True,
            lower=0.0,
            grid=_LOGSCALE_GRID,
        ),
        Param(
            "B",
            "scale of the data term",
            "target unit * D^beta",
            log=True,
            lower=0.0,
            grid=_LOGSCALE_GRID,
        ),
        Param("alpha", "model-size exponent", "1", lower=-1.0, upper=5.0, grid=_EXP_GRID),
        Param("beta", "data exponent", "1", lower=-1.0, upper=5.0, grid=_EXP_GRID),
    ),
    evaluate=_evaluate,
    paired_rows=True,
    inverse={"D": _tokens_for_loss},
    asymptote=_irreducible,
    closed_form_allocation=ClosedFormAllocation(
        _allocate, "Hoffmann et al. 2022, arXiv:2203.15556, appendix D.2"
    ),
    notes=(
        "N counts parameters as the runs record them; D counts training tokens. "
        "The compute-optimal allocation has a closed form (Hoffmann et al. 2022, appendix D.2)."
    ),
    published={
        # Hoffmann et al. 2022, eq. 10 (approach 3, rounded).
        "hoffmann2022": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
        # Besiroglu et al. 2024, table 1 (re-fit on the digitised data).
        "besiroglu2024": {"E": 1.82, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658},
    },
    auto_candidate=True,
)
