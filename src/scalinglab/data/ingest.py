"""Read runs files (CSV, Parquet, JSON) into the canonical runs table, validating every cell.

Row numbers in messages are 1-based data rows: the header does not count, so row 1 is the first
line of data in a CSV file, the first object of a JSON array or the first line of a JSON-lines
file. The returned table keeps them as its index (named ``source_row``), so later messages can
point back into the file.

Wide form has one column per metric; long form has ``metric`` and ``value`` columns and is
pivoted to wide (one row per distinct combination of the other columns). Problems are collected
and raised together as one :class:`~scalinglab.errors.DataError`; nothing is silently dropped,
clamped or rounded. The one thing fixed automatically, exact duplicate rows, is reported as a
WARNING log record and in ``df.attrs["notices"]``.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.data import schema
from scalinglab.errors import DataError

logger = logging.getLogger(__name__)

ROW_INDEX = "source_row"
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".parquet", ".pq", ".json", ".jsonl", ".ndjson")
_SUPPORTED_TEXT = (
    ".csv, .parquet/.pq, .json (an array of objects, or JSON lines), .jsonl/.ndjson (JSON lines)"
)
_MAX_LISTED = 10
_TRUE = frozenset({"true", "1", "1.0"})
_FALSE = frozenset({"false", "0", "0.0"})


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidate, or ``""`` when none is close."""
    names = [str(c) for c in candidates]
    same_case = [c for c in names if c.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _rows(index: Iterable[Any]) -> str:
    return ", ".join(str(r) for r in index)


def _values(values: Iterable[Any]) -> str:
    return ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values)


def read_runs(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    mapping: Mapping[str, str] | None = None,
    metrics: Sequence[str] = (),
) -> pd.DataFrame:
    """Read runs into the canonical wide runs table (see :mod:`scalinglab.data.schema`).

    ``source`` is a bundled dataset name (see :func:`scalinglab.data.datasets.list_datasets`), a
    path to a .csv, .parquet, .json or .jsonl file, or a DataFrame (validated the same way and
    named ``"<dataframe>"`` in messages). ``mapping`` renames source columns, target <- source,
    e.g. ``{"N": "params", "D": "tokens"}``. ``metrics`` declares metric columns whose names are
    not recognised automatically (see :func:`scalinglab.data.schema.is_metric_name`).

    Raises :class:`~scalinglab.errors.DataError` listing every problem found.
    """
    if isinstance(source, pd.DataFrame):
        return build_runs(
            source,
            name="<dataframe>",
            stem="dataframe",
            source="<dataframe>",
            mapping=mapping,
            metrics=metrics,
        )
    text = os.fspath(source)
    from scalinglab.data import datasets  # local import: datasets builds on this module

    if text in datasets.dataset_names():
        return datasets.load_dataset(text, mapping=mapping, metrics=metrics)
    path = Path(text)
    raw = read_table(path)
    return build_runs(
        raw, name=path.name, stem=path.stem, source=text, mapping=mapping, metrics=metrics
    )


def read_table(path: Path) -> pd.DataFrame:
    """Read a runs file as it is, every CSV cell as a string (conversion happens later)."""
    name = path.name
    if not path.exists():
        raise DataError(f"{path}: no such file. Check the path, or pass a bundled dataset name.")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a runs file.")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise DataError(
            f"{name}: unknown file type {suffix or '(no extension)'!r}. "
            f"Supported: {_SUPPORTED_TEXT}."
        )
    if path.stat().st_size == 0:
        raise DataError(f"{name}: the file is empty. It needs a header and at least one row.")
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=True)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = _read_json(path, lines=suffix in (".jsonl", ".ndjson"))
    except DataError:
        raise
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        # pandas' ParserError/EmptyDataError and pyarrow's ArrowInvalid derive from ValueError.
        kind = "CSV" if suffix == ".csv" else suffix.lstrip(".")
        raise DataError(f"{name}: cannot be read as {kind}: {exc}") from exc
    if len(frame) == 0:
        raise DataError(f"{name}: the file has no data rows.")
    return frame


