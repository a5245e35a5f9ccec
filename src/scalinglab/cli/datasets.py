"""``scalinglab datasets``: list, describe and export the bundled datasets."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from scalinglab.cli.common import JsonOpt, emit_json, stdout_console, user_errors

if TYPE_CHECKING:
    pass


logger = logging.getLogger(__name__)

app = typer.Typer(help="List, describe and export the bundled datasets.", no_args_is_help=True)


@app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """List the bundled datasets."""
    from scalinglab.data.datasets import list_datasets

    specs = list_datasets()
    if json_:
        emit_json(
            [
                {
                    "name": s.name,
                    "description": s.description,
                    "mapping": dict(s.mapping),
                    "default_metric": s.default_metric,
                }
                for s in specs
            ]
        )
        return
    table = Table("name", "default metric", "description")
    for s in specs:
        table.add_row(s.name, s.default_metric or "", s.description)
    stdout_console().print(table)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Dataset name.")]) -> None:
    """Print a dataset's data card and its column mapping."""
    from scalinglab.data.datasets import dataset_card, get_dataset

    with user_errors():
        spec = get_dataset(name)
        card = dataset_card(name)
    console = stdout_console()
    console.print(card, markup=False, highlight=False)
    mapping = ", ".join(f"{t}={s}" for t, s in spec.mapping.items()) or "(none)"
    console.print(f"mapping: {mapping}", markup=False, highlight=False)
    if spec.derived:
        console.print(f"derived in the source: {', '.join(spec.derived)}", highlight=False)
    console.print(f"default metric: {spec.default_metric}", markup=False, highlight=False)


@app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    path: Annotated[str, typer.Argument(help="Output file, .csv or .parquet.")],
) -> None:
    """Export a dataset's canonical runs table (and its data card beside it)."""
    from scalinglab.data.datasets import export_dataset

    with user_errors():
        out = export_dataset(name, path)
    stdout_console().print(f"wrote {out} and {out.with_suffix('.md')}", highlight=False)
