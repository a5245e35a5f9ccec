"""Power law with offset: L(x) = E + A x^(-alpha).

Source: Hestness et al. 2017, "Deep Learning Scaling is Predictable, Empirically",
arXiv:1712.00409, section 3 (eq. 1, the power law plus irreducible error).

| name  | meaning                           | unit               | internal  |
|-------|-----------------------------------|--------------------|-----------|
| E     | irreducible value (x -> infinity) | target             | e = log E |
| A     | scale                             | target * x^alpha   | a = log A |
| alpha | exponent                          | 1                  | alpha     |

The variable is ``x`` (chosen with ``--x COL``: N, D, C, steps, examples...). Computed as
log L = LSE(e, a - alpha log x). The starting grid for E and A adapts to the data's scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalinglab.laws._starts import floor_starts, term_starts
from scalinglab.laws.base import FloatArray, Law, Param, column, log_sum_exp


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lx = np.log(column(X, "x"))
    e, a, alpha = (theta[:, i : i + 1] for i in range(3))
    t1 = a - alpha * lx
    f, (w0, w1) = log_sum_exp([np.broadcast_to(e, t1.shape), t1])
    return f, [w0, w1, -w1 * lx]


_ALPHA_GRID = (0.05, 0.2, 0.5, 1.0, 2.0)


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # E below the smallest observation; for each exponent of the grid, the A that makes
    # A x^-alpha match the observed range at the geometric-mean x (the grid is a product, so
    # every A is tried with every alpha; mismatched pairs cost a few wasted starts only).
    return {
        "E": floor_starts(y, (0.01, 0.5, 0.9)),
        "A": term_starts(y, column(X, "x"), _ALPHA_GRID),
    }


LAW = Law(
    name="power_law",
    version="1",
    title="Power law with offset (Hestness et al. 2017)",
    formula="L(x) = E + A x^(-alpha)",
    citation=(
        "Hestness et al. 2017, Deep Learning Scaling is Predictable, Empirically, "
        "arXiv:1712.00409, section 3"
    ),
    variables=("x",),
    params=(
        Param("E", "irreducible value", "target unit", log=True, lower=0.0, grid=(-1.0, 0.0, 1.0)),
        Param(
            "A", "scale", "target unit * x^alpha", log=True, lower=0.0, grid=(0.0, 5.0, 10.0, 20.0)
        ),
        Param("alpha", "exponent", "1", lower=-1.0, upper=10.0, grid=_ALPHA_GRID),
    ),
    evaluate=_evaluate,
    data_grid=_data_grid,
    auto_candidate=True,
    paired_rows=True,
    solver="lm",
)
