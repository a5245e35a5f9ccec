"""The variables a law reads from a runs table, validated (positive, finite, present)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglab.errors import DataError, FitError
from scalinglab.laws.base import FloatArray, Law

_VARIABLE_MEANING = {
    "N": "model size in parameters (map it with --map N=COLUMN)",
    "D": "training tokens (map it with --map D=COLUMN, or give C and N to derive it)",
    "C": "training compute in FLOP (map it with --map C=COLUMN)",
    "x": "the variable of a one-variable law (choose it with --x COLUMN)",
}


def law_variables(frame: pd.DataFrame, law: Law, where: str) -> dict[str, FloatArray]:
    if law.prepare is not None:
        return law.prepare(frame)
    X: dict[str, FloatArray] = {}
    for v in law.variables:
        if v not in frame.columns:
            raise FitError(
                f"law {law.name!r} needs column {v!r}: {_VARIABLE_MEANING.get(v, v)}; "
                f"{where} has columns {', '.join(map(str, frame.columns))}."
            )
        col = pd.to_numeric(frame[v], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(col) | (col <= 0)
        if bad.any():
            rows = np.flatnonzero(bad)
            shown = ", ".join(f"{i + 1} ({plain(frame[v].iloc[i])})" for i in rows[:20])
            more = f" and {rows.size - 20} more" if rows.size > 20 else ""
            raise DataError(
                f"{where}: column {v!r} must be a positive finite number for law {law.name!r}; "
                f"bad at rows {shown}{more}. Fix or exclude those runs (e.g. --where)."
            )
        X[v] = col
    return X


def plain(value: object) -> str:
    """A cell as a user wrote it: 0.0, 'abc', nan (not numpy's np.float64(0.0))."""
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)
