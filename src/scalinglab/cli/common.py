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
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scalinglab.errors import DataError, FitError, NotFittedError, ScalinglabError, StoreError

if TYPE_CHECKING:
    import pandas as pd

    from scalinglab.fit.objectives import Objective
    from scalinglab.fit.result import FitResult, FitSet


logger = logging.getLogger(__name__)
R = TypeVar("R", "FitResult", "FitSet", "FitResult | FitSet")

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
    import numpy as np
    import pandas as pd

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
    from scalinglab.data.ingest import read_runs
    from scalinglab.data.select import group_runs, select_runs

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


def load_fits_ref(ref: str, store: str | None) -> FitResult | FitSet:
    """A fit or fit set from a JSON file, or a fit from the store by id (or unique prefix)."""
    from scalinglab.data.store import Store
    from scalinglab.fit.result import load_fits

    p = Path(ref)
    if p.suffix.lower() == ".json" or p.exists():
        return load_fits(p)
    with Store.open(store, read_only=True) as st:
        text = st.load_fit(ref)  # NotFittedError names the store and the id
    return load_fits(f"store fit {ref}", text=text)


def load_fit(ref: str, store: str | None) -> FitResult:
    """One fit (not a fit set) from a JSON file or the store."""
    from scalinglab.fit.result import FitSet

    r = load_fits_ref(ref, store)
    if isinstance(r, FitSet):
        raise NotFittedError(
            f"{ref}: holds {len(r)} fits (one per group of {r.group_by}); this command needs "
            "one fit: fit one group alone (--where)."
        )
    return r


def parse_fix(items: Sequence[str] | None) -> dict[str, float]:
    """``--fix PARAM=NUMBER`` items."""
    out: dict[str, float] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        try:
            v = float(value)
        except ValueError:
            v = math.nan
        if not sep or not name.strip() or not math.isfinite(v):
            raise FitError(f"--fix {item!r}: expected PARAM=NUMBER, e.g. --fix alpha=0.34.")
        out[name.strip()] = v
    return out


def objective_of(
    law: str, kind: str | None, space: str | None, delta: float, asymmetry: float
) -> Objective:
    """The objective the options ask for (the law's own kind when none is named)."""
    from scalinglab.fit.objectives import Objective
    from scalinglab.laws.registry import get_law

    # Objective validates kind and space itself (FitError naming the allowed values)
    return Objective(
        kind=kind or get_law(law).default_objective,  # type: ignore[arg-type]
        space=space,  # type: ignore[arg-type]
        delta=delta,
        asymmetry=asymmetry,
    )


def save_results(result: R, *, out: Path | None, store: str | bool | None, source: str) -> R:
    """Write ``--out`` first (so a store that cannot be written loses nothing), then keep each
    fit in the store (``store=False``: not kept) and rewrite ``--out`` with the fit ids."""
    import duckdb

    from scalinglab.data.store import Store
    from scalinglab.fit.result import FitSet

    if out is not None:
        result.save(out)
    if store is False:
        return result
    try:
        with Store.open(None if store is True else store) as st:

            def keep(r: FitResult) -> FitResult:
                return replace(r, fit_id=st.save_fit(r.to_json(), law=r.law, source=source))

            if isinstance(result, FitSet):
                kept: FitResult | FitSet = replace(result, fits=tuple(keep(r) for r in result.fits))
            else:
                kept = keep(result)
    except (ScalinglabError, duckdb.Error, OSError) as exc:
        if out is None:
            raise StoreError(
                f"the fit could not be kept in the store ({exc}); nothing was saved. Use --out "
                "FILE, --no-store, or --store another file."
            ) from None
        print_warnings([f"the fit was written to {out} but not kept in the store: {exc}"])
        return result
    if out is not None:
        kept.save(out)
    return kept  # type: ignore[return-value]


def check_output(path: Path | None, option: str) -> None:
    """An output file's folder must exist and be writable, checked before any work."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(
            f"{option} {str(path)!r}: folder {str(folder)!r} does not exist; create it first."
        )
    if not os.access(folder, os.W_OK):
        raise DataError(f"{option} {str(path)!r}: folder {str(folder)!r} is not writable.")
    if path.is_dir():
        raise DataError(f"{option} {str(path)!r} is a folder; give a file name.")


def resolve_workers(n: int) -> int:
    """``--workers``: ``n`` when positive, 0 for up to 2 of this machine's cores."""
    if n < 0:
        raise FitError(f"--workers {n}: give a number of processes >= 1, or 0 for the default.")
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
        console.print(f"[yellow]warning:[/yellow] {escape(str(w))}", highlight=False)


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
