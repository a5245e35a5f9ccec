"""Static figures (matplotlib) of a fit: the law against the runs, IsoFLOP curves, the
compute-optimal frontier, residuals, a backtest, loss curves and bootstrap distributions.

matplotlib is imported here only, and only through its object-oriented API: every figure is a
:class:`matplotlib.figure.Figure` attached to an Agg canvas explicitly, so neither ``pyplot`` nor
the global backend is touched. Figures are built and saved inside :func:`style` (matplotlib's
default style plus fixed size, dpi, DejaVu Sans (bundled with matplotlib), a fixed SVG hash salt
and no dates in the metadata), so the same fit gives the same bytes; the tests compare PNGs
against ``tests/report/baseline/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.cm
import matplotlib.colors
import matplotlib.style
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scalinglab.errors import DataError, FitError
from scalinglab.fit.result import FitResult
from scalinglab.report import analysis as an
from scalinglab.report.analysis import UNITS, axis_label, target_label, x_label

KINDS = ("fit", "isoflop", "frontier", "residuals", "backtest", "curves", "bootstrap")
FORMATS = ("png", "svg")
PANEL = (5.0, 3.8)  # inches per panel
DPI = 100
_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "svg.hashsalt": "scalinglab",
    "svg.fonttype": "path",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 7.5,
    "legend.framealpha": 0.8,
}


@contextmanager
def style() -> Iterator[None]:
    """matplotlib's default style plus ours, restored on exit (no global state changes)."""
    with matplotlib.style.context(["default", _RC]):
        yield


