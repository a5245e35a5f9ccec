"""A process that reads or writes a store, for tests/data/test_store_concurrency.py.

Usage: ``python store_worker.py ROLE STORE DIR [ARGS]``:

- ``reader STORE DIR NAME``: until DIR/stop exists, open the store read-only and read every
  import and the import list; the import count must never go down, and no import may show
  partly. Prints the number of rounds.
- ``writer STORE DIR NAME COUNT``: COUNT imports of distinct small tables (sources NAME-0 ...);
  after each returns, appends its source to DIR/NAME.log.
- ``stuck STORE DIR``: one import that touches DIR/inside after inserting its rows, inside the
  transaction, then sleeps until killed.

Any exception ends the process with exit status 1 and the traceback on stderr.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd

from scalinglab.data.ingest import read_runs
from scalinglab.data.store import Store


def table(seed: int, rows: int = 20) -> pd.DataFrame:
    """A small canonical runs table whose content differs for each ``seed``."""
    n = [1e6 * (i + 1) for i in range(rows)]
    return read_runs(pd.DataFrame({"N": n, "D": [2e7] * rows, "loss": [3.0 + seed] * rows}))


def reader(store: Path, folder: Path) -> int:
    rounds, seen = 0, 0
    deadline = time.monotonic() + 120
    while not (folder / "stop").exists() and time.monotonic() < deadline:
        with Store.open(store, read_only=True) as st:
            imports = st.list_imports()
            runs = st.runs()
        if len(imports) < seen:
            raise AssertionError(f"import count went down: {seen} -> {len(imports)}")
        # two calls, so a write may land between them; a half import never shows
        if len(runs) < int(imports["n_rows"].sum()) or len(runs) % 20:
            raise AssertionError(f"{len(runs)} runs but the imports list {imports['n_rows']}")
        seen = len(imports)
        rounds += 1
    return rounds


def writer(store: Path, folder: Path, name: str, count: int) -> int:
    log = folder / f"{name}.log"
    for i in range(count):
        with Store.open(store) as st:
            st.import_runs(table(100 * int(name[1:]) + i), source=f"{name}-{i}")
        with log.open("a", encoding="utf-8") as f:
            f.write(f"{name}-{i}\n")
            f.flush()
            os.fsync(f.fileno())
    return count


def stuck(store: Path, folder: Path) -> int:
    real = Store._insert_run_rows

    def slow(self: Store, con: object, rows: pd.DataFrame) -> None:
        real(self, con, rows)  # type: ignore[arg-type]
        (folder / "inside").write_text("x", encoding="utf-8")
        time.sleep(120)

    Store._insert_run_rows = slow  # type: ignore[method-assign]
    with Store.open(store) as st:
        st.import_runs(table(5000, rows=2000), source="killed")
    return 0


def main(argv: list[str]) -> int:
    role, store, folder = argv[0], Path(argv[1]), Path(argv[2])
    if role == "reader":
        print(reader(store, folder))
    elif role == "writer":
        print(writer(store, folder, argv[3], int(argv[4])))
    elif role == "stuck":
        stuck(store, folder)
    else:
        raise SystemExit(f"unknown role {role!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
