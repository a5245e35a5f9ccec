"""Parallel scaling: L(N, P) = (A / (N (k log P + 1)))^alpha + E.

Source: Chen et al. 2025, "Parallel Scaling Law for Language Models", arXiv:2505.10475,
section 3 (the parallel scaling law): running P learnable, differently-transformed copies of
the input through the same model in parallel and aggregating their outputs acts like
multiplying the parameters by (k log P + 1), a Chinchilla-style law in N alone at fixed data.
log is the natural logarithm (as in the authors' released fitting code); P = 1 is the ordinary
model.

| name  | meaning                                        | unit        | internal  |
|-------|------------------------------------------------|-------------|-----------|
| A     | parameter scale of the reducible loss          | parameters  | log A     |
| k     | parameter gain per unit of log P (k >= 0)      | 1           | k         |
| alpha | exponent of the effective parameters           | 1           | alpha     |
| E     | irreducible loss                               | target      | log E     |

Variables: ``N`` (non-embedding parameters, as Chen et al. count them) and ``streams`` (the
number of parallel streams P >= 1; error if absent). Computed as
log L = LSE(log E, alpha (log A - log N - log(1 + k log P))). Bounds: A, E > 0; k in [0, 10];
alpha in (0, 5]. Default grid: 3 (E, below the data) x 3 (A, matched to the data for each
alpha) x 3 (alpha) x 2 (k) = 54 starts.

Chen et al. fit the law on Stack-V2-Python and on the Pile (their table of fitted A, k, alpha,
E); those numbers could not be checked against the paper from the sources available here, so
no published set is bundled. The tests instead fit the per-run losses the authors released with
their fitting code and check the equivalences their law demonstration reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.laws._law_columns import Column, numeric_columns
from scalinglab.laws._starts import floor_starts, log_mid, spread
from scalinglab.laws.base import FloatArray, Law, Param, column, log_sum_exp

if TYPE_CHECKING:
    import pandas as pd


_COLUMNS = (
    Column("N", "non-embedding parameters"),
    Column(
        "streams", "number of parallel streams P (1 for an ordinary model)", lower=1.0, closed=True
    ),
)
_ALPHA_GRID = (0.1, 0.25, 0.5)


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    return numeric_columns(frame, "parscale", _COLUMNS)


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lN, lP = np.log(column(X, "N")), np.log(column(X, "streams"))
    e, a, k, alpha = (theta[:, i : i + 1] for i in range(4))
    gain = 1.0 + k * lP  # effective-parameter multiplier, >= 1 for k >= 0
    u = a - lN - np.log(gain)  # log(A / (N gain))
    t = alpha * u
    f, (w0, w1) = log_sum_exp([np.broadcast_to(e, t.shape), t])
    J = [w0, w1 * alpha, -w1 * alpha * lP / gain, w1 * u]
    return f, J


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # E below the lowest loss; for each exponent, the A that makes the reducible term span the
    # observed range at the geometric-mean N: (A/N)^alpha = span -> log A = log N + log(span)/alpha
    lN_mid = log_mid(column(X, "N"))
    log_span = float(np.log(spread(y)))
    return {
        "E": floor_starts(y, (0.3, 0.6, 0.9)),
        "A": [lN_mid + log_span / alpha for alpha in _ALPHA_GRID],
    }


LAW = Law(
    name="parscale",
    version="1",
    title="Parallel scaling in parameters and parallel streams (Chen et al. 2025)",
    formula="L(N, P) = (A / (N (k log P + 1)))^alpha + E",
    citation=(
        "Chen et al. 2025, Parallel Scaling Law for Language Models, arXiv:2505.10475, section 3"
    ),
    variables=("N", "streams"),
    params=(
        Param("E", "irreducible loss", "target unit", log=True, lower=0.0, grid=(0.0,)),
        Param(
            "A",
            "parameter scale of the reducible loss",
            "parameters",
            log=True,
            lower=0.0,
            grid=(20.0,),
        ),
        Param("k", "parameter gain per unit of log P", "1", lower=0.0, upper=10.0, grid=(0.2, 0.5)),
        Param(
            "alpha",
            "exponent of the effective parameters",
            "1",
            lower=1e-3,
            upper=5.0,
            grid=_ALPHA_GRID,
        ),
    ),
    evaluate=_evaluate,
    data_grid=_data_grid,
    prepare=_prepare,
    notes="N: non-embedding parameters; streams: P >= 1; natural log of P.",
)
