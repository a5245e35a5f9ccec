"""Task pass rate against model size, measured by PassUntil: PU(N) = exp(-c N^(-alpha)).

Source: Hu, Liu, Han, Zhang, He, Zhao, Lin, Ding, Ou, Zeng, Liu and Sun 2023, "Predicting
Emergent Abilities with Infinite Resolution Evaluation", arXiv:2310.03262 (ICLR 2024), the task
scaling law: log(-log PU(N)) is linear in log N (the inset of their figure 1).
PassUntil (PU) estimates a task's pass rate by sampling until a sample passes, so it
resolves the tiny pass rates of small models (1e-5 and below) that greedy accuracy reports as
0: -log PU falls as a power of N, from which the pass rate of a larger model is predicted
before it is trained.

| name  | meaning                                       | unit      | internal | bounds  |
|-------|-----------------------------------------------|-----------|----------|---------|
| c     | -log PU at N = 1                              | 1         | log c    | c > 0   |
| alpha | exponent of N in -log PU                      | 1         | alpha    | [0, 5]  |

Variable ``N`` (parameters). The target is the pass rate PU, a fraction in (0, 1]. Computed as
log PU = -c N^(-alpha) = -exp(log c - alpha log N); fitted in log space by least squares.
Departure from the paper: Hu et al. regress log(-log PU) on log N (relative errors of -log PU);
here the residual is that of log PU, i.e. the absolute error of -log PU, so small models (large
-log PU) weigh more. Both recover the same parameters from data that follow the law.

Their *accelerated emergence* (tasks whose log(-log PU) is concave in log N, rising faster
than this law allows) is not modelled; a fit of such a task shows it as structured residuals.
Their instance-level variant is this law fitted per test instance
(``--group-by`` the instance column). The paper gives no fitted (c, alpha) in its text, so
``published`` is empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalinglab.laws.base import EXP_CLIP, FloatArray, Law, Param, column

_ALPHA_GRID = (0.1, 0.3, 0.6, 1.0)


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lN = np.log(column(X, "N"))
    l_c, alpha = theta[:, 0:1], theta[:, 1:2]
    t = np.exp(np.minimum(l_c - alpha * lN, EXP_CLIP))  # -log PU = c N^-alpha, (S, n)
    return -t, [-t, t * lN]


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # for each exponent of the grid, the c that makes -log PU at the geometric-mean N equal to
    # the mean observed -log PU (a product grid: mismatched pairs cost a few starts)
    nlog = -np.log(np.clip(np.asarray(y, dtype=float), 1e-300, 1.0 - 1e-12))
    base = float(np.log(np.mean(nlog)))
    lmid = float(np.mean(np.log(column(X, "N"))))
    return {"c": [base + a * lmid for a in _ALPHA_GRID]}


LAW = Law(
    name="passuntil",
    version="1",
    title="Task pass rate (PassUntil) against model size (Hu et al. 2023)",
    formula="PU(N) = exp(-c N^(-alpha))",
    citation=(
        "Hu et al. 2023, Predicting Emergent Abilities with Infinite Resolution Evaluation, "
        "arXiv:2310.03262"
    ),
    variables=("N",),
    params=(
        Param("c", "-log PU at N = 1", "1", log=True, lower=0.0, grid=(4.0, 6.0, 8.0)),
        Param("alpha", "exponent of N in -log PU", "1", lower=0.0, upper=5.0, grid=_ALPHA_GRID),
    ),
    evaluate=_evaluate,
    default_objective="lsq",
    data_grid=_data_grid,
    paired_rows=True,
    notes=(
        "The target is a pass rate in (0, 1] measured with enough samples to resolve it "
        "(PassUntil: sample until a pass); N in parameters. Residuals are those of log PU."
    ),
)
