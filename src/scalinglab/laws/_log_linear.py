"""Pure power laws y = k * prod_i x_i^(e_i), shared by the optimal-hyperparameter laws.

In log space such a law is linear in its internal parameters, log y = log k + sum_i e_i log x_i,
so the Jacobian is constant (1 and log x_i) and the log-space objective is convex: any start
reaches the optimum. The one start is placed at the data: the exponents at their default
starting values and log k matching the mean of log y.

Not a law module: the registry skips modules whose name starts with ``_``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalinglab.laws.base import DataGrid, Evaluate, FloatArray, column


def power_product(variables: Sequence[str]) -> Evaluate:
    """``evaluate`` for log y = theta_0 + sum_i theta_(i+1) log x_i (theta_0 = log k)."""
    names = tuple(variables)

    def evaluate(
        theta: FloatArray, X: Mapping[str, FloatArray]
    ) -> tuple[FloatArray, list[FloatArray]]:
        logs = [np.log(column(X, v))[None, :] for v in names]  # each (1, n)
        f = np.broadcast_to(theta[:, 0:1], (theta.shape[0], logs[0].shape[1])).copy()
        for i, lx in enumerate(logs):
            f += theta[:, i + 1 : i + 2] * lx
        J: list[FloatArray] = [np.ones_like(f), *(np.broadcast_to(lx, f.shape) for lx in logs)]
        return f, J

    return evaluate


def intercept_grid(
    scale: str, exponents: Mapping[str, float], variables: Sequence[str]
) -> DataGrid:
    """A ``data_grid`` giving the scale parameter ``scale`` the one start log k = mean(log y) -
    sum_i e_i mean(log x_i), with e_i the exponents' starting values."""

    def grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
        lk = float(np.mean(np.log(y)))
        for v in variables:
            lk -= exponents[v] * float(np.mean(np.log(column(X, v))))
        return {scale: [lk]}

    return grid
