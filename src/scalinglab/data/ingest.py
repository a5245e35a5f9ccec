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

The work is split by job: :mod:`~scalinglab.data.readers` reads files as they are,
:mod:`~scalinglab.data.validate` converts and checks cells and columns,
:mod:`~scalinglab.data.reshape` maps, de-duplicates and pivots; this module puts them together
and writes tables back out (:func:`write_runs`) in a form that :func:`read_runs` reads back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from scalinglab.data import schema
from scalinglab.data.readers import SUPPORTED_EXTENSIONS, check_header, read_table
from scalinglab.data.reshape import (
    apply_mapping,
    check_conflicts,
    drop_exact_duplicates,
    pivot_long,
)
from scalinglab.data.validate import (
    Problems,
    check_columns,
    check_derived,
    convert_and_check,
    rows_text,
    suggest,
)
from scalinglab.errors import DataError

__all__ = [
    "ROW_INDEX",
    "SUPPORTED_EXTENSIONS",
    "apply_mapping",
    "build_runs",
    "finish_runs",
    "read_runs",
    "read_table",
    "suggest",
    "write_runs",
]

ROW_INDEX = "source_row"


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


def _long_to_wide(
    df: pd.DataFrame, *, name: str, stem: str, problems: Problems, notices: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Check and pivot a long-form table; return it wide with its metric columns."""
    check_columns(df, ["metric", "value"], problems)
    missing_name = df["metric"].isna()
    if missing_name.any():
        problems.add(
            f"column 'metric' has missing values at rows "
            f"{rows_text(df.index[missing_name])}. Fill in or remove those rows."
        )
    df["metric"] = df["metric"].astype("str")
    convert_and_check(df, ["value"], problems, metrics_may_miss=False)
    problems.raise_if_any()
    df = drop_exact_duplicates(df, name=name, notices=notices)
    check_conflicts(df, [c for c in df.columns if c != "value"], problems, "value")
    problems.raise_if_any()
    return pivot_long(df, stem=stem, problems=problems)


def _check_wide(
    df: pd.DataFrame,
    metric_cols: list[str],
    *,
    name: str,
    problems: Problems,
    notices: list[str],
) -> pd.DataFrame:
    """Check a wide-form table's columns and cells; return it without exact duplicates."""
    check_columns(df, metric_cols, problems)
    problems.raise_if_any()
    convert_and_check(df, metric_cols, problems, metrics_may_miss=False)
    problems.raise_if_any()
    df = drop_exact_duplicates(df, name=name, notices=notices)
    ident = [c for c in df.columns if c not in metric_cols]
    check_conflicts(df, ident, problems, "metric values")
    problems.raise_if_any()
    return df


def _check_declared(
    declared: Sequence[str], metric_cols: Sequence[str], columns: Sequence[str], *, long_form: bool
) -> list[str]:
    problems: list[str] = []
    for m in declared:
        if m in schema.RESERVED_COLUMNS:
            problems.append(f"{m!r} is a reserved column and cannot be a metric.")
            continue
        known = list(metric_cols) if long_form else list(columns)
        if m not in known:
            where = "metric names" if long_form else "columns"
            problems.append(f"declared metric {m!r} is not among the {where}{suggest(m, known)}.")
    return problems


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
    check_header(raw.columns, name=name)
    df = raw.copy()
    df.columns = [str(c) for c in df.columns]
    df.index = pd.RangeIndex(1, len(df) + 1, name=ROW_INDEX)
    df = apply_mapping(df, mapping, name=name)
    problems = Problems(name)
    notices: list[str] = []
    long_form = "metric" in df.columns and "value" in df.columns
    declared = list(dict.fromkeys(metrics))
    if long_form:
        df, metric_cols = _long_to_wide(
            df, name=name, stem=stem, problems=problems, notices=notices
        )
    else:
        metric_cols = [
            c
            for c in df.columns
            if c not in schema.RESERVED_COLUMNS and (schema.is_metric_name(c) or c in declared)
        ]
    for line in _check_declared(declared, metric_cols, list(df.columns), long_form=long_form):
        problems.add(line)
    problems.raise_if_any()
    if not long_form:
        df = _check_wide(df, metric_cols, name=name, problems=problems, notices=notices)
    if "run_id" not in df.columns:
        df.insert(
            0, "run_id", pd.Series([f"{stem}:{r}" for r in df.index], index=df.index, dtype="str")
        )
    df = schema.derive_compute(df, derived_in_source=derived_in_source)
    check_derived(df, problems)
    problems.raise_if_any()
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


def _to_long(table: pd.DataFrame, metrics: Sequence[str], path: Path) -> pd.DataFrame:
    """The wide table in long form: one row per run and metric value present."""
    clash = [c for c in ("metric", "value") if c in table.columns]
    if clash:
        raise DataError(
            f"{path}: cannot export: metric values must be written in long form (some runs "
            f"lack a metric, or a metric's name is not recognised), but the table already has "
            f"columns {clash}. Rename them first."
        )
    ident = [c for c in table.columns if c not in metrics]
    long = table.melt(id_vars=ident, value_vars=list(metrics), var_name="metric")
    long = long.dropna(subset=["value"])
    # keep each run's rows together, in the order of the wide table
    order = pd.Series(range(len(table))).repeat(len(metrics)).to_numpy()
    return (
        long.assign(_order=order[long.index])
        .sort_values("_order", kind="stable")
        .drop(columns="_order")
    )


def _exportable(df: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, bool]:
    """The table to write and whether it goes in long form, so that it reads back the same."""
    metrics = [str(m) for m in df.attrs.get("metrics", []) if m in df.columns]
    table = df.drop(columns=[c for c in ("N", "D", "C") if c in df and df[c].isna().all()])
    partial = [c for c in ("N", "D", "C") if c in table and table[c].isna().any()]
    if partial:
        col = partial[0]
        raise DataError(
            f"{path}: cannot export: column {col} is missing for {int(table[col].isna().sum())} "
            f"of {len(table)} runs but present for the others (runs from different imports?), "
            "and a blank N, D or C cell does not read back. Export one import at a time "
            "(--import-id)."
        )
    if not metrics:
        return table.reset_index(drop=True), False
    values = table[metrics]
    no_metric = values.isna().all(axis=1)
    if no_metric.any():
        raise DataError(
            f"{path}: cannot export: rows {rows_text(table.index[no_metric])} have no metric "
            "value, and a run without one does not read back. Filter them out first."
        )
    unnamed = [m for m in metrics if not schema.is_metric_name(m)]
    long = bool(unnamed) or bool(values.isna().any().any())
    table = table.reset_index(drop=True)
    return (_to_long(table, metrics, path), True) if long else (table, False)


def write_runs(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a runs table to CSV or Parquet (chosen by the extension) so that :func:`read_runs`
    reads it back as the same table: the same columns, values and metrics, with rows numbered
    from 1 (and, from long form, the metric columns placed after the others).

    Wide form when every run has every metric and each metric's name is recognised
    (:func:`~scalinglab.data.schema.is_metric_name`); long form (``metric``, ``value``)
    otherwise, because a blank metric cell or an unrecognised metric name would not read back.
    N, D and C columns that are entirely missing are left out; one missing for some rows only,
    or a run with no metric value, cannot be written so that it reads back, and is an error.
    """
    out_path = Path(path)
    suffix = out_path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise DataError(
            f"{out_path}: cannot export to {suffix or '(no extension)'!r}; "
            "use a .csv or .parquet path."
        )
    table, _ = _exportable(df, out_path)
    try:
        if suffix == ".csv":
            table.to_csv(out_path, index=False)
        else:
            table.to_parquet(out_path, index=False)
    except OSError as exc:
        raise DataError(f"{out_path}: cannot write: {exc}") from exc
    return out_path
