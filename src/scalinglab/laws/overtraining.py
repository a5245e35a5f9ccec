"""Over-training law: L(C, M) = E + (a M^eta + b M^-eta) C^-eta, with M = D / N.

Source: Gadre et al. 2024, "Language models scale reliably with over-training and on
downstream tasks", arXiv:2403.08540, section 3, eq. (4). For a fixed token multiplier M (tokens
per parameter) the reducible loss is a power law in compute C with one exponent eta for every
M; over-training (larger M) only shifts the scale a M^eta + b M^-eta. It is Chinchilla's
E + A/N^alpha + B/D^beta with alpha = beta = eta written in (C, M).

| name | meaning                                            | unit                  | internal |
|------|----------------------------------------------------|-----------------------|----------|
| E    | irreducible loss                                   | target (nats)         | log E    |
| a    | scale of the term growing with over-training       | target * FLOP^eta     | log a    |
| b    | scale of the term shrinking with over-training     | target * FLOP^eta     | log b    |
| eta  | compute exponent (common to all M)                 | 1                     | eta      |

Variables ``C`` (training FLOP) and ``M`` (tokens per parameter), computed from the runs by
``prepare``: M = D / N from the columns N and D; C is the table's column ``C`` when present
(the bundled ``overtraining_models`` has C = 6ND exactly) and otherwise 6ND from
:func:`scalinglab.units.training_flops`, the one place of that convention.

Computed as L = exp(LSE(log E, log a + eta (log M - log C), log b - eta (log M + log C)))
(log-sum-exp, then one exp). Target must be positive.

Bounds: E, a, b > 0; 0 <= eta <= 3. Default grid: 3 x 4 x 4 x 4 = 192 starts (E, a and b
adapted to the data).

Objective: Gadre et al. fit the law (their code, ``scaling/laws.py``, reparametrised in N and
M) by nonlinear least squares on the loss itself, from a grid of 128 starts. That is this law's
default (``space="linear"``, ``default_objective="lsq"``): on their setting (RedPajama, C4-eval
loss, the 5 runs of their figure 1) it reproduces their errors for the 1.4B M=640 and 6.9B M=20
runs, 0.7103% and 0.7320%. The package's usual Huber objective on log L
(``Objective(kind="huber", space="log")``) gives 0.40% and 0.42% there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.laws._law_columns import Column, numeric_columns
from scalinglab.laws._starts import floor_starts, log_mid, term_starts
from scalinglab.laws.base import FloatArray, Law, Param, column, log_sum_exp
from scalinglab.units import training_flops

if TYPE_CHECKING:
    import pandas as pd

NAME = "overtraining"
_N = Column("N", "model size in parameters (M = D/N)")
_D = Column("D", "training tokens (M = D/N, and C = 6ND when the table has no C)")
_C = Column("C", "training compute in FLOP")


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    """C (the table's, else 6ND) and M = D/N from the runs table."""
    cols = numeric_columns(frame, NAME, (_N, _D, _C) if "C" in frame.columns else (_N, _D))
    N, D = cols["N"], cols["D"]
    C = cols["C"] if "C" in cols else np.asarray(training_flops(N, D), dtype=float)
    return {"C": C, "M": D / N}


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lC, lM = np.log(column(X, "C")), np.log(column(X, "M"))
    e, a, b, eta = (theta[:, i : i + 1] for i in range(4))
    u1, u2 = lM - lC, -lM - lC  # (n,)
    t1 = a + eta * u1  # log(a M^eta C^-eta)
    t2 = b + eta * u2  # log(b M^-eta C^-eta)
    log_L, (w0, w1, w2) = log_sum_exp([np.broadcast_to(e, t1.shape), t1, t2])
    # the law lives in linear space (the paper's least squares on L); its log is computed
    # first, so the sum never loses digits, and d L = L d log L
    L = np.exp(log_L)
    return L, [L * w0, L * w1, L * w2, L * (w1 * u1 + w2 * u2)]


_ETA_GRID = (0.05, 0.1, 0.2, 0.35)


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # E below the smallest loss; for each exponent of the grid, the scale that makes one term
    # equal the loss range at the geometric-mean C and M (a and b get the same values: with
    # M near 20 they are of similar size, e.g. Gadre et al.'s fits).
    lM = log_mid(column(X, "M"))
    scales = term_starts(y, column(X, "C"), _ETA_GRID, factor=0.5)
    return {
        "E": floor_starts(y, (0.3, 0.6, 0.85)),
        "a": [s - eta * lM for s, eta in zip(scales, _ETA_GRID, strict=True)],
        "b": [s + eta * lM for s, eta in zip(scales, _ETA_GRID, strict=True)],
    }


LAW = Law(
    name=NAME,
    version="1",
    title="Over-training scaling law in compute and token multiplier (Gadre et al. 2024)",
    formula="L(C, M) = E + (a M^eta + b M^-eta) C^-eta, M = D/N",
    citation=(
        "Gadre et al. 2024, Language models scale reliably with over-training and on "
        "downstream tasks, arXiv:2403.08540, eq. 4"
    ),
    variables=("C", "M"),
    params=(
        Param("E", "irreducible loss", "target unit", log=True, lower=0.0, grid=(0.0, 1.0)),
        Param(
            "a",
            "scale of the term that grows with the token multiplier M",
            "target unit * FLOP^eta",
            log=True,
            lower=0.0,
            grid=(5.0, 10.0),
        ),
        Param(
            "b",
            "scale of the term that shrinks with the token multiplier M",
            "target unit * FLOP^eta",
            log=True,
            lower=0.0,
            grid=(5.0, 10.0),
        ),
        Param("eta", "compute exponent", "1", lower=0.0, upper=3.0, grid=_ETA_GRID),
    ),
    evaluate=_evaluate,
    space="linear",
    positive_target=True,
    default_objective="lsq",  # Gadre et al.: least squares on the loss (scipy curve_fit)
    data_grid=_data_grid,
    prepare=_prepare,
    notes=(
        "Fitted by least squares on the loss, as Gadre et al. do. "
        "Needs columns N and D (M = D/N); C is read from the table when present, else 6ND. "
        "Gadre et al. fit it on 5 runs (4 parameters): expect wide intervals."
    ),
    auto_candidate=True,
)
