"""The runs store: one DuckDB file holding imported runs and saved fits.

Tables (schema version :data:`scalinglab._version.SCHEMA_VERSION`):

- ``meta(key, value)``: ``schema_version``.
- ``imports(import_id, source, sha256, n_rows, created_at, info)``: one row per import; ``sha256``
  is the hash of the canonical table written as CSV; ``info`` is JSON with the column order and
  types, metrics, default metric, notices and whether the source was long form, so that
  :meth:`Store.runs` rebuilds exactly the table that was imported.
- ``runs(import_id, run_id, source_row, N, D, C, C_derived, D_derived, metric, value, attrs)``:
  long form, one row per run and metric; ``attrs`` is JSON holding every other column.
- ``fits(fit_id, created_at, law, source, json)``: ``fit_id`` is the first 12 hex digits of the
  SHA-256 of the fit JSON.

Each import is one transaction: it is stored completely or not at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import numpy as np
import pandas as pd

from scalinglab._version import SCHEMA_VERSION
from scalinglab.data import ingest, schema
from scalinglab.errors import DataError, NotFittedError, StoreError

logger = logging.getLogger(__name__)

DEFAULT_STORE = "scalinglab.duckdb"
STORE_ENV = "SCALINGLAB_STORE"

#: Upgrade steps: ``MIGRATIONS[v]`` turns a schema-``v`` store into a schema-``v + 1`` store.
#: Schema 1 is the first, so there are none yet.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {}

_DDL = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE imports (import_id TEXT PRIMARY KEY, source TEXT NOT NULL, sha256 TEXT NOT NULL,"
    " n_rows BIGINT NOT NULL, created_at TIMESTAMP NOT NULL, info TEXT NOT NULL)",
    "CREATE TABLE runs (import_id TEXT NOT NULL, run_id TEXT NOT NULL, source_row BIGINT NOT NULL,"
    " N DOUBLE, D DOUBLE, C DOUBLE, C_derived BOOLEAN NOT NULL, D_derived BOOLEAN NOT NULL,"
    " metric TEXT, value DOUBLE, attrs TEXT NOT NULL)",
    "CREATE TABLE fits (fit_id TEXT PRIMARY KEY, created_at TIMESTAMP NOT NULL, law TEXT NOT NULL,"
    " source TEXT NOT NULL, json TEXT NOT NULL)",
)
_RUN_COLUMNS = (
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


def resolve_store_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Store location: ``path`` if given, else ``$SCALINGLAB_STORE``, else ./scalinglab.duckdb."""
    if path:
        return Path(path)
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else Path(DEFAULT_STORE)


def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "float"
    return "str"


