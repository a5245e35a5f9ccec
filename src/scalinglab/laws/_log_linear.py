"""Pure power laws y = k * prod_i x_i^(e_i), shared by the optimal-hyperparameter laws.

In log space such a law is linear in its internal parameters, log y = log k + sum_i e_i log x_i,
so the Jacobian is constant (1 and log x_i) and the log-space objective is convex: any start
reaches the optimum. The one start is placed at the data: the exponents at their default
starting values and log k matching the mean of log y.

DeepSeek's two laws in compute (learning rate and batch size) differ only in names and
published values: :func:`deepseek_compute_law` builds both.

Not a law module: the registry skips modules whose name starts with ``_``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from scalinglab.laws._law_columns import deepseek_compute
from scalinglab.laws.base import DataGrid, Evaluate, FloatArray, Law, Param, column


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


# DeepSeek-AI 2024 (arXiv:2401.02954) section 3.1: both hyperparameter laws are fitted on
# runs whose compute is C = M D (eq. 2), with least squares on log values.
_DEEPSEEK_CITATION = (
    "DeepSeek-AI 2024, DeepSeek LLM: Scaling Open-Source Language Models with Longtermism, "
    "arXiv:2401.02954, eq. 1 (C = M D, eq. 2)"
)
_DEEPSEEK_C_NOTE = "C = M D with M the non-embedding FLOPs per token (DeepSeek eq. 2), not 6ND"


def deepseek_compute_law(
    *,
    name: str,
    hyperparameter: Literal["lr", "batch"],
    quantity: str,
    symbol: str,
    unit: str,
    scale: str,
    exponent: str,
    exponent_start: float,
    published: Mapping[str, float],
    note: str = "",
) -> Law:
    """One of DeepSeek's hyperparameter laws in compute, ``symbol*(C) = scale C^exponent``
    (DeepSeek-AI 2024, eq. 1), fitted in log space by least squares with one data-placed start.

    ``hyperparameter`` says which optimum it predicts (``Law.hyperparameter``), ``quantity`` names
    the target ("learning rate", "batch size"), ``unit`` its unit, and
    ``published`` the paper's (scale, exponent)."""

    return Law(
        default_objective="lsq",  # the paper fits least squares on log values
        name=name,
        version="1",
        title=f"Optimal {quantity} in compute C = M D (DeepSeek-AI 2024)",
        formula=(
            f"{symbol}*(C) = {scale} C^{exponent}, C = M D (non-embedding FLOPs/token x tokens)"
        ),
        citation=_DEEPSEEK_CITATION,
        variables=("C",),
        params=(
            Param(
                scale,
                f"scale of the optimal {quantity}",
                f"{unit} * C^-{exponent}",
                log=True,
                lower=0.0,
                grid=(0.0,),
            ),
            Param(exponent, "exponent of compute", "1", grid=(exponent_start,)),
        ),
        evaluate=power_product(("C",)),
        hyperparameter=hyperparameter,
        data_grid=intercept_grid(scale, {"C": exponent_start}, ("C",)),
        prepare=functools.partial(deepseek_compute, law=name),
        notes=f"{_DEEPSEEK_C_NOTE}{note}.",
        published={"deepseek2024": dict(published)},
    )
