"""Loss to downstream error: Err(L) = eps - k exp(-gamma L).

Source: Gadre et al. 2024, "Language models scale reliably with over-training and on
downstream tasks", arXiv:2403.08540, section 3, eq. (5). The average top-1 error over a set of
tasks, as a function of a model's validation loss L (their C4-eval loss): an exponential decay
from the ceiling eps as the loss falls. Chained with the over-training law (L from N and D,
:mod:`.overtraining`) it predicts downstream error from compute (their figure 1).

| name  | meaning                                             | unit             | internal |
|-------|-----------------------------------------------------|------------------|----------|
| eps   | error as L -> infinity (ceiling)                    | target (fraction)| log eps  |
| k     | scale of the decay (eps - k: error as L -> 0)       | target           | log k    |
| gamma | decay rate in the loss                              | 1 / x unit       | gamma    |

Variable ``x``: the upstream loss (``--x loss_c4_val``; in nats per token). Fitted in linear
space (``space="linear"``) by least squares (``default_objective="lsq"``), as Gadre et al. do
(their code, ``scaling/laws.py::decay_ours``, fits it with scipy's ``curve_fit``); the error is
a difference of two terms, so it has no log-sum-exp form. eps is fitted, not set to the
random-guess error.

On their setting (RedPajama, 17-task average error, fitted on the 5 runs of their loss fit
plus the 1.4B M=20 run) the relative errors for the 1.4B M=640 and 6.9B M=20 runs are 2.66%
and 1.00% from their *observed* losses. The paper's 3.64% and 0.05% (figure 1) are two-stage:
this law applied to the loss *predicted* by the over-training law (:mod:`.overtraining`);
chained that way we reproduce them (3.6365%, 0.0464%).

Bounds: eps, k > 0; 0 <= gamma <= 1000. Default grid: 3 x 4 x 4 = 48 starts adapted to the
data (gamma on the scale of the range of losses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalinglab.laws.base import EXP_CLIP, FloatArray, Law, Param, column

_RATE = (0.3, 1.0, 3.0, 10.0)  # gamma times the range of x


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    x = column(X, "x")
    l_eps, l_k, gamma = (theta[:, i : i + 1] for i in range(3))
    eps = np.exp(l_eps)
    decay = np.exp(np.minimum(l_k - gamma * x, EXP_CLIP))  # k exp(-gamma x), (S, n)
    f = eps - decay
    return f, [np.broadcast_to(eps, f.shape), -decay, decay * x]


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # eps just above, somewhat above and well above the largest error; gamma on the scale of
    # the range of losses; k such that the curve passes the mean point for eps = 1.3 max(y).
    x = column(X, "x")
    xr = max(float(np.ptp(x)), 1e-12 * max(float(np.max(np.abs(x))), 1.0))
    ymax, ymean, xmean = float(np.max(y)), float(np.mean(y)), float(np.mean(x))
    gammas = [c / xr for c in _RATE]
    gap = max(1.3 * ymax - ymean, 1e-12)
    return {
        "eps": [float(np.log(ymax * f)) for f in (1.01, 1.3, 3.0)],
        "k": [float(np.log(gap)) + g * xmean for g in gammas],
        "gamma": gammas,
    }


LAW = Law(
    name="downstream_error",
    version="1",
    title="Upstream loss to average downstream error (Gadre et al. 2024)",
    formula="Err(L) = eps - k exp(-gamma L)",
    citation=(
        "Gadre et al. 2024, Language models scale reliably with over-training and on "
        "downstream tasks, arXiv:2403.08540, eq. 5"
    ),
    variables=("x",),
    params=(
        Param(
            "eps",
            "error as the loss grows (ceiling)",
            "target unit",
            log=True,
            lower=0.0,
            grid=(0.0,),
        ),
        Param(
            "k",
            "scale of the exponential decay",
            "target unit",
            log=True,
            lower=0.0,
            grid=(0.0, 2.0),
        ),
        Param(
            "gamma",
            "decay rate in the loss",
            "1 / x unit",
            lower=0.0,
            upper=1e3,
            grid=(0.3, 1.0, 3.0),
        ),
    ),
    evaluate=_evaluate,
    space="linear",
    positive_target=True,
    default_objective="lsq",  # Gadre et al. fit it with scipy curve_fit (least squares)
    data_grid=_data_grid,
    notes=(
        "x is the upstream loss (--x loss_c4_val). Least squares on the error itself, as in "
        "the paper. Predicting from a predicted loss: chain with the 'overtraining' law."
    ),
)
