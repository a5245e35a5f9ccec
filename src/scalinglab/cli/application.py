"""The ``scalinglab`` command: sub-commands are the workflow steps."""

from __future__ import annotations

import typer

from scalinglab.cli import (
    datasets,
    discovercmd,
    fitcmd,
    plancmd,
    reportcmd,
    runs,
    sweepcmd,
    trustcmd,
)

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
discovercmd.register(app)


def main() -> None:
    """Run the app. A user error raised outside a command's own handling (an import of an
    optional dependency that is missing, say) still ends in ``error: ...`` and exit code 2."""
    from scalinglab.errors import ScalinglabError

    try:
        app()
    except ScalinglabError as exc:
        from rich.markup import escape

        from scalinglab.cli.common import stderr_console

        stderr_console().print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise SystemExit(2) from None
