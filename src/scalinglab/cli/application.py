"""The ``scalinglab`` command: sub-commands are the workflow steps."""

from __future__ import annotations

import typer

from scalinglab.cli import datasets, fitcmd, plancmd, reportcmd, runs, sweepcmd, trustcmd

app = typer.Typer(
    name="scalinglab",
    help="Fit, trust and plan with neural scaling laws.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(runs.app, name="runs")
app.add_typer(datasets.app, name="datasets")
app.add_typer(sweepcmd.app, name="sweep")
fitcmd.register(app)
trustcmd.register(app)
reportcmd.register(app)
plancmd.register(app)


def main() -> None:
    app()
