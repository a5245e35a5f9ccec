"""Data-constrained law: Chinchilla at effective data D' and effective parameters N'.

Source: Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", arXiv:2305.16264,
section 3.1, eqs. (5)-(7). Repeated tokens are worth less than fresh ones, and parameters
beyond the compute-optimal size for the unique data are worth less than needed ones:

    D' = U_D + U_D R*_D (1 - exp(-R_D / R*_D)),   R_D = D / U_D - 1
    N' = U_N + U_N R*_N (1 - exp(-R_N / R*_N)),   U_N = min(N_opt(U_D), N),  R_N = N / U_N - 1
    L  = E + A / N'^alpha + B / D'^beta

N_opt(U_D) is the model size for which U_D tokens are compute-optimal under the law's own
Chinchilla part (Hoffmann et al. 2022, appendix D.2: N*(C) = G (C/6)^(beta/(alpha+beta)),
D*(C) = G^-1 (C/6)^(alpha/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta))). Solving
D*(C) = U_D for C/6 = (G U_D)^((alpha+beta)/alpha) and substituting:

    N_opt(U_D) = G (G U_D)^(beta/alpha) = G^((alpha+beta)/alpha) U_D^(beta/alpha),
    log N_opt  = (log A - log B + log(alpha/beta) + beta log U_D) / alpha.

| name     | meaning                                         | unit           | internal   |
|----------|-------------------------------------------------|----------------|------------|
| E        | irreducible loss                                | target (nats)  | log E      |
| A        | model-size term scale                           | target * N^alpha | log A    |
| B        | data term scale                                 | target * D^beta | log B     |
| alpha    | model-size exponent                             | 1              | alpha      |
| beta     | data exponent                                   | 1              | beta       |
| R_D_star | R*_D: repetitions after which repeated data has lost 1 - 1/e of its value | epochs | log R*_D |
| R_N_star | R*_N: the same for excess parameters            | 1              | log R*_N   |

Variables: ``N`` (parameters), ``D`` (training tokens, repeats counted) and ``unique_tokens``
(U: the unique tokens available, a column of the runs; an error names it when absent). The
unique tokens actually seen are U_D = min(D, U): a run shorter than one epoch repeats nothing
(R_D = 0). Computed as log L = LSE(log E, log A - alpha log N', log B - beta log D').

The min() makes N' piecewise: where N <= N_opt(U_D), N' = N and no parameter but alpha acts on
the model term through N'; where N > N_opt, N' depends on E, A, B, alpha, beta through
N_opt. The derivative of log N' with respect to log N_opt, 1 - (1 + R_N) e^(-R_N/R*_N) /
(1 + R*_N (1 - e^(-R_N/R*_N))), is 0 at the switch (R_N = 0), so the law is continuously
differentiable across it and the Jacobian is exact on both sides.

Bounds: E, A, B > 0; 0.01 <= alpha, beta <= 3; 1e-3 <= R*_D, R*_N <= 1e6. Default grid:
2 x 3 x 3 x 3 x 3 = 162 starts (E, A and B adapted to the data; R*_D and R*_N start at the
published values).

R*_D and R*_N are identified only by runs that repeat data (D > U) or exceed N_opt. When the
runs have none, hold them at the published values: ``fit(..., fix={"R_D_star": 15.4,
"R_N_star": 5.3})`` (CLI: ``--fix R_D_star=15.4 --fix R_N_star=5.3``). Muennighoff et al.'s
fit on their C4 runs (the ``muennighoff2023`` entry of ``published``) reproduces the two losses
their repository prints for the models of their figure 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.laws._law_columns import Column, numeric_columns
from scalinglab.laws._starts import floor_starts, term_starts
from scalinglab.laws.base import FloatArray, Law, Param, column, log_sum_exp

if TYPE_CHECKING:
    import pandas as pd

NAME = "data_constrained"
_COLUMNS = (
    Column("N", "model size in parameters"),
    Column("D", "training tokens seen, repetitions included"),
    Column(
        "unique_tokens",
        "the number of unique tokens U available for training (D / U is the number of epochs)",
    ),
)


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    return numeric_columns(frame, NAME, _COLUMNS)


def _effective(
    log_u: FloatArray, R: FloatArray, log_r_star: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """log of U (1 + R* (1 - exp(-R/R*))), and its derivatives in R and in log R*."""
    r_star = np.exp(log_r_star)
    q = R / r_star
    decay = np.exp(-q)
    g = -r_star * np.expm1(-q)  # R* (1 - e^-q), accurate for small q
    one_g = 1.0 + g
    value = log_u + np.log(one_g)
    d_R = decay / one_g
    # d g / d log R* = R* (1 - e^-q (1 + q)) = R* (-expm1(-q) - q e^-q)
    d_log_star = r_star * (-np.expm1(-q) - q * decay) / one_g
    return value, d_R, d_log_star


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    N, D = column(X, "N"), column(X, "D")
    U_D = np.minimum(D, column(X, "unique_tokens"))
    lN, lU = np.log(N), np.log(U_D)
    e, a, b, alpha, beta, l_rd, l_rn = (theta[:, i : i + 1] for i in range(7))

    # effective data: depends on R*_D only
    R_D = D / U_D - 1.0
    lDp, _, dlDp_drd = _effective(lU, R_D, l_rd)

    # compute-optimal model size for U_D tokens (Hoffmann et al. 2022, appendix D.2)
    K = a - b + np.log(alpha) - np.log(beta) + beta * lU
    l_opt = K / alpha  # (S, n)
    excess = lN > l_opt  # N > N_opt: U_N = N_opt, R_N = N/N_opt - 1 > 0
    l_un = np.where(excess, l_opt, lN)
    R_N = np.expm1(lN - l_un)  # 0 where N <= N_opt
    lNp, dlNp_dR, dlNp_drn = _effective(l_un, R_N, l_rn)
    # d log N' / d log N_opt: 1 from U_N itself, R_N = e^(lN - l_opt) - 1 moves the other way
    m = np.where(excess, 1.0 - (1.0 + R_N) * dlNp_dR, 0.0)
    dlNp_drn = np.where(excess, dlNp_drn, 0.0)

    t1 = a - alpha * lNp  # log(A / N'^alpha)
    t2 = b - beta * lDp  # log(B / D'^beta)
    f, (w0, w1, w2) = log_sum_exp([np.broadcast_to(e, t1.shape), t1, t2])
    # chain rule through log N_opt = K / alpha
    am = -alpha * m * w1  # d f / d log N_opt
    J = [
        w0,
        w1 + am / alpha,
        w2 - am / alpha,
        -w1 * lNp + am * (1.0 / alpha - l_opt) / alpha,
        -w2 * lDp + am * (lU - 1.0 / beta) / alpha,
        -beta * w2 * dlDp_drd,
        -alpha * w1 * dlNp_drn,
    ]
    return f, J


_EXP_GRID = (0.2, 0.35, 0.6)
# Muennighoff et al. 2023, section 3.1 / README of huggingface/datablations
PUBLISHED_R_D_STAR = 15.387756
PUBLISHED_R_N_STAR = 5.309743


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # E below the smallest loss; for each exponent of the grid, the scale that makes the model
    # (data) term equal the loss range at the geometric-mean N (unique tokens).
    U = np.minimum(column(X, "D"), column(X, "unique_tokens"))
    return {
        "E": floor_starts(y, (0.5, 0.85)),
        "A": term_starts(y, column(X, "N"), _EXP_GRID),
        "B": term_starts(y, U, _EXP_GRID),
    }


LAW = Law(
    name=NAME,
    version="1",
    title="Data-constrained scaling law (Muennighoff et al. 2023)",
    formula=(
        "L = E + A/N'^alpha + B/D'^beta; D' = U_D (1 + R*_D (1 - exp(-R_D/R*_D))), "
        "N' = U_N (1 + R*_N (1 - exp(-R_N/R*_N))), U_N = min(N_opt(U_D), N)"
    ),
    citation=(
        "Muennighoff et al. 2023, Scaling Data-Constrained Language Models, arXiv:2305.16264, "
        "section 3.1, eqs. 5-7"
    ),
    variables=("N", "D", "unique_tokens"),
    params=(
        Param("E", "irreducible loss", "target unit", log=True, lower=0.0, grid=(0.5,)),
        Param(
            "A",
            "scale of the model-size term",
            "target unit * N^alpha",
            log=True,
            lower=0.0,
            grid=(6.0,),
        ),
        Param(
            "B",
            "scale of the data term",
            "target unit * D^beta",
            log=True,
            lower=0.0,
            grid=(7.0,),
        ),
        Param("alpha", "model-size exponent", "1", lower=0.01, upper=3.0, grid=_EXP_GRID),
        Param("beta", "data exponent", "1", lower=0.01, upper=3.0, grid=_EXP_GRID),
        Param(
            "R_D_star",
            "R*_D: repetitions of the unique data after which repeated tokens have lost "
            "1 - 1/e of their value",
            "epochs",
            log=True,
            lower=1e-3,
            upper=1e6,
            grid=(math.log(PUBLISHED_R_D_STAR),),
        ),
        Param(
            "R_N_star",
            "R*_N: the same for parameters in excess of N_opt(U_D)",
            "1",
            log=True,
            lower=1e-3,
            upper=1e6,
            grid=(math.log(PUBLISHED_R_N_STAR),),
        ),
    ),
    evaluate=_evaluate,
    data_grid=_data_grid,
    prepare=_prepare,
    notes=(
        "Needs the column unique_tokens (--map unique_tokens=COLUMN). Without repeated-data "
        "runs R*_D and R*_N are not identified: fix them at the published values with "
        "--fix R_D_star=15.4 --fix R_N_star=5.3. U_D = min(D, unique_tokens)."
    ),
    published={
        # Muennighoff et al. 2023, fit on their C4 runs; the same values (rounded: E = 1.87,
        # A = 521, B = 1488, alpha = beta = 0.353, R*_D = 15.4, R*_N = 5.3) are in the paper;
        # these full-precision ones are from the README of github.com/huggingface/datablations
        # (log A = 6.255414, log B = 7.3049974, log E = 0.6254804).
        "muennighoff2023": {
            "E": math.exp(0.6254804),
            "A": math.exp(6.255414),
            "B": math.exp(7.3049974),
            "alpha": 0.3526596,
            "beta": 0.3526596,
            "R_D_star": PUBLISHED_R_D_STAR,
            "R_N_star": PUBLISHED_R_N_STAR,
        },
    },
)
