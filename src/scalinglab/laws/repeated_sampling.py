"""Coverage under repeated sampling: c(k) = c_max exp(-a k^(-b)).

Sources:

* Brown, Juravsky, Ehrlich, Clark, Le, Re and Mirhoseini 2024, "Large Language Monkeys:
  Scaling Inference Compute with Repeated Sampling", arXiv:2407.21787: coverage
  (pass@k, the fraction of problems solved by any of k samples) follows an exponentiated power
  law, log c = a' k^b' with a', b' < 0. Here a = -a' and b = -b' (both positive), and
  ``c_max = 1`` is their law exactly.
* Stroebl, Kapoor and Narayanan 2024, "Inference Scaling fLaws: The Limits of LLM Resampling
  with Imperfect Verifiers", arXiv:2411.17501: when the verifier that picks a sample
  passes some wrong ones (false positives), resampling until a sample passes cannot raise the
  accuracy above p_correct / (p_correct + p_false_positive) per problem, whatever the budget.
  ``c_max`` < 1 is that ceiling for the benchmark as a whole: the curve flattens at c_max. The
  paper gives the bound, not a fitted curve; multiplying Brown et al.'s law by a ceiling is this
  module's choice. Their finding that a negative utility of false positives makes the curve
  bend down (an optimal k, often below 10) is not modelled.

| name  | meaning                                      | unit      | internal   | bounds     |
|-------|----------------------------------------------|-----------|------------|------------|
| c_max | coverage (accuracy) as k -> infinity         | fraction  | log c_max  | (0, 1]     |
| a     | -log(c(1)/c_max): the shortfall at one sample | 1        | log a      | a > 0      |
| b     | exponent of the number of samples            | 1         | b          | [0, 5]     |

Variable ``x``: the number of samples k per problem (``--x COLUMN``; k >= 1). The target is
the coverage (or accuracy with a verifier), a fraction in (0, 1]. Computed as log c =
log c_max - a k^(-b); fitted in log space by least squares (``default_objective="lsq"``: the
targets are noisy fractions, not losses). Default grid: 3 x 3 x 4 = 36 starts, c_max and a from
the data.

Neither paper prints fitted (a, b) values in its text (they are shown in figures), so
``published`` is empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalinglab.laws.base import EXP_CLIP, FloatArray, Law, Param, column

_B_GRID = (0.1, 0.3, 0.6, 1.0)


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lk = np.log(column(X, "x"))
    l_cmax, l_a, b = (theta[:, i : i + 1] for i in range(3))
    t = np.exp(np.minimum(l_a - b * lk, EXP_CLIP))  # a k^-b, (S, n)
    f = l_cmax - t
    return f, [np.ones_like(f), -t, t * lk]


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # the ceiling at, a little above and well above the best coverage seen (at most 1); the
    # shortfall a such that the curve passes the worst coverage at the smallest k for b = 0.3
    ymax = float(np.clip(np.max(y), 1e-12, 1.0))
    ymin = float(np.clip(np.min(y), 1e-300, ymax))
    kmin = float(np.min(column(X, "x")))
    ceilings = sorted({min(ymax * f, 1.0) for f in (1.0, 1.1, 1.5)})
    base = max(np.log(ymax / ymin), 1e-3) * kmin**0.3
    return {
        "c_max": [float(np.log(c)) for c in ceilings],
        "a": [float(np.log(base * f)) for f in (0.3, 1.0, 3.0)],
    }


LAW = Law(
    name="repeated_sampling",
    version="1",
    title="Coverage against the number of samples, with a verifier ceiling (Brown et al. 2024)",
    formula="c(k) = c_max exp(-a k^(-b))",
    citation=(
        "Brown et al. 2024, Large Language Monkeys: Scaling Inference Compute with Repeated "
        "Sampling, arXiv:2407.21787; ceiling: Stroebl et al. 2024, Inference "
        "Scaling fLaws, arXiv:2411.17501"
    ),
    variables=("x",),
    params=(
        Param(
            "c_max",
            "coverage as the number of samples grows (1: perfect verifier)",
            "fraction",
            log=True,
            lower=0.0,
            upper=1.0,
            grid=(0.0,),
        ),
        Param(
            "a",
            "shortfall -log(c(1)/c_max) at one sample",
            "1",
            log=True,
            lower=0.0,
            grid=(-1.0, 0.0, 1.0),
        ),
        Param("b", "exponent of the number of samples", "1", lower=0.0, upper=5.0, grid=_B_GRID),
    ),
    evaluate=_evaluate,
    default_objective="lsq",
    data_grid=_data_grid,
    paired_rows=True,
    notes=(
        "x is the number of samples k per problem (--x COLUMN); the target is the coverage "
        "(pass@k) or the accuracy with a verifier, a fraction. c_max = 1 is Brown et al.'s "
        "exponentiated power law; c_max < 1 is the ceiling an imperfect verifier imposes "
        "(Stroebl et al. 2024). Fix it with --fix c_max=1 for a perfect verifier."
    ),
)
