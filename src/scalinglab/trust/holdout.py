"""Which runs a backtest holds out: ``"top 20% by C"``, ``"top 3 by N"`` or a boolean expression.

* ``top P% by COL``: the runs whose COL is at least the value of the ceil(P% * n)-th largest
  run (ties at the threshold are held out together, so one model size is never split).
* ``top K by COL``: the runs whose COL is among the K largest *distinct* values: ``top 3 by N``
  holds out the three largest model sizes with all their runs.
* anything else is a ``--where``-style boolean expression over the columns, True = held out
  (e.g. ``"Training == 0"``).

``C`` may be used even when the table only has N and D: it is 6ND (the one FLOP convention,
:mod:`scalinglab.units`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalinglab.data.select import evaluate_where
from scalinglab.errors import DataError
from scalinglab.units import training_flops

_TOP = re.compile(r"^\s*top\s+(\d+(?:\.\d+)?)\s*(%?)\s+by\s+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Holdout:
    spec: str
    column: str | None  # the ordering column for "top" specs (extrapolation axis)
    count: float | None
    percent: bool

    @classmethod
    def parse(cls, spec: str) -> Holdout:
        m = _TOP.match(spec)
        if m is None:
            if re.match(r"^\s*top\b", spec, re.IGNORECASE):
                raise DataError(
                    f"--holdout {spec!r}: expected 'top P% by COLUMN' or 'top K by COLUMN' "
                    "(e.g. 'top 20% by C', 'top 3 by N'), or a boolean expression."
                )
            return cls(spec=spec, column=None, count=None, percent=False)
        count, pct, col = float(m.group(1)), m.group(2) == "%", m.group(3)
        if count <= 0 or (pct and count >= 100) or (not pct and count != int(count)):
            raise DataError(
                f"--holdout {spec!r}: the amount must be a percentage in (0, 100) or a whole "
                "number of distinct values >= 1."
            )
        return cls(spec=spec, column=col, count=count, percent=pct)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array: True for held-out runs."""
        if self.column is None:
            return np.asarray(evaluate_where(frame, self.spec, option="--holdout"), dtype=bool)
        values = axis_values(frame, self.column)
        assert self.count is not None
        if self.percent:
            k = max(1, math.ceil(self.count / 100.0 * values.size))
            threshold = np.sort(values)[::-1][k - 1]
            return np.asarray(values >= threshold)
        distinct = np.unique(values)[::-1]
        k = int(self.count)
        if k >= distinct.size:
            raise DataError(
                f"--holdout {self.spec!r}: only {distinct.size} distinct values of "
                f"{self.column}; holding out {k} would leave nothing to fit."
            )
        return np.asarray(values >= distinct[k - 1])


def axis_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Numeric values of an ordering column; ``C`` falls back to 6ND."""
    if column in frame.columns:
        v = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        if column == "C" and np.isnan(v).any() and {"N", "D"} <= set(frame.columns):
            v = np.where(
                np.isnan(v),
                training_flops(frame["N"].to_numpy(float), frame["D"].to_numpy(float)),
                v,
            )
    elif column == "C" and {"N", "D"} <= set(frame.columns):
        v = training_flops(frame["N"].to_numpy(float), frame["D"].to_numpy(float))
    else:
        raise DataError(
            f"holdout column {column!r} is not in the runs; columns: {', '.join(map(str, frame.columns))}."
        )
    if np.isnan(v).any():
        raise DataError(f"holdout column {column!r} has missing or non-numeric values.")
    return np.asarray(v, dtype=float)