def _read_json(path: Path, *, lines: bool) -> pd.DataFrame:
    name = path.name
    text = path.read_text(encoding="utf-8")
    records: Any
    if not lines:
        try:
            records = json.loads(text)
        except json.JSONDecodeError:
            lines = True  # not one document: try JSON lines before giving up
    if lines:
        records = []
        bad: list[int] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                bad.append(number)
        if bad:
            raise DataError(
                f"{name}: lines {_rows(bad)} are not valid JSON. Expected one JSON object per "
                "line (JSON lines) or a single array of objects."
            )
    if isinstance(records, dict) and all(isinstance(v, list) for v in records.values()):
        return pd.DataFrame(records)  # {"column": [values...]}
    if not isinstance(records, list):
        raise DataError(
            f"{name}: expected an array of objects or JSON lines, got {type(records).__name__}."
        )
    not_objects = [i for i, r in enumerate(records, start=1) if not isinstance(r, dict)]
    if not_objects:
        raise DataError(
            f"{name}: rows {_rows(not_objects)} are not JSON objects. Each row must "
            'be an object such as {"N": 1e8, "D": 2e9, "loss": 3.1}.'
        )
    return pd.DataFrame.from_records(records)


def apply_mapping(
    df: pd.DataFrame, mapping: Mapping[str, str] | None, *, name: str
) -> pd.DataFrame:
    """Rename source columns to their targets (``mapping`` is target <- source)."""
    if not mapping:
        return df
    columns = [str(c) for c in df.columns]
    problems: list[str] = []
    for target, src in mapping.items():
        if src not in columns:
            problems.append(
                f"{name}: mapping {target}={src} names column {src!r}, which is not "
                f"in the file{suggest(src, columns)}. Columns: {', '.join(columns)}."
            )
        elif target != src and target in columns and target not in mapping.values():
            problems.append(
                f"{name}: mapping {target}={src} would replace the existing column "
                f"{target!r}. Map or rename that column too."
            )
    if len(set(mapping.values())) != len(mapping):
        problems.append(f"{name}: the mapping uses a source column twice: {dict(mapping)}.")
    if problems:
        raise DataError("\n".join(problems))
    return df.rename(columns={src: target for target, src in mapping.items()})


