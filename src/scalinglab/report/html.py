"""A self-contained HTML report of a fit: one file, plotly.js inlined, no network needed.

Sections: the law (formula, citation), the fit summary (parameters with intervals, search and
bootstrap statistics, warnings), interactive plotly figures (runs with the fitted law and its
band, residuals, bootstrap histograms of the exponents, the compute-optimal frontier and IsoFLOP
profiles for laws of N and D, a backtest panel), the backtest table and the plan.

Every piece of text from the fit or the runs goes through :func:`html.escape`. Parameter values
are displayed with 6 significant digits (``format(v, ".6g")``); the exact value is in the cell's
``data-value`` attribute as ``repr(float)``, which round-trips, so the numbers shown can be
checked against the fit's JSON exactly.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from scalinglab._version import __version__
from scalinglab.errors import ScalinglabError
from scalinglab.fit.result import FitResult
from scalinglab.report import analysis as an
from scalinglab.report.analysis import axis_label, target_label, x_label
from scalinglab.report.build import ReportInputs

DISPLAY_DIGITS = 6
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;}
h1{font-size:1.5em;margin-bottom:0.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;}
code.formula{font-size:1.1em;background:#f4f4f4;padding:0.2em 0.4em;}
table{border-collapse:collapse;margin:0.6em 0;}
td,th{border:1px solid #ddd;padding:0.25em 0.6em;text-align:right;font-size:0.9em;}
th{background:#f4f4f4;}td.name,th.name{text-align:left;}
ul.warnings li{color:#8a4b00;}.meta{color:#555;font-size:0.9em;}
.figure{margin:1em 0;}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(v: Any) -> str:
    """A number for display (6 significant digits); '-' for missing."""
    if v is None:
        return "-"
    if isinstance(v, bool | np.bool_):
        return _e(v)
    if isinstance(v, int | float | np.integer | np.floating):
        f = float(v)
        return "-" if not math.isfinite(f) else format(f, f".{DISPLAY_DIGITS}g")
    return _e(v)


def _cell(v: Any, *, attrs: str = "") -> str:
    raw = ""
    if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool):
        raw = f' data-value="{_e(repr(float(v)))}"'
    return f"<td{attrs}{raw}>{_num(v)}</td>"


def _table(frame: pd.DataFrame, *, table_id: str) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        body.append("<tr>" + "".join(_cell(v) for v in row) + "</tr>")
    return f'<table id="{_e(table_id)}"><tr>{head}</tr>{"".join(body)}</table>'


# ----- plotly figures -----


def _layout(fig: go.Figure, title: str, *, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": _e(title), "font": {"size": 14}},
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
                name=_e(curve.label),
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
                text=[_e(r) for r in curve.runs["run_id"]],
                showlegend=False,
                legendgroup=curve.label,
                hovertemplate="%{text}<br>%{x:.4g}, %{y:.5g}<extra></extra>",
            )
        )
    fig.update_xaxes(type="log", title_text=_e(x_label(result, cv.x)))
    fig.update_yaxes(type="log", title_text=_e(target_label(result)))
    band = f"{round(100 * cv.level)}% {cv.interval} band"
    return _layout(fig, f"Runs and the fitted law ({band})")


def figure_residuals(result: FitResult) -> go.Figure:
    res = an.residuals(result)
    variables = [v for v in result.variables if not v.startswith("_") and v in res.columns]
    fig = make_subplots(rows=1, cols=max(1, len(variables)), shared_yaxes=True)
    ids = [_e(r) for r in (res["run_id"] if "run_id" in res.columns else res.index)]
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
            type="log" if log else "linear", title_text=_e(x_label(result, var)), row=1, col=j
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
                name=_e(name),
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
        fig.update_xaxes(title_text=_e(name), row=1, col=j)
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
    fig.update_xaxes(type="log", title_text=axis_label("N"), row=1, col=1)
    fig.update_yaxes(title_text=_e(target_label(result)), row=1, col=1)
    fig.update_xaxes(type="log", title_text=axis_label("C"), row=1, col=2)
    fig.update_yaxes(type="log", title_text="N* (parameters)", row=1, col=2)
    return _layout(fig, "IsoFLOP profiles and their minima (Hoffmann et al. 2022, approach 2)")


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
                    text=[_e(r) for r in h["run_id"]],
                    name=f"{_e(law)}: prediction",
                )
            )
    fig.update_xaxes(type="log", title_text=_e(axis_label(axis)))
    fig.update_yaxes(type="log", title_text=_e(target_label(result)))
    return _layout(fig, "Backtest: fit on the small runs, predict the held-out ones")


def _div(fig: go.Figure, div_id: str) -> str:
    out: str = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )
    return f'<div class="figure">{out}</div>'


# ----- the page -----


def _params_table(result: FitResult) -> str:
    pct = round(100 * result.level)
    law = result.law_obj()
    rows = []
    for name, value in result.params.items():
        lo, hi = result.intervals.get(name, (math.nan, math.nan))
        try:
            p = law.param(name)
            meaning, unit = p.meaning, p.unit
        except KeyError:
            meaning, unit = "", ""
        fixed = " (fixed)" if name in result.fixed else ""
        rows.append(
            f'<tr data-param="{_e(name)}"><td class="name">{_e(name)}{fixed}</td>'
            + _cell(value, attrs=' class="param-value"')
            + _cell(lo, attrs=' class="param-low"')
            + _cell(hi, attrs=' class="param-high"')
            + f'<td class="name">{_e(meaning)}</td><td class="name">{_e(unit)}</td></tr>'
        )
    head = (
        '<tr><th class="name">parameter</th><th>value</th>'
        f"<th>{pct}% low</th><th>{pct}% high</th>"
        '<th class="name">meaning</th><th class="name">unit</th></tr>'
    )
    return f'<table id="params">{head}{"".join(rows)}</table>'


def _fit_facts(result: FitResult) -> str:
    s = result.search
    b = result.bootstrap
    sel = result.selection
    facts = [
        ("runs", result.n_points),
        ("source", sel.get("source")),
        ("selection (--where)", sel.get("where")),
        ("group", sel.get("group")),
        ("metric", f"{sel.get('metric')} ({sel.get('metric_unit')})"),
        ("objective", f"{format(result.objective, '.10g')} = {result.objective_text}"),
        ("starts", f"{s.starts}: {s.starts_converged} converged, {s.starts_at_best} at the best"),
        (
            "bootstrap",
            f"{b.get('converged')} of {b.get('n')} resamples converged, seed {b.get('seed')}",
        ),
        ("interval level", result.level),
        ("fit id", result.fit_id),
        ("fitted", f"{result.created_at} with scalinglab {result.package_version}"),
    ]
    rows = "".join(
        f'<tr><th class="name">{_e(k)}</th><td class="name">{_e(v)}</td></tr>'
        for k, v in facts
        if v is not None
    )
    return f'<table id="fit-facts">{rows}</table>'


def _plan_table(plan: Mapping[str, Any]) -> str:
    rows = []
    scalars = []
    for key, value in plan.items():
        if isinstance(value, Mapping) and "value" in value:
            rows.append(
                f'<tr><td class="name">{_e(key)}</td>'
                + "".join(_cell(value.get(k)) for k in ("value", "low", "high"))
                + "</tr>"
            )
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            items = "".join(f"<li>{_e(v)}</li>" for v in value)
            scalars.append(f"<li>{_e(key)}:<ul>{items}</ul></li>")
        elif value is not None and not isinstance(value, Mapping | list):
            scalars.append(f"<li>{_e(key)}: {_num(value)}</li>")
    head = '<tr><th class="name">quantity</th><th>value</th><th>low</th><th>high</th></tr>'
    out = f"<ul>{''.join(scalars)}</ul>" if scalars else ""
    return out + (f'<table id="plan">{head}{"".join(rows)}</table>' if rows else "")


def _section(title: str, body: str, *, sid: str) -> str:
    return f'<section id="{_e(sid)}"><h2>{_e(title)}</h2>{body}</section>'


def render_html(inputs: ReportInputs, *, title: str | None = None) -> str:
    """The report page as one string (plotly.js inlined)."""
    r = inputs.result
    law = r.law_obj()
    heading = title or f"scalinglab report: {r.law} fit of {r.selection.get('source') or 'runs'}"
    parts = [
        f"<h1>{_e(heading)}</h1>",
        f'<p><code class="formula" id="formula">{_e(r.formula)}</code></p>',
        f'<p class="meta" id="citation">{_e(r.citation)}</p>',
        f'<p class="meta">{_e(law.title)} [{_e(r.law)} v{_e(r.law_version)}]</p>',
    ]
    summary = _params_table(r) + _fit_facts(r)
    summary += (
        '<p class="meta">Values shown to 6 significant digits; each cell\'s data-value holds '
        "the exact number (repr of the float in the fit's JSON).</p>"
    )
    if r.warnings:
        summary += (
            '<ul class="warnings" id="warnings">'
            + "".join(f"<li>{_e(w)}</li>" for w in r.warnings)
            + "</ul>"
        )
    else:
        summary += '<p id="warnings">No warnings.</p>'
    parts.append(_section("Fit", summary, sid="fit"))
    figs: list[str] = [_div(figure_fit(r), "fig-fit"), _div(figure_residuals(r), "fig-residuals")]
    boot = figure_bootstrap(r)
    if boot is not None:
        figs.append(_div(boot, "fig-bootstrap"))
    nd = {"N", "D"} <= set(r.variables)
    if r.law_obj().closed_form_allocation is not None and not r.joint:
        figs.append(_div(figure_frontier(r), "fig-frontier"))
    if nd and not r.joint:
        runs_for_iso = inputs.runs if inputs.runs is not None else an.observed(r)
        try:
            iso = figure_isoflop(runs_for_iso, r)
        except ScalinglabError:
            iso = None
        if iso is not None:
            figs.append(_div(iso, "fig-isoflop"))
    parts.append(_section("Figures", "".join(figs), sid="figures"))
    if inputs.backtest is not None and inputs.runs is not None:
        bt = inputs.backtest
        body = f"<p>Held out: {_e(inputs.holdout)}; each law refitted on the rest.</p>"
        body += _table(bt.summary, table_id="backtest")
        if len(bt.predictions):
            from scalinglab.trust.holdout import Holdout

            axis = Holdout.parse(inputs.holdout or "top 20% by C").column or "C"
            body += _div(figure_backtest(bt.predictions, inputs.runs, axis, r), "fig-backtest")
        parts.append(_section("Backtest", body, sid="backtest-section"))
    if inputs.plan is not None:
        parts.append(_section("Plan", _plan_table(inputs.plan), sid="plan-section"))
    parts.append(
        f'<p class="meta">Made by scalinglab {_e(__version__)}; opens without a network '
        "(plotly.js is inlined).</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(heading)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n<body>'
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def write_html(inputs: ReportInputs, path: str | Path, *, title: str | None = None) -> Path:
    """Write the report to ``path`` (UTF-8) and return the path."""
    p = Path(path)
    p.write_text(render_html(inputs, title=title), encoding="utf-8")
    return p


def parameter_values(page: str) -> dict[str, float]:
    """The exact parameter values embedded in a report page (for checks and tests)."""
    import re

    out = {}
    for m in re.finditer(
        r'<tr data-param="([^"]*)"><td[^>]*>[^<]*</td><td class="param-value" data-value="([^"]*)"',
        page,
    ):
        out[html.unescape(m.group(1))] = float(html.unescape(m.group(2)))
    return out


__all__: Sequence[str] = ("parameter_values", "render_html", "write_html")
