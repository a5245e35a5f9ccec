"""``scalinglab runs``: import runs into the store, list imports, export them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from scalinglab.cli.common import (
    JsonOpt,
    MapOpt,
    StoreOpt,
    emit_json,
    parse_map,
    print_notices,
    stdout_console,
    user_errors,
)

if TYPE_CHECKING:
    pass


logger = logging.getLogger(__name__)

app = typer.Typer(
    help="Import runs into the store, list imports, export them.", no_args_is_help=True
)


@app.command("import")
def import_(
    source: Annotated[
        str,
        typer.Argument(
            help="Runs file (.csv, .parquet, .json, .jsonl) or bundled dataset name; with "
            "--from, the tracker's log folder, file or URI."
        ),
    ],
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Read SOURCE with a tracker's library: tensorboard (log dir), mlflow "
            "(mlruns/ folder or tracking URI) or wandb (wandb/ folder or downloaded history).",
        ),
    ] = None,
    map: MapOpt = None,
    store: StoreOpt = None,
    again: Annotated[
        bool,
        typer.Option(
            "--again",
            help="Import even when the same runs (same content) are already in the store.",
        ),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Validate runs and store them as one import; print its id."""
    from scalinglab.data.ingest import read_runs
    from scalinglab.data.store import Store

    with user_errors():
        mapping = parse_map(map)
        if from_ is None:
            runs = read_runs(source, mapping=mapping)
        else:
            from scalinglab.data.trackers import read_tracker  # trackers' libraries load late

            runs = read_tracker(from_, source, mapping=mapping)
        with Store.open(store) as st:
            import_id = st.import_runs(runs, source=str(runs.attrs["source"]), again=again)
            path = st.path
        print_notices(runs)
        if json_:
            emit_json(
                {
                    "import_id": import_id,
                    "n_rows": len(runs),
                    "source": source,
                    "store": str(path),
                    "metrics": runs.attrs["metrics"],
                    "notices": runs.attrs["notices"],
                }
            )
            return
        stdout_console().print(
            f"imported {import_id}: {len(runs)} runs, {len(runs.attrs['metrics'])} metrics "
            f"from {source} into {path}",
            highlight=False,
        )


@app.command("list")
def list_(store: StoreOpt = None, json_: JsonOpt = False) -> None:
    """List the imports in the store with their row counts."""
    from scalinglab.data.store import Store

    with user_errors(), Store.open(store, read_only=True) as st:
        imports = st.list_imports()
    if json_:
        emit_json(imports.to_dict(orient="records"))
        return
    table = Table("import_id", "source", "runs", "values", "created (UTC)")
    for row in imports.itertuples(index=False):
        table.add_row(
            str(row.import_id),
            str(row.source),
            str(row.n_rows),
            str(row.n_values),
            str(row.created_at)[:19],
        )
    stdout_console().print(table)


@app.command("export")
def export(
    path: Annotated[str, typer.Argument(help="Output file, .csv or .parquet.")],
    import_id: Annotated[
        str | None, typer.Option("--import-id", help="Import to export (default: all).")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Export stored runs (the canonical wide table) to CSV or Parquet."""
    from scalinglab.data.store import Store

    with user_errors(), Store.open(store, read_only=True) as st:
        out = st.export_runs(path, import_id=import_id)
    stdout_console().print(f"wrote {out}", highlight=False)
