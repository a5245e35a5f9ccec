"""Column checks shared by the laws whose variables are not the default N, D, C, x columns.

A law that needs an extra column (experts, parallel streams, precision bits...) reads it with
:func:`numeric_columns` from its ``prepare`` hook, so that a missing column is reported with
what it means and how to map it, and bad values are listed row by row (all at once), in the
same template as :func:`scalinglab.fit.api._check_variables`.

Not a law module: the registry skips modules whose name starts with ``_``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.errors import DataError, FitError
from scalinglab.laws.base import FloatArray

if TYPE_CHECKING:
    import pandas as pd


# rows listed in an error message before "and K more"
_SHOWN = 20


@dataclass(frozen=True)
class Column:
    """A numeric column a law reads. Values must be finite and above ``lower`` (at or above it
    when ``closed``); ``upper`` likewise bounds them from above (``None``: no bound)."""

    name: str
    meaning: str  # what it is and its unit, e.g. "number of experts E (1 for a dense model)"
    lower: float = 0.0
    closed: bool = False
    upper: float | None = None

    def describe_range(self) -> str:
        lo = f"{'>=' if self.closed else '>'} {self.lower:g}"
        return lo if self.upper is None else f"{lo} and <= {self.upper:g}"


def require_columns(frame: pd.DataFrame, law: str, columns: Sequence[Column]) -> None:
    """Raise :class:`FitError` naming every missing column, its meaning and how to map it."""
    missing = [c for c in columns if c.name not in frame.columns]
    if not missing:
        return
    needs = "; ".join(
        f"{c.name!r}: {c.meaning} (map it with --map {c.name}=COLUMN)" for c in missing
    )
    raise FitError(
        f"law {law!r} needs column{'s' if len(missing) > 1 else ''} {needs}. "
        f"The table has columns {', '.join(map(str, frame.columns))}."
    )


def _show(value: object) -> str:
    """A cell as the user wrote it: numbers plainly (0.0, nan, 5.5), anything else repr'd."""
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(float(value)) if isinstance(value, float | np.floating) else str(int(value))
    return repr(value)


def bad_rows_message(frame: pd.DataFrame, name: str, bad: np.ndarray) -> str:
    """'3 (0.0), 7 (nan) and K more': 1-based rows of ``frame`` where ``bad`` is true."""
    rows = np.flatnonzero(bad)
    shown = ", ".join(f"{i + 1} ({_show(frame[name].iloc[i])})" for i in rows[:_SHOWN])
    more = f" and {rows.size - _SHOWN} more" if rows.size > _SHOWN else ""
    return shown + more


def numeric_columns(
    frame: pd.DataFrame, law: str, columns: Sequence[Column], where: str = "runs"
) -> dict[str, FloatArray]:
    """The columns as float arrays, after checking they exist and hold valid values.

    Raises :class:`FitError` for missing columns (all named at once) and :class:`DataError` for
    non-numeric, non-finite or out-of-range values (every bad row listed, 1-based).
    """
    import pandas as pd

    require_columns(frame, law, columns)
    out: dict[str, FloatArray] = {}
    for c in columns:
        v = pd.to_numeric(frame[c.name], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(v) | ((v < c.lower) if c.closed else (v <= c.lower))
            if c.upper is not None and math.isfinite(c.upper):
                bad |= v > c.upper
        if bad.any():
            raise DataError(
                f"{where}: column {c.name!r} ({c.meaning}) must be a finite number "
                f"{c.describe_range()} for law {law!r}; bad at rows "
                f"{bad_rows_message(frame, c.name, bad)}. Fix or exclude those runs (e.g. --where)."
            )
        out[c.name] = v
    return out


#: DeepSeek-AI 2024's compute: C = M D, M the non-embedding FLOPs per token (their eq. 2).
DEEPSEEK_C = Column(
    "C",
    "training compute C = M D in FLOP, M the non-embedding FLOPs per token (DeepSeek-AI 2024, "
    "eq. 2: M = 72 n_layer d_model^2 + 12 n_layer d_model l_seq) times the tokens D, not 6ND",
)


def deepseek_compute(frame: pd.DataFrame, law: str) -> dict[str, FloatArray]:
    """The ``C`` column for DeepSeek's compute laws; rows whose C scalinglab derived as 6ND
    (``C_derived`` true) are refused, because DeepSeek's C = M D differs from 6ND."""
    X = numeric_columns(frame, law, (DEEPSEEK_C,))
    if "C_derived" in frame.columns:
        flags = frame["C_derived"]
        derived = flags.where(flags.notna(), False).astype(bool).to_numpy()
        if derived.any():
            raise DataError(
                f"law {law!r} needs C = M D (non-embedding FLOPs per token x tokens, DeepSeek-AI "
                "2024 eq. 2), but C was derived as 6ND (C_derived) at rows "
                f"{bad_rows_message(frame, 'C', derived)}. Compute M D for those runs and give "
                "it with --map C=COLUMN."
            )
    return X
