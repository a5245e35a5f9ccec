"""Kaplan law: L(N, D) = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D.

Source: Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv:2001.08361,
eq. (1.5); published fit (table 2 / section 1.2): alpha_N = 0.076, alpha_D = 0.095,
N_c = 8.8e13 (non-embedding parameters), D_c = 5.4e13 tokens. Kaplan et al. count N without
embeddings: fit it to ``params_no_embed`` where the runs have it.

| name    | meaning                          | unit       | internal       |
|---------|----------------------------------|------------|----------------|
| N_c     | model-size scale                 | parameters | n_c = log N_c  |
| D_c     | data scale                       | tokens     | d_c = log D_c  |
| alpha_N | model-size exponent              | 1          | alpha_N        |
| alpha_D | data exponent                    | 1          | alpha_D        |

Computed as log L = alpha_D * LSE((alpha_N/alpha_D)(n_c - log N), d_c - log D). The law has no
irreducible term: L -> 0 as N, D -> infinity. alpha_D is bounded away from 0 because the
formula divides by it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scalinglab.laws.base import FloatArray, Law, NaturalParams, Param, column, log_sum_exp


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lN, lD = np.log(column(X, "N")), np.log(column(X, "D"))
    nc, dc, aN, aD = (theta[:, i : i + 1] for i in range(4))
    ratio = aN / aD
    u1 = ratio * (nc - lN)
    u2 = np.broadcast_to(dc - lD, u1.shape)
    s, (w1, w2) = log_sum_exp([u1, u2])
    f = aD * s
    J = [aN * w1, aD * w2, w1 * (nc - lN), s - w1 * u1]
    return f, J


def _tokens_for_loss(
    p: NaturalParams, X: Mapping[str, FloatArray], target: FloatArray
) -> FloatArray:
    """D at which L(N, D) = target: D_c / D = target^(1/alpha_D) - (N_c/N)^(alpha_N/alpha_D)
    (inf when N alone cannot bring the loss down to the target)."""
    aD = p["alpha_D"]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        gap = target ** (1.0 / aD) - (p["N_c"] / column(X, "N")) ** (p["alpha_N"] / aD)
        D = np.where(gap > 0, p["D_c"] / gap, np.inf)
    return np.asarray(D, dtype=float)


def _irreducible(p: NaturalParams) -> FloatArray:
    """L as N, D -> infinity: 0 (the law has no irreducible term)."""
    return np.zeros_like(p["N_c"])


LAW = Law(
    name="kaplan",
    version="1",
    title="Kaplan joint law in N and D (Kaplan et al. 2020)",
    formula="L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D",
    citation=(
        "Kaplan et al. 2020, Scaling Laws for Neural Language Models, arXiv:2001.08361, eq. 1.5"
    ),
    variables=("N", "D"),
    params=(
        Param(
            "N_c", "model-size scale", "parameters", log=True, lower=0.0, grid=(20.0, 30.0, 40.0)
        ),
        Param("D_c", "data scale", "tokens", log=True, lower=0.0, grid=(20.0, 30.0, 40.0)),
        Param(
            "alpha_N", "model-size exponent", "1", lower=0.0, upper=3.0, grid=(0.03, 0.08, 0.2, 0.5)
        ),
        Param("alpha_D", "data exponent", "1", lower=1e-3, upper=3.0, grid=(0.03, 0.1, 0.3, 0.6)),
    ),
    evaluate=_evaluate,
    paired_rows=True,
    inverse={"D": _tokens_for_loss},
    asymptote=_irreducible,
    published={
        "kaplan2020": {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095},
    },
    auto_candidate=True,
)
