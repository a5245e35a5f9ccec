"""Precision-aware Chinchilla law: L = E + A / N_eff^alpha + B / D^beta, N_eff = N (1 - e^(-P/gamma)).

Source: Kumar et al. 2024, "Scaling Laws for Precision", arXiv:2411.04330, section 4
(quantised training): training with weights (or activations, KV cache) in P bits behaves like
training a model with fewer, "effective" parameters N_eff = N (1 - exp(-P / gamma)), which
saturates to N at high precision; the loss is then Chinchilla's form in N_eff and D. Kumar et
al. give each quantised tensor its own gamma and multiply the factors; this law has one
precision column and one gamma (quantise one tensor type, or use the precision common to all).

| name  | meaning                                        | unit             | internal  |
|-------|------------------------------------------------|------------------|-----------|
| E     | irreducible loss                               | target (nats)    | log E     |
| A     | scale of the (effective) model-size term       | target * N^alpha | log A     |
| B     | scale of the data term                         | target * D^beta  | log B     |
| alpha | model-size exponent                            | 1                | alpha     |
| beta  | data exponent                                  | 1                | beta      |
| gamma | precision scale: N_eff = N (1 - e^(-P/gamma))  | bits             | log gamma |

Variables: ``N`` (parameters), ``D`` (training tokens) and ``precision_bits`` (P, the training
precision in bits, e.g. 3 to 16; error if absent). gamma is identified only by runs at low
precision (at P >> gamma, N_eff = N): include runs below ~8 bits.

Computed as log L = LSE(e, a - alpha (log N + log(1 - e^(-P/gamma))), b - beta log D), with
log(1 - e^(-u)) evaluated as log(-expm1(-u)). Bounds: E, A, B > 0; alpha, beta in [-1, 5];
gamma in (0.05, 100) bits. Default grid: 2 (E) x 2 (A) x 2 (B) x 2 (alpha) x 2 (beta) x 3
(gamma) = 96 starts, E and the scales placed from the data.

Kumar et al. report their fitted constants (Chinchilla terms and the gammas of weights,
activations and KV cache) in the paper; those values could not be checked against its text
from the sources available here, so no published set is bundled (add one citing the table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.laws._law_columns import Column, numeric_columns
from scalinglab.laws._starts import chinchilla_starts
from scalinglab.laws.base import FloatArray, Law, Param, column, log_sum_exp

if TYPE_CHECKING:
    import pandas as pd


_COLUMNS = (
    Column("N", "parameters"),
    Column("D", "training tokens"),
    Column("precision_bits", "training precision P in bits of the quantised tensors"),
)
_EXP_GRID = (0.25, 0.5)


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    return numeric_columns(frame, "precision", _COLUMNS)


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lN, lD, P = np.log(column(X, "N")), np.log(column(X, "D")), column(X, "precision_bits")
    e, a, b, alpha, beta, g = (theta[:, i : i + 1] for i in range(6))
    u = P * np.exp(-g)  # P / gamma
    keep = np.log(-np.expm1(-u))  # log(1 - e^-u): log of the fraction of N that is effective
    lNeff = lN + keep
    t1 = a - alpha * lNeff
    t2 = b - beta * lD
    f, (w0, w1, w2) = log_sum_exp([np.broadcast_to(e, t1.shape), t1, t2])
    dkeep_dg = -u / np.expm1(u)  # d log(1 - e^-u) / d log gamma
    J = [w0, w1, w2, -w1 * lNeff, -w2 * lD, -w1 * alpha * dkeep_dg]
    return f, J


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    return chinchilla_starts(y, column(X, "N"), column(X, "D"), _EXP_GRID)


LAW = Law(
    name="precision",
    version="1",
    title="Chinchilla with precision-dependent effective parameters (Kumar et al. 2024)",
    formula="L = E + A / N_eff^alpha + B / D^beta, N_eff = N (1 - exp(-P / gamma))",
    citation=(
        "Kumar et al. 2024, Scaling Laws for Precision, arXiv:2411.04330, section 4 "
        "(effective parameter count under quantised training)"
    ),
    variables=("N", "D", "precision_bits"),
    params=(
        Param("E", "irreducible loss", "target unit", log=True, lower=0.0, grid=(0.5,)),
        Param(
            "A",
            "scale of the effective model-size term",
            "target unit * N^alpha",
            log=True,
            lower=0.0,
            grid=(5.0,),
        ),
        Param(
            "B", "scale of the data term", "target unit * D^beta", log=True, lower=0.0, grid=(5.0,)
        ),
        Param("alpha", "model-size exponent", "1", lower=-1.0, upper=5.0, grid=_EXP_GRID),
        Param("beta", "data exponent", "1", lower=-1.0, upper=5.0, grid=_EXP_GRID),
        Param(
            "gamma",
            "precision scale of the effective parameters",
            "bits",
            log=True,
            lower=0.05,
            upper=100.0,
            grid=(float(np.log(1.0)), float(np.log(3.0)), float(np.log(8.0))),
        ),
    ),
    evaluate=_evaluate,
    data_grid=_data_grid,
    prepare=_prepare,
    notes="precision_bits: training precision P of the quantised tensors, in bits.",
)
