"""Optimal peak learning rate: lr*(N, D) = a N^b D^c.

Source: Li et al. 2025, "Predictable Scale: Part I -- Optimal Hyperparameter Scaling Law in
Large Language Model Pretraining" ("Step Law"), arXiv:2503.04715, section 3: from a grid search
over learning rate and batch size at each (N, D) on 3,700 models, the optimal learning rate
follows eta(N, D) = 1.79 N^-0.713 D^0.307, with N the non-embedding (non-vocabulary)
parameters and D the training tokens (AdamW, their warmup + cosine recipe).

| name | meaning                              | unit                | internal  |
|------|--------------------------------------|---------------------|-----------|
| a    | scale of the optimal learning rate   | LR * N^-b * D^-c    | log a     |
| b    | exponent of model size (< 0)         | 1                   | b         |
| c    | exponent of training tokens          | 1                   | c         |

Variables: ``N`` (non-embedding parameters, as Li et al. count them) and ``D`` (tokens). Target:
the optimal learning rate of each (N, D), e.g. the best run of a sweep (positive; fitted in log
space). No bounds; the log-space objective is convex in (log a, b, c), so the default grid is a
single start (log a from the data, b = -0.7, c = 0.3). Li et al. fit by least squares on logs;
``Objective(kind="lsq")`` reproduces that, the default Huber objective is more robust to a
mis-picked optimum.
"""

from __future__ import annotations

from scalinglab.laws._log_linear import intercept_grid, power_product
from scalinglab.laws.base import Law, Param

_STARTS = {"N": -0.7, "D": 0.3}

LAW = Law(
    default_objective="lsq",  # the paper fits least squares on log values
    name="lr_opt",
    version="1",
    title="Optimal learning rate in model size and data (Li et al. 2025, Step Law)",
    formula="lr*(N, D) = a N^b D^c",
    citation=(
        "Li et al. 2025, Predictable Scale: Part I -- Optimal Hyperparameter Scaling Law in Large "
        "Language Model Pretraining, arXiv:2503.04715, section 3 (Step Law)"
    ),
    variables=("N", "D"),
    params=(
        Param(
            "a",
            "scale of the optimal learning rate",
            "LR * N^-b * D^-c",
            log=True,
            lower=0.0,
            grid=(0.0,),
        ),
        Param("b", "exponent of model size", "1", grid=(_STARTS["N"],)),
        Param("c", "exponent of training tokens", "1", grid=(_STARTS["D"],)),
    ),
    evaluate=power_product(("N", "D")),
    hyperparameter="lr",
    data_grid=intercept_grid("a", _STARTS, ("N", "D")),
    notes=(
        "N: non-embedding parameters; D: training tokens; target: the optimal (peak) learning "
        "rate of each (N, D)."
    ),
    published={
        # Li et al. 2025, Step Law: eta(N, D) = 1.79 N^-0.713 D^0.307.
        "li2025": {"a": 1.79, "b": -0.713, "c": 0.307},
    },
)
