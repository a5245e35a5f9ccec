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

from scalinglab.laws._log_linear import deepseek_compute_law

LAW = deepseek_compute_law(
    name="batch_opt_compute",
    hyperparameter="batch",
    quantity="batch size",
    symbol="B",
    unit="tokens",
    scale="d",
    exponent="e",
    exponent_start=0.3,
    # DeepSeek-AI 2024, eq. 1: B_opt = 0.2920 C^0.3271 (tokens).
    published={"d": 0.2920, "e": 0.3271},
    note="; B in tokens",
)
