"""A self-contained HTML report of a fit: one file, plotly.js inlined (gzip-compressed,
decompressed by the browser: :mod:`scalinglab.report.html_bundle`), no network needed.

Sections: the law (formula, citation, the law's notes), the fit summary (parameters with
intervals, search and bootstrap statistics, warnings), interactive plotly figures
(:mod:`scalinglab.report.html_figures`: runs with the fitted law and its band, residuals,
bootstrap histograms of the exponents, the compute-optimal frontier for laws with a closed-form
allocation and IsoFLOP profiles for laws of N and D, a backtest panel), the backtest table and
the plan (tables: :mod:`scalinglab.report.html_tables`, :mod:`scalinglab.report.html_plan`), and
the diagnostics (``diagnose``'s findings and the outlying runs:
:mod:`scalinglab.report.html_trust`).

Every piece of text from the fit or the runs goes through :func:`html.escape`. Parameter values
are displayed with 6 significant digits (``format(v, ".6g")``); the exact value is in the cell's
``data-value`` attribute as ``repr(float)``, which round-trips, so the numbers shown can be
checked against the fit's JSON exactly.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go

from scalinglab._version import __version__
from scalinglab.errors import ScalinglabError
from scalinglab.fit.result import FitResult
from scalinglab.report import analysis as an
from scalinglab.report.build import ReportInputs
from scalinglab.report.html_bundle import bundle_scripts, figure_div
from scalinglab.report.html_figures import (
    figure_backtest,
    figure_bootstrap,
    figure_curves,
    figure_fit,
    figure_frontier,
    figure_isoflop,
    figure_residuals,
)
from scalinglab.report.html_plan import plan_section
from scalinglab.report.html_tables import escape, fit_facts, params_table, table
from scalinglab.report.html_trust import diagnostics_section

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


def _div(fig: go.Figure, div_id: str) -> str:
    return figure_div(fig, div_id)


def _section(title: str, body: str, *, sid: str) -> str:
    return f'<section id="{escape(sid)}"><h2>{escape(title)}</h2>{body}</section>'


def render_html(inputs: ReportInputs, *, title: str | None = None) -> str:
    """The report page as one string (plotly.js inlined)."""
    r = inputs.result
    heading = title or f"scalinglab report: {r.law} fit of {r.provenance.source or 'runs'}"
    parts = [f"<h1>{escape(heading)}</h1>", _law_header(r)]
    parts.append(_section("Fit", _fit_summary(r), sid="fit"))
    parts.append(_section("Figures", _figures(inputs), sid="figures"))
    parts.append(_section("Diagnostics", diagnostics_section(r), sid="diagnostics"))
    if inputs.backtest is not None and inputs.runs is not None:
        parts.append(_section("Backtest", _backtest(inputs), sid="backtest-section"))
    if inputs.plan is not None:
        parts.append(_section("Plan", plan_section(inputs.plan), sid="plan-section"))
    parts.append(
        f'<p class="meta">Made by scalinglab {escape(__version__)}; opens without a network '
        "(plotly.js is inlined, gzip-compressed, and decompressed by the browser).</p>"
    )
    parts.append(bundle_scripts())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(heading)}</title><style>{_CSS}</style></head>\n<body>"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def _law_header(r: FitResult) -> str:
    """Formula, citation, title and version of the law, and its notes (``Law.notes``: how its
    variables are counted, what its target is) when it has any."""
    law = r.law_obj()
    out = (
        f'<p><code class="formula" id="formula">{escape(r.formula)}</code></p>'
        f'<p class="meta" id="citation">{escape(r.citation)}</p>'
        f'<p class="meta">{escape(law.title)} [{escape(r.law)} v{escape(r.law_version)}]</p>'
    )
    if law.notes:
        out += f'<p class="meta" id="law-notes">Notes: {escape(law.notes)}</p>'
    return out


def _fit_summary(r: FitResult) -> str:
    summary = params_table(r) + fit_facts(r)
    summary += (
        '<p class="meta">Values shown to 6 significant digits; each cell\'s data-value holds '
        "the exact number (repr of the float in the fit's JSON).</p>"
    )
    if not r.warnings:
        return summary + '<p id="warnings">No warnings.</p>'
    items = "".join(f"<li>{escape(w)}</li>" for w in r.warnings)
    return summary + f'<ul class="warnings" id="warnings">{items}</ul>'


def _figures(inputs: ReportInputs) -> str:
    r = inputs.result
    figs: list[str] = [_div(figure_fit(r), "fig-fit"), _div(figure_residuals(r), "fig-residuals")]
    boot = figure_bootstrap(r)
    if boot is not None:
        figs.append(_div(boot, "fig-bootstrap"))
    if r.law_obj().closed_form_allocation is not None and not r.joint:
        figs.append(_div(figure_frontier(r), "fig-frontier"))
    if {"N", "D"} <= set(r.variables) and not r.joint:
        runs_for_iso = inputs.runs if inputs.runs is not None else an.observed(r)
        try:
            iso = figure_isoflop(runs_for_iso, r)
        except ScalinglabError:
            iso = None
        if iso is not None:
            figs.append(_div(iso, "fig-isoflop"))
    if inputs.curves is not None and len(inputs.curves):
        figs.append(_div(figure_curves(inputs.curves), "fig-curves"))
    return "".join(figs)


def _backtest(inputs: ReportInputs) -> str:
    from scalinglab.trust.holdout import Holdout

    bt = inputs.backtest
    assert bt is not None and inputs.runs is not None  # checked by the caller
    body = f"<p>Held out: {escape(inputs.holdout)}; each law refitted on the rest.</p>"
    body += table(bt.summary, table_id="backtest")
    if len(bt.predictions):
        axis = Holdout.parse(inputs.holdout or "top 20% by C").column or "C"
        body += _div(
            figure_backtest(bt.predictions, inputs.runs, axis, inputs.result), "fig-backtest"
        )
    return body


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
