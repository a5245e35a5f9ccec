"""``scalinglab fit``, ``predict`` and ``laws``: parse, call the library, render."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
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
    emit_json,
    fmt_number,
    load_fit,
    load_selection,
    print_warnings,
    resolve_workers,
    selection_of,
    stdout_console,
    user_errors,
)
from scalinglab.data.ingest import read_table
from scalinglab.data.store import Store
from scalinglab.errors import FitError
from scalinglab.fit.api import fit, fit_groups, predict
from scalinglab.fit.objectives import Objective
from scalinglab.fit.result import FitResult
from scalinglab.fit.twostage import predict_two_stage
from scalinglab.laws.registry import get_law, list_laws
from scalinglab.plan.compute_optimal import compute_optimal


def _parse_fix(items: list[str] | None) -> dict[str, float]:
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


def _fmt(v: float) -> str:
    return fmt_number(v, digits=6, missing="nan")


def _render_fit(r: FitResult) -> None:
    con = stdout_console()
    title = r.formula + (f"   [{r.selection.get('group')}]" if r.selection.get("group") else "")
    t = Table(title=title, caption=r.citation, show_lines=False)
    pct = round(100 * r.level)
    for col in ("parameter", "value", f"{pct}% low", f"{pct}% high"):
        t.add_column(col, justify="right" if col != "parameter" else "left")
    for name, v in r.params.items():
        lo, hi = r.intervals.get(name, (math.nan, math.nan))
        t.add_row(name + (" (fixed)" if name in r.fixed else ""), _fmt(v), _fmt(lo), _fmt(hi))
    con.print(t)
    s = r.search
    con.print(
        f"{r.n_points} runs, metric {r.selection.get('metric')} ({r.selection.get('metric_unit')});"
        f" objective {r.objective:.10g} = {r.objective_text}\n"
        f"starts {s.starts}: {s.starts_converged} converged, {s.starts_pruned} pruned,"
        f" {s.starts_at_best} at the best optimum; bootstrap {r.bootstrap['converged']}/"
        f"{r.bootstrap['n']} resamples" + (f", fit id {r.fit_id}" if r.fit_id else ""),
        highlight=False,
    )
    print_warnings(r.warnings)


def _render_allocation(alloc: dict[str, Any]) -> None:
    con = stdout_console()
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
    con.print(t)


def register(app: typer.Typer) -> None:
    @app.command("fit")
    def fit_cmd(
        source: Annotated[
            str, typer.Argument(help="Runs file (CSV, Parquet, JSON) or bundled dataset name.")
        ],
        law: Annotated[
            str, typer.Option("--law", help="Law to fit (see `scalinglab laws list`).")
        ] = "chinchilla",
        map: MapOpt = None,
        metric: MetricOpt = None,
        where: WhereOpt = None,
        group_by: GroupByOpt = None,
        x: XOpt = None,
        objective: Annotated[
            str | None,
            typer.Option(
                "--objective", help="huber or lsq (default: the law's own, huber for losses)."
            ),
        ] = None,
        space: Annotated[
            str | None, typer.Option("--space", help="log or linear (default: the law's).")
        ] = None,
        delta: Annotated[float, typer.Option("--delta", help="Huber delta.")] = 1e-3,
        asymmetry: Annotated[
            float,
            typer.Option("--asymmetry", help="Loss factor on over-predictions (1 = symmetric)."),
        ] = 1.0,
        weights: Annotated[
            str | None, typer.Option("--weights", help="Column of per-run weights.")
        ] = None,
        fix: Annotated[
            list[str] | None, typer.Option("--fix", help="PARAM=VALUE held fixed (repeatable).")
        ] = None,
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
        out: Annotated[
            Path | None, typer.Option("--out", help="Write the fit (JSON) here.")
        ] = None,
        store: StoreOpt = None,
        no_store: Annotated[
            bool, typer.Option("--no-store", help="Do not keep the fit in the store.")
        ] = False,
        json_out: JsonOpt = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
        no_calibrate: Annotated[
            bool,
            typer.Option(
                "--no-calibrate",
                help="Skip the nested backtest that calibrates prediction intervals.",
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
        with user_errors():
            lw = get_law(law)
            # Objective validates kind and space itself (FitError naming the allowed values)
            obj = Objective(
                kind=objective or lw.default_objective,  # type: ignore[arg-type]
                space=space,  # type: ignore[arg-type]
                delta=delta,
                asymmetry=asymmetry,
            )
            shared_names = [p.strip() for p in (shared or "").split(",") if p.strip()]
            if shared_names and not group_by:
                raise FitError("--shared needs --group-by COLUMN (the groups that share them).")
            joint = bool(shared_names)
            groups = load_selection(
                source,
                map=map,
                metric=metric,
                where=where,
                group_by=None if joint else group_by,
                x=x,
            )
            if joint:
                kw_joint: dict[str, Any] = {"group_by": group_by, "shared": shared_names}
            else:
                kw_joint = {}
            n_workers = resolve_workers(workers)
            kw: dict[str, Any] = dict(
                objective=obj,
                weights=weights,
                fix=_parse_fix(fix),
                n_boot=bootstrap,
                resample_by=resample_by,
                level=level,
                seed=seed,
                calibrate=not no_calibrate,
            )
            total = bootstrap * len(groups)
            with ProgressBar(quiet, "bootstrap", total) as bar:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # shown from FitResult.warnings instead
                    if len(groups) == 1:
                        key, frame = groups[0]
                        sel = selection_of(frame, source, key)
                        results = [
                            fit(
                                frame,
                                lw,
                                workers=n_workers,
                                progress=bar.tick,
                                selection=sel,
                                **kw,
                                **kw_joint,
                            )
                        ]
                    else:
                        sel_groups = [(k, f) for k, f in groups]
                        results = fit_groups(
                            sel_groups,
                            lw,
                            workers=n_workers,
                            selection=selection_of(groups[0][1], source),
                            **kw,
                        )
                        bar.tick(total)
            if not no_store:
                with Store.open(store) as st:
                    results = [
                        _with_id(r, st.save_fit(r.to_json(), law=r.law, source=source))
                        for r in results
                    ]
            if out is not None:
                if len(results) == 1:
                    results[0].save(out)
                else:
                    Path(out).write_text(
                        "[\n" + ",\n".join(r.to_json() for r in results) + "\n]\n", encoding="utf-8"
                    )
            allocs = [
                compute_optimal(r, compute).as_dict() if compute is not None else None
                for r in results
            ]
            if json_out:
                payload = []
                for r, a in zip(results, allocs, strict=True):
                    d = r.summary()
                    if a is not None:
                        d["compute_optimal"] = a
                    payload.append(d)
                emit_json(payload if (group_by and not joint) else payload[0])
                return
            for r, a in zip(results, allocs, strict=True):
                _render_fit(r)
                if a is not None:
                    _render_allocation(a)

    @app.command("predict")
    def predict_cmd(
        fit_ref: FitArg,
        N: Annotated[
            list[float] | None, typer.Option("--N", help="Model size(s), parameters.")
        ] = None,
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
        """Predict the target at new points, with the interval from the fit's bootstrap."""
        with user_errors():
            result = load_fit(fit_ref, store)
            if points is not None:
                frame = read_table(points)
            else:
                cols = {k: v for k, v in (("N", N), ("D", D), ("x", x)) if v}
                if not cols:
                    raise FitError(
                        "give the point(s) to predict: --N and --D (or --x), or --points FILE."
                    )
                lengths = {len(v) for v in cols.values()}
                if len(lengths) != 1:
                    raise FitError("--N, --D and --x must be given the same number of times.")
                frame = pd.DataFrame(cols)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if then is not None:
                    table = predict_two_stage(result, load_fit(then, store), frame, level=level)
                else:
                    table = predict(result, frame, level=level, interval=interval)
            print_warnings(w.message for w in caught)
            lvl = result.level if level is None else level
            if json_out:
                emit_json(
                    {
                        "law": result.law,
                        "level": lvl,
                        "predictions": table.to_dict(orient="records"),
                    }
                )
                return
            t = Table(title=f"{result.formula}  ({round(100 * lvl)}% interval)")
            for c in table.columns:
                t.add_column(str(c), justify="right")
            for row in table.itertuples(index=False):
                t.add_row(*(_fmt(float(v)) for v in row))
            stdout_console().print(t)

    laws_app = typer.Typer(help="The law catalogue.", no_args_is_help=True)
    app.add_typer(laws_app, name="laws")

    @laws_app.command("list")
    def laws_list(json_out: JsonOpt = False) -> None:
        """List the laws."""
        rows = [
            {
                "name": lw.name,
                "formula": lw.formula,
                "variables": list(lw.variables),
                "citation": lw.citation,
            }
            for lw in list_laws()
        ]
        if json_out:
            emit_json(rows)
            return
        t = Table("name", "formula", "variables", "citation")
        for lw in list_laws():
            t.add_row(lw.name, lw.formula, ", ".join(lw.variables), lw.citation)
        stdout_console().print(t)

    @laws_app.command("show")
    def laws_show(name: str, json_out: JsonOpt = False) -> None:
        """Formula, variables, parameters and citation of one law."""
        with user_errors():
            lw = get_law(name)
            params: list[dict[str, Any]] = [
                {
                    "name": p.name,
                    "meaning": p.meaning,
                    "unit": p.unit,
                    "lower": p.lower,
                    "upper": p.upper,
                    "fitted_as": f"log({p.name})" if p.log else p.name,
                    "grid": list(p.grid),
                }
                for p in lw.params
            ]
            if json_out:
                emit_json(
                    {
                        "name": lw.name,
                        "version": lw.version,
                        "formula": lw.formula,
                        "variables": list(lw.variables),
                        "citation": lw.citation,
                        "space": lw.space,
                        "params": params,
                        "published": dict(lw.published),
                        "notes": lw.notes,
                    }
                )
                return
            con = stdout_console()
            con.print(
                f"[bold]{lw.name}[/bold] v{lw.version}: {lw.title}\n  {lw.formula}\n  variables: {', '.join(lw.variables)}; fitted in {lw.space} space\n  {lw.citation}",
                highlight=False,
            )
            if lw.notes:
                con.print(f"  notes: {lw.notes}", highlight=False, markup=False)
            t = Table("parameter", "meaning", "unit", "bounds", "fitted as")
            for p in params:
                t.add_row(
                    str(p["name"]),
                    str(p["meaning"]),
                    str(p["unit"]),
                    f"[{p['lower']}, {p['upper']}]",
                    str(p["fitted_as"]),
                )
            con.print(t)


def _with_id(r: FitResult, fit_id: str) -> FitResult:
    from dataclasses import replace

    return replace(r, fit_id=fit_id)