class Store:
    """A DuckDB runs store; use as a context manager: ``with Store.open(path) as store: ...``."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self._con = con

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Store:
        """Open (creating if needed) the store at ``path`` (see :func:`resolve_store_path`)."""
        resolved = resolve_store_path(path)
        try:
            con = duckdb.connect(str(resolved))
        except duckdb.Error as exc:
            raise StoreError(
                f"{resolved}: cannot open as a scalinglab store (DuckDB says: "
                f"{exc}). Pass another --store path or move this file."
            ) from exc
        store = cls(resolved, con)
        try:
            store._prepare()
        except BaseException:
            con.close()
            raise
        return store

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._con.close()

    # -- schema -------------------------------------------------------------------------------

    def _tables(self) -> set[str]:
        rows = self._con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def _prepare(self) -> None:
        tables = self._tables()
        if not tables:
            self._transaction(self._create)
            logger.info("created store %s (schema %d)", self.path, SCHEMA_VERSION)
            return
        if "meta" not in tables:
            raise StoreError(
                f"{self.path}: a DuckDB file but not a scalinglab store (no meta "
                "table). Use another --store path."
            )
        row = self._con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            raise StoreError(f"{self.path}: store has no schema_version; it is damaged.")
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: created by a newer scalinglab (schema {version}; "
                f"this one reads schema {SCHEMA_VERSION}); upgrade scalinglab."
            )
        while version < SCHEMA_VERSION:
            step = MIGRATIONS.get(version)
            if step is None:
                raise StoreError(
                    f"{self.path}: no migration from schema {version} to "
                    f"{version + 1}; export the runs with an older scalinglab."
                )
            target = version + 1

            def migrate(
                con: duckdb.DuckDBPyConnection, step: Any = step, target: int = target
            ) -> None:
                step(con)
                con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(target)])

            self._transaction(migrate)
            logger.info("migrated store %s to schema %d", self.path, target)
            version = target

    def _create(self, con: duckdb.DuckDBPyConnection) -> None:
        for statement in _DDL:
            con.execute(statement)
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])

    def _transaction(self, work: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
        """Run ``work`` inside BEGIN ... COMMIT; ROLLBACK on any exception."""
        self._con.execute("BEGIN TRANSACTION")
        try:
            work(self._con)
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    # -- runs ---------------------------------------------------------------------------------

    def import_runs(self, df: pd.DataFrame, *, source: str) -> str:
        """Store a canonical runs table (from :func:`~scalinglab.data.read_runs`); return its id."""
        metrics = [str(m) for m in df.attrs.get("metrics", [])]
        missing = [c for c in (*schema.CANONICAL_COLUMNS, *metrics) if c not in df.columns]
        if missing:
            raise DataError(
                f"cannot import: not a canonical runs table (missing {missing}); "
                "read it with read_runs first."
            )
        extra = [c for c in df.columns if c not in schema.CANONICAL_COLUMNS and c not in metrics]
        info = {
            "columns": [str(c) for c in df.columns],
            "kinds": {str(c): _kind(df[c]) for c in df.columns},
            "metrics": metrics,
            "default_metric": df.attrs.get("default_metric"),
            "notices": list(df.attrs.get("notices", [])),
            "long_form": bool(df.attrs.get("long_form", False)),
        }
        sha = hashlib.sha256(df.to_csv().encode()).hexdigest()
        import_id = uuid.uuid4().hex[:12]
        rows = self._long_rows(df, import_id, metrics, extra)

        def work(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(
                "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?)",
                [
                    import_id,
                    source,
                    sha,
                    len(df),
                    datetime.now(UTC).replace(tzinfo=None),
                    json.dumps(info),
                ],
            )
            self._insert_run_rows(con, rows)

        try:
            self._transaction(work)
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: import failed and was rolled back: {exc}") from exc
        logger.info("imported %d runs from %s as %s", len(df), source, import_id)
        return import_id

    @staticmethod
    def _long_rows(
        df: pd.DataFrame, import_id: str, metrics: list[str], extra: list[str]
    ) -> pd.DataFrame:
        attrs = [
            json.dumps(
                {c: _json_value(v) for c, v in zip(extra, values, strict=True)}, allow_nan=False
            )
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
        long: pd.DataFrame = pd.concat(parts, ignore_index=True)[list(_RUN_COLUMNS)]
        return long

    def _insert_run_rows(self, con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
        con.register("_incoming_runs", rows)
        try:
            con.execute(f"INSERT INTO runs SELECT {', '.join(_RUN_COLUMNS)} FROM _incoming_runs")
        finally:
            con.unregister("_incoming_runs")

    def _import_ids(self) -> list[str]:
        rows = self._con.execute("SELECT import_id FROM imports ORDER BY created_at, import_id")
        return [str(r[0]) for r in rows.fetchall()]

    def _resolve_import(self, import_id: str) -> str:
        known = self._import_ids()
        matches = [i for i in known if i.startswith(import_id)]
        if len(matches) != 1:
            why = "matches several imports" if matches else "is not in the store"
            raise StoreError(
                f"{self.path}: import id {import_id!r} {why}. Known imports: "
                f"{', '.join(known) or '(none)'} (see 'scalinglab runs list')."
            )
        return matches[0]

    def runs(self, import_id: str | None = None) -> pd.DataFrame:
        """The canonical wide runs table of one import (a unique id prefix is enough).

        ``None`` means every import, concatenated in import order.
        """
        if import_id is not None:
            return self._runs_of(self._resolve_import(import_id))
        ids = self._import_ids()
        if not ids:
            raise StoreError(
                f"{self.path}: the store holds no runs; import some with "
                "'scalinglab runs import FILE'."
            )
        tables = [self._runs_of(i) for i in ids]
        if len(tables) == 1:
            return tables[0]
        combined = pd.concat(tables)
        metrics = list(dict.fromkeys(m for t in tables for m in t.attrs["metrics"]))
        return ingest.finish_runs(
            combined,
            metrics=metrics,
            source=f"store {self.path}",
            default_metric=None,
            notices=[n for t in tables for n in t.attrs["notices"]],
            long_form=any(t.attrs["long_form"] for t in tables),
        )

    def _runs_of(self, import_id: str) -> pd.DataFrame:
        source, info_text = self._con.execute(
            "SELECT source, info FROM imports WHERE import_id = ?", [import_id]
        ).fetchall()[0]
        info = json.loads(info_text)
        rows = self._con.execute(
            f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE import_id = ? "
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

    def list_imports(self) -> pd.DataFrame:
        """One row per import: id, source, sha256, n_rows, n_values (metric values), created_at."""
        return self._con.execute(
            "SELECT i.import_id, i.source, i.sha256, i.n_rows, "
            "count(r.value) AS n_values, i.created_at FROM imports i "
            "LEFT JOIN runs r USING (import_id) "
            "GROUP BY i.import_id, i.source, i.sha256, i.n_rows, i.created_at "
            "ORDER BY i.created_at, i.import_id"
        ).df()

    def export_runs(self, path: str | os.PathLike[str], *, import_id: str | None = None) -> Path:
        """Write the runs of one import (or all) to a .csv or .parquet file."""
        return ingest.write_runs(self.runs(import_id), path)

    # -- fits ---------------------------------------------------------------------------------

    def save_fit(self, fit_json: str, *, law: str, source: str) -> str:
        """Store a fit's JSON; return its id (12 hex digits of its SHA-256). Saving twice is a
        no-op."""
        fit_id = hashlib.sha256(fit_json.encode()).hexdigest()[:12]

        def work(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(
                "INSERT OR IGNORE INTO fits VALUES (?, ?, ?, ?, ?)",
                [fit_id, datetime.now(UTC).replace(tzinfo=None), law, source, fit_json],
            )

        self._transaction(work)
        return fit_id

    def load_fit(self, fit_id: str) -> str:
        """The JSON of a saved fit, by id or unique id prefix."""
        rows = self._con.execute(
            "SELECT fit_id, json FROM fits WHERE starts_with(fit_id, ?) ORDER BY fit_id",
            [fit_id],
        ).fetchall()
        if len(rows) == 1 and fit_id:
            return str(rows[0][1])
        known = ", ".join(self.list_fits()["fit_id"]) or "(none)"
        why = "matches several fits" if len(rows) > 1 else "is not in the store"
        raise NotFittedError(f"{self.path}: fit id {fit_id!r} {why}. Known fits: {known}.")

    def list_fits(self) -> pd.DataFrame:
        """One row per saved fit: fit_id, created_at, law, source."""
        return self._con.execute(
            "SELECT fit_id, created_at, law, source FROM fits ORDER BY created_at, fit_id"
        ).df()
