"""Options and helpers shared by the commands: option declarations (``Annotated`` aliases),
loading runs and fits, number formatting, warnings, JSON output and the progress bar.

An alias is shared only where the commands' option is the same, help text included; an option
whose help says something specific to one command (``--bootstrap`` says what it resamples, for
example) is declared in that command.

Commands parse options, call the library and render; user errors (:class:`ScalinglabError`)
become ``error: <message>`` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scalinglab.data.ingest import read_runs
from scalinglab.data.select import group_runs, select_runs
from scalinglab.data.store import Store
from scalinglab.errors import DataError, ScalinglabError
from scalinglab.fit.result import FitResult

logger = logging.getLogger(__name__)

MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help="Column mapping TARGET=SOURCE, e.g. N=params (repeatable)."),
]
MetricOpt = Annotated[
    str | None,
    typer.Option(
        "--metric",
        help="Metric column to fit (default: the dataset's default, "
        "else 'loss', else the only metric).",
    ),
]
WhereOpt = Annotated[
    str | None,
    typer.Option("--where", help='Filter, e.g. "N > 1e8 and D/N >= 20"; `quote odd names`.'),
]
GroupByOpt = Annotated[
    str | None,
    typer.Option("--group-by", help="Column(s), comma-separated, to fit separately."),
]
XOpt = Annotated[
    str | None,
    typer.Option("--x", help="Column used as x by one-variable laws (e.g. N, D, C, step)."),
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="SCALINGLAB_STORE",
        help="DuckDB store file (default ./scalinglab.duckdb).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
FitArg = Annotated[
    str, typer.Argument(metavar="FIT", help="Fit file (JSON) or fit id in the store.")
]
RunsArg = Annotated[str, typer.Argument(help="Runs file or bundled dataset name.")]
LevelOpt = Annotated[
    float | None, typer.Option("--level", help="Interval level (default: the fit's).")
]
SeedOpt = Annotated[int, typer.Option("--seed")]
#: 0 means :func:`resolve_workers`'s default.
WorkersOpt = Annotated[int, typer.Option("--workers", help="Processes (default: up to 2 cores).")]


def stdout_console() -> Console:
    """Console for results (stdout)."""
    return Console(soft_wrap=True)


def stderr_console() -> Console:
    """Console for errors and notices (stderr)."""
    return Console(stderr=True, soft_wrap=True)


def parse_map(items: Sequence[str] | None) -> dict[str, str]:
    """Parse ``--map TARGET=SOURCE`` items into a mapping (target <- source)."""
    mapping: dict[str, str] = {}
    for item in items or ():
        target, sep, source = item.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise DataError(f"--map {item!r}: expected TARGET=SOURCE, e.g. --map N=params.")
        if target in mapping and mapping[target] != source:
            raise DataError(f"--map gives {target} twice ({mapping[target]!r} and {source!r}).")
        mapping[target] = source
    return mapping


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn :class:`ScalinglabError` into ``error: ...`` on stderr and exit code 2.

    Usable as ``with user_errors():`` or as a decorator ``@user_errors()``.
    """
    try:
        yield
    except ScalinglabError as exc:
        logger.debug("user error", exc_info=True)
        stderr_console().print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def print_notices(df: pd.DataFrame) -> None:
    """Print ``df.attrs["notices"]`` (dropped duplicates and the like) to stderr."""
    console = stderr_console()
    for notice in df.attrs.get("notices", []):
        console.print(f"[yellow]note:[/yellow] {escape(str(notice))}", highlight=False)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    return obj


def emit_json(obj: Any) -> None:
    """Write ``obj`` as JSON to stdout (NaN and inf become null; nothing else is printed)."""
    sys.stdout.write(json.dumps(_jsonable(obj), allow_nan=False, default=str) + "\n")


def load_selection(
    source: str,
    *,
    map: Sequence[str] | None = None,
    metric: str | None = None,
    where: str | None = None,
    group_by: str | None = None,
    x: str | None = None,
) -> list[tuple[str | None, pd.DataFrame]]:
    """Read ``source`` (file or bundled dataset), select, and split into groups.

    Returns ``[(None, selected)]`` without ``group_by``, else ``[("col=value", part), ...]``.
    Notices (dropped duplicates, runs without the metric) are printed to stderr.
    """
    runs = read_runs(source, mapping=parse_map(map))
    selected = select_runs(runs, metric=metric, where=where, x=x)
    print_notices(selected)
    if group_by is None:
        return [(None, selected)]
    return [(key, part) for key, part in group_runs(selected, group_by)]


def load_runs(
    source: str,
    *,
    map: Sequence[str] | None = None,
    metric: str | None = None,
    where: str | None = None,
    x: str | None = None,
) -> pd.DataFrame:
    """:func:`load_selection` without groups: the selected runs of ``source``."""
    [(_, runs)] = load_selection(source, map=map, metric=metric, where=where, x=x)
    return runs


def selection_of(frame: pd.DataFrame, source: str, group: str | None = None) -> dict[str, Any]:
    """The ``selection`` a fit records: where its runs came from and how they were chosen."""
    a = frame.attrs
    return {
        "source": source,
        "metric": a.get("metric"),
        "metric_unit": a.get("metric_unit"),
        "where": a.get("where"),
        "x": a.get("x"),
        "group": group,
    }


def load_fit(ref: str, store: str | None) -> FitResult:
    """A fit from a JSON file, or from the store by id (or unique id prefix)."""
    p = Path(ref)
    if p.suffix.lower() == ".json" or p.exists():
        return FitResult.load(p)
    with Store.open(store) as st:
        text = st.load_fit(ref)  # NotFittedError names the store and the id
    return FitResult.from_json(text, origin=f"store fit {ref}")


def resolve_workers(n: int) -> int:
    """``--workers``: ``n`` when positive, else up to 2 of this machine's cores."""
    return n if n > 0 else max(1, min(2, os.cpu_count() or 1))


def fmt_number(v: object, *, digits: int = 4, missing: str = "-") -> str:
    """A table cell: a float to ``digits`` significant digits, ``missing`` for None, NaN and
    inf, anything else (counts, names) as ``str``."""
    if v is None:
        return missing
    if isinstance(v, float):
        return f"{v:.{digits}g}" if math.isfinite(v) else missing
    return str(v)


def print_warnings(messages: Iterable[object]) -> None:
    """Each message as ``warning: ...`` on stderr."""
    console = stderr_console()
    for w in messages:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


class ProgressBar:
    """A bootstrap progress bar on stderr (disabled with --quiet or nothing to do); ``tick(k)``
    advances it."""

    def __init__(self, quiet: bool, label: str, total: int = 0) -> None:
        self.bar = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr_console(),
            transient=True,
            disable=quiet or total <= 0,
        )
        self.task = self.bar.add_task(label, total=max(total, 1))

    def tick(self, k: int) -> None:
        self.bar.advance(self.task, k)

    def __enter__(self) -> ProgressBar:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)
