"""Optimal peak learning rate in compute: eta*(C) = a C^b, with DeepSeek's C = M D.

Source: DeepSeek-AI 2024, "DeepSeek LLM: Scaling Open-Source Language Models with
Longtermism", arXiv:2401.02954, section 3.1, eq. 1: eta_opt = 0.3118 C^-0.1250, fitted on runs
of 1e17 to 2e19 FLOPs (multi-step LR schedule).

**C is not 6ND.** DeepSeek measure compute as C = M D, with M the *non-embedding FLOPs per
token* (their eq. 2: M = 72 n_layer d_model^2 + 12 n_layer d_model l_seq, attention included,
vocabulary excluded) and D the training tokens. 6N counts the embeddings (or not) and omits
attention; the two differ by up to ~50% for small models (DeepSeek, section 3.2). Give the law
a column holding M D with ``--map C=COLUMN``; a C that scalinglab derived as 6ND (flag
``C_derived``) is refused.

| name | meaning                             | unit        | internal |
|------|-------------------------------------|-------------|----------|
| a    | scale of the optimal learning rate  | LR * C^-b   | log a    |
| b    | exponent of compute (< 0)           | 1           | b        |

Target: the optimal learning rate at each compute budget (positive; log space). The log-space
objective is convex: the default grid is one start (log a from the data, b = -0.1).
"""

from __future__ import annotations

import pandas as pd

from scalinglab.laws._law_columns import deepseek_compute
from scalinglab.laws._log_linear import intercept_grid, power_product
from scalinglab.laws.base import FloatArray, Law, Param

_STARTS = {"C": -0.1}


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    return deepseek_compute(frame, "lr_opt_compute")


LAW = Law(
    default_objective="lsq",  # the paper fits least squares on log values
    name="lr_opt_compute",
    version="1",
    title="Optimal learning rate in compute C = M D (DeepSeek-AI 2024)",
    formula="eta*(C) = a C^b, C = M D (non-embedding FLOPs/token x tokens)",
    citation=(
        "DeepSeek-AI 2024, DeepSeek LLM: Scaling Open-Source Language Models with Longtermism, "
        "arXiv:2401.02954, eq. 1 (C = M D, eq. 2)"
    ),
    variables=("C",),
    params=(
        Param(
            "a", "scale of the optimal learning rate", "LR * C^-b", log=True, lower=0.0, grid=(0.0,)
        ),
        Param("b", "exponent of compute", "1", grid=(_STARTS["C"],)),
    ),
    evaluate=power_product(("C",)),
    data_grid=intercept_grid("a", _STARTS, ("C",)),
    prepare=_prepare,
    notes="C = M D with M the non-embedding FLOPs per token (DeepSeek eq. 2), not 6ND.",
    published={
        # DeepSeek-AI 2024, eq. 1: eta_opt = 0.3118 C^-0.1250.
        "deepseek2024": {"a": 0.3118, "b": -0.1250},
    },
)
