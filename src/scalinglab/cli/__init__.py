"""Command-line interface (typer). ``main`` is the console-script entry point.

``scalinglab --help`` is answered from a cache of its own last rendering when nothing it
depends on has changed (:mod:`scalinglab.cli.help_cache`): building the typer app imports
typer, click and rich, about ten times what Python's own start-up costs, to print the same
text. Every other command builds the app.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def main() -> None:
    if sys.argv[1:] == ["--help"] and not os.environ.get("SCALINGLAB_NO_HELP_CACHE"):
        from scalinglab.cli.help_cache import print_help

        print_help()
        return
    from scalinglab.cli.application import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer app, built on first use
        from scalinglab.cli.application import app

        return app
    raise AttributeError(f"module 'scalinglab.cli' has no attribute {name!r}")


__all__ = ["app", "main"]
