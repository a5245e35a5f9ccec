"""Vocabulary-aware loss: L_u = -E + A1 / N_nv^alpha1 + A2 / N_v^alpha2 + B / D^beta.

Source: Tao et al. 2024, "Scaling Laws with Vocabulary: Larger Models Deserve Larger
Vocabularies", arXiv:2407.13623, approach 3 (parametric fit of the loss). The target L_u is the
*unigram-normalised* loss: the LM loss minus the loss of a unigram model over the same
vocabulary, which removes the vocabulary's effect on the raw loss so that runs with different
vocabularies compare. L_u is usually negative, so the law is fitted in linear space
(``space="linear"``, ``positive_target=False``); -E is its floor (E > 0 in practice).

| name   | meaning                                        | unit               | internal  |
|--------|------------------------------------------------|--------------------|-----------|
| E      | minus the loss floor (L_u -> -E)               | target (nats)      | E         |
| A1     | scale of the non-vocabulary-parameter term     | target * N_nv^alpha1 | log A1  |
| A2     | scale of the vocabulary-parameter term         | target * N_v^alpha2  | log A2  |
| B      | scale of the data term                         | target * D^beta    | log B     |
| alpha1 | exponent of N_nv                               | 1                  | alpha1    |
| alpha2 | exponent of N_v                                | 1                  | alpha2    |
| beta   | exponent of D                                  | 1                  | beta      |

Variables: ``N_nv`` (non-vocabulary parameters), ``N_v`` (vocabulary parameters, V x d_model
for vocabulary size V and embedding width d_model, as in Tao et al.) and ``D`` (training
tokens). Tao et al. measure data in characters H because the tokens of a fixed text depend on
V; their released fitting code converts characters to tokens with a fitted tokens-per-character
ratio f(V) (D = H f(V)) before fitting, so the law's D counts tokens. Use the tokens each run
saw.

Bounds: A1, A2, B > 0; exponents in [0, 3]; E unbounded. Default grid: 2 (E: the three terms,
each a third of the data's spread at the geometric mean of its variable, put -E + terms at the
lowest observation, or 1 nat below it) x 2 (alpha1) x 2 (alpha2) x 2 (beta) = 16 starts.

Published set: the coefficients the authors released with the paper (sail-sg/scaling-with-vocab,
``optimal_Nv_predict.py``: A1 = 1.8314, A2 = 0.19584, B = 2.1241, E = 5.5328, alpha1 = beta =
0.44661, alpha2 = 0.67074), fitted with N_nv and N_v in millions and D in billions of tokens;
converted here to raw counts: A1 x 1e6^alpha1, A2 x 1e6^alpha2, B x 1e9^beta. Tao et al. tie
alpha1 = beta in that fit; this law leaves them free, so a refit of their data differs slightly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.laws._law_columns import Column, numeric_columns
from scalinglab.laws.base import EXP_CLIP, FloatArray, Law, Param, column

if TYPE_CHECKING:
    import pandas as pd


_COLUMNS = (
    Column("N_nv", "non-vocabulary (non-embedding) parameters"),
    Column("N_v", "vocabulary parameters, vocabulary size x embedding width"),
    Column("D", "training tokens"),
)
_TERMS = (("A1", "alpha1", "N_nv"), ("A2", "alpha2", "N_v"), ("B", "beta", "D"))

# Released coefficients (normalised units: N in millions, D in billions of tokens).
_RELEASED = {
    "A1": 1.8313851559554126,
    "A2": 0.19584238398665638,
    "B": 2.1241123120064955,
    "E": 5.5327846803337435,
    "alpha1": 0.44660634152009615,
    "alpha2": 0.6707374679896795,
    "beta": 0.44660634152009615,
}


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    return numeric_columns(frame, "vocabulary", _COLUMNS)


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    E = theta[:, 0:1]
    f = np.broadcast_to(-E, (theta.shape[0], column(X, "D").size)).copy()
    dscale: list[FloatArray] = []
    dexp: list[FloatArray] = []
    for i, (_, _, var) in enumerate(_TERMS):
        lx = np.log(column(X, var))
        a, expo = theta[:, 1 + i : 2 + i], theta[:, 4 + i : 5 + i]
        term = np.exp(np.minimum(a - expo * lx, EXP_CLIP))  # A x^-expo
        f += term
        dscale.append(term)
        dexp.append(-term * lx)
    J = [np.full_like(f, -1.0), *dscale, *dexp]
    return f, J


_EXP_GRID = (0.2, 0.6)


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # each term starts at a third of the spread of the data (at least 0.1 nats) at the
    # geometric mean of its variable, for the middle exponent 0.4; E so that -E + terms sits
    # at the lowest observation, or 1 nat below it
    spread = max(float(np.max(y) - np.min(y)), 0.1)
    grid: dict[str, Sequence[float]] = {}
    for scale, _, var in _TERMS:
        grid[scale] = [float(np.log(spread / 3) + 0.4 * np.mean(np.log(column(X, var))))]
    e0 = spread - float(np.min(y))
    grid["E"] = [e0, e0 + 1.0]
    return grid


LAW = Law(
    name="vocabulary",
    version="1",
    title="Unigram-normalised loss in non-vocabulary and vocabulary parameters and data (Tao et al. 2024)",
    formula="L_u = -E + A1 / N_nv^alpha1 + A2 / N_v^alpha2 + B / D^beta",
    citation=(
        "Tao et al. 2024, Scaling Laws with Vocabulary: Larger Models Deserve Larger "
        "Vocabularies, arXiv:2407.13623, approach 3 (parametric fit)"
    ),
    variables=("N_nv", "N_v", "D"),
    params=(
        Param("E", "minus the floor of the unigram-normalised loss", "target unit", grid=(5.0,)),
        Param(
            "A1",
            "scale of the non-vocabulary-parameter term",
            "target unit * N_nv^alpha1",
            log=True,
            lower=0.0,
            grid=(5.0,),
        ),
        Param(
            "A2",
            "scale of the vocabulary-parameter term",
            "target unit * N_v^alpha2",
            log=True,
            lower=0.0,
            grid=(5.0,),
        ),
        Param(
            "B", "scale of the data term", "target unit * D^beta", log=True, lower=0.0, grid=(5.0,)
        ),
        Param(
            "alpha1",
            "exponent of the non-vocabulary parameters",
            "1",
            lower=0.0,
            upper=3.0,
            grid=_EXP_GRID,
        ),
        Param(
            "alpha2",
            "exponent of the vocabulary parameters",
            "1",
            lower=0.0,
            upper=3.0,
            grid=_EXP_GRID,
        ),
        Param("beta", "exponent of the training tokens", "1", lower=0.0, upper=3.0, grid=_EXP_GRID),
    ),
    evaluate=_evaluate,
    space="linear",
    positive_target=False,
    data_grid=_data_grid,
    prepare=_prepare,
    notes=(
        "Target: unigram-normalised loss (usually negative; linear space). N_v = vocabulary size "
        "x embedding width; D in tokens (Tao et al. convert characters to tokens with f(V))."
    ),
    published={
        # Tao et al. 2024, coefficients released with the paper (optimal_Nv_predict.py),
        # converted from N in millions and D in billions of tokens to raw counts.
        "tao2024": {
            "E": _RELEASED["E"],
            "A1": _RELEASED["A1"] * 1e6 ** _RELEASED["alpha1"],
            "A2": _RELEASED["A2"] * 1e6 ** _RELEASED["alpha2"],
            "B": _RELEASED["B"] * 1e9 ** _RELEASED["beta"],
            "alpha1": _RELEASED["alpha1"],
            "alpha2": _RELEASED["alpha2"],
            "beta": _RELEASED["beta"],
        },
    },
)
