"""Data mixing law: L_i(r) = c_i + k_i exp(sum_j t_ij r_j), fitted per target domain i.

Source: Ye et al. 2024, "Data Mixing Laws: Optimizing Data Mixtures by Predicting Language
Modeling Performance", arXiv:2403.16952, section 3 (the multi-domain mixing law): for a model
of fixed size trained for a fixed number of steps on M domains in proportions r_1..r_M, the
validation loss on domain i is an exponential of a linear function of the proportions. One
fit is one target domain i, so the parameters below drop the index i.

**Parametrisation.** The proportions sum to 1, so k exp(sum_j t_j r_j) = exp(sum_j (t_j + log
k) r_j): k and a common shift of all t_j are not separately identified (the objective is flat
along that direction and the bootstrap would wander along it). This law therefore fixes k = 1
and fits

    L(r) = c + exp(sum_j t_j r_j),

whose t_j are identified: exp(t_j) is the reducible loss after training on domain j alone, and
t_j - t_j' compares two domains. Any Ye et al. (k, t) is recovered as t_j(paper) = t_j - log k
for a chosen k.

| name         | meaning                                              | unit          | internal |
|--------------|------------------------------------------------------|---------------|----------|
| c            | loss not affected by the mixture                     | target (nats) | log c    |
| t_<domain>   | log reducible loss when training on <domain> alone   | log target    | t        |

Variables: every column whose name starts with ``mix_`` (e.g. ``mix_web``, ``mix_code``): the
proportion of that domain in the training mixture, in [0, 1], summing to 1 per row (within
0.01; every bad row is listed). :func:`specialize` builds the concrete law with one t per
mixture column (``t_web`` for ``mix_web``); at least two are needed. Target: the loss on the
one validation domain of the fit (positive; log space).

Default grid: 5 starts, c at 5%, 30%, 60%, 80% and 95% of the lowest loss, each with the t
from a least-squares fit of log(y - c) on the proportions at c = half the lowest loss. For
fixed c the problem in t is a (robust) linear regression, so these starts reach the optimum.

No published parameter set: the fitted (c, k, t) depend on the model, the data and the domains
of each experiment; the tests check the formula against a plain computation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.errors import DataError, FitError
from scalinglab.laws._law_columns import Column, bad_rows_message, numeric_columns
from scalinglab.laws.base import (
    EXP_CLIP,
    DataGrid,
    Evaluate,
    FloatArray,
    Law,
    Param,
    Prepare,
    column,
    log_sum_exp,
)

if TYPE_CHECKING:
    import pandas as pd


PREFIX = "mix_"
#: Proportions of a row must sum to 1 within this (rounded proportions, e.g. 0.333 x 3).
SUM_TOLERANCE = 0.01


def mixture_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The mixture-proportion columns of ``frame`` (names starting with ``mix_``), sorted."""
    return tuple(sorted(str(c) for c in frame.columns if str(c).startswith(PREFIX)))


def _columns(names: Sequence[str]) -> tuple[Column, ...]:
    return tuple(
        Column(
            n,
            f"proportion of domain {n[len(PREFIX) :]!r} in the training mixture",
            lower=0.0,
            closed=True,
            upper=1.0,
        )
        for n in names
    )


def _make_prepare(names: tuple[str, ...]) -> Prepare:
    def prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
        X = numeric_columns(frame, "mixture", _columns(names))
        total = np.sum([X[n] for n in names], axis=0)
        bad = np.abs(total - 1.0) > SUM_TOLERANCE
        if bad.any():
            shown = bad_rows_message(frame.assign(__sum=np.round(total, 6)), "__sum", bad)
            raise DataError(
                f"law 'mixture': the proportions {', '.join(names)} must sum to 1 (within "
                f"{SUM_TOLERANCE:g}) in every row; the sums are off at rows {shown}. Give every "
                "domain of the mixture a mix_ column, or renormalise the proportions."
            )
        return X

    return prepare