def _figure(ncols: int = 1, nrows: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(PANEL[0] * ncols, PANEL[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG or SVG (by the suffix) without dates or version strings."""
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise DataError(f"output {str(p)!r}: use a .png or .svg file name.")
    meta: dict[str, Any] = (
        {"Software": None} if fmt == "png" else {"Date": None, "Creator": None, "Format": None}
    )
    with style():
        fig.savefig(p, format=fmt, metadata=meta)
    return p


def _plain_log_y(ax: Axes) -> None:
    """Loss values on a log axis read better as 2.5 than as 2.5x10^0."""
    fmt = matplotlib.ticker.FuncFormatter(lambda v, _pos: f"{v:g}")
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_formatter(fmt)


def _title(result: FitResult) -> str:
    group = result.provenance.group
    return result.formula + (f"   [{group}]" if group else "")


def _colors(n: int) -> list[Any]:
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(v) for v in np.linspace(0.0, 0.85, max(n, 1))]


# ----- the figures -----


def plot_fit(result: FitResult, *, interval: str = "calibrated") -> Figure:
    """The runs against the law's main variable with the fitted law and its band
    (:func:`scalinglab.report.analysis.law_curves`)."""
    with style():
        fig, (ax,) = _figure()
        _draw_fit(ax, result, interval)
    return fig


def plot_fit_groups(fits: Sequence[FitResult], *, interval: str = "calibrated") -> Figure:
    """One :func:`plot_fit` panel per fit of a fit set (``fit --group-by``), three a row,
    titled with the group."""
    ncols = min(len(fits), 3)
    with style():
        fig, axes = _figure(ncols=ncols, nrows=-(-len(fits) // ncols))
        for ax, result in zip(axes, fits, strict=False):
            _draw_fit(ax, result, interval)
        for ax in axes[len(fits) :]:
            ax.set_visible(False)
    return fig


def _draw_fit(ax: Axes, result: FitResult, interval: str) -> None:
    cv = an.law_curves(result, interval=interval)
    colors = _colors(len(cv.curves))
    for curve, color in zip(cv.curves, colors, strict=True):
        t = curve.table
        ax.scatter(curve.runs["x"], curve.runs["y"], s=10, color=color, alpha=0.7, lw=0)
        ax.plot(t["x"], t["value"], color=color, lw=1.5, label=curve.label)
        if t["low"].notna().all():
            ax.fill_between(t["x"], t["low"], t["high"], color=color, alpha=0.18, lw=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_y(ax)
    ax.set_xlabel(x_label(result, cv.x))
    ax.set_ylabel(target_label(result))
    ax.set_title(_title(result), fontsize=9)
    ax.legend(title=f"{round(100 * cv.level)}% {cv.interval} band", title_fontsize=7.5)


def plot_isoflop(runs: pd.DataFrame, *, result: FitResult | None = None) -> Figure:
    """IsoFLOP curves: loss against N per compute budget, a parabola in log N per budget and
    its minimum; right, the minima N* against C with the fitted power law."""
    with style():
        iso = an.isoflop(runs)
        fig, (ax, ax2) = _figure(ncols=2)
        other = iso.runs[iso.runs["budget"] < 0]
        ax.scatter(other["N"], other["y"], s=6, color="0.75", lw=0, label="other runs")
        logc = np.log10(iso.budgets["C"].to_numpy(float))
        norm = matplotlib.colors.Normalize(
            float(logc.min()) if logc.size else 0.0, float(logc.max()) if logc.size else 1.0
        )
        cmap = matplotlib.colormaps["viridis"]
        for row in iso.rows():
            color = cmap(norm(math.log10(row.C)))
            m = iso.runs[iso.runs["budget"] == row.budget]
            ax.scatter(m["N"], m["y"], s=12, color=color, lw=0)
            curve = iso.parabola(row.budget, 60)
            if curve is not None:
                ax.plot(*curve, color=color, lw=1.2)
            if math.isfinite(row.N_opt):
                ax.plot([row.N_opt], [row.loss_opt], marker="*", ms=11, color=color, mec="k")
        ax.set_xscale("log")
        ax.set_xlabel(axis_label("N"))
        ax.set_ylabel(target_label(result))
        ax.set_title("IsoFLOP profiles (parabola in log N per budget)", fontsize=9)
        if logc.size:
            sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
            fig.colorbar(sm, ax=ax, label="log10 C of the budget (FLOP)", pad=0.01)
        ax.legend(loc="upper right")
        good = iso.budgets.dropna(subset=["N_opt"])
        ax2.scatter(good["C"], good["N_opt"], marker="*", s=80, color="C1", ec="k", zorder=3)
        if math.isfinite(iso.exponent):
            c = np.geomspace(good["C"].min() / 3, good["C"].max() * 3, 50)
            ax2.plot(
                c,
                iso.coefficient * c**iso.exponent,
                color="C0",
                label=f"N* ∝ C^{iso.exponent:.3f}",
            )
            ax2.legend()
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel(axis_label("C"))
        ax2.set_ylabel("N* " + f"({UNITS['N']})")
        ax2.set_title("IsoFLOP minima (Hoffmann et al. 2022, approach 2)", fontsize=9)
    return fig


def plot_frontier(result: FitResult, *, compute: Sequence[float] | None = None) -> Figure:
    """N*(C) and D*(C) of a Chinchilla fit with the bootstrap band; shaded: fitted C range."""
    with style():
        grid = None if compute is None else np.asarray(compute, dtype=float)
        fr = an.frontier(result, grid)
        c_fit = an.observed(result)["C"]
        fig, axes = _figure(ncols=2)
        pct = round(100 * result.level)
        for ax, var, color in zip(axes, ("N", "D"), ("C0", "C2"), strict=True):
            ax.plot(fr["C"], fr[var], color=color, lw=1.5, label=f"{var}*(C)")
            if fr[f"{var}_low"].notna().all():
                ax.fill_between(
                    fr["C"],
                    fr[f"{var}_low"],
                    fr[f"{var}_high"],
                    color=color,
                    alpha=0.2,
                    lw=0,
                    label=f"{pct}% bootstrap band",
                )
            ax.axvspan(float(c_fit.min()), float(c_fit.max()), color="0.5", alpha=0.1, lw=0)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(axis_label("C"))
            ax.set_ylabel(f"{var}* ({UNITS[var]})")
            ax.legend(loc="upper left")
        axes[0].set_title("Compute-optimal model size (C = 6ND)", fontsize=9)
        axes[1].set_title("Compute-optimal tokens; shaded: fitted runs' C", fontsize=9)
    return fig


def plot_residuals(result: FitResult) -> Figure:
    """Residuals of the fit against each of the law's variables."""
    with style():
        res = an.residuals(result)
        variables = [v for v in result.variables if not v.startswith("_") and v in res.columns]
        fig, axes = _figure(ncols=max(1, len(variables)))
        label = "log y − log fitted" if res.attrs["space"] == "log" else "y − fitted"
        for ax, var in zip(axes, variables, strict=False):
            ax.axhline(0.0, color="k", lw=0.8)
            ax.scatter(res[var], res["residual"], s=10, color="C0", alpha=0.7, lw=0)
            x = res[var].to_numpy(float)
            if np.all(x > 0):
                ax.set_xscale("log")
            ax.set_xlabel(x_label(result, var))
            ax.set_ylabel(label)
        axes[0].set_title(f"Residuals: {_title(result)}", fontsize=9)
    return fig


def plot_backtest(
    predictions: pd.DataFrame,
    runs: pd.DataFrame,
    *,
    axis: str = "C",
    result: FitResult | None = None,
) -> Figure:
    """A backtest: the runs fitted on, the held-out truths, and each law's predictions of them
    with their intervals, along the holdout ``axis``."""
    with style():
        panel = an.backtest_panel(predictions, runs, axis)
        fig, (ax,) = _figure()
        ax.scatter(panel.fitted["x"], panel.fitted["y"], s=8, color="0.6", lw=0, label="fitted on")
        held = panel.held
        if len(held):
            truth = held.drop_duplicates("run_id")
            ax.scatter(truth["x"], truth["truth"], s=16, color="k", lw=0, label="held out (truth)")
        laws = list(dict.fromkeys(held["law"])) if len(held) else []
        for i, law in enumerate(laws):
            h = held[held["law"] == law]
            err = np.vstack([h["value"] - h["low"], h["high"] - h["value"]])
            ax.errorbar(
                h["x"] * (1.0 + 0.04 * i),
                h["value"],
                yerr=np.where(np.isfinite(err), err, 0.0),
                fmt="o",
                ms=3.5,
                color=f"C{i}",
                elinewidth=0.8,
                capsize=1.5,
                label=f"{law}: prediction",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_y(ax)
        ax.set_xlabel(axis_label(panel.axis))
        ax.set_ylabel(target_label(result))
        ax.set_title("Backtest: fit on the small runs, predict the held-out ones", fontsize=9)
        ax.legend()
    return fig


def _curve_key(runs: pd.DataFrame) -> str | None:
    """The column whose values are the curves: the first of group, run_id, N that repeats and
    under which each curve has each step once (a sweep's ``group`` names its design, so its
    runs share steps: run_id is the curve then)."""
    x = "step" if "step" in runs.columns else "x"
    for col in ("group", "run_id", "N"):
        if col in runs.columns and runs[col].nunique() < len(runs):
            if x not in runs.columns or not runs.duplicated([col, x]).any():
                return col
    return None


def plot_curves(
    result: FitResult | None = None,
    runs: pd.DataFrame | None = None,
    *,
    curve_by: str | None = None,
) -> Figure:
    """Loss curves: with ``runs`` holding ``step`` (or ``x``), one line per run (``curve_by``,
    default the first repeated of group, run_id, N); with a one-variable fit, its runs as a
    curve and the fitted law (dashed, with its band) beyond them."""
    if runs is None and result is None:
        raise DataError("loss curves need runs with a step column or a one-variable fit.")
    with style():
        fig, (ax,) = _figure()
        x = "x"
        if runs is not None:
            x = "step" if "step" in runs.columns else "x"
            if x not in runs.columns:
                raise DataError(
                    "loss curves need a 'step' column (or --x COLUMN); the runs have "
                    f"{', '.join(map(str, runs.columns))}."
                )
            key = curve_by or _curve_key(runs)
            parts = [("runs", runs)] if key is None else list(runs.groupby(key, sort=True))
            for (name, part), color in zip(parts, _colors(len(parts)), strict=True):
                part = part.sort_values(x)
                ax.plot(part[x], part["y"], color=color, lw=1.0, marker=".", ms=3, label=str(name))
            if len(parts) <= 12:
                ax.legend(title=key)
        if result is not None:
            base = [v for v in result.variables if not v.startswith("_")]
            if len(base) != 1:
                raise FitError(
                    f"loss curves draw one-variable fits; this {result.law!r} fit has "
                    f"variables {', '.join(base)}. Give the runs with --data instead."
                )
            x = base[0]
            obs = an.observed(result)
            grid = pd.DataFrame(
                {x: np.geomspace(float(obs[x].min()), 4.0 * float(obs[x].max()), 120)}
            )
            p = an.quiet_predict(result, grid, "calibrated")
            if runs is None:
                ax.plot(obs[x], obs["y"], "o-", color="C0", ms=3, lw=1.0, label="runs")
            ax.plot(grid[x], p["value"], "--", color="C3", lw=1.3, label=result.formula)
            if p["low"].notna().all():
                ax.fill_between(grid[x], p["low"], p["high"], color="C3", alpha=0.15, lw=0)
            ax.legend()
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_y(ax)
        ax.set_xlabel(x_label(result, x))
        ax.set_ylabel(target_label(result))
        ax.set_title("Loss curves", fontsize=9)
    return fig


def plot_bootstrap(result: FitResult, *, names: Sequence[str] | None = None) -> Figure:
    """Histograms of the bootstrap draws of the exponents (or ``names``), with the estimate
    (solid) and the percentile interval (dashed)."""
    with style():
        draws = an.bootstrap_draws(result, names)
        if len(draws) < 2:
            raise FitError(
                "this fit has no bootstrap draws to plot; refit with --bootstrap 200 or more."
            )
        fig, axes = _figure(ncols=len(draws.columns))
        pct = round(100 * result.level)
        for ax, name in zip(axes, draws.columns, strict=True):
            v = draws[name].to_numpy(float)
            ax.hist(v, bins=30, color="C0", alpha=0.75)
            ax.axvline(result.params[name], color="k", lw=1.5, label="estimate")
            lo, hi = result.intervals.get(name, (math.nan, math.nan))
            for b in (lo, hi):
                if math.isfinite(b):
                    ax.axvline(b, color="C3", ls="--", lw=1.0)
            ax.set_xlabel(name)
            ax.set_ylabel("bootstrap draws")
            ax.set_title(f"{name} = {result.params[name]:.4g}, {pct}% [{lo:.4g}, {hi:.4g}]")
        axes[0].legend()
    return fig


def figure(
    kind: str,
    result: FitResult,
    *,
    runs: pd.DataFrame | None = None,
    predictions: pd.DataFrame | None = None,
    axis: str = "C",
) -> Figure:
    """The figure of ``kind`` (one of :data:`KINDS`); ``runs`` are needed by ``isoflop``
    (else the fit's runs) and ``backtest``, ``predictions`` (a backtest's) by ``backtest``."""
    simple: dict[str, Callable[[FitResult], Figure]] = {
        "fit": plot_fit,
        "frontier": plot_frontier,
        "residuals": plot_residuals,
        "bootstrap": plot_bootstrap,
    }
    if kind in simple:
        return simple[kind](result)
    if kind == "isoflop":
        return plot_isoflop(runs if runs is not None else an.observed(result), result=result)
    if kind == "curves":
        return plot_curves(result if runs is None else None, runs)
    if kind == "backtest":
        if runs is None or predictions is None:
            raise DataError("a backtest plot needs the runs (--data SOURCE) to backtest on.")
        return plot_backtest(predictions, runs, axis=axis, result=result)
    raise DataError(f"unknown plot kind {kind!r}; use one of {', '.join(KINDS)}.")
