"""The interactive plotly figures of the HTML report (the static ones are in
:mod:`scalinglab.report.plots`): runs with the fitted law and its band, residuals, bootstrap
histograms of the exponents, the compute-optimal frontier, IsoFLOP profiles and the backtest
panel. Titles are escaped (:func:`scalinglab.report.html_tables.escape`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from scalinglab.fit.result import FitResult
from scalinglab.report import analysis as an
from scalinglab.report.analysis import axis_label, target_label, x_label
from scalinglab.report.html_tables import escape

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _layout(fig: go.Figure, title: str, *, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": escape(title), "font": {"size": 14}},
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"font": {"size": 10}},
    )
    return fig


def _band(fig: go.Figure, x: Any, low: Any, high: Any, color: str, name: str, **rc: Any) -> None:
    xs = list(map(float, x))
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=list(map(float, high)),
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
            legendgroup=name,
        ),
        **rc,
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=list(map(float, low)),
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=_rgba(color, 0.18),
            showlegend=False,
            hoverinfo="skip",
            legendgroup=name,
        ),
        **rc,
    )


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def figure_fit(result: FitResult, *, interval: str = "calibrated") -> go.Figure:
    cv = an.law_curves(result, interval=interval)
    fig = go.Figure()
    for i, curve in enumerate(cv.curves):
        color = _PALETTE[i % len(_PALETTE)]
        t = curve.table
        if t["low"].notna().all():
            _band(fig, t["x"], t["low"], t["high"], color, curve.label)
        fig.add_trace(
            go.Scatter(
                x=t["x"].tolist(),
                y=t["value"].tolist(),
                mode="lines",
                name=escape(curve.label),
                line={"color": color},
                legendgroup=curve.label,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=curve.runs["x"].tolist(),
                y=curve.runs["y"].tolist(),
                mode="markers",
                marker={"color": color, "size": 5, "opacity": 0.7},
                text=[escape(r) for r in curve.runs["run_id"]],
                showlegend=False,
                legendgroup=curve.label,
                hovertemplate="%{text}<br>%{x:.4g}, %{y:.5g}<extra></extra>",
            )
        )
    fig.update_xaxes(type="log", title_text=escape(x_label(result, cv.x)))
    fig.update_yaxes(type="log", title_text=escape(target_label(result)))
    band = f"{round(100 * cv.level)}% {cv.interval} band"
    return _layout(fig, f"Runs and the fitted law ({band})")


def figure_residuals(result: FitResult) -> go.Figure:
    res = an.residuals(result)
    variables = [v for v in result.variables if not v.startswith("_") and v in res.columns]
    fig = make_subplots(rows=1, cols=max(1, len(variables)), shared_yaxes=True)
    ids = [escape(r) for r in (res["run_id"] if "run_id" in res.columns else res.index)]
    for j, var in enumerate(variables, start=1):
        fig.add_trace(
            go.Scatter(
                x=res[var].tolist(),
                y=res["residual"].tolist(),
                mode="markers",
                marker={"size": 5, "color": _PALETTE[0], "opacity": 0.7},
                text=ids,
                showlegend=False,
                hovertemplate="%{text}<br>%{x:.4g}: %{y:.4g}<extra></extra>",
            ),
            row=1,
            col=j,
        )
        fig.add_hline(y=0.0, line={"color": "black", "width": 1}, row=1, col=j)  # type: ignore[arg-type]
        log = bool(np.all(res[var].to_numpy(float) > 0))
        fig.update_xaxes(
            type="log" if log else "linear", title_text=escape(x_label(result, var)), row=1, col=j
        )
    ylab = "log y − log fitted" if res.attrs["space"] == "log" else "y − fitted"
    fig.update_yaxes(title_text=ylab, row=1, col=1)
    return _layout(fig, "Residuals against each variable", height=360)


def figure_bootstrap(result: FitResult) -> go.Figure | None:
    draws = an.bootstrap_draws(result)
    if len(draws) < 2:
        return None
    fig = make_subplots(rows=1, cols=len(draws.columns))
    for j, name in enumerate(draws.columns, start=1):
        fig.add_trace(
            go.Histogram(
                x=draws[name].tolist(),
                nbinsx=30,
                name=escape(name),
                marker={"color": _PALETTE[0]},
                showlegend=False,
            ),
            row=1,
            col=j,
        )
        fig.add_vline(x=result.params[name], line={"color": "black", "width": 2}, row=1, col=j)  # type: ignore[arg-type]
        for b in result.intervals.get(name, (math.nan, math.nan)):
            if math.isfinite(b):
                fig.add_vline(x=b, line={"color": "#d62728", "dash": "dash"}, row=1, col=j)  # type: ignore[arg-type]
        fig.update_xaxes(title_text=escape(name), row=1, col=j)
    fig.update_yaxes(title_text="bootstrap draws", row=1, col=1)
    n = len(draws)
    return _layout(
        fig,
        f"Bootstrap distributions ({n} draws; black: estimate, dashed: {round(100 * result.level)}% interval)",
        height=340,
    )


def figure_frontier(result: FitResult) -> go.Figure:
    fr = an.frontier(result)
    c_fit = an.observed(result)["C"]
    fig = make_subplots(rows=1, cols=2)
    for j, (var, color) in enumerate((("N", _PALETTE[0]), ("D", _PALETTE[2])), start=1):
        if fr[f"{var}_low"].notna().all():
            _band(fig, fr["C"], fr[f"{var}_low"], fr[f"{var}_high"], color, var, row=1, col=j)
        fig.add_trace(
            go.Scatter(
                x=fr["C"].tolist(),
                y=fr[var].tolist(),
                mode="lines",
                name=f"{var}*(C)",
                line={"color": color},
            ),
            row=1,
            col=j,
        )
        fig.add_vrect(
            x0=float(c_fit.min()),
            x1=float(c_fit.max()),
            fillcolor="grey",
            opacity=0.1,
            line_width=0,
            row=1,  # type: ignore[arg-type]
            col=j,  # type: ignore[arg-type]
        )
        fig.update_xaxes(type="log", title_text=axis_label("C"), row=1, col=j)
        fig.update_yaxes(
            type="log",
            title_text=f"{var}* ({'parameters' if var == 'N' else 'tokens'})",
            row=1,
            col=j,
        )
    pct = round(100 * result.level)
    return _layout(
        fig, f"Compute-optimal frontier, {pct}% bootstrap band; shaded: the fitted runs' C"
    )


def figure_isoflop(runs: pd.DataFrame, result: FitResult) -> go.Figure | None:
    iso = an.isoflop(runs)
    if iso.budgets.empty:
        return None
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4])
    other = iso.runs[iso.runs["budget"] < 0]
    fig.add_trace(
        go.Scatter(
            x=other["N"].tolist(),
            y=other["y"].tolist(),
            mode="markers",
            marker={"color": "lightgrey", "size": 4},
            name="other runs",
        ),
        row=1,
        col=1,
    )
    _isoflop_profiles(fig, iso)
    _isoflop_minima(fig, iso)
    fig.update_xaxes(type="log", title_text=axis_label("N"), row=1, col=1)
    fig.update_yaxes(title_text=escape(target_label(result)), row=1, col=1)
    fig.update_xaxes(type="log", title_text=axis_label("C"), row=1, col=2)
    fig.update_yaxes(type="log", title_text="N* (parameters)", row=1, col=2)
    return _layout(fig, "IsoFLOP profiles and their minima (Hoffmann et al. 2022, approach 2)")


def _isoflop_profiles(fig: go.Figure, iso: an.IsoFlop) -> None:
    """Left panel: each budget's runs and its parabola, one colour per budget."""
    k = len(iso.budgets)
    for i, row in enumerate(iso.rows()):
        color = _viridis(i / max(1, k - 1))
        m = iso.runs[iso.runs["budget"] == row.budget]
        name = f"C ≈ {row.C:.2g}"
        fig.add_trace(
            go.Scatter(
                x=m["N"].tolist(),
                y=m["y"].tolist(),
                mode="markers",
                marker={"color": color, "size": 5},
                name=name,
                showlegend=False,
            ),
            row=1,
            col=1,
        )
        curve = iso.parabola(row.budget, 40)
        if curve is not None:
            fig.add_trace(
                go.Scatter(
                    x=curve[0].tolist(),
                    y=curve[1].tolist(),
                    mode="lines",
                    line={"color": color},
                    showlegend=False,
                    name=name,
                ),
                row=1,
                col=1,
            )