def _make_evaluate(names: tuple[str, ...]) -> Evaluate:
    def evaluate(
        theta: FloatArray, X: Mapping[str, FloatArray]
    ) -> tuple[FloatArray, list[FloatArray]]:
        R = np.stack([column(X, n) for n in names])  # (M, n)
        c = theta[:, 0:1]
        T = theta[:, 1:]  # (S, M)
        z = np.minimum(T @ R, EXP_CLIP)  # (S, n): log of the reducible loss
        f, (w0, w1) = log_sum_exp([np.broadcast_to(c, z.shape), z])
        J = [w0, *(w1 * R[j] for j in range(len(names)))]
        return f, J

    return evaluate


def _make_data_grid(names: tuple[str, ...]) -> DataGrid:
    def data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
        R = np.stack([column(X, n) for n in names], axis=1)  # (n, M)
        ymin = float(np.min(y))
        # least squares of log(y - c) on the proportions (no intercept: they sum to 1)
        t, *_ = np.linalg.lstsq(R, np.log(y - 0.5 * ymin), rcond=None)
        grid: dict[str, Sequence[float]] = {
            "c": [float(np.log(ymin * f)) for f in (0.05, 0.3, 0.6, 0.8, 0.95)]
        }
        for n, tj in zip(names, t, strict=True):
            grid["t_" + n[len(PREFIX) :]] = [float(tj)]
        return grid

    return data_grid


def specialize(frame: pd.DataFrame) -> Law:
    """The mixing law for the ``mix_`` columns of ``frame``: parameters c and one t per
    domain. Raises :class:`FitError` when fewer than two mixture columns are present."""
    names = mixture_columns(frame)
    if len(names) < 2:
        found = f" (found only {names[0]!r})" if names else ""
        raise FitError(
            "law 'mixture' needs the training-mixture proportions as columns named mix_<domain>, "
            f"one per domain, at least two{found}; e.g. --map mix_web=COLUMN --map "
            f"mix_code=COLUMN. The table has columns {', '.join(map(str, frame.columns))}."
        )
    domains = [n[len(PREFIX) :] for n in names]
    return Law(
        name="mixture",
        version="1",
        title=LAW.title,
        formula="L(r) = c + exp(" + " + ".join(f"t_{d} r_{d}" for d in domains) + ")",
        citation=LAW.citation,
        variables=names,
        params=(
            LAW.params[0],
            *(
                Param(
                    f"t_{d}",
                    f"log reducible loss when training on domain {d!r} alone",
                    "log target unit",
                    grid=(0.0,),
                )
                for d in domains
            ),
        ),
        evaluate=_make_evaluate(names),
        data_grid=_make_data_grid(names),
        prepare=_make_prepare(names),
        notes=LAW.notes,
    )


def _generic_evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    raise FitError(
        "law 'mixture' has one parameter per mixture column: build it for your table with "
        "LAW.specialize(runs) (fit() and predict() do this themselves)."
    )


LAW = Law(
    name="mixture",
    version="1",
    title="Data mixing law, one validation domain (Ye et al. 2024)",
    formula="L(r) = c + exp(sum_j t_j r_j)  (Ye et al.'s c_i + k_i exp(sum_j t_ij r_j), k_i = 1)",
    citation=(
        "Ye et al. 2024, Data Mixing Laws: Optimizing Data Mixtures by Predicting Language "
        "Modeling Performance, arXiv:2403.16952, section 3 (multi-domain law)"
    ),
    variables=(),
    params=(
        Param(
            "c", "loss not affected by the mixture", "target unit", log=True, lower=0.0, grid=(0.0,)
        ),
    ),
    evaluate=_generic_evaluate,
    specialize=specialize,
    notes=(
        "Variables: the mix_<domain> columns (proportions summing to 1); parameters c and "
        "t_<domain>. k is fixed to 1 because sum_j r_j = 1 makes it redundant with the t's."
    ),
)
