"""Command-line interface (typer). ``main`` is the console-script entry point."""

from scalinglab.cli.app import app, main

__all__ = ["app", "main"]