def _isoflop_minima(fig: go.Figure, iso: an.IsoFlop) -> None:
    """The parabola minima (left) and N* against C with its power law (right)."""
    good = iso.budgets.dropna(subset=["N_opt"])
    fig.add_trace(
        go.Scatter(
            x=good["N_opt"].tolist(),
            y=good["loss_opt"].tolist(),
            mode="markers",
            marker={"symbol": "star", "size": 11, "color": "orange", "line": {"width": 1}},
            name="parabola minima",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=good["C"].tolist(),
            y=good["N_opt"].tolist(),
            mode="markers",
            marker={"symbol": "star", "size": 11, "color": "orange", "line": {"width": 1}},
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    if math.isfinite(iso.exponent):
        c = np.geomspace(good["C"].min() / 3, good["C"].max() * 3, 40)
        fig.add_trace(
            go.Scatter(
                x=c.tolist(),
                y=(iso.coefficient * c**iso.exponent).tolist(),
                mode="lines",
                name=f"N* ∝ C^{iso.exponent:.3f}",
            ),
            row=1,
            col=2,
        )


def _viridis(t: float) -> str:
    # five anchor colours of matplotlib's viridis, linearly interpolated
    anchors = np.array(
        [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=float
    )
    pos = min(max(t, 0.0), 1.0) * (len(anchors) - 1)
    i = min(int(pos), len(anchors) - 2)
    rgb = anchors[i] + (pos - i) * (anchors[i + 1] - anchors[i])
    return "#" + "".join(f"{round(v):02x}" for v in rgb)


def figure_backtest(
    predictions: pd.DataFrame, runs: pd.DataFrame, axis: str, result: FitResult
) -> go.Figure:
    panel = an.backtest_panel(predictions, runs, axis)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=panel.fitted["x"].tolist(),
            y=panel.fitted["y"].tolist(),
            mode="markers",
            marker={"color": "darkgrey", "size": 4},
            name="fitted on",
        )
    )
    held = panel.held
    if len(held):
        truth = held.drop_duplicates("run_id")
        fig.add_trace(
            go.Scatter(
                x=truth["x"].tolist(),
                y=truth["truth"].tolist(),
                mode="markers",
                marker={"color": "black", "size": 6},
                name="held out (truth)",
            )
        )
        for i, law in enumerate(dict.fromkeys(held["law"])):
            h = held[held["law"] == law]
            fig.add_trace(
                go.Scatter(
                    x=(h["x"] * (1.0 + 0.04 * i)).tolist(),
                    y=h["value"].tolist(),
                    mode="markers",
                    marker={"color": _PALETTE[(i + 1) % len(_PALETTE)], "size": 6},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": (h["high"] - h["value"]).tolist(),
                        "arrayminus": (h["value"] - h["low"]).tolist(),
                    },
                    text=[escape(r) for r in h["run_id"]],
                    name=f"{escape(law)}: prediction",
                )
            )
    fig.update_xaxes(type="log", title_text=escape(axis_label(axis)))
    fig.update_yaxes(type="log", title_text=escape(target_label(result)))
    return _layout(fig, "Backtest: fit on the small runs, predict the held-out ones")


def figure_curves(curves: pd.DataFrame) -> go.Figure:
    """Loss curves (``y`` against ``step``), one line per run (``run_id``), e.g. a sweep's."""
    fig = go.Figure()
    key = "run_id" if "run_id" in curves.columns else None
    parts = list(curves.groupby(key, sort=True)) if key else [("runs", curves)]
    for i, (name, part) in enumerate(parts):
        part = part.sort_values("step")
        label = escape(str(name)) + (f" (N={part['N'].iloc[0]:.3g})" if "N" in part.columns else "")
        fig.add_trace(
            go.Scatter(
                x=part["step"].tolist(),
                y=part["y"].tolist(),
                mode="lines+markers",
                marker={"size": 4, "color": _PALETTE[i % len(_PALETTE)]},
                line={"color": _PALETTE[i % len(_PALETTE)]},
                name=label,
                hovertemplate="step %{x}: %{y:.4g}<extra>" + label + "</extra>",
            )
        )
    fig.update_xaxes(type="log", title_text="step")
    fig.update_yaxes(type="log", title_text="loss")
    return _layout(fig, "Loss curves")
