"""Optimal batch size in compute: B*(C) = d C^e, with DeepSeek's C = M D.

Source: DeepSeek-AI 2024, "DeepSeek LLM: Scaling Open-Source Language Models with
Longtermism", arXiv:2401.02954, section 3.1, eq. 1: B_opt = 0.2920 C^0.3271, B in tokens per
step, fitted on runs of 1e17 to 2e19 FLOPs.

**C is not 6ND.** DeepSeek measure compute as C = M D, with M the *non-embedding FLOPs per
token* (their eq. 2: M = 72 n_layer d_model^2 + 12 n_layer d_model l_seq) and D the training
tokens. Give the law a column holding M D with ``--map C=COLUMN``; a C that scalinglab derived
as 6ND (flag ``C_derived``) is refused. See :mod:`scalinglab.laws.lr_opt_compute`.

| name | meaning                           | unit           | internal |
|------|-----------------------------------|----------------|----------|
| d    | scale of the optimal batch size   | tokens * C^-e  | log d    |
| e    | exponent of compute               | 1              | e        |

Target: the optimal batch size in tokens at each compute budget (positive; log space). Convex
in (log d, e): the default grid is one start (log d from the data, e = 0.3).
"""

from __future__ import annotations

import pandas as pd

from scalinglab.laws._law_columns import deepseek_compute
from scalinglab.laws._log_linear import intercept_grid, power_product
from scalinglab.laws.base import FloatArray, Law, Param

_STARTS = {"C": 0.3}


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    return deepseek_compute(frame, "batch_opt_compute")


LAW = Law(
    default_objective="lsq",  # the paper fits least squares on log values
    name="batch_opt_compute",
    version="1",
    title="Optimal batch size in compute C = M D (DeepSeek-AI 2024)",
    formula="B*(C) = d C^e, C = M D (non-embedding FLOPs/token x tokens)",
    citation=(
        "DeepSeek-AI 2024, DeepSeek LLM: Scaling Open-Source Language Models with Longtermism, "
        "arXiv:2401.02954, eq. 1 (C = M D, eq. 2)"
    ),
    variables=("C",),
    params=(
        Param(
            "d",
            "scale of the optimal batch size",
            "tokens * C^-e",
            log=True,
            lower=0.0,
            grid=(0.0,),
        ),
        Param("e", "exponent of compute", "1", grid=(_STARTS["C"],)),
    ),
    evaluate=power_product(("C",)),
    data_grid=intercept_grid("d", _STARTS, ("C",)),
    prepare=_prepare,
    notes="C = M D with M the non-embedding FLOPs per token (DeepSeek eq. 2), not 6ND; B in tokens.",
    published={
        # DeepSeek-AI 2024, eq. 1: B_opt = 0.2920 C^0.3271 (tokens).
        "deepseek2024": {"d": 0.2920, "e": 0.3271},
    },
)
