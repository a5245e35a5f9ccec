"""``scalinglab plot`` and ``scalinglab report``: parse, call :mod:`scalinglab.report`, render.

The report modules (matplotlib, plotly) are imported inside the commands, so other commands
start without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scalinglab.cli.common import (
    FitArg,
    JsonOpt,
    MapOpt,
    MetricOpt,
    ProgressBar,
    StoreOpt,
    WhereOpt,
    WorkersOpt,
    XOpt,
    check_output,
    emit_json,
    load_fit,
    load_fits_ref,
    load_runs,
    parse_map,
    print_warnings,
    resolve_workers,
    stdout_console,
    user_errors,
)
from scalinglab.errors import DataError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from scalinglab.fit.result import FitResult
    from scalinglab.report.build import GroupInputs, ReportInputs

QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar and no 'wrote ...' line.")
]
DataOpt = Annotated[
    str | None,
    typer.Option(
        "--data", help="Runs file or bundled dataset (needed by backtest; isoflop/curves use it)."
    ),
]
HoldoutOpt = Annotated[
    str | None,
    typer.Option(
        "--holdout",
        help="Runs the backtest holds out (default: 'top 20% by C' for laws of N and D, else by x).",
    ),
]
# unlike `fit --seed` (no help text), these commands say what the seed drives
ResampleSeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the bootstrap resamples.")]


ComputeOpt = Annotated[
    float | None,
    typer.Option("--compute", help="Add the plan at this budget (FLOP), e.g. 1e24."),
]
TargetLossOpt = Annotated[
    float | None,
    typer.Option("--target-loss", help="Add the plan reaching this loss (the fit's metric)."),
]
InferenceTokensOpt = Annotated[
    float,
    typer.Option(
        "--inference-tokens",
        help="Tokens served over the model's life: adds the inference-aware plan.",
    ),
]
UniqueTokensOpt = Annotated[
    float | None,
    typer.Option(
        "--unique-tokens",
        help="Unique data (tokens) available: adds the data-constrained plan.",
    ),
]
CurvesOpt = Annotated[
    str | None,
    typer.Option(
        "--curves",
        help="Runs with a step column to draw as loss curves (`sweep export ... --curves`).",
    ),
]
ReportGroupByOpt = Annotated[
    str | None,
    typer.Option(
        "--group-by",
        help="Fit each group of this column separately (one panel per group), or jointly with --shared.",
    ),
]
SharedOpt = Annotated[
    str | None,
    typer.Option(
        "--shared",
        help="With --group-by: one joint fit, these parameters (comma-separated) shared.",
    ),
]


def _wrote(path: Path, *, quiet: bool, json_out: bool, extra: dict[str, Any]) -> None:
    size = path.stat().st_size
    if json_out:
        emit_json({"path": str(path), "bytes": size, **extra})
    elif not quiet:
        stdout_console().print(f"wrote {path} ({size / 1e6:.2f} MB)", highlight=False)


def plot_cmd(
    fit_ref: FitArg,
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="fit, isoflop, frontier, residuals, backtest, curves or bootstrap.",
        ),
    ] = "fit",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output image: .png or .svg.")] = Path(
        "plot.png"
    ),
    data: DataOpt = None,
    map: MapOpt = None,
    metric: MetricOpt = None,
    where: WhereOpt = None,
    x: XOpt = None,
    holdout: HoldoutOpt = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples of the backtest's fit.")
    ] = 100,
    seed: ResampleSeedOpt = 0,
    workers: WorkersOpt = 0,
    store: StoreOpt = None,
    group_by: Annotated[
        str | None,
        typer.Option(
            "--group-by",
            help="A fit set's column (fit --group-by): one panel per group (--kind fit).",
        ),
    ] = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Draw one figure of a fit as PNG or SVG (matplotlib)."""
    with user_errors():
        from scalinglab.report import plots
        from scalinglab.report.build import backtest_for_report

        if kind not in plots.KINDS:
            raise DataError(f"--kind {kind!r} is unknown; use one of {', '.join(plots.KINDS)}.")
        if out.suffix.lower().lstrip(".") not in plots.FORMATS:
            raise DataError(f"--out {str(out)!r}: use a .png or .svg file name.")
        check_output(out, "--out")
        if group_by is not None:
            path = plots.save_figure(_group_panels(fit_ref, store, group_by, kind), out)
            _wrote(path, quiet=quiet, json_out=json_out, extra={"kind": kind})
            return
        result = load_fit(fit_ref, store)
        runs = None
        if data is not None:
            p = result.provenance  # the fit's own selection of its runs unless overridden
            runs = load_runs(
                data, map=map, metric=metric or p.metric, where=where or p.where, x=x or p.x
            )
        elif kind == "backtest":
            raise DataError(
                "--kind backtest needs the runs to backtest on: add --data SOURCE "
                "(and the --where/--metric used for the fit)."
            )
        predictions = None
        axis = "C"
        if kind == "backtest" and runs is not None:
            from scalinglab.trust.holdout import Holdout

            bt, spec = backtest_for_report(
                result,
                runs,
                holdout=holdout,
                n_boot=bootstrap,
                seed=seed,
                workers=resolve_workers(workers),
            )
            predictions = bt.predictions
            axis = Holdout.parse(spec).column or _fallback_axis(result)
        fig = plots.figure(kind, result, runs=runs, predictions=predictions, axis=axis)
        path = plots.save_figure(fig, out)
        _wrote(path, quiet=quiet, json_out=json_out, extra={"kind": kind})


