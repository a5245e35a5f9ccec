"""Loss to task accuracy: Acc(L) = a / (1 + exp(-k (L - L0))) + b.

Source: Bhagia et al. 2024, "Establishing Task Scaling Laws via Compute-Efficient Model
Ladders", arXiv:2412.04403, section 3, eq. (2) (step 2 of their two-step prediction: a task
loss L, itself predicted from N and D, mapped to accuracy by a sigmoid).

| name | meaning                                               | unit          | internal |
|------|-------------------------------------------------------|---------------|----------|
| a    | height of the sigmoid (accuracy span)                 | target        | log a    |
| k    | steepness in the loss (negative: accuracy falls as L grows) | 1 / x unit | k     |
| L0   | loss at the midpoint of the sigmoid                   | x unit        | L0       |
| b    | accuracy floor (the limit at the bad end, e.g. chance)| target        | b        |

The formula is symmetric under (a, k, b) -> (-a, -k, a + b); we keep a >= 0 so that each curve
has one parametrisation: b is then the floor (the accuracy where the sigmoid is 0) and a + b
the ceiling, and k < 0 for the usual accuracy that falls as the loss grows.

Variable ``x``: the (task) loss (``--x COLUMN``). Fitted in linear space by least squares
(``default_objective="lsq"``), as a curve fit on accuracies (which may be near 0, so no log
space; ``positive_target=False``). With few points the four parameters are weakly identified
(a sigmoid seen on one side only): check intervals and backtest. The target is an accuracy as
a fraction: a <= 1 and 0 <= b <= 1 (bounds). Without them, data that show only the tail of the
sigmoid drift to a -> infinity with L0 -> -infinity (the tail is an exponential, Gadre et al.'s
error law); with them such a fit stops with a at its bound, and the fit reports it. No parameter
values are published in a form we could check against, so ``published`` is empty. Default
grid: 2 x 3 x 4 x 2 = 48 starts adapted to the data (the sign of k from the data's trend).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalinglab.laws.base import FloatArray, Law, Param, column

_STEEPNESS = (1.0, 4.0, 12.0)  # |k| times the range of x


def _sigmoid(u: FloatArray) -> FloatArray:
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0, e) / (1.0 + e)


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    x = column(X, "x")
    l_a, k, L0, b = (theta[:, i : i + 1] for i in range(4))
    a = np.exp(l_a)
    dx = x - L0  # (S, n)
    s = _sigmoid(k * dx)
    slope = a * s * (1.0 - s)  # d (a s) / d (k dx)
    f = a * s + b
    return f, [a * s, slope * dx, -slope * k, np.ones_like(f)]


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # the sign of k from the trend of the data (accuracy usually falls as the loss grows);
    # L0 inside and beyond both ends of the observed losses; a and b spanning the accuracies.
    x = column(X, "x")
    xmin, xmax = float(np.min(x)), float(np.max(x))
    xr = max(xmax - xmin, 1e-12 * max(abs(xmax), 1.0))
    ymin, ymax = float(np.min(y)), float(np.max(y))
    yr = max(ymax - ymin, 1e-12 * max(abs(ymax), 1.0))
    trend = float(np.mean((x - x.mean()) * (y - y.mean())))
    sign = 1.0 if trend > 0 else -1.0
    return {
        "a": [float(np.log(min(yr * f, 1.0))) for f in (1.2, 5.0)],
        "k": [sign * c / xr for c in _STEEPNESS],
        "L0": [
            xmin - 0.3 * xr,
            float(np.quantile(x, 0.3)),
            float(np.quantile(x, 0.7)),
            xmax + 0.3 * xr,
        ],
        "b": [max(ymin - 0.05 * yr, 0.0), max(ymin - 2.0 * yr, 0.0)],
    }


LAW = Law(
    name="downstream_accuracy",
    version="1",
    title="Task loss to accuracy, sigmoid (Bhagia et al. 2024, model ladders)",
    formula="Acc(L) = a / (1 + exp(-k (L - L0))) + b",
    citation=(
        "Bhagia et al. 2024, Establishing Task Scaling Laws via Compute-Efficient Model "
        "Ladders, arXiv:2412.04403, eq. 2"
    ),
    variables=("x",),
    params=(
        Param(
            "a",
            "height of the sigmoid (ceiling - floor)",
            "target unit",
            log=True,
            lower=0.0,
            upper=1.0,
            grid=(-1.0, 0.0),
        ),
        Param(
            "k",
            "steepness in the loss (negative: falls with loss)",
            "1 / x unit",
            grid=(-10.0, -3.0, -1.0),
        ),
        Param("L0", "loss at the midpoint", "x unit", grid=(1.0, 2.0, 3.0)),
        Param("b", "accuracy floor", "target unit", lower=0.0, upper=1.0, grid=(0.25, 0.5)),
    ),
    evaluate=_evaluate,
    space="linear",
    positive_target=False,
    default_objective="lsq",
    data_grid=_data_grid,
    notes=(
        "x is the task loss (--x COLUMN). a >= 0 removes the sign symmetry of the sigmoid: "
        "b is the floor, a + b the ceiling, k < 0 when accuracy falls as the loss grows."
    ),
)
