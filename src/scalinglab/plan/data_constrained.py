"""Data-constrained plan: the best N and number of epochs when only U unique tokens exist.

Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", arXiv:2305.16264 (effective
data D' and effective parameters N'): repeated tokens and excess parameters are worth less than fresh ones. With U_D = min(D, U) the
unique tokens seen and R_D = D/U_D - 1 the repetitions beyond the first epoch,

    D' = U_D + U_D R*_D (1 - exp(-R_D / R*_D)),

and likewise N' = U_N + U_N R*_N (1 - exp(-R_N / R*_N)), U_N = min(N_opt(U_D), N),
R_N = N/U_N - 1, where N_opt(U_D) is the model size for which U_D tokens are compute-optimal
under the base Chinchilla fit: N_opt(D) = G (G D)^(beta/alpha) (inverting Hoffmann et al. 2022,
appendix D.2). The loss is the Chinchilla law at (N', D'): L = E + A/N'^alpha + B/D'^beta.

R*_D and R*_N come from the fit when it has parameters ``R_D_star`` and ``R_N_star`` (a fitted
data-constrained law); otherwise the published values R*_D = 15.4, R*_N = 5.3 (Muennighoff et al.
2023, fitted on their runs) are used and labelled as such.

When does repetition stop paying? The value of the e-th epoch, relative to an epoch of fresh
tokens, is the slope dD'/dR_D at R_D = e - 1 divided by its value at 0: exp(-(e - 1)/R*_D). We
report ``useful_epochs`` = 1 + R*_D ln(1/threshold), the epoch whose tokens are worth
``threshold`` (default 0.5) of fresh ones: 11.7 epochs for R*_D = 15.4. (Muennighoff et al.
find up to about 4 epochs nearly as good as fresh data.) A plan beyond it gets a warning.
"""

from __future__ import annotations

import math

import numpy as np

from scalinglab.errors import FitError
from scalinglab.laws.base import FloatArray
from scalinglab.plan.allocation import NUMERIC, PlanPoint, Rows, allocate, check_compute, point
from scalinglab.plan.surface import LOG_MIN, Surface, argmin_log
from scalinglab.units import FlopConvention

PUBLISHED_R_D_STAR = 15.4
PUBLISHED_R_N_STAR = 5.3
SOURCE = "Muennighoff et al. 2023, Scaling Data-Constrained Language Models, arXiv:2305.16264"
PUBLISHED_LABEL = (
    "R*_D = 15.4, R*_N = 5.3 published by Muennighoff et al. 2023 (arXiv:2305.16264), "
    "not fitted to these runs"
)


def _stars(s: Surface) -> tuple[FloatArray, FloatArray, bool]:
    if "R_D_star" in s.names and "R_N_star" in s.names:
        return s.col("R_D_star"), s.col("R_N_star"), True
    ones = np.ones((s.rows, 1))
    return PUBLISHED_R_D_STAR * ones, PUBLISHED_R_N_STAR * ones, False


def effective(U: float, R_star: FloatArray, used: FloatArray, total: FloatArray) -> FloatArray:
    """U' + U' R* (1 - exp(-R/R*)) with U' = ``used`` and R = total/used - 1 (Muennighoff et al. 2023)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        R = total / used - 1.0
        return used * (1.0 + R_star * (1.0 - np.exp(-R / R_star)))


def data_constrained_loss(s: Surface, N: FloatArray, D: FloatArray, U: float) -> FloatArray:
    """Muennighoff et al.'s loss at (N, D) with U unique tokens, rows of ``s``."""
    E, A, B, a, b = (s.col(n) for n in ("E", "A", "B", "alpha", "beta"))
    RD, RN, _ = _stars(s)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        UD = np.minimum(D, U)
        Dp = effective(U, RD, UD, D)
        G = (a * A / (b * B)) ** (1.0 / (a + b))
        N_opt = G * (G * UD) ** (b / a)  # model size for which U_D tokens are compute-optimal
        UN = np.minimum(N_opt, N)
        Np = effective(U, RN, UN, N)
        out: FloatArray = E + A / Np**a + B / Dp**b
    return out


def data_constrained(
    s: Surface,
    compute: float,
    unique_tokens: float,
    flops: FlopConvention,
    *,
    threshold: float = 0.5,
) -> tuple[PlanPoint, tuple[str, ...], str]:
    """The plan, its warnings, and where R*_D, R*_N came from."""
    C = check_compute(compute)
    U = float(unique_tokens)
    if not (math.isfinite(U) and U > 0):
        raise FitError(f"unique tokens must be a positive number of tokens, got {unique_tokens!r}.")
    if not 0.0 < threshold < 1.0:
        raise FitError(f"repetition threshold must be in (0, 1), got {threshold!r}.")
    missing = {"E", "A", "B", "alpha", "beta"} - set(s.names)
    if missing:
        raise FitError(
            f"a data-constrained plan needs a Chinchilla-type fit (E, A, B, alpha, beta); this "
            f"fit is {s.law.name!r}. Fit `--law chinchilla` first."
        )

    def f(u: FloatArray) -> FloatArray:
        N = np.exp(u)
        return data_constrained_loss(s, N, flops.tokens(C, N), U)

    u, L, edge = argmin_log(
        f, np.full(s.rows, LOG_MIN), np.full(s.rows, math.log(flops.max_params(C)))
    )
    N = np.exp(u)
    D = flops.tokens(C, N)
    r = Rows(N, D, L, np.full(s.rows, C), NUMERIC, edge)
    RD, _, fitted = _stars(s)
    useful = 1.0 + RD[:, 0] * math.log(1.0 / threshold)
    free = allocate(s, C, flops).loss
    epochs = D / U
    warn: list[str] = []
    if epochs[0] > useful[0]:
        warn.append(
            f"the data-constrained plan repeats the {U:.3g} unique tokens {epochs[0]:.3g} times, "
            f"beyond {useful[0]:.3g} epochs where an extra epoch is worth less than "
            f"{threshold:g} of fresh data: more unique data would pay more than more compute."
        )
    source = "R*_D, R*_N fitted (this fit's R_D_star, R_N_star)" if fitted else PUBLISHED_LABEL
    notes = (
        f"epochs = D/U; useful_epochs: the epoch whose tokens are worth {threshold:g} of fresh "
        "ones, 1 + R*_D ln(1/threshold)",
        source,
    )
    pp = point(
        "data_constrained",
        s,
        r,
        extra={
            "unique_tokens": np.full(s.rows, U),
            "epochs": epochs,
            "useful_epochs": useful,
            "loss_unconstrained": free,
        },
        notes=notes,
    )
    return pp, tuple(warn), source
