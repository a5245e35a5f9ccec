"""Cell and column checks for runs tables: numbers, flags, required columns, derived compute.

Problems are collected in a :class:`Problems` and raised together as one
:class:`~scalinglab.errors.DataError`. Each bad cell is reported once (a non-numeric N cell is
"non-numeric", not also "missing"), and long row lists are cut: "rows 3, 7, 9 and 1,204 more".
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.data import schema
from scalinglab.errors import DataError

MAX_LISTED = 10
_TRUE = frozenset({"true", "1", "1.0"})
_FALSE = frozenset({"false", "0", "0.0"})

#: Column names that usually mean N, D or C: a file with one of them and without the canonical
#: column is an error that suggests ``--map`` rather than a table with no N, D or C.
ALIASES: dict[str, tuple[str, ...]] = {
    "N": (
        "n",
        "params",
        "parameters",
        "n_params",
        "num_params",
        "nparams",
        "param_count",
        "n_parameters",
        "num_parameters",
        "model_size",
    ),
    "D": (
        "d",
        "tokens",
        "n_tokens",
        "num_tokens",
        "ntokens",
        "train_tokens",
        "training_tokens",
        "tokens_seen",
        "dataset_size",
    ),
    "C": ("c", "flops", "flop", "compute", "train_flops", "training_flops", "total_flops"),
}
_METRIC_HINTS = ("loss", "val_loss", "train_loss")


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidate, or ``""`` when none is close."""
    names = [str(c) for c in candidates]
    same_case = [c for c in names if c.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def capped(items: Sequence[str], cap: int = MAX_LISTED, *, sep: str = ", ") -> str:
    """``"a, b, c"``, or the first ``cap`` items and ``"and 1,204 more"``."""
    shown = sep.join(items[:cap])
    rest = len(items) - cap
    return f"{shown} and {rest:,} more" if rest > 0 else shown


def rows_text(index: Iterable[Any], cap: int = MAX_LISTED) -> str:
    """Row numbers for a message, at most ``cap`` of them."""
    return capped([str(r) for r in index], cap)


def values_text(values: Iterable[Any], cap: int = MAX_LISTED) -> str:
    """Cell values for a message (strings quoted), at most ``cap`` of them."""
    return capped([repr(v) if isinstance(v, str) else str(v) for v in values], cap)


class Problems:
    """Collects every validation problem so they are raised together."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        """Record one problem; ``text`` is prefixed with the source name."""
        self.lines.append(f"{self.name}: {text}")

    def raise_if_any(self) -> None:
        """Raise one DataError listing every problem recorded so far."""
        if self.lines:
            raise DataError("\n".join(self.lines))


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date | dt.time | dt.timedelta | np.datetime64 | np.timedelta64)


def _not_numbers(raw: pd.Series) -> tuple[pd.Series, str]:
    """Cells that hold true/false or dates where a number belongs, and what they are."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.notna(), "true/false values"
    if pd.api.types.is_datetime64_any_dtype(raw.dtype) or pd.api.types.is_timedelta64_dtype(
        raw.dtype
    ):
        return raw.notna(), "dates or times"
    if raw.dtype == object:
        flags = raw.map(lambda v: isinstance(v, bool | np.bool_))
        dates = raw.map(_is_date)
        if flags.any():
            return flags.astype(bool), "true/false values"
        if dates.any():
            return dates.astype(bool), "dates or times"
    return pd.Series(False, index=raw.index), ""


def to_number(df: pd.DataFrame, col: str, problems: Problems) -> pd.Series:
    """Convert ``col`` to float in place; return the mask of cells already reported as bad."""
    raw = df[col]
    wrong, what = _not_numbers(raw)
    if wrong.any():
        problems.add(
            f"column {col!r} holds {what} at rows {rows_text(df.index[wrong])} (values: "
            f"{values_text(raw[wrong])}); it must hold numbers. Fix the column or map "
            "another one onto it with --map."
        )
        raw = raw.where(~wrong, None)
        if not pd.api.types.is_object_dtype(raw.dtype):
            raw = raw.astype(object)
    converted = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = converted.isna() & raw.notna()
    if bad.any():
        problems.add(
            f"column {col!r} has non-numeric values at rows {rows_text(df.index[bad])} "
            f"(values: {values_text(raw[bad])}). Fix or remove those cells."
        )
    df[col] = converted
    return bad | wrong


def check_finite(
    df: pd.DataFrame, col: str, problems: Problems, *, missing_ok: bool, skip: pd.Series
) -> pd.Series:
    """Report missing (unless ``missing_ok``) and infinite cells not in ``skip``; return the
    mask of cells reported so far."""
    values = df[col]
    missing = values.isna() & ~skip
    if missing.any() and not missing_ok:
        problems.add(
            f"column {col!r} has missing values at rows {rows_text(df.index[missing])}. "
            "Fill in or remove those rows."
        )
    infinite = pd.Series(np.isinf(values.to_numpy(dtype="float64")), index=df.index) & ~skip
    if infinite.any():
        problems.add(
            f"column {col!r} has infinite values at rows {rows_text(df.index[infinite])} "
            f"(values: {values_text(values[infinite])}). Fix or remove those cells."
        )
    reported = skip | infinite
    return reported | missing if not missing_ok else reported


def to_flag(df: pd.DataFrame, col: str, problems: Problems) -> None:
    """Convert a true/false column in place (true/false/1/0, any case)."""
    raw = df[col]
    if pd.api.types.is_bool_dtype(raw):
        df[col] = raw.astype(bool)
        return
    text = raw.map(lambda v: str(v).strip().lower(), na_action="ignore")
    bad = ~(text.isin(_TRUE | _FALSE) | raw.isna())
    if bad.any():
        problems.add(
            f"column {col!r} must be true/false; rows {rows_text(df.index[bad])} have "
            f"{values_text(raw[bad])}."
        )
    df[col] = text.isin(_TRUE).astype(bool)


def convert_other(df: pd.DataFrame, col: str) -> None:
    """Other columns: numbers become float, anything else stays a string column."""
    raw = df[col]
    if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_float_dtype(raw):
        return
    converted = pd.to_numeric(raw, errors="coerce")
    if not (converted.isna() & raw.notna()).any():
        df[col] = converted.astype("float64")
    else:
        df[col] = raw.astype("str").where(raw.notna(), np.nan)


def convert_and_check(
    df: pd.DataFrame, metric_cols: Sequence[str], problems: Problems, *, metrics_may_miss: bool
) -> None:
    """Convert every column to its type and check the values, in place."""
    reported: dict[str, pd.Series] = {}
    for col in df.columns:
        if col in schema.NUMERIC_COLUMNS or col in metric_cols:
            reported[col] = to_number(df, col, problems)
        elif col in schema.FLAG_COLUMNS:
            to_flag(df, col, problems)
        elif col not in ("run_id", "metric"):
            convert_other(df, col)
    if "run_id" in df.columns:
        missing = df["run_id"].isna()
        if missing.any():
            problems.add(
                f"column 'run_id' has missing values at rows {rows_text(df.index[missing])}. "
                "Fill them in or remove the column to number runs by row."
            )
        df["run_id"] = df["run_id"].astype("str")
    for col, skip in reported.items():
        if col in schema.POSITIVE_COLUMNS:
            skip = check_finite(df, col, problems, missing_ok=False, skip=skip)
            bad = (df[col] <= 0) & ~skip
            if bad.any():
                problems.add(
                    f"column {col!r} has non-positive values at rows "
                    f"{rows_text(df.index[bad])} (values: {values_text(df[col][bad])}). "
                    f"{col} must be > 0 ({schema.UNITS[col]})."
                )
        else:
            missing_ok = metrics_may_miss if col in metric_cols else True
            check_finite(df, col, problems, missing_ok=missing_ok, skip=skip)


def _lookalikes(target: str, columns: Sequence[str]) -> list[str]:
    names = ALIASES[target]
    return [
        c
        for c in columns
        if c.lower() in names or difflib.get_close_matches(c.lower(), names, n=1, cutoff=0.85)
    ]


def check_columns(df: pd.DataFrame, metric_cols: Sequence[str], problems: Problems) -> None:
    """A look-alike of a missing N, D or C column is an error that suggests ``--map``.

    A table may lack N, D and C (learning curves have another x), but a column named like one
    of them (``n_params``, ``tokens``, ``flops``) when the canonical one is absent is almost
    always a forgotten ``--map``.
    """
    free = [c for c in df.columns if c not in schema.RESERVED_COLUMNS and c not in metric_cols]
    for target in ("N", "D", "C"):
        if target in df.columns:
            continue
        for col in _lookalikes(target, free):
            problems.add(
                f"no column {target!r} ({schema.UNITS[target]}), but column {col!r} looks like "
                f"it: add --map {target}={col} (or rename the column to {target})."
            )


def no_metric_message(columns: Sequence[str]) -> str:
    """Why a table without any metric column cannot be imported, with the ``--map`` fix."""
    hints = [
        (c, close[0])
        for c in columns
        if c not in schema.RESERVED_COLUMNS
        and (close := difflib.get_close_matches(c.lower(), _METRIC_HINTS, n=1, cutoff=0.6))
    ]
    fix = (
        "; ".join(f"column {c!r} looks like {m!r}: add --map {m}={c}" for c, m in hints)
        if hints
        else "name the metric column loss (or loss_*, *_loss, err_*, acc_*) or add "
        "--map loss=COLUMN"
    )
    return (
        f"no metric column among {capped([repr(c) for c in columns])}: metrics are "
        f"recognised by name (loss, val_loss, train_loss, loss_*, *_loss, err_*, acc_*). {fix}."
    )


def check_derived(df: pd.DataFrame, problems: Problems) -> None:
    """Derived C = 6ND (or D = C/6N) must be finite: an overflow means N or D is wrong."""
    for col, flag, inputs in (("C", "C_derived", "N and D"), ("D", "D_derived", "C and N")):
        bad = df[flag].to_numpy(dtype=bool) & ~np.isfinite(df[col].to_numpy(dtype="float64"))
        if bad.any():
            shown = df.loc[bad, ["N", "D", "C"]].head(MAX_LISTED)
            cells = "; ".join(
                f"N={r.N:g}, D={r.D:g}, C={r.C:g}" for r in shown.itertuples(index=False)
            )
            problems.add(
                f"derived {col} overflows (is not finite) at rows {rows_text(df.index[bad])} "
                f"({cells}). Check the units of {inputs}."
            )