def report_cmd(
    source: Annotated[
        str,
        typer.Argument(
            metavar="FIT_OR_DATA",
            help="A fit (JSON file or store id), or runs (file or bundled dataset) to fit first.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    law: Annotated[
        str | None,
        typer.Option("--law", help="Law fitted to runs (default chinchilla; power_law with --x)."),
    ] = None,
    data: DataOpt = None,
    map: MapOpt = None,
    metric: MetricOpt = None,
    where: WhereOpt = None,
    x: XOpt = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples when fitting runs.")
    ] = 200,
    backtest_bootstrap: Annotated[
        int, typer.Option("--backtest-bootstrap", help="Bootstrap resamples of the backtest.")
    ] = 100,
    holdout: HoldoutOpt = None,
    no_backtest: Annotated[
        bool, typer.Option("--no-backtest", help="Skip the backtest even with runs.")
    ] = False,
    compute: ComputeOpt = None,
    target_loss: TargetLossOpt = None,
    inference_tokens: InferenceTokensOpt = 0.0,
    unique_tokens: UniqueTokensOpt = None,
    curves: CurvesOpt = None,
    group_by: ReportGroupByOpt = None,
    shared: SharedOpt = None,
    fit_out: Annotated[
        Path | None, typer.Option("--fit-out", help="Also write the fit shown (JSON) here.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Page title.")] = None,
    seed: ResampleSeedOpt = 0,
    workers: WorkersOpt = 0,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write one self-contained HTML report (interactive plotly figures, fit table, backtest, plan) that opens without a network."""
    with user_errors():
        from scalinglab.report.html import write_html

        if out.suffix.lower() not in (".html", ".htm"):
            raise DataError(f"--out {str(out)!r}: the report is HTML; name it *.html.")
        check_output(out, "--out")
        check_output(fit_out, "--fit-out")
        inputs = _gather(
            source,
            law=law,
            data=data,
            map=map,
            metric=metric,
            where=where,
            x=x,
            bootstrap=bootstrap,
            backtest_bootstrap=backtest_bootstrap,
            holdout=holdout,
            no_backtest=no_backtest,
            compute=compute,
            target_loss=target_loss,
            inference_tokens=inference_tokens,
            unique_tokens=unique_tokens,
            seed=seed,
            workers=resolve_workers(workers),
            store=store,
            curves=curves,
            group_by=group_by,
            shared=[p.strip() for p in (shared or "").split(",") if p.strip()],
            quiet=quiet,
        )
        from scalinglab.fit.result import FitSet
        from scalinglab.report.build import GroupInputs

        shown = inputs.fits if isinstance(inputs, GroupInputs) else inputs.result
        if fit_out is not None:
            shown.save(fit_out)
        path = write_html(inputs, out, title=title)
        fits = list(shown) if isinstance(shown, FitSet) else [shown]
        extra: dict[str, Any] = {
            "law": fits[0].law,
            "fit": str(fit_out) if fit_out is not None else fits[0].fit_id,
            "backtest": None if isinstance(inputs, GroupInputs) else inputs.holdout,
        }
        if isinstance(shown, FitSet):
            extra["groups"] = [f.provenance.group for f in fits]
        _wrote(path, quiet=quiet, json_out=json_out, extra=extra)
        if not quiet and not json_out:
            for f in fits:
                group = f.provenance.group
                print_warnings([f"[{group}] {w}" if group else w for w in f.warnings])


def register(app: typer.Typer) -> None:
    app.command("plot")(plot_cmd)
    app.command("report")(report_cmd)


def _group_panels(fit_ref: str, store: str | None, group_by: str, kind: str) -> Figure:
    """One panel per group of a fit set (``fit --group-by``), or a joint fit's groups in one
    panel, one colour each."""
    from scalinglab.fit.result import FitSet
    from scalinglab.report import plots

    fits = load_fits_ref(fit_ref, store)
    by = fits.group_by if isinstance(fits, FitSet) else fits.joint and fits.joint.group_by
    if by != group_by:
        what = f"grouped by {by!r}" if by else "a single fit without groups"
        raise DataError(
            f"--group-by {group_by!r}: {fit_ref} is {what}; fit the groups first with "
            f"`scalinglab fit RUNS --group-by {group_by} -o FITS.json`."
        )
    if kind != "fit":
        raise DataError(
            f"--group-by draws --kind fit (one panel per group), not {kind!r}; plot one group's "
            "fit alone for the other kinds."
        )
    if isinstance(fits, FitSet):
        return plots.plot_fit_groups(fits.fits)
    return plots.plot_fit(fits)


def _fallback_axis(result: FitResult) -> str:
    v = [n for n in result.variables if not n.startswith("_")]
    return "C" if {"N", "D"} <= set(v) else v[0]


def _gather(
    source: str, *, map: list[str] | None, quiet: bool, **kw: Any
) -> ReportInputs | GroupInputs:
    """The report's inputs (:func:`scalinglab.report.build.gather`) with a progress bar."""
    from scalinglab.report.build import gather

    with ProgressBar(quiet, "bootstrap", int(kw["bootstrap"])) as bar:
        return gather(source, mapping=parse_map(map), progress=bar.tick, **kw)
