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

from scalinglab.laws._log_linear import deepseek_compute_law

LAW = deepseek_compute_law(
    name="lr_opt_compute",
    hyperparameter="lr",
    quantity="learning rate",
    symbol="eta",
    unit="LR",
    scale="a",
    exponent="b",
    exponent_start=-0.1,
    # DeepSeek-AI 2024, eq. 1: eta_opt = 0.3118 C^-0.1250.
    published={"a": 0.3118, "b": -0.1250},
)
