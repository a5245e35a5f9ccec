"""The runs store: one DuckDB file holding imported runs and saved fits.

Tables (schema version :data:`scalinglab._version.SCHEMA_VERSION`):

- ``meta(key, value)``: ``schema_version``.
- ``imports(import_id, source, sha256, n_rows, created_at, info)``: one row per import; ``sha256``
  is the hash of the canonical table written as CSV (a second import of the same content is
  refused unless asked for with ``again=True``); ``info`` is JSON with the column order and
  types, metrics, default metric, notices and whether the source was long form, so that
  :meth:`Store.runs` rebuilds exactly the table that was imported.
- ``runs(import_id, run_id, source_row, N, D, C, C_derived, D_derived, metric, value, attrs)``:
  long form, one row per run and metric; ``attrs`` is JSON holding every other column.
- ``fits(fit_id, created_at, law, source, json)``: ``fit_id`` is the first 12 hex digits of the
  SHA-256 of the fit JSON.

Concurrency. DuckDB allows one process to open a file for writing, and a read-only open fails
while it does. So a :class:`Store` holds no connection between calls: every call opens the file,
works and closes it, under the store's own lock (:mod:`scalinglab.data.locking`, two sidecar files
``PATH.lock`` and ``PATH.rlock``):

- a write (import, save a fit, create, migrate) takes the lock exclusively, opens the file,
  runs one transaction, CHECKPOINTs (so the next reader finds no write-ahead log to replay) and
  closes it; it waits up to ``timeout`` seconds for another writer or for the reads in progress,
  then raises "store PATH is being written by another process (pid ...); waited T s; ...";
- a read takes the lock shared and opens the file read-only; it waits up to ``timeout`` seconds
  for a write in progress. A waiting writer stops new readers from entering, so a stream of
  readers cannot starve it, and a writer waits at most for the reads already in progress;
- a process that dies (even SIGKILLed) drops its locks with it; an import cut off before its
  COMMIT leaves nothing behind, one cut off after it is replayed from DuckDB's log;
- DuckDB's own lock still guards against programs that do not use these locks (an older
  scalinglab, the duckdb shell): opens that meet it are retried until the timeout.

A store in a read-only folder or file can still be read (no lock file can be created there, and
no writer can use one). ``Store.open(path, read_only=True)`` refuses a missing file ("no such
store", with the .duckdb files nearby), so that read commands never create an empty store; with
``read_only=False`` a missing file reads as empty and is created by the first write. ``:memory:``
is refused: the store would vanish when the command ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import duckdb
import pandas as pd

from scalinglab._version import SCHEMA_VERSION
from scalinglab.data import ingest, locking, schema, store_tables, validate
from scalinglab.errors import DataError, NotFittedError, StoreError

logger = logging.getLogger(__name__)

DEFAULT_STORE = "scalinglab.duckdb"
STORE_ENV = "SCALINGLAB_STORE"
#: Upgrade steps (see :data:`scalinglab.data.store_tables.MIGRATIONS`).
MIGRATIONS = store_tables.MIGRATIONS


def resolve_store_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Store location: ``path`` if given, else ``$SCALINGLAB_STORE``, else ./scalinglab.duckdb."""
    if path:
        return Path(path)
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else Path(DEFAULT_STORE)


