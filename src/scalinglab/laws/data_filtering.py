"""Repeated data of one quality pool, whose utility decays with each repetition.

    y(D, U) = E + A n_1^(-b_1) prod_{k=2..K} (n_k / n_(k-1))^(-b_k),
    b_k = beta 2^(-(k-1)/tau),   n_k = min(k U, D),   K = ceil(D / U).

Source: Goyal, Maini, Lipton, Raghunathan and Kolter 2024, "Scaling Laws for Data Filtering --
Data Curation cannot be Compute Agnostic", arXiv:2404.07177. A pool of U unique
samples has a *utility* beta: while every sample is new, the error falls as a power law
y - E = A n^(-beta) in the n samples seen, i.e. dy/dn = -beta (y - E) / n. A sample seen for the
k-th time is worth less: its utility is b_k = beta delta^(k-1) with delta = 2^(-1/tau), so the
utility halves every tau repetitions (tau is the pool's *half-life*, in epochs). Integrating
dy/dn = -b_k (y - E) / n over each pass k over the pool (from n = (k-1) U to min(k U, D))
gives the product above. High-quality pools (large beta, small U) win at small budgets and
lose once they are repeated many times: the paper's quality-quantity trade-off (QQT).

Departures and what is not here: the paper's recursion acts on the error y; here it acts on
the reducible part y - E (the two agree for E = 0, their setting; a floor E keeps the law a
loss law). The paper's law for several pools combined into one (the utility of a mixture)
is not this module: fit each pool, with ``--group-by`` the pool. The equations were
checked against the paper's abstract and the authors' public description of the fit, not the
paper's full text (not available to the search used), so no equation numbers are cited.

| name | meaning                                        | unit           | internal | bounds        |
|------|------------------------------------------------|----------------|----------|---------------|
| E    | irreducible error or loss                      | target         | log E    | E >= 0        |
| A    | scale of the power law in samples seen         | target * D^b   | log A    | A >= 0        |
| beta | utility: exponent while the data are new       | 1              | beta     | [0, 5]        |
| tau  | half-life of the utility, in repetitions       | epochs         | log tau  | [1e-2, 1e3]   |

Variables: ``D``, samples (or tokens) seen in training, repeats counted, and
``unique_tokens``, U, the size of the pool (same unit). Epochs D / U are limited to
:data:`MAX_EPOCHS`. Computed in log space as log y = LSE(log E, log A - beta sum_k
2^(-(k-1)/tau) l_k), l_1 = log n_1 and l_k = log(n_k / n_(k-1)): the sum is one matrix product
of the (S, K) weights with the (K, n) table of l_k. With tau -> infinity the product telescopes
to A D^(-beta) (repetition costs nothing); with tau -> 0 the error stops at E + A U^(-beta)
after the first epoch.

The paper fits its pools on DataComp (CLIP); its fitted values are in figures and the
authors' code, not in the text, so ``published`` is empty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.errors import DataError
from scalinglab.laws._law_columns import Column, bad_rows_message, numeric_columns
from scalinglab.laws._starts import floor_starts, term_starts
from scalinglab.laws.base import FloatArray, Law, Param, column, log_sum_exp

if TYPE_CHECKING:
    import pandas as pd

#: the most passes over a pool a table may hold (the evaluation is O(epochs) per point)
MAX_EPOCHS = 10_000
_COLUMNS = (
    Column("D", "samples (or tokens) seen in training, repeats counted"),
    Column("unique_tokens", "size U of the data pool: unique samples (or tokens), as D counts"),
)
_BETA_GRID = (0.1, 0.3, 0.6)
_LN2 = math.log(2.0)


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    X = numeric_columns(frame, "data_filtering", _COLUMNS)
    epochs = X["D"] / X["unique_tokens"]
    bad = epochs > MAX_EPOCHS
    if bad.any():
        raise DataError(
            f"runs: D / unique_tokens (epochs over the pool) must be at most {MAX_EPOCHS} for "
            f"law 'data_filtering'; rows {bad_rows_message(frame, 'D', bad)} (D shown) exceed "
            "it. Check that D and unique_tokens count the same unit, or exclude those runs."
        )
    return X


def epoch_logs(D: FloatArray, U: FloatArray) -> FloatArray:
    """(K, n) table of l_k: log n_1 in row 0, log(n_k / n_(k-1)) in row k-1 for the passes k
    a point makes (K = ceil(D/U)), 0 beyond them."""
    D, U = np.asarray(D, dtype=float), np.asarray(U, dtype=float)
    K = np.maximum(np.ceil(D / U), 1.0)
    k = np.arange(1, int(K.max()) + 1, dtype=float)[:, None]  # (K, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.minimum(k * U, D) / ((k - 1.0) * U)
        out = np.where(k <= K, np.log(ratio), 0.0)
    out[0] = np.log(np.minimum(U, D))
    return np.asarray(out, dtype=float)


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    Lk = epoch_logs(column(X, "D"), column(X, "unique_tokens"))  # (K, n)
    l_e, l_a, beta, l_tau = (theta[:, i : i + 1] for i in range(4))
    reps = np.arange(Lk.shape[0], dtype=float)[None, :]  # k - 1, (1, K)
    rate = _LN2 / np.exp(l_tau)  # ln 2 / tau, (S, 1)
    W = np.exp(-reps * rate)  # 2^(-(k-1)/tau), (S, K)
    g = W @ Lk  # (S, n)
    dg = (W * reps * rate) @ Lk  # d g / d log tau (W_k grows with tau)
    t1 = l_a - beta * g
    f, (w0, w1) = log_sum_exp([np.broadcast_to(l_e, t1.shape), t1])
    return f, [w0, w1, -w1 * g, -w1 * beta * dg]


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # E below the lowest observation; A so that A n^-beta matches the spread at the
    # geometric-mean first-epoch size min(U, D), one start per exponent of the grid
    n1 = np.minimum(column(X, "D"), column(X, "unique_tokens"))
    return {"E": floor_starts(y, (0.1, 0.5, 0.9)), "A": term_starts(y, n1, _BETA_GRID)}


LAW = Law(
    name="data_filtering",
    version="1",
    title="Data pool quality and repetition: utility with a half-life (Goyal et al. 2024)",
    formula=(
        "y = E + A n_1^-b_1 prod_k (n_k/n_(k-1))^-b_k, b_k = beta 2^(-(k-1)/tau), n_k = min(k U, D)"
    ),
    citation=(
        "Goyal et al. 2024, Scaling Laws for Data Filtering -- Data Curation cannot be Compute "
        "Agnostic, arXiv:2404.07177"
    ),
    variables=("D", "unique_tokens"),
    params=(
        Param("E", "irreducible error or loss", "target unit", log=True, lower=0.0, grid=(0.0,)),
        Param(
            "A",
            "scale of the power law in samples seen",
            "target unit * D^beta",
            log=True,
            lower=0.0,
            grid=(0.0, 5.0, 10.0),
        ),
        Param("beta", "utility of new data (exponent)", "1", lower=0.0, upper=5.0, grid=_BETA_GRID),
        Param(
            "tau",
            "half-life of the utility in repetitions",
            "epochs",
            log=True,
            lower=1e-2,
            upper=1e3,
            grid=(0.0, math.log(4.0), math.log(16.0)),
        ),
    ),
    evaluate=_evaluate,
    data_grid=_data_grid,
    prepare=_prepare,
    notes=(
        "D: samples (or tokens) seen, repeats counted; unique_tokens: the pool size U in the "
        "same unit. One pool per fit (--group-by POOL for several). tau is identified only by "
        "runs that repeat the pool (D > U)."
    ),
)
