"""``scalinglab fit`` and ``predict``: parse, call the library, render."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from scalinglab.cli.common import (
    FitArg,
    GroupByOpt,
    JsonOpt,
    LevelOpt,
    MapOpt,
    MetricOpt,
    ProgressBar,
    SeedOpt,
    StoreOpt,
    WhereOpt,
    WorkersOpt,
    XOpt,
    check_output,
    emit_json,
    fmt_number,
    load_fit,
    load_fits_ref,
    load_runs,
    objective_of,
    parse_fix,
    print_warnings,
    resolve_workers,
    save_results,
    stdout_console,
    user_errors,
)
from scalinglab.errors import FitError

if TYPE_CHECKING:
    import pandas as pd

    from scalinglab.fit.result import FitResult, FitSet


def _fmt(v: float) -> str:
    return fmt_number(v, digits=6, missing="nan")


def _render_fit(r: FitResult) -> None:
    con = stdout_console()
    p = r.provenance
    title = r.formula + (f"   [{p.group}]" if p.group else "")
    t = Table(title=escape(title), caption=escape(r.citation), show_lines=False)
    pct = round(100 * r.level)
    for col in ("parameter", "value", f"{pct}% low", f"{pct}% high"):
        t.add_column(col, justify="right" if col != "parameter" else "left")
    for name, v in r.params.items():
        lo, hi = r.intervals.get(name, (math.nan, math.nan))
        shown = escape(name + (" (fixed)" if name in r.fixed else ""))
        if r.bootstrap.n == 0 and name not in r.fixed:
            t.add_row(shown, _fmt(v), "no interval", "(--bootstrap 0)")
        else:
            t.add_row(shown, _fmt(v), _fmt(lo), _fmt(hi))
    con.print(t)
    s = r.search
    con.print(
        escape(
            f"{r.n_points} runs, metric {p.metric} ({p.metric_unit}); objective "
            f"{r.objective:.10g} = {r.objective_text}; AIC {r.aic:.5g}, BIC {r.bic:.5g}\n"
            f"starts {s.starts}: {s.starts_converged} converged, {s.starts_stalled} stalled, "
            f"{s.starts_pruned} pruned, {s.starts_at_best} at the best optimum; bootstrap "
            f"{r.bootstrap.converged}/{r.bootstrap.n} resamples"
            + (f", fit id {r.fit_id}" if r.fit_id else "")
        ),
        highlight=False,
    )
    print_warnings(r.warnings)


def _render_allocation(alloc: dict[str, Any]) -> None:
    pct = round(100 * alloc["level"])
    t = Table(title=f"Compute-optimal allocation at C = {alloc['compute']:.3g} FLOP (C = 6ND)")
    for col in ("quantity", "value", f"{pct}% low", f"{pct}% high"):
        t.add_column(col, justify="right" if col != "quantity" else "left")
    for key, label in (
        ("N", "N* (parameters)"),
        ("D", "D* (tokens)"),
        ("tokens_per_param", "D*/N*"),
        ("loss", "loss"),
    ):
        e = alloc[key]
        t.add_row(label, _fmt(e["value"]), _fmt(e["low"]), _fmt(e["high"]))
    stdout_console().print(t)


LawOpt = Annotated[str, typer.Option("--law", help="Law to fit (see `scalinglab laws list`).")]
ObjectiveOpt = Annotated[
    str | None,
    typer.Option("--objective", help="huber or lsq (default: the law's own, huber for losses)."),
]
SpaceOpt = Annotated[
    str | None, typer.Option("--space", help="log or linear (default: the law's).")
]
DeltaOpt = Annotated[float, typer.Option("--delta", help="Huber delta.")]
AsymOpt = Annotated[
    float, typer.Option("--asymmetry", help="Loss factor on over-predictions (1 = symmetric).")
]
WeightsOpt = Annotated[str | None, typer.Option("--weights", help="Column of per-run weights.")]
FixOpt = Annotated[
    list[str] | None, typer.Option("--fix", help="PARAM=VALUE held fixed (repeatable).")
]


def _check_fit_options(
    law: str, compute: float | None, shared: str | None, group_by: str | None, x: str | None
) -> list[str]:
    """Options checked before any work, so a command that fails changes nothing."""
    from scalinglab.laws.registry import get_law

    lw = get_law(law)
    if x is not None and "x" not in lw.variables:
        raise FitError(
            f"--x {x}: law {lw.name!r} has no variable x (its variables are "
            f"{', '.join(lw.variables)}); drop --x or choose a one-variable law."
        )
    shared_names = [p.strip() for p in (shared or "").split(",") if p.strip()]
    if shared_names and not group_by:
        raise FitError("--shared needs --group-by COLUMN (the groups that share them).")
    if compute is not None:
        if not (math.isfinite(compute) and compute > 0):
            raise FitError(f"--compute {compute!r}: a budget must be a positive number of FLOP.")
        if lw.name != "chinchilla":
            raise FitError(
                f"--compute needs a Chinchilla fit (closed-form allocation); law {law!r} has "
                "none: fit --law chinchilla, or use `scalinglab plan FIT --compute C`."
            )
    return shared_names


def fit_cmd(
    source: Annotated[
        str, typer.Argument(help="Runs file (CSV, Parquet, JSON) or bundled dataset name.")
    ],
    law: LawOpt = "chinchilla",
    map: MapOpt = None,
    metric: MetricOpt = None,
    where: WhereOpt = None,
    group_by: GroupByOpt = None,
    x: XOpt = None,
    objective: ObjectiveOpt = None,
    space: SpaceOpt = None,
    delta: DeltaOpt = 1e-3,
    asymmetry: AsymOpt = 1.0,
    weights: WeightsOpt = None,
    fix: FixOpt = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples (0: none).")
    ] = 1000,
    resample_by: Annotated[
        str | None,
        typer.Option("--resample-by", help="Resample whole groups of this column (e.g. N)."),
    ] = None,
    level: Annotated[float, typer.Option("--level", help="Interval level.")] = 0.95,
    seed: SeedOpt = 0,
    workers: WorkersOpt = 0,
    compute: Annotated[
        float | None,
        typer.Option(
            "--compute",
            help="Also print the compute-optimal N, D at this FLOP budget (chinchilla).",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the fit (JSON) here.")] = None,
    store: StoreOpt = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not keep the fit in the store.")
    ] = False,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    no_calibrate: Annotated[
        bool,
        typer.Option(
            "--no-calibrate", help="Skip the nested backtest that calibrates prediction intervals."
        ),
    ] = False,
    shared: Annotated[
        str | None,
        typer.Option(
            "--shared",
            help="With --group-by: one joint fit, these parameters (comma-separated) shared by all groups.",
        ),
    ] = None,
) -> None:
    """Fit a law to runs: multi-start optimum, bootstrap intervals, warnings."""
    from scalinglab.fit.groups import fit_runs

    with user_errors():
        shared_names = _check_fit_options(law, compute, shared, group_by, x)
        check_output(out, "--out")
        obj = objective_of(law, objective, space, delta, asymmetry)
        fixed = parse_fix(fix)
        n_workers = resolve_workers(workers)
        runs = load_runs(source, map=map, metric=metric, where=where, x=x)
        n_groups = runs[group_by].nunique() if group_by and group_by in runs.columns else 1
        with (
            ProgressBar(quiet, "bootstrap", bootstrap * n_groups) as bar,
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")  # shown from FitResult.warnings instead
            result = fit_runs(
                runs,
                law,
                group_by=group_by,
                shared=shared_names,
                workers=n_workers,
                progress=bar.tick,
                objective=obj,
                weights=weights,
                fix=fixed,
                n_boot=bootstrap,
                resample_by=resample_by,
                level=level,
                seed=seed,
            )
        result = _calibrated(result, runs, group_by if shared_names else None, no_calibrate)
        result = save_results(result, out=out, store=False if no_store else store, source=source)
        _show(result, compute, json_out)


def _calibrated(
    result: FitResult | FitSet, runs: pd.DataFrame, joint_by: str | None, skip: bool
) -> FitResult | FitSet:
    """The fit(s) with calibrated prediction intervals (each group on its own runs)."""
    from scalinglab.data.select import group_runs
    from scalinglab.fit.result import FitResult, FitSet
    from scalinglab.trust.calibrate import calibrate

    if skip:
        return result
    if isinstance(result, FitResult):
        return calibrate(result, runs)
    parts = dict(group_runs(runs, result.group_by))  # each group's own runs table
    fits = tuple(calibrate(f, parts.get(f.provenance.group or "")) for f in result.fits)
    return FitSet(fits, result.group_by, result.failed)


def _show(result: FitResult | FitSet, compute: float | None, json_out: bool) -> None:
    from scalinglab.fit.result import FitSet
    from scalinglab.plan.compute_optimal import compute_optimal

    fits = list(result) if isinstance(result, FitSet) else [result]
    if isinstance(result, FitSet):
        print_warnings(f"group {g} failed: {msg}" for g, msg in result.failed)
    allocs = [compute_optimal(r, compute).as_dict() if compute is not None else None for r in fits]
    if json_out:
        payload = []
        for r, a in zip(fits, allocs, strict=True):
            d = r.summary()
            if a is not None:
                d["compute_optimal"] = a
            payload.append(d)
        emit_json(payload if isinstance(result, FitSet) else payload[0])
        return
    for r, a in zip(fits, allocs, strict=True):
        _render_fit(r)
        if a is not None:
            _render_allocation(a)


def _points(
    points: Path | None, N: list[float] | None, D: list[float] | None, x: list[float] | None
) -> pd.DataFrame:
    import pandas as pd

    from scalinglab.data.ingest import read_table

    if points is not None:
        return read_table(points)
    cols = {k: v for k, v in (("N", N), ("D", D), ("x", x)) if v}
    if not cols:
        raise FitError("give the point(s) to predict: --N and --D (or --x), or --points FILE.")
    if len({len(v) for v in cols.values()}) != 1:
        raise FitError("--N, --D and --x must be given the same number of times.")
    return pd.DataFrame(cols)


def predict_cmd(
    fit_ref: FitArg,
    N: Annotated[list[float] | None, typer.Option("--N", help="Model size(s), parameters.")] = None,
    D: Annotated[list[float] | None, typer.Option("--D", help="Token count(s).")] = None,
    x: Annotated[
        list[float] | None, typer.Option("--x", help="x value(s) for one-variable laws.")
    ] = None,
    then: Annotated[
        str | None,
        typer.Option(
            "--then",
            help="A second fit of a metric against loss (x): predict it through the loss (two-stage).",
        ),
    ] = None,
    interval: Annotated[
        str, typer.Option("--interval", help="calibrated (default), predictive or bootstrap.")
    ] = "calibrated",
    points: Annotated[
        Path | None, typer.Option("--points", help="CSV/Parquet/JSON of points.")
    ] = None,
    level: LevelOpt = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Predict the target at new points, with a calibrated interval by default."""
    from scalinglab.fit.result import FitSet
    from scalinglab.trust.predict import predict
    from scalinglab.trust.twostage import predict_two_stage

    with user_errors():
        result = load_fits_ref(fit_ref, store)
        frame = _points(points, N, D, x)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if then is not None:
                if isinstance(result, FitSet):
                    raise FitError("--then needs one loss fit, not a fit set.")
                table = predict_two_stage(result, load_fit(then, store), frame, level=level)
            else:
                table = predict(result, frame, level=level, interval=interval)
        print_warnings(w.message for w in caught)
        first = result.fits[0] if isinstance(result, FitSet) else result
        lvl = first.level if level is None else level
        if json_out:
            records = table.to_dict(orient="records")
            emit_json({"law": first.law, "level": lvl, "predictions": records})
            return
        t = Table(title=escape(f"{first.formula}  ({round(100 * lvl)}% interval)"))
        for c in table.columns:
            t.add_column(str(c), justify="right")
        for row in table.itertuples(index=False):
            t.add_row(*(escape(str(v)) if isinstance(v, str) else _fmt(float(v)) for v in row))
        stdout_console().print(t)


def register(app: typer.Typer) -> None:
    from scalinglab.cli import lawscmd

    app.command("fit")(fit_cmd)
    app.command("predict")(predict_cmd)
    app.add_typer(lawscmd.app, name="laws")