def _missing_store_message(path: Path) -> str:
    """``no such store``, with the closest .duckdb file in the same folder and the others."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        nearby = sorted(p.name for p in folder.glob("*.duckdb") if p.is_file())
    except OSError:
        nearby = []
    hint = ingest.suggest(path.name, nearby) if nearby else ""
    listed = f" Stores in {folder}: {', '.join(nearby[:10])}." if nearby else ""
    return (
        f"no such store {path}{hint}.{listed} Check --store (or ${STORE_ENV}), or import runs "
        "first with 'scalinglab runs import FILE --store PATH'."
    )


class Store:
    """The runs store at one path; use as a context manager: ``with Store.open(path) as st:``.

    A ``Store`` holds no connection between calls: each method opens the file, does its work
    under the store's lock (module docstring) and closes it, so an open ``Store`` never blocks
    another process for longer than one call.
    """

    def __init__(self, path: Path, *, read_only: bool = False, timeout: float = 30.0) -> None:
        self.path = path
        self.read_only = read_only
        self.timeout = timeout
        self._closed = False

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        timeout: float = 30.0,
    ) -> Store:
        """The store at ``path`` (see :func:`resolve_store_path`).

        ``read_only=True`` (for commands that only read): the file must exist, and the write
        methods raise. ``read_only=False``: a missing file reads as an empty store and is created
        by the first write; opening alone never creates a file. ``timeout`` is how long, in
        seconds, each call waits for another process's write (or a writer for the reads in
        progress) before raising :class:`~scalinglab.errors.StoreError`. An existing file is
        checked (and migrated, when opened for writing) here.
        """
        resolved = resolve_store_path(path)
        if str(resolved) == ":memory:":
            raise StoreError(
                "--store :memory: would keep nothing once this command ends; pass a file path "
                "such as --store runs.duckdb."
            )
        if not timeout >= 0:
            raise StoreError(f"store timeout must be >= 0 seconds, got {timeout}.")
        store = cls(resolved, read_only=read_only, timeout=timeout)
        if resolved.is_dir():
            raise StoreError(f"--store {resolved} is a directory; pass a .duckdb file path.")
        if not resolved.exists():
            if read_only:
                raise StoreError(_missing_store_message(resolved))
            return store
        store._check_schema()
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
        """Mark the store closed (no connection is held between calls)."""
        self._closed = True

    # -- connections --------------------------------------------------------------------------

    def _connect(self, *, read_only: bool, deadline: float) -> duckdb.DuckDBPyConnection:
        """Open the file, retrying while a process outside scalinglab's locks holds it."""
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                busy = "Could not set lock" in str(exc)
                if not busy:
                    raise StoreError(
                        f"{self.path}: cannot open as a scalinglab store (DuckDB says: "
                        f"{exc}). Pass another --store path or move this file."
                    ) from exc
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"store {self.path} is held by another program (DuckDB says: {exc}); "
                        f"waited {self.timeout:.1f} s; try again or use --store another file."
                    ) from exc
                time.sleep(0.02)

    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection held under the read lock for one call."""
        if self._closed:
            raise StoreError(f"store {self.path} is closed; open it again with Store.open.")
        if not self.path.exists():
            if self.read_only:
                raise StoreError(_missing_store_message(self.path))
            con = duckdb.connect(":memory:")  # a store not yet written reads as empty
            try:
                store_tables.create(con)
                yield con
            finally:
                con.close()
            return
        with locking.read_lock(self.path, timeout=self.timeout):
            con = self._connect(read_only=True, deadline=time.monotonic() + self.timeout)
            try:
                yield con
            except duckdb.Error as exc:
                raise StoreError(
                    f"{self.path}: cannot read the store (DuckDB says: {exc}). If the file is "
                    "damaged, restore it from a copy or use --store another file."
                ) from exc
            finally:
                con.close()

    def _transaction(
        self, work: Callable[[duckdb.DuckDBPyConnection], None], *, what: str = "write"
    ) -> None:
        """Run ``work`` in one transaction under the write lock: open, BEGIN, work, COMMIT,
        CHECKPOINT, close. ROLLBACK on any exception; the file is created when missing. A DuckDB
        error becomes a StoreError that says the ``what`` was rolled back."""
        if self._closed:
            raise StoreError(f"store {self.path} is closed; open it again with Store.open.")
        if self.read_only:
            raise StoreError(
                f"store {self.path} was opened read-only; open it with read_only=False to write."
            )
        with locking.write_lock(self.path, timeout=self.timeout):
            con = self._connect(read_only=False, deadline=time.monotonic() + self.timeout)
            try:
                if not store_tables.tables(con):
                    self._in_transaction(con, store_tables.create)
                    logger.info("created store %s (schema %d)", self.path, SCHEMA_VERSION)
                else:
                    store_tables.upgrade(con, self.path, self._in_transaction)
                self._in_transaction(con, work)
            except duckdb.Error as exc:
                raise StoreError(
                    f"{self.path}: {what} failed and was rolled back: {exc}. If the file is "
                    "damaged, restore it from a copy or use --store another file."
                ) from exc
            else:
                try:  # committed: a failed checkpoint only leaves the log to replay on next open
                    con.execute("CHECKPOINT")
                except duckdb.Error as exc:
                    logger.warning("%s: checkpoint after commit failed: %s", self.path, exc)
            finally:
                con.close()

    @staticmethod
    def _in_transaction(
        con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], None]
    ) -> None:
        con.execute("BEGIN TRANSACTION")
        try:
            work(con)
        except BaseException:
            with suppress(duckdb.Error):  # a failed ROLLBACK must not hide the first error
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    # -- schema -------------------------------------------------------------------------------

    def _check_schema(self) -> None:
        """Check an existing file; when opened for writing, also migrate it."""
        if self.read_only:
            with self._reading() as con:
                version = store_tables.schema_version(con, self.path)
            if version < SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: schema {version} needs upgrading to {SCHEMA_VERSION}; open "
                    "it once for writing (e.g. 'scalinglab runs import') to migrate it."
                )
            return
        with self._reading() as con:
            version = store_tables.schema_version(con, self.path)
        if version < SCHEMA_VERSION:
            self._transaction(lambda con: None)  # _transaction migrates before its work

    # -- runs ---------------------------------------------------------------------------------

    def import_runs(self, df: pd.DataFrame, *, source: str, again: bool = False) -> str:
        """Store a canonical runs table (from :func:`~scalinglab.data.read_runs`); return its id.

        A table whose content (its SHA-256) is already in the store is refused with a
        :class:`~scalinglab.errors.DataError` unless ``again=True``, so that a second import
        of the same file does not silently double its runs.
        """
        metrics = [str(m) for m in df.attrs.get("metrics", [])]
        missing = [c for c in (*schema.CANONICAL_COLUMNS, *metrics) if c not in df.columns]
        if missing:
            raise DataError(
                f"cannot import: not a canonical runs table (missing {missing}); "
                "read it with read_runs first."
            )
        if not metrics:
            columns = [str(c) for c in df.columns if c not in schema.FLAG_COLUMNS]
            raise DataError(f"{source}: cannot import: {validate.no_metric_message(columns)}")
        extra = [c for c in df.columns if c not in schema.CANONICAL_COLUMNS and c not in metrics]
        info = {
            "columns": [str(c) for c in df.columns],
            "kinds": {str(c): store_tables.kind(df[c]) for c in df.columns},
            "metrics": metrics,
            "default_metric": df.attrs.get("default_metric"),
            "notices": list(df.attrs.get("notices", [])),
            "long_form": bool(df.attrs.get("long_form", False)),
        }
        sha = hashlib.sha256(df.to_csv().encode()).hexdigest()
        import_id = uuid.uuid4().hex[:12]
        rows = store_tables.long_rows(df, import_id, metrics, extra)

        def work(con: duckdb.DuckDBPyConnection) -> None:
            if not again:
                self._refuse_same_content(con, sha, source)
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

        self._transaction(work, what="import")
        logger.info("imported %d runs from %s as %s", len(df), source, import_id)
        return import_id

    def _refuse_same_content(self, con: duckdb.DuckDBPyConnection, sha: str, source: str) -> None:
        row = con.execute(
            "SELECT import_id, source, created_at FROM imports WHERE sha256 = ? "
            "ORDER BY created_at LIMIT 1",
            [sha],
        ).fetchone()
        if row is not None:
            raise DataError(
                f"{source}: the same runs (sha256 {sha[:12]}...) are already in {self.path} as "
                f"import {row[0]} (from {row[1]}, {str(row[2])[:19]} UTC); importing them again "
                "would count every run twice. Pass --again (again=True) to store a second copy."
            )

    def _insert_run_rows(self, con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
        con.register("_incoming_runs", rows)
        try:
            con.execute(
                f"INSERT INTO runs SELECT {', '.join(store_tables.RUN_COLUMNS)} FROM _incoming_runs"
            )
        finally:
            con.unregister("_incoming_runs")

    @staticmethod
    def _import_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
        rows = con.execute("SELECT import_id FROM imports ORDER BY created_at, import_id")
        return [str(r[0]) for r in rows.fetchall()]

    def _resolve_import(self, con: duckdb.DuckDBPyConnection, import_id: str) -> str:
        known = self._import_ids(con)
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
        with self._reading() as con:
            if import_id is not None:
                return store_tables.wide_table(con, self._resolve_import(con, import_id))
            ids = self._import_ids(con)
            if not ids:
                raise StoreError(
                    f"{self.path}: the store holds no runs; import some with "
                    "'scalinglab runs import FILE'."
                )
            tables = [store_tables.wide_table(con, i) for i in ids]
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

    def list_imports(self) -> pd.DataFrame:
        """One row per import: id, source, sha256, n_rows, n_values (metric values), created_at."""
        with self._reading() as con:
            return con.execute(
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
        with self._reading() as con:
            rows = con.execute(
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
        with self._reading() as con:
            return con.execute(
                "SELECT fit_id, created_at, law, source FROM fits ORDER BY created_at, fit_id"
            ).df()