class _Problems:
    """Collects every validation problem so they are raised together."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        self.lines.append(f"{self.name}: {text}")

    def raise_if_any(self) -> None:
        if self.lines:
            raise DataError("\n".join(self.lines))


def _to_number(df: pd.DataFrame, col: str, problems: _Problems) -> None:
    raw = df[col]
    if pd.api.types.is_bool_dtype(raw):
        raw = raw.astype("float64")
    converted = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = converted.isna() & raw.notna()
    if bad.any():
        problems.add(
            f"column {col!r} has non-numeric values at rows {_rows(df.index[bad])} "
            f"(values: {_values(raw[bad])}). Fix or remove those cells."
        )
    df[col] = converted


def _check_finite(df: pd.DataFrame, col: str, problems: _Problems, *, missing_ok: bool) -> None:
    values = df[col]
    missing = values.isna()
    if missing.any() and not missing_ok:
        problems.add(
            f"column {col!r} has missing values at rows {_rows(df.index[missing])}. "
            "Fill in or remove those rows."
        )
    infinite = np.isinf(values.to_numpy(dtype="float64"))
    if infinite.any():
        problems.add(
            f"column {col!r} has infinite values at rows {_rows(df.index[infinite])} "
            f"(values: {_values(values[infinite])}). Fix or remove those cells."
        )


def _to_flag(df: pd.DataFrame, col: str, problems: _Problems) -> None:
    raw = df[col]
    if pd.api.types.is_bool_dtype(raw):
        df[col] = raw.astype(bool)
        return
    text = raw.map(lambda v: str(v).strip().lower(), na_action="ignore")
    bad = ~(text.isin(_TRUE | _FALSE) | raw.isna())
    if bad.any():
        problems.add(
            f"column {col!r} must be true/false; rows {_rows(df.index[bad])} have "
            f"{_values(raw[bad])}."
        )
    df[col] = text.isin(_TRUE).astype(bool)


def _convert_other(df: pd.DataFrame, col: str) -> None:
    """Other columns: numbers become float, anything else stays a string column."""
    raw = df[col]
    if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_float_dtype(raw):
        return
    converted = pd.to_numeric(raw, errors="coerce")
    if not (converted.isna() & raw.notna()).any():
        df[col] = converted.astype("float64")
    else:
        df[col] = raw.astype("str").where(raw.notna(), np.nan)


def _convert_and_check(
    df: pd.DataFrame, metric_cols: Sequence[str], problems: _Problems, *, metrics_may_miss: bool
) -> None:
    for col in df.columns:
        if col in schema.NUMERIC_COLUMNS or col in metric_cols:
            _to_number(df, col, problems)
        elif col in schema.FLAG_COLUMNS:
            _to_flag(df, col, problems)
        elif col not in ("run_id", "metric"):
            _convert_other(df, col)
    if "run_id" in df.columns:
        missing = df["run_id"].isna()
        if missing.any():
            problems.add(
                f"column 'run_id' has missing values at rows {_rows(df.index[missing])}. "
                "Fill them in or remove the column to number runs by row."
            )
        df["run_id"] = df["run_id"].astype("str")
    for col in df.columns:
        if col in schema.POSITIVE_COLUMNS:
            _check_finite(df, col, problems, missing_ok=False)
            bad = df[col] <= 0
            if bad.any():
                problems.add(
                    f"column {col!r} has non-positive values at rows "
                    f"{_rows(df.index[bad])} (values: {_values(df[col][bad])}). "
                    f"{col} must be > 0 ({schema.UNITS[col]})."
                )
        elif col in metric_cols:
            _check_finite(df, col, problems, missing_ok=metrics_may_miss)
        elif col in schema.NUMERIC_COLUMNS:
            _check_finite(df, col, problems, missing_ok=True)


def _drop_exact_duplicates(df: pd.DataFrame, *, name: str, notices: list[str]) -> pd.DataFrame:
    dup = df.duplicated(keep="first")
    if not dup.any():
        return df
    rows = list(df.index[dup])
    shown = _rows(rows[:_MAX_LISTED]) + (", ..." if len(rows) > _MAX_LISTED else "")
    notice = f"{name}: dropped {len(rows)} exact duplicate rows (rows {shown})"
    logger.warning("%s", notice)
    notices.append(notice)
    return df.loc[~dup]


def _check_conflicts(
    df: pd.DataFrame, ident: Sequence[str], problems: _Problems, what: str
) -> None:
    if not ident:
        return
    clash = df.duplicated(subset=list(ident), keep=False)
    if not clash.any():
        return
    pairs: list[str] = []
    for _, group in df.loc[clash].groupby(list(ident), dropna=False, sort=False):
        first, *others = list(group.index)
        pairs.extend(f"{first} and {other}" for other in others)
    problems.add(
        f"conflicting duplicates: rows {'; '.join(pairs)} have the same "
        f"{', '.join(ident)} but different {what}. Remove one row of each pair or add a "
        "column that tells them apart (run_id, seed, step)."
    )


def _pivot_long(
    df: pd.DataFrame, *, stem: str, problems: _Problems
) -> tuple[pd.DataFrame, list[str]]:
    ident = [c for c in df.columns if c not in ("metric", "value")]
    if not ident:
        problems.add(
            "long form (metric, value) needs at least one identifying column such as "
            "run_id, N or step."
        )
        problems.raise_if_any()
    if "run_id" not in df.columns:
        # one run per distinct combination of the other columns, numbered by its first row
        gid = df.groupby(ident, dropna=False, sort=False).ngroup()
        first_row = pd.Series(df.index, index=df.index).groupby(gid).transform("min")
        df = df.assign(run_id=[f"{stem}:{r}" for r in first_row])
        ident = ["run_id", *ident]
    key = df.groupby(ident, dropna=False, sort=False).ngroup()
    first = df.loc[~key.duplicated(), ident]
    values = (
        df.assign(_key=key.to_numpy())
        .pivot(index="_key", columns="metric", values="value")
        .set_axis(first.index, axis=0)
    )
    values.columns = [str(c) for c in values.columns]
    clash = [c for c in values.columns if c in ident or c in schema.RESERVED_COLUMNS]
    if clash:
        problems.add(f"metric names {clash} are also column names; rename the metric or column.")
        problems.raise_if_any()
    return pd.concat([first, values], axis=1), list(values.columns)


def build_runs(
    raw: pd.DataFrame,
    *,
    name: str,
    stem: str,
    source: str,
    mapping: Mapping[str, str] | None = None,
    metrics: Sequence[str] = (),
    default_metric: str | None = None,
    derived_in_source: Sequence[str] = (),
) -> pd.DataFrame:
    """Turn a raw table into the canonical runs table (the engine behind :func:`read_runs`).

    ``name`` prefixes messages, ``stem`` prefixes generated run ids (``"<stem>:<row>"``),
    ``source`` goes to ``attrs["source"]``. ``derived_in_source`` names columns ("C", "D") that
    the source computed itself rather than measured.
    """
    if len(raw) == 0:
        raise DataError(f"{name}: the table has no data rows.")
    df = raw.copy()
    df.columns = [str(c) for c in df.columns]
    df.index = pd.RangeIndex(1, len(df) + 1, name=ROW_INDEX)
    df = apply_mapping(df, mapping, name=name)
    problems = _Problems(name)
    notices: list[str] = []
    long_form = "metric" in df.columns and "value" in df.columns
    declared = list(dict.fromkeys(metrics))
    for m in declared:
        if m in schema.RESERVED_COLUMNS:
            problems.add(f"{m!r} is a reserved column and cannot be a metric.")
    if long_form:
        missing_name = df["metric"].isna()
        if missing_name.any():
            problems.add(
                f"column 'metric' has missing values at rows "
                f"{_rows(df.index[missing_name])}. Fill in or remove those rows."
            )
        df["metric"] = df["metric"].astype("str")
        _convert_and_check(df, ["value"], problems, metrics_may_miss=False)
        problems.raise_if_any()
        df = _drop_exact_duplicates(df, name=name, notices=notices)
        ident = [c for c in df.columns if c != "value"]
        _check_conflicts(df, ident, problems, "value")
        problems.raise_if_any()
        df, metric_cols = _pivot_long(df, stem=stem, problems=problems)
    else:
        metric_cols = [
            c
            for c in df.columns
            if c not in schema.RESERVED_COLUMNS and (schema.is_metric_name(c) or c in declared)
        ]
    for m in declared:
        known = metric_cols if long_form else list(df.columns)
        if m not in known and m not in schema.RESERVED_COLUMNS:
            where = "metric names" if long_form else "columns"
            problems.add(f"declared metric {m!r} is not among the {where}{suggest(m, known)}.")
    problems.raise_if_any()
    if not long_form:
        _convert_and_check(df, metric_cols, problems, metrics_may_miss=False)
        problems.raise_if_any()
        df = _drop_exact_duplicates(df, name=name, notices=notices)
        _check_conflicts(df, _identifying(df, metric_cols), problems, "metric values")
        problems.raise_if_any()
    if "run_id" not in df.columns:
        df.insert(
            0, "run_id", pd.Series([f"{stem}:{r}" for r in df.index], index=df.index, dtype="str")
        )
    df = schema.derive_compute(df, derived_in_source=derived_in_source)
    if default_metric is not None and default_metric not in metric_cols:
        raise DataError(f"{name}: default metric {default_metric!r} is not a metric column.")
    return finish_runs(
        df,
        metrics=metric_cols,
        source=source,
        default_metric=default_metric,
        notices=notices,
        long_form=long_form,
    )


def _identifying(df: pd.DataFrame, metric_cols: Sequence[str]) -> list[str]:
    return [c for c in df.columns if c not in metric_cols]


def finish_runs(
    df: pd.DataFrame,
    *,
    metrics: Sequence[str],
    source: str,
    default_metric: str | None,
    notices: Sequence[str] = (),
    long_form: bool = False,
) -> pd.DataFrame:
    """Order the columns canonically and attach the ``attrs`` every runs table carries."""
    first = [c for c in schema.RESERVED_COLUMNS if c in df.columns]
    rest = [c for c in df.columns if c not in first]
    out = df[first + rest].copy()
    out.index.name = ROW_INDEX
    out.attrs = {
        "metrics": list(metrics),
        "source": source,
        "default_metric": default_metric,
        "notices": list(notices),
        "long_form": long_form,
    }
    return out


def write_runs(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a runs table to CSV or Parquet (chosen by the extension) so it reads back the same.

    N, D and C columns that are entirely missing are left out, because :func:`read_runs` treats
    a present but blank N/D/C cell as an error.
    """
    out_path = Path(path)
    table = df.drop(columns=[c for c in ("N", "D", "C") if c in df and df[c].isna().all()])
    suffix = out_path.suffix.lower()
    try:
        if suffix == ".csv":
            table.to_csv(out_path, index=False)
        elif suffix in (".parquet", ".pq"):
            table.reset_index(drop=True).to_parquet(out_path, index=False)
        else:
            raise DataError(
                f"{out_path}: cannot export to {suffix or '(no extension)'!r}; "
                "use a .csv or .parquet path."
            )
    except OSError as exc:
        raise DataError(f"{out_path}: cannot write: {exc}") from exc
    return out_path
