"""Sparse pre-training: Chinchilla with N replaced by the average parameter count over training.

L(N_avg, D) = E + A / N_avg^alpha + B / D^beta.

Source: Jin et al. 2025, "The Journey Matters: Average Parameter Count over Pre-training
Unifies Sparse and Dense Scaling Laws", arXiv:2501.12486: when a model is pruned during
pre-training, its final loss follows the dense Chinchilla law if N is replaced by the number of
(non-zero) parameters averaged over the training tokens; dense runs have N_avg = N.

**Computing N_avg.** With n(t) the number of non-zero parameters while the t-th token is
trained on, N_avg = (1/D) sum_t n(t): the token-weighted mean of the parameter count over the
whole run (steps of equal batch size weigh equally). :func:`average_parameter_count` does this
from a schedule of (tokens, parameters) points; :func:`cubic_pruning_average` gives the closed
form for the gradual magnitude-pruning schedule of Zhu & Gupta 2017 (arXiv:1710.01878), where
the sparsity of the prunable weights rises as s_f (1 - (1 - x)^3) over the pruning window
(x = 0 to 1 across it): dense before the window, sparsity s_f after it. Averaged over the
window the density is 1 - 3 s_f / 4, so with the window from fraction f0 to f1 of training,

    N_avg = N_fixed + N_prunable (f0 + (f1 - f0)(1 - 3 s_f / 4) + (1 - f1)(1 - s_f)).

Or give ``N_avg`` directly as a column (--map N_avg=COLUMN). Parameters and units are
Chinchilla's (:mod:`scalinglab.laws.chinchilla`) with N_avg for N; the evaluation is
Chinchilla's. Default grid (smaller than Chinchilla's 4,500 starts, placed from the data): 2 (E,
50% and 90% of the lowest loss) x 2 (alpha) x 2 (beta) x 2 (A) x 2 (B), A and B making each
term half the observed spread at the geometric-mean N_avg and D for each exponent: 32 starts.

| name  | meaning                                  | unit                | internal  |
|-------|------------------------------------------|---------------------|-----------|
| E     | irreducible loss                         | target (nats)       | log E     |
| A     | scale of the average-parameter term      | target * N^alpha    | log A     |
| B     | scale of the data term                   | target * D^beta     | log B     |
| alpha | exponent of the average parameter count  | 1                   | alpha     |
| beta  | data exponent                            | 1                   | beta      |

Variables: ``N_avg`` (average non-zero parameters over training) and ``D`` (training tokens).
Jin et al. fit the law to their own sparse and dense runs; their fitted constants could not be
checked against the paper's text from the sources available here, so no published set is
bundled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.errors import DataError
from scalinglab.laws._law_columns import Column, numeric_columns
from scalinglab.laws._starts import chinchilla_starts
from scalinglab.laws.base import FloatArray, Jacobian, Law, Param, column
from scalinglab.laws.chinchilla import LAW as _CHINCHILLA

if TYPE_CHECKING:
    import pandas as pd


_COLUMNS = (
    Column("N_avg", "non-zero parameters averaged over the training tokens (N for a dense run)"),
    Column("D", "training tokens"),
)


def average_parameter_count(
    tokens: Sequence[float] | FloatArray, params: Sequence[float] | FloatArray
) -> float:
    """Token-weighted mean parameter count of a run whose count was ``params[i]`` from
    ``tokens[i-1]`` (0 for i = 0) up to ``tokens[i]``: sum_i params[i] (tokens[i] -
    tokens[i-1]) / tokens[-1]. ``tokens`` strictly increasing and positive."""
    t = np.asarray(tokens, dtype=float)
    n = np.asarray(params, dtype=float)
    if t.ndim != 1 or t.shape != n.shape or t.size == 0:
        raise DataError("tokens and params must be two 1-D sequences of the same length (>= 1).")
    dt = np.diff(np.concatenate([[0.0], t]))
    if not np.all(np.isfinite(t)) or np.any(dt <= 0) or not np.all(np.isfinite(n)) or np.any(n < 0):
        raise DataError(
            "tokens must be finite, positive and strictly increasing, and params finite and >= 0."
        )
    return float(np.sum(n * dt) / t[-1])


def cubic_pruning_average(
    n_prunable: float, final_sparsity: float, *, start: float, end: float, n_fixed: float = 0.0
) -> float:
    """N_avg for gradual magnitude pruning with the cubic schedule of Zhu & Gupta 2017: the
    ``n_prunable`` weights are dense until fraction ``start`` of training, reach sparsity
    ``final_sparsity`` at fraction ``end`` along s_f (1 - (1 - x)^3), and stay there;
    ``n_fixed`` parameters (embeddings, norms) are never pruned."""
    if not (0.0 <= start <= end <= 1.0) or not (0.0 <= final_sparsity <= 1.0):
        raise DataError(
            "cubic_pruning_average needs 0 <= start <= end <= 1 and 0 <= final_sparsity <= 1, "
            f"got start={start!r}, end={end!r}, final_sparsity={final_sparsity!r}."
        )
    s = final_sparsity
    density = start + (end - start) * (1.0 - 0.75 * s) + (1.0 - end) * (1.0 - s)
    return float(n_fixed + n_prunable * density)


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    return numeric_columns(frame, "sparse", _COLUMNS)


def _evaluate(theta: FloatArray, X: Mapping[str, FloatArray]) -> tuple[FloatArray, Jacobian]:
    return _CHINCHILLA.evaluate(theta, {"N": column(X, "N_avg"), "D": column(X, "D")})


_EXP_GRID = (0.25, 0.5)


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    starts = chinchilla_starts(y, column(X, "N_avg"), column(X, "D"), _EXP_GRID)
    return {**starts, "alpha": list(_EXP_GRID), "beta": list(_EXP_GRID)}


LAW = Law(
    name="sparse",
    version="1",
    title="Sparse pre-training: Chinchilla in the average parameter count (Jin et al. 2025)",
    formula="L(N_avg, D) = E + A / N_avg^alpha + B / D^beta",
    citation=(
        "Jin et al. 2025, The Journey Matters: Average Parameter Count over Pre-training Unifies "
        "Sparse and Dense Scaling Laws, arXiv:2501.12486"
    ),
    variables=("N_avg", "D"),
    params=tuple(
        Param(
            p.name,
            p.meaning.replace("model-size", "average-parameter"),
            p.unit,
            log=p.log,
            lower=p.lower,
            upper=p.upper,
            grid=_EXP_GRID if p.name in ("alpha", "beta") else (p.grid[len(p.grid) // 2],),
        )
        for p in _CHINCHILLA.params
    ),
    evaluate=_evaluate,
    data_grid=_data_grid,
    prepare=_prepare,
    notes=(
        "N_avg: non-zero parameters averaged over the training tokens (see "
        "average_parameter_count, cubic_pruning_average); N_avg = N for dense runs."
    ),
)
