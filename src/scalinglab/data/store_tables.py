"""The tables of the runs store: their DDL, and the conversion of a runs table to and from them.

See :mod:`scalinglab.data.store` for the table layout. The wide canonical table of one import is
stored long (one row per run and metric) with every non-canonical column kept as JSON, and
rebuilt exactly from the column order and kinds recorded in ``imports.info``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from scalinglab._version import SCHEMA_VERSION
from scalinglab.data import ingest
from scalinglab.errors import StoreError

logger = logging.getLogger(__name__)

#: Upgrade steps: ``MIGRATIONS[v]`` turns a schema-``v`` store into a schema-``v + 1`` store.
#: Schema 1 is the first, so there are none yet.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {}

DDL = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE imports (import_id TEXT PRIMARY KEY, source TEXT NOT NULL, sha256 TEXT NOT NULL,"
    " n_rows BIGINT NOT NULL, created_at TIMESTAMP NOT NULL, info TEXT NOT NULL)",
    "CREATE TABLE runs (import_id TEXT NOT NULL, run_id TEXT NOT NULL, source_row BIGINT NOT NULL,"
    " N DOUBLE, D DOUBLE, C DOUBLE, C_derived BOOLEAN NOT NULL, D_derived BOOLEAN NOT NULL,"
    " metric TEXT, value DOUBLE, attrs TEXT NOT NULL)",
    "CREATE TABLE fits (fit_id TEXT PRIMARY KEY, created_at TIMESTAMP NOT NULL, law TEXT NOT NULL,"
    " source TEXT NOT NULL, json TEXT NOT NULL)",
)
RUN_COLUMNS = (
    "import_id",
    "run_id",
    "source_row",
    "N",
    "D",
    "C",
    "C_derived",
    "D_derived",
    "metric",
    "value",
    "attrs",
)


def json_value(value: Any) -> Any:
    """A cell as JSON: NaN and None become null, numpy scalars plain Python values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def kind(series: pd.Series) -> str:
    """How a column is rebuilt from JSON: \"bool\", \"float\" or \"str\"."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "float"
    return "str"


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the tables in the main schema (empty for a new file)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables of the current schema."""
    for statement in DDL:
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])


def schema_version(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """The schema version of the store at ``path``; an error when it is not a store this
    scalinglab can read."""
    if "meta" not in tables(con):
        raise StoreError(
            f"{path}: a DuckDB file but not a scalinglab store (no meta "
            "table). Use another --store path."
        )
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise StoreError(f"{path}: store has no schema_version; it is damaged.")
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: created by a newer scalinglab (schema {version}; "
            f"this one reads schema {SCHEMA_VERSION}); upgrade scalinglab."
        )
    return version


def upgrade(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    in_transaction: Callable[
        [duckdb.DuckDBPyConnection, Callable[[duckdb.DuckDBPyConnection], None]], None
    ],
) -> None:
    """Apply :data:`MIGRATIONS` one schema at a time, each step in its own transaction."""
    version = schema_version(con, path)
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise StoreError(
                f"{path}: no migration from schema {version} to "
                f"{version + 1}; export the runs with an older scalinglab."
            )
        target = version + 1

        def migrate(con: duckdb.DuckDBPyConnection, step: Any = step, target: int = target) -> None:
            step(con)
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(target)])

        in_transaction(con, migrate)
        logger.info("migrated store %s to schema %d", path, target)
        version = target


def long_rows(
    df: pd.DataFrame, import_id: str, metrics: list[str], extra: list[str]
) -> pd.DataFrame:
    attrs = [
        json.dumps({c: json_value(v) for c, v in zip(extra, values, strict=True)}, allow_nan=False)
        for values in df[extra].itertuples(index=False, name=None)
    ]
    base = pd.DataFrame(
        {
            "import_id": import_id,
            "run_id": df["run_id"].astype(str).to_numpy(),
            "source_row": np.asarray(df.index, dtype="int64"),
            "N": df["N"].to_numpy(dtype="float64"),
            "D": df["D"].to_numpy(dtype="float64"),
            "C": df["C"].to_numpy(dtype="float64"),
            "C_derived": df["C_derived"].to_numpy(dtype=bool),
            "D_derived": df["D_derived"].to_numpy(dtype=bool),
            "attrs": attrs,
        }
    )
    parts = []
    has_any = np.zeros(len(df), dtype=bool)
    for m in metrics:
        values = df[m].to_numpy(dtype="float64")
        present = ~np.isnan(values)
        has_any |= present
        parts.append(base.loc[present].assign(metric=m, value=values[present]))
    # a run without any metric value still gets one row, so that no run is lost
    parts.append(base.loc[~has_any].assign(metric=None, value=np.nan))
    long: pd.DataFrame = pd.concat(parts, ignore_index=True)[list(RUN_COLUMNS)]
    return long


def wide_table(con: duckdb.DuckDBPyConnection, import_id: str) -> pd.DataFrame:
    source, info_text = con.execute(
        "SELECT source, info FROM imports WHERE import_id = ?", [import_id]
    ).fetchall()[0]
    info = json.loads(info_text)
    rows = con.execute(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE import_id = ? "
        "ORDER BY source_row, metric",
        [import_id],
    ).df()
    base = rows.drop_duplicates("source_row").set_index("source_row")
    table = base[["run_id", "N", "D", "C", "C_derived", "D_derived"]].copy()
    others = pd.DataFrame([json.loads(a) for a in base["attrs"]], index=base.index)
    measured = rows.dropna(subset=["metric"])
    values = measured.pivot(index="source_row", columns="metric", values="value")
    table = pd.concat([table, others, values.reindex(base.index)], axis=1)
    for col in info["metrics"]:
        if col not in table.columns:
            table[col] = np.nan
    for col, kind in info["kinds"].items():
        if col not in table.columns:
            table[col] = np.nan
        if kind == "float":
            table[col] = table[col].astype("float64")
        elif kind == "bool":
            table[col] = table[col].astype(bool)
        else:
            table[col] = table[col].astype("str").where(table[col].notna(), np.nan)
    table = table[info["columns"]]
    table.index = table.index.astype("int64")
    table.columns.name = None
    return ingest.finish_runs(
        table,
        metrics=info["metrics"],
        source=str(source),
        default_metric=info["default_metric"],
        notices=info["notices"],
        long_form=info["long_form"],
    )
