"""``scalinglab backtest`` and ``scalinglab diagnose``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from scalinglab.cli.common import (
    GroupByOpt,
    JsonOpt,
    MapOpt,
    MetricOpt,
    RunsArg,
    SeedOpt,
    WhereOpt,
    XOpt,
    emit_json,
    fmt_number,
    load_fit,
    load_runs,
    load_selection,
    objective_of,
    parse_fix,
    stdout_console,
    user_errors,
)
from scalinglab.cli.fitcmd import AsymOpt, DeltaOpt, FixOpt, ObjectiveOpt, SpaceOpt, WeightsOpt
from scalinglab.errors import FitError

if TYPE_CHECKING:
    from scalinglab.fit.result import FitResult


def backtest_cmd(
    source: RunsArg,
    law: Annotated[
        list[str],
        typer.Option(
            "--law",
            help="Law(s) to compare; 'auto' mixes the candidates, weighted by in-fit backtests; a fit file (JSON) "
            "backtests that fit's full specification.",
        ),
    ],
    holdout: Annotated[
        str,
        typer.Option(
            "--holdout",
            help="'top 20% by C', 'top 3 by N' or an expression such as 'Training == 0'.",
        ),
    ],
    map: MapOpt = None,
    metric: MetricOpt = None,
    where: WhereOpt = None,
    group_by: GroupByOpt = None,
    x: XOpt = None,
    level: Annotated[
        float, typer.Option("--level", help="Interval level scored as coverage.")
    ] = 0.9,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples per fit.")
    ] = 200,
    seed: SeedOpt = 0,
    workers: Annotated[int, typer.Option("--workers", help="Processes.")] = 2,
    auto_scope: Annotated[
        str,
        typer.Option(
            "--auto-scope",
            help="With --group-by, 'pooled': --law auto mixes the candidate laws with one "
            "weight set learned from all groups' in-fit backtests; 'group': each group's own "
            "weights, shrunk toward the pooled ones.",
        ),
    ] = "pooled",
    objective: ObjectiveOpt = None,
    space: SpaceOpt = None,
    delta: DeltaOpt = 1e-3,
    asymmetry: AsymOpt = 1.0,
    weights: WeightsOpt = None,
    fix: FixOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Fit each law on the runs left after the holdout and score its predictions of the held-out runs: RMSE of log values, mean/max relative error, interval coverage."""
    from scalinglab.trust.backtest import backtest
    from scalinglab.trust.select import errors_from_selection, pooled_scores

    with user_errors():
        laws = [_law_or_fit(name) for name in law]
        named = next((n for n in law if not n.lower().endswith(".json") and n != "auto"), None)
        obj = None
        if objective or space or delta != 1e-3 or asymmetry != 1.0:
            obj = objective_of(named or "chinchilla", objective, space, delta, asymmetry)
        fixed = parse_fix(fix)
        runs = load_runs(source, map=map, metric=metric, where=where, x=x)
        res = backtest(
            runs,
            laws,
            holdout,
            objective=obj,
            fix=fixed,
            weights=weights,
            group_by=group_by,
            level=level,
            n_boot=bootstrap,
            seed=seed,
            workers=workers,
            auto_scope=auto_scope,
        )
        rows = res.records()
        if json_out:
            emit_json(rows)
            return
        cols = [c for c in res.summary.columns if c != "error"]
        t = Table(*cols, title=f"backtest: holdout {holdout!r}")
        for r in rows:
            t.add_row(*(fmt_number(r[c]) for c in cols))
        con = stdout_console()
        con.print(t)
        sel = res.selection
        if len(sel):
            pooled = pooled_scores(errors_from_selection(sel))
            evidence = ", ".join(
                f"{name} {math.exp(v):.3g}"
                for name, v in sorted(pooled.items(), key=lambda kv: kv[1])
            )
            scope = "one weight set for all groups" if auto_scope == "pooled" else "per group"
            con.print(
                f"auto: stacked ensemble ({scope}); each candidate's in-fit rolling-origin "
                f"backtests, geometric-mean RMSE(log) over origins and groups: {evidence}"
            )
        for r in rows:
            if r.get("error"):
                con.print(f"[yellow]{r['law']} {r['group'] or ''}: {r['error']}[/yellow]")


def diagnose_cmd(
    source: RunsArg,
    law: Annotated[
        str | None, typer.Option("--law", help="Also fit this law and check the fit.")
    ] = None,
    map: MapOpt = None,
    metric: MetricOpt = None,
    where: WhereOpt = None,
    group_by: GroupByOpt = None,
    x: XOpt = None,
    target_n: Annotated[
        float | None, typer.Option("--N", help="Target model size to check extrapolation to.")
    ] = None,
    target_d: Annotated[float | None, typer.Option("--D", help="Target tokens.")] = None,
    target_x: Annotated[
        float | None, typer.Option("--target-x", help="Target x for one-variable laws.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Flag inverse scaling, U shapes, breaks, plateaus, emergence, too few points, unidentifiable fits and far extrapolation."""
    from scalinglab.trust.diagnose import diagnose

    with user_errors():
        target = {
            k: v for k, v in (("N", target_n), ("D", target_d), ("x", target_x)) if v is not None
        }
        if target and law is None:
            raise FitError("an extrapolation target (--N/--D/--target-x) needs --law to fit.")
        groups = load_selection(source, map=map, metric=metric, where=where, group_by=group_by, x=x)
        rows = []
        for key, frame in groups:
            for f in diagnose(frame, law=law, target=target or None):
                rows.append({"group": key, **f.as_dict()})
        if json_out:
            emit_json(rows)
            return
        con = stdout_console()
        if not rows:
            con.print("no problems found.")
        for r in rows:
            tag = f"[{r['group']}] " if r["group"] else ""
            con.print(f"[yellow]{r['kind']}[/yellow] {escape(tag + r['message'])}", highlight=False)


def _law_or_fit(ref: str) -> str | FitResult:
    """A law name, or the fit in a JSON file (its spec is backtested)."""
    return load_fit(ref, None) if ref.lower().endswith(".json") else ref


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest_cmd)
    app.command("diagnose")(diagnose_cmd)
