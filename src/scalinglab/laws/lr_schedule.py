"""Loss curve under a learning-rate schedule: L(s) = L0 + A S1(s)^(-alpha) - C S2(s).

Source: Tissue, Wang and Wang 2024, "Scaling Law with Learning Rate Annealing",
arXiv:2408.11029, eq. 1 with the "forward area" S1 and the momentum form of the "annealing
area" S2 (section 3). With eta_i the learning rate used at step i (steps count from 1):

    S1(s) = sum_{i=1..s} eta_i                       (area under the LR curve)
    m_i   = lambda m_{i-1} + (eta_{i-1} - eta_i),  m_0 = 0, eta_0 = eta_1
    S2(s) = sum_{i=1..s} m_i                         (LR annealing area, momentum form)

lambda is the decay factor of the annealing momentum, 0.999 as in Tissue et al. It is the
module constant :data:`LAMBDA`, not a fitted parameter: it sets the ~1/(1 - lambda) = 1,000-step
delay with which a drop of the LR shows in the loss. S1 and S2 are in LR units x steps.

**Departure from the formula as written: the initial warmup.** While the LR rises, m_i < 0.
Read literally, a warmup from 0 to the peak LR eta_max leaves S2 ~ -eta_max / (1 - lambda) =
-1,000 eta_max for the rest of the run: more than the annealing area of a whole cosine decay,
so the fitted C would describe the warmup rather than the annealing. This module does not
count LR increases of the *initial* warmup (the steps before the LR first decreases) in the
annealing momentum; later increases (a re-warmup, e.g. in continual pre-training) count as the
formula says. S1 counts every step, warmup included. :func:`annealing_areas` with
``count_warmup=True`` gives the literal formula. Like any power law in S1, the law does not
describe the first few percent of training; give those rows weight 0 (``weights=``) rather
than dropping them, so that S1 and S2 still see the whole schedule.

| name  | meaning                                         | unit                 | internal   |
|-------|-------------------------------------------------|----------------------|------------|
| L0    | loss the curve tends to as S1 -> infinity       | target (nats)        | l0 = log L0 |
| A     | scale of the power law in the forward area      | target * (LR step)^alpha | a = log A |
| alpha | exponent of the forward area                    | 1                    | alpha      |
| C     | loss drop per unit of annealing area (>= 0)     | target / (LR step)   | C          |

Bounds: L0, A > 0; alpha in [0, 5]; C in [0, inf) (annealing lowers the loss, as in the paper).
Default starting grid: 3 (L0) x 3 (A, scaled to the data) x 3 (alpha) x 1 (C = 0) = 27 starts.

**Input: loss-curve rows.** The runs table holds one row per logged step: ``run_id``, ``step``
(an integer >= 1), ``lr`` (the learning rate used at that step) and the loss. S1 and S2 need
the LR at *every* step, so the ``lr`` column is read as **piecewise constant between logged
rows**: the LR logged at a row is taken to have been used at every step after the previous
logged row of that run, up to and including this row's step; the first row's LR is taken from
step 1. Log the LR at least as often as it changes much (e.g. every 10-100 steps of a cosine)
and, when warmup matters, log rows inside it. A table with a row at every step is reproduced
exactly. Rows with a missing step or LR, non-integer or non-positive steps, negative LRs,
repeated (run_id, step) pairs, or a zero forward area are errors that list every bad row.

The law then predicts a whole curve for a schedule it was not fitted on: give the new
schedule's (run_id, step, lr) rows to ``predict``; they go through the same ``prepare``. Rows
must cover each run from its start: S1 and S2 depend on the whole history of the run, so a
table holding only the late rows of a run (e.g. a held-out tail) gives wrong areas.

Computed as log L = LSE(l0, a - alpha log S1) + log(1 - C S2 / (L0 + A S1^-alpha)) so the
log-space objective never takes the log of a sum; where the predicted loss would be <= 0 the
objective is +inf (such a start loses).

No single published parameter set: the paper fits each model/data setting separately (its
figures), so none is bundled; the tests check the formula against a plain computation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.errors import DataError
from scalinglab.laws._law_columns import Column, bad_rows_message, require_columns
from scalinglab.laws._starts import floor_starts, term_starts
from scalinglab.laws.base import FloatArray, Law, Param, column, log_sum_exp

if TYPE_CHECKING:
    import pandas as pd


#: Decay factor lambda of the annealing momentum (Tissue et al. 2024, section 3).
LAMBDA = 0.999

_COLUMNS = (
    Column("run_id", "identifier of the loss curve (one training run)"),
    Column("step", "optimiser step of the logged row, an integer >= 1"),
    Column("lr", "learning rate used at that step (held constant back to the previous row)"),
)


def annealing_areas(
    steps: Sequence[float] | FloatArray,
    lrs: Sequence[float] | FloatArray,
    lam: float = LAMBDA,
    *,
    count_warmup: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """Forward area S1 and annealing area S2 of one run at each logged step.

    ``steps``: strictly increasing integers >= 1; ``lrs``: the LR logged at each, held constant
    back to the previous logged step (the first back to step 1). Exact when every step is
    given. Within a block of ``k`` steps at constant LR the momentum recursion has the closed
    form m_(j+t) = lam^(t-1) m_(j+1), so the cost is one update per logged row, not per step.

    ``count_warmup=False`` (the law's choice): LR increases before the LR first decreases (the
    initial warmup) add nothing to the annealing momentum; later increases (re-warmup) do.
    """
    s = np.asarray(steps, dtype=float)
    eta = np.asarray(lrs, dtype=float)
    S1 = np.empty(s.size)
    S2 = np.empty(s.size)
    s1 = s2 = m = 0.0
    prev_step = 0.0
    prev_eta = float(eta[0]) if eta.size else 0.0  # eta_0 = eta_1: no annealing at step 1
    warmup = not count_warmup
    for i in range(s.size):
        k = float(s[i] - prev_step)  # steps in this block, all at LR eta[i]
        e = float(eta[i])
        s1 += e * k
        if warmup and e < prev_eta:
            warmup = False  # the first decrease ends the initial warmup
        change = 0.0 if warmup else prev_eta - e
        first = lam * m + change  # m at the block's first step
        if lam == 1.0:
            s2 += first * k
            m = first
        else:
            decay = lam**k
            s2 += first * (1.0 - decay) / (1.0 - lam)
            m = first * decay / lam  # m at the block's last step: lam^(k-1) * first
        S1[i], S2[i] = s1, s2
        prev_step, prev_eta = float(s[i]), e
    return S1, S2


def _prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
    """S1 and S2 for every row of a loss-curve table (rows in the table's own order)."""
    import pandas as pd

    require_columns(frame, "lr_schedule", _COLUMNS)
    step = pd.to_numeric(frame["step"], errors="coerce").to_numpy(dtype=float)
    lr = pd.to_numeric(frame["lr"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad_step = ~np.isfinite(step) | (step < 1) | (np.abs(step - np.round(step)) > 1e-9)
        bad_lr = ~np.isfinite(lr) | (lr < 0)
    if bad_step.any():
        raise DataError(
            "column 'step' must hold integer optimiser steps >= 1 for law 'lr_schedule' "
            f"(at step 0 no training has happened and S1 = 0); bad at rows "
            f"{bad_rows_message(frame, 'step', bad_step)}. Exclude those rows (e.g. --where 'step > 0')."
        )
    if bad_lr.any():
        raise DataError(
            "column 'lr' must be a finite learning rate >= 0 for law 'lr_schedule'; bad at rows "
            f"{bad_rows_message(frame, 'lr', bad_lr)}. The law needs the LR of every logged row."
        )
    runs = frame["run_id"].astype(str).to_numpy()
    key = pd.DataFrame({"run": runs, "step": step})
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataError(
            "law 'lr_schedule' needs one row per (run_id, step); repeated at rows "
            f"{bad_rows_message(frame, 'step', dup)}. Average or drop the repeats, or give each "
            "curve its own run_id."
        )
    S1 = np.empty(len(frame))
    S2 = np.empty(len(frame))
    for _, idx in key.groupby("run", sort=False).indices.items():
        order = idx[np.argsort(step[idx], kind="stable")]
        S1[order], S2[order] = annealing_areas(step[order], lr[order])
    zero = S1 <= 0
    if zero.any():
        raise DataError(
            "law 'lr_schedule' needs a positive forward area S1 (sum of LRs up to the step), but "
            f"the LR is 0 from the start of the run at rows {bad_rows_message(frame, 'lr', zero)}. "
            "Exclude those rows."
        )
    return {"S1": S1, "S2": S2}


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    S1, S2 = column(X, "S1"), column(X, "S2")
    lS1 = np.log(S1)
    l0, a, alpha, C = (theta[:, i : i + 1] for i in range(4))
    t1 = a - alpha * lS1  # (S, n): log(A S1^-alpha)
    lp, (w0, w1) = log_sum_exp([np.broadcast_to(l0, t1.shape), t1])  # log(L0 + A S1^-alpha)
    inv_p = np.exp(-lp)
    q = C * S2 * inv_p  # fraction of the power-law part removed by annealing
    f = lp + np.log1p(-q)
    r = 1.0 / (1.0 - q)  # d f / d lp
    J = [w0 * r, w1 * r, -w1 * lS1 * r, -S2 * inv_p * r]
    return f, J


_ALPHA_GRID = (0.2, 0.5, 1.0)


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # L0 below the lowest loss; A such that A S1^-alpha spans the observed range at the
    # geometric-mean S1, one value per exponent of the grid (the grid is a product: mismatched
    # pairs only cost a few starts). C starts at 0: the objective is smooth in C from there,
    # while a large starting C can make the predicted loss negative (objective +inf) and
    # strand the start.
    return {
        "L0": floor_starts(y, (0.3, 0.6, 0.9)),
        "A": term_starts(y, column(X, "S1"), _ALPHA_GRID),
        "alpha": list(_ALPHA_GRID),
        "C": [0.0],
    }


LAW = Law(
    name="lr_schedule",
    version="1",
    title="Loss curve under a learning-rate schedule (Tissue et al. 2024)",
    formula="L(s) = L0 + A S1^(-alpha) - C S2; S1 = sum_i eta_i, S2 = sum_i m_i, "
    "m_i = 0.999 m_(i-1) + (eta_(i-1) - eta_i)",
    citation=(
        "Tissue, Wang and Wang 2024, Scaling Law with Learning Rate Annealing, "
        "arXiv:2408.11029, eq. 1 (S2 in its momentum form, lambda = 0.999)"
    ),
    variables=("S1", "S2"),
    params=(
        Param(
            "L0",
            "loss as the forward area grows without bound",
            "target unit",
            log=True,
            lower=0.0,
            grid=(0.0, 1.0),
        ),
        Param(
            "A",
            "scale of the forward-area power law",
            "target unit * (LR step)^alpha",
            log=True,
            lower=0.0,
            grid=(0.0, 2.0),
        ),
        Param("alpha", "exponent of the forward area", "1", lower=0.0, upper=5.0, grid=_ALPHA_GRID),
        Param(
            "C",
            "loss drop per unit of annealing area",
            "target unit / (LR step)",
            lower=0.0,
            grid=(0.0, 0.5),
        ),
    ),
    evaluate=_evaluate,
    data_grid=_data_grid,
    prepare=_prepare,
    notes=(
        "Rows are loss-curve checkpoints with run_id, step and lr; lr is held constant between "
        "logged rows (back to step 1 for the first row). S1, S2 are computed per run by prepare; "
        "predict a new schedule by giving its (run_id, step, lr) rows."
    ),
)
