"""Steps to reach a loss against batch size: S(B) = S_min (1 + B_crit / B).

Source: McCandlish, Kaplan, Amodei and the OpenAI Dota team 2018, "An Empirical Model of
Large-Batch Training", arXiv:1812.06162: training to a fixed loss, the number of
optimiser steps S and of training examples E = B S trade off as

    (S / S_min - 1) (E / E_min - 1) = 1,    B_crit = E_min / S_min,

S_min being the fewest steps (at very large batches) and E_min the fewest examples (at very
small batches). With E = B S the trade-off is exactly S(B) = S_min (1 + B_crit / B) and
E(B) = E_min (1 + B / B_crit): below B_crit, doubling the batch halves the steps at almost no
cost in examples; above it, the steps barely fall. B_crit is the batch at which both cost twice
their minimum, and the gradient noise scale B_noise = tr(Sigma) / |G|^2 of the paper predicts it
(B_crit ~ B_noise). Equation numbers are not cited here because
they could not be checked against the paper's text; the two relations above are its own.

| name   | meaning                                       | unit            | internal   |
|--------|-----------------------------------------------|-----------------|------------|
| S_min  | fewest steps to reach the loss (B -> inf)     | steps           | log S_min  |
| B_crit | critical batch size E_min / S_min             | batch_size unit | log B_crit |

Variable ``batch_size`` (B, sequences or tokens per step; B_crit comes out in the same unit).
The target is the number of steps to reach one fixed loss (one table per loss; fit examples E
by dividing them by B first). Computed as log S = LSE(log S_min, log S_min + log B_crit -
log B). E_min = S_min B_crit follows. Default grid: 3 x 3 = 9 starts from the data.

The paper reports B_crit for its tasks in figures, not as fitted values in the text, so
``published`` is empty. Kaplan et al. 2020 (arXiv:2001.08361, section 5.1) fit B_crit against
the loss itself; that law of the loss is not this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.laws._law_columns import Column, numeric_columns
from scalinglab.laws.base import FloatArray, Law, Param, column, log_sum_exp

if TYPE_CHECKING:
    import pandas as pd

_BATCH = Column(
    "batch_size",
    "batch size B per optimiser step (sequences or tokens; B_crit comes out in this unit)",
)


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    return numeric_columns(frame, "critical_batch", (_BATCH,))


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lB = np.log(column(X, "batch_size"))
    l_s, l_b = theta[:, 0:1], theta[:, 1:2]
    t1 = l_s + l_b - lB
    f, (_, w1) = log_sum_exp([np.broadcast_to(l_s, t1.shape), t1])
    return f, [np.ones_like(f), w1]


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # S_min at, below and well below the fewest steps seen; B_crit at the smallest, the
    # geometric-mean and the largest batch of the table
    lB = np.log(column(X, "batch_size"))
    ymin = float(np.min(y))
    return {
        "S_min": [float(np.log(ymin * f)) for f in (0.2, 0.5, 0.9)],
        "B_crit": [float(np.min(lB)), float(np.mean(lB)), float(np.max(lB))],
    }


LAW = Law(
    name="critical_batch",
    version="1",
    title="Steps to a fixed loss against batch size (McCandlish et al. 2018)",
    formula="S(B) = S_min (1 + B_crit / B)",
    citation=(
        "McCandlish et al. 2018, An Empirical Model of Large-Batch Training, arXiv:1812.06162, "
        "(S/S_min - 1)(E/E_min - 1) = 1, B_crit = E_min/S_min"
    ),
    variables=("batch_size",),
    params=(
        Param(
            "S_min",
            "fewest optimiser steps to reach the loss (infinite batch)",
            "steps",
            log=True,
            lower=0.0,
            grid=(5.0, 10.0),
        ),
        Param(
            "B_crit",
            "critical batch size E_min / S_min",
            "batch_size unit",
            log=True,
            lower=0.0,
            grid=(2.0, 6.0, 10.0),
        ),
    ),
    evaluate=_evaluate,
    data_grid=_data_grid,
    prepare=_prepare,
    paired_rows=True,
    notes=(
        "Target: optimiser steps to reach one fixed loss; batch_size in sequences or tokens "
        "(B_crit in the same unit). E_min = S_min B_crit examples."
    ),
)
