"""Routed (mixture-of-experts) language models: log L = a log N + b log E + c log N log E + d.

Source: Clark et al. 2022, "Unified Scaling Laws for Routed Language Models",
arXiv:2202.01169, eq. 1: at a fixed number of training tokens, the loss of a routing network
is bilinear in the logs of N, the parameter count of the underlying dense model (equivalently
the routed model's FLOPs per token), and E, the number of experts. E = 1 is the dense model,
for which the law reduces to the power law L = e^d N^a. The interaction c makes the benefit of
experts shrink as N grows (c > 0 with a, b < 0).

| name | meaning                                       | unit | internal |
|------|-----------------------------------------------|------|----------|
| a    | exponent of the dense size N                  | 1    | a        |
| b    | exponent of the expert count E (at N = 1)     | 1    | b        |
| c    | interaction: change of the E-exponent per log N | 1  | c        |
| d    | log of the loss at N = 1, E = 1               | log target | d  |

Natural logs throughout. A fit reported with base-10 logs converts as a, b unchanged,
c_ln = c_10 / ln 10 and d_ln = d_10 ln 10 (when log L is also base 10). Variables: ``N`` (dense
parameters) and ``experts`` (E >= 1, error if absent). No bounds; log L is linear in (a, b, c,
d), so the log-space objective is convex and the default grid is one start (d from the data).

Clark et al. tabulate fitted (a, b, c, d) for their three routing methods (S-BASE, RL-R, HASH);
those values could not be checked against the paper's text from the sources available here, so
no published set is bundled (add one citing the table). Eq. 2's saturating transform of E
(E_start, E_max) is not part of this law.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.laws._law_columns import Column, numeric_columns
from scalinglab.laws.base import FloatArray, Law, Param, column

if TYPE_CHECKING:
    import pandas as pd


_COLUMNS = (
    Column("N", "parameters of the underlying dense model (the routed model's FLOPs per token)"),
    Column(
        "experts",
        "number of experts E per routed layer (1 for a dense model)",
        lower=1.0,
        closed=True,
    ),
)


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    return numeric_columns(frame, "moe", _COLUMNS)


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lN, lE = np.log(column(X, "N")), np.log(column(X, "experts"))
    a, b, c, d = (theta[:, i : i + 1] for i in range(4))
    f = a * lN + b * lE + c * (lN * lE) + d
    J = [np.broadcast_to(v, f.shape) for v in (lN, lE, lN * lE, np.ones_like(lN))]
    return f, J


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # d so that the start passes through the mean of log L with a = -0.07, b = c = 0
    lN = np.log(column(X, "N"))
    return {"d": [float(np.mean(np.log(y)) + 0.07 * np.mean(lN))]}


LAW = Law(
    name="moe",
    version="1",
    title="Routed language models in dense size and expert count (Clark et al. 2022)",
    formula="log L = a log N + b log E + c log N log E + d",
    citation=(
        "Clark et al. 2022, Unified Scaling Laws for Routed Language Models, arXiv:2202.01169, "
        "eq. 1"
    ),
    variables=("N", "experts"),
    params=(
        Param("a", "exponent of the dense size N", "1", grid=(-0.07,)),
        Param("b", "exponent of the expert count E", "1", grid=(0.0,)),
        Param("c", "interaction of log N and log E", "1", grid=(0.0,)),
        Param("d", "log of the loss at N = E = 1", "log target unit", grid=(1.0,)),
    ),
    evaluate=_evaluate,
    data_grid=_data_grid,
    prepare=_prepare,
    notes="N: dense-model parameters; experts: E (1 = dense). Natural logs.",
)
