"""``scalinglab discover``: search law forms, print the leaderboard, save the best as a law file."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from scalinglab.cli.common import (
    GroupByOpt,
    JsonOpt,
    MapOpt,
    RunsArg,
    SeedOpt,
    WhereOpt,
    WorkersOpt,
    XOpt,
    check_output,
    emit_json,
    fmt_number,
    load_runs,
    resolve_workers,
    stderr_console,
    stdout_console,
)
from scalinglab.errors import DataError

if TYPE_CHECKING:
    from scalinglab.discover.result import DiscoverResult

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_budget(text: str) -> float:
    """``--budget``: seconds from ``90s``, ``10m``, ``1.5h`` or a plain number of seconds."""
    m = _DURATION.match(text)
    value = float(m.group(1)) * _UNIT_S[(m.group(2) or "s").lower()] if m else math.nan
    if not (value > 0 and math.isfinite(value)):
        raise DataError(f"--budget {text!r}: expected a positive time such as 90s, 10m or 1h.")
    return value


def _vars(text: str, option: str = "--vars") -> list[str]:
    names = [v.strip() for v in text.split(",")]
    if not all(names):
        raise DataError(f"{option} {text!r}: expected names separated by commas, e.g. N,D.")
    if len(set(names)) != len(names):
        raise DataError(f"{option} {text!r}: a name is given twice.")
    return names


def discover_cmd(
    source: RunsArg,
    vars_: Annotated[
        str,
        typer.Option("--vars", help="Variables of the law, comma-separated (e.g. N,D or x)."),
    ],
    target: Annotated[
        str | None,
        typer.Option("--target", help="Metric to model (default: the dataset's, else 'loss')."),
    ] = None,
    holdout: Annotated[
        str | None,
        typer.Option(
            "--holdout",
            help="Runs the search never sees, scored at the end: 'top 20% by C', "
            "'top 3 by N' or an expression.",
        ),
    ] = None,
    budget: Annotated[
        str, typer.Option("--budget", help="Time for the whole search: 90s, 10m, 1h.")
    ] = "10m",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Save the best law as a law file (NAME.law) for --law."),
    ] = None,
    max_candidates: Annotated[
        int | None,
        typer.Option("--max-candidates", help="Score at most this many laws (seeds first)."),
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            help="Catalogue laws to seed with, comma-separated, or 'none' (default: all that "
            "apply to the variables).",
        ),
    ] = None,
    map: MapOpt = None,
    where: WhereOpt = None,
    group_by: GroupByOpt = None,
    x: XOpt = None,
    seed: SeedOpt = 0,
    workers: WorkersOpt = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Search law forms (power laws in each variable, products and ratios, offsets, saturating, broken, exponential and log terms; the catalogue's laws as seeds), scored by extrapolation inside the data."""
    from scalinglab.cli.common import user_errors

    with user_errors():
        names = _vars(vars_)
        seconds = parse_budget(budget)
        check_output(out, "--out")
        if out is not None and out.suffix.lower() != ".law":
            raise DataError(f"--out {str(out)!r}: a law file's name ends in .law (e.g. best.law).")
        runs = load_runs(source, map=map, metric=target, where=where, x=x)
        seed_laws = (
            None if seeds is None else [] if seeds.strip() == "none" else _vars(seeds, "--seeds")
        )
        result = _run(
            runs, names, holdout, group_by, seconds, seed, workers, max_candidates, seed_laws, quiet
        )
        if out is not None:
            _save(result, out, source)
        if json_out:
            emit_json(result.to_dict())
            return
        _render(result, out)


def _run(
    runs: object,
    names: list[str],
    holdout: str | None,
    group_by: str | None,
    seconds: float,
    seed: int,
    workers: int,
    max_candidates: int | None,
    seeds: list[str] | None,
    quiet: bool,
) -> DiscoverResult:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from scalinglab.discover import discover

    bar = Progress(
        TextColumn("discover"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
        disable=quiet,
    )
    task = bar.add_task("discover", total=None)
    with bar:
        return discover(
            runs,  # type: ignore[arg-type]
            names,
            holdout=holdout,
            group_by=group_by,
            budget_s=seconds,
            seed=seed,
            workers=resolve_workers(workers),
            max_candidates=max_candidates,
            seeds=seeds,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )


def _save(result: DiscoverResult, out: Path, source: str) -> None:
    from scalinglab.discover import write_law_file

    best = result.leaderboard[0]
    notes = [
        f"discovered by `scalinglab discover` on {source} (variables {', '.join(result.variables)}"
        f"{', holdout ' + repr(result.holdout) if result.holdout else ''}, seed {result.seed})",
        f"nested rolling-origin RMSE(log) {best.nested:.4g}, in-fit {best.in_fit:.4g}"
        + (f", held-out {best.heldout:.4g}" if math.isfinite(best.heldout) else ""),
    ]
    if best.params:
        notes.append("fitted: " + ", ".join(f"{k}={v:.6g}" for k, v in best.params.items()))
    write_law_file(best.law, out, notes)


def _render(result: DiscoverResult, out: Path | None) -> None:
    con = stdout_console()
    held = result.holdout is not None
    t = Table(
        title="discover: leaderboard, RMSE of log values (the law returned first, then by score)"
    )
    t.add_column("#")
    t.add_column("law", overflow="fold", ratio=1)
    for name in ("source", "k", "nested", "in-fit", *(["held-out"] if held else []), "score"):
        t.add_column(name, no_wrap=True, justify="right" if name != "source" else "left")
    for i, r in enumerate(result.leaderboard, 1):
        cells = [str(i), escape(r.formula), r.source, str(r.n_params)]
        cells += [fmt_number(v) for v in (r.nested, r.in_fit)]
        cells += [fmt_number(r.heldout)] if held else []
        t.add_row(*cells, fmt_number(r.score))
    con.print(t)
    best = result.leaderboard[0]
    con.print(f"best: {escape(best.formula)}", highlight=False)
    if result.choice:
        con.print(f"  {escape(result.choice)}", highlight=False)
    if best.params:
        con.print(
            "  " + ", ".join(f"{k} = {v:.6g}" for k, v in best.params.items()), highlight=False
        )
    cat = result.row(result.best_catalogue)
    if cat is not None:
        ratio = best.nested / cat.nested if cat.nested > 0 else math.nan
        line = f"best catalogue law: {cat.formula}, nested RMSE(log) {cat.nested:.4g} (best/it {ratio:.3g})"
        if held and math.isfinite(cat.heldout) and cat.heldout > 0:
            line += f"; held-out {cat.heldout:.4g} (best/it {best.heldout / cat.heldout:.3g})"
        con.print(line, highlight=False)
    stop = "complete" if result.complete else "stopped by the budget"
    con.print(
        f"search: {result.n_scored} of {result.n_candidates} candidates ({stop}), "
        f"{result.n_fits} fits in {result.search_s:.1f} s: {result.candidates_per_s:.3g} "
        f"candidates/s, {result.fits_per_s:.3g} fits/s on {result.workers} worker(s); "
        f"total {result.seconds:.1f} s",
        highlight=False,
    )
    if out is not None:
        con.print(f"saved: {out} (use it as --law {out})", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("discover")(discover_cmd)
