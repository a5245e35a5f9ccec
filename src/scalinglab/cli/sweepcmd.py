"""``scalinglab sweep``: plan, run, watch and export a sweep of training runs.

Parse, call :mod:`scalinglab.sweep`, render. The training machinery (torch, ray) is imported
only inside the commands that train or calibrate.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from scalinglab.cli.common import (
    JsonOpt,
    StoreOpt,
    emit_json,
    fmt_number,
    stderr_console,
    stdout_console,
    user_errors,
)

if TYPE_CHECKING:
    from scalinglab.sweep.workdir import WorkDir


app = typer.Typer(
    help="Design, train and watch a sweep of small training runs.", no_args_is_help=True
)

FileArg = Annotated[str, typer.Argument(metavar="FILE", help="Sweep file (TOML).")]
WorkdirOpt = Annotated[
    str | None,
    typer.Option(
        "--workdir", help="Parent of the sweep's work directory (default .scalinglab/sweeps)."
    ),
]
SweepWorkersOpt = Annotated[
    int, typer.Option("--workers", help="Local worker processes training runs in parallel.")
]


def _notes(notes: list[str] | tuple[str, ...]) -> None:
    con = stderr_console()
    for n in notes:
        con.print(f"[yellow]note:[/yellow] {n}", highlight=False)


@app.command("plan")
def plan_cmd(
    file: FileArg,
    workers: SweepWorkersOpt = 1,
    calibrate: Annotated[
        bool,
        typer.Option("--calibrate/--no-calibrate", help="Time a few steps to estimate wall time."),
    ] = True,
    json_: JsonOpt = False,
) -> None:
    """Print every run (shape, N with and without embeddings, D, FLOP, key) and the wall time."""
    from scalinglab.sweep.spec import load_spec

    with user_errors():
        from scalinglab.sweep.runner import prepare

        spec = load_spec(file)
        runs, notes = prepare(spec)
        est = None
        if calibrate:
            from scalinglab.sweep.calibrate import estimate_wall_time

            est = estimate_wall_time(runs, workers=workers)
    _notes(notes)
    if json_:
        emit_json(
            {
                "name": spec.name,
                "runs": [{k: v for k, v in r.to_dict().items() if k != "config"} for r in runs],
                "estimate": est.to_dict() if est else None,
                "notes": notes,
            }
        )
        return
    t = Table(title=f"sweep {spec.name!r}: {len(runs)} runs ({spec.design.kind}, {spec.data})")
    cols = ("key", "group", "layers x heads x d", "N (non-emb)", "N (total)", "D")
    for col in (*cols, "C (FLOP)", "steps", "lr", "seed", "est. s"):
        t.add_column(col, justify="left" if col in ("key", "group") else "right")
    for i, r in enumerate(runs):
        t.add_row(
            r.key,
            r.group,
            f"{r.shape.n_layers}x{r.shape.n_heads}x{r.shape.d_model}",
            f"{r.N:,}",
            f"{r.N_total:,}",
            f"{r.D:,}",
            fmt_number(r.C, digits=3),
            str(r.steps),
            fmt_number(r.lr, digits=3),
            str(r.seed),
            fmt_number(est.per_run[i], digits=2) if est else "-",
        )
    con = stdout_console()
    con.print(t)
    if est:
        con.print(
            f"estimated wall time: {est.total_s / 60:.1f} min with {workers} worker(s) "
            f"(calibrated on {len(est.points)} shape(s) here)",
            highlight=False,
        )


@app.command("run")
def run_cmd(
    file: FileArg,
    workers: SweepWorkersOpt = 1,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Run on Ray: local, auto or HOST:PORT."),
    ] = None,
    store: StoreOpt = None,
    workdir: WorkdirOpt = None,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", help="Steps between checkpoints.")
    ] = 50,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Train every run not yet stored (resuming interrupted ones); store each as it finishes."""
    from scalinglab.sweep.spec import load_spec

    with user_errors():
        from scalinglab.sweep.runner import run_sweep

        spec = load_spec(file)
        out = run_sweep(
            spec,
            store=store,
            workdir=workdir,
            workers=workers,
            ray_address=ray_address,
            checkpoint_every=checkpoint_every,
            quiet=quiet or json_,
        )
    _notes(out.notes)
    if json_:
        emit_json(out.to_dict())
    else:
        stdout_console().print(
            f"sweep {out.name!r}: {out.planned} runs; {len(out.skipped)} already stored, "
            f"{len(out.recovered)} recovered from result files, {len(out.trained)} trained, "
            f"{len(out.failed)} failed ({out.seconds:.1f} s). Store: {out.store}",
            highlight=False,
        )
    if out.failed:
        con = stderr_console()
        for key, err in out.failed.items():
            con.print(f"[red]failed:[/red] run {key}: {err}", highlight=False)
        con.print("run the same command again to retry the failed runs.", highlight=False)
        raise typer.Exit(1)


def _workdir(file: str, workdir: str | None) -> tuple[str, WorkDir]:
    """A sweep file, or the bare name of a sweep, to its work directory."""
    from scalinglab.sweep.spec import load_spec
    from scalinglab.sweep.workdir import WorkDir

    name = load_spec(file).name if Path(file).exists() else file
    return name, WorkDir.for_sweep(name, workdir)


@app.command("status")
def status_cmd(file: FileArg, workdir: WorkdirOpt = None, json_: JsonOpt = False) -> None:
    """Progress of a sweep, read from its work directory (safe while it runs)."""
    with user_errors():
        from scalinglab.sweep.progress import sweep_status

        name, wd = _workdir(file, workdir)
        state, runs = sweep_status(wd)
    if json_:
        emit_json({"name": name, "driver": state, "runs": [r.to_dict() for r in runs]})
        return
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.state] = counts.get(r.state, 0) + 1
    t = Table(title=f"sweep {name!r}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for col in ("key", "state", "group", "N (non-emb)", "D", "lr", "step", "loss", "completed"):
        t.add_column(col, justify="left" if col in ("key", "state", "group") else "right")
    for r in runs:
        d = r.to_dict()
        t.add_row(
            r.key,
            r.state,
            str(d["group"]),
            f"{d['N']:,}",
            f"{d['D']:,}",
            fmt_number(d["lr"], digits=3),
            f"{r.step}/{r.steps}",
            fmt_number(r.loss),
            str(r.completions),
        )
    con = stdout_console()
    con.print(t)
    alive = "running" if state.get("driver_alive") else "not running"
    con.print(f"driver: {alive}; work directory {wd.root}", highlight=False)


@app.command("export")
def export_cmd(
    file: FileArg,
    out: Annotated[str, typer.Argument(metavar="OUT", help="Output file, .csv or .parquet.")],
    curves: Annotated[
        bool, typer.Option("--curves", help="Every logged step, not one final row per run.")
    ] = False,
    metric: Annotated[
        str, typer.Option("--metric", help="Metric whose last value is each run's loss.")
    ] = "val_loss",
    store: StoreOpt = None,
) -> None:
    """Write the sweep's stored runs (one final row per run, or whole curves) for `fit`."""
    with user_errors():
        from scalinglab.data.store import resolve_store_path
        from scalinglab.sweep.store import final_runs, sweep_runs

        name, _ = _workdir(file, None)
        table = sweep_runs(resolve_store_path(store), name)
        if not curves:
            table = final_runs(table, metric)
        path = Path(out)
        if path.suffix.lower() == ".parquet":
            table.to_parquet(path, index=False)
        else:
            table.to_csv(path, index=False)
    stdout_console().print(f"wrote {len(table)} rows to {path}", highlight=False)
