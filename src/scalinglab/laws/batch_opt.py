"""Optimal batch size in tokens: B*(D) = d D^e.

Source: Li et al. 2025, "Predictable Scale: Part I -- Optimal Hyperparameter Scaling Law in
Large Language Model Pretraining" ("Step Law"), arXiv:2503.04715, section 3: the optimal batch
size depends on the training tokens D and hardly on the model size, B(D) = 0.58 D^0.571, with
B counted in tokens per optimiser step (sequences x sequence length).

| name | meaning                           | unit            | internal |
|------|-----------------------------------|-----------------|----------|
| d    | scale of the optimal batch size   | tokens * D^-e   | log d    |
| e    | exponent of training tokens       | 1               | e        |

Variable: ``D`` (training tokens). Target: the optimal batch size in tokens of each D
(positive; fitted in log space). The log-space objective is convex in (log d, e): the default
grid is one start (log d from the data, e = 0.5).
"""

from __future__ import annotations

from scalinglab.laws._log_linear import intercept_grid, power_product
from scalinglab.laws.base import Law, Param

_STARTS = {"D": 0.5}

LAW = Law(
    default_objective="lsq",  # the paper fits least squares on log values
    name="batch_opt",
    version="1",
    title="Optimal batch size in data (Li et al. 2025, Step Law)",
    formula="B*(D) = d D^e",
    citation=(
        "Li et al. 2025, Predictable Scale: Part I -- Optimal Hyperparameter Scaling Law in Large "
        "Language Model Pretraining, arXiv:2503.04715, section 3 (Step Law)"
    ),
    variables=("D",),
    params=(
        Param(
            "d",
            "scale of the optimal batch size",
            "tokens * D^-e",
            log=True,
            lower=0.0,
            grid=(0.0,),
        ),
        Param("e", "exponent of training tokens", "1", grid=(_STARTS["D"],)),
    ),
    evaluate=power_product(("D",)),
    hyperparameter="batch",
    data_grid=intercept_grid("d", _STARTS, ("D",)),
    notes="D: training tokens; target: the optimal batch size in tokens per step.",
    published={
        # Li et al. 2025, Step Law: B(D) = 0.58 D^0.571 (tokens).
        "li2025": {"d": 0.58, "e": 0.571},
    },
)
