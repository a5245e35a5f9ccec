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

from scalinglab.errors import ScalinglabError
from scalinglab.fit.result import FitResult
from scalinglab.report import analysis as an
from scalinglab.report.build import GroupInputs, ReportInputs
from scalinglab.report.html_bundle import figure_div
from scalinglab.report.html_figures import (
    figure_backtest,
    figure_bootstrap,
    figure_curves,
    figure_fit,
    figure_frontier,
    figure_isoflop,
    figure_residuals,
)
from scalinglab.report.html_groups import joint_table, render_groups_html
from scalinglab.report.html_page import law_header, page, section
from scalinglab.report.html_plan import plan_section
from scalinglab.report.html_tables import escape, fit_facts, params_table, table
from scalinglab.report.html_trust import diagnostics_section


def _div(fig: go.Figure, div_id: str) -> str:
    return figure_div(fig, div_id)


def render_html(inputs: ReportInputs, *, title: str | None = None) -> str:
    """The report page as one string (plotly.js inlined)."""
    r = inputs.result
    heading = title or f"scalinglab report: {r.law} fit of {r.provenance.source or 'runs'}"
    parts = [law_header(r)]
    if r.joint:
        parts.append(section("Groups", joint_table(r), sid="joint"))
    parts.append(section("Fit", _fit_summary(r), sid="fit"))
    parts.append(section("Figures", _figures(inputs), sid="figures"))
    parts.append(section("Diagnostics", diagnostics_section(r), sid="diagnostics"))
    if inputs.backtest is not None and inputs.runs is not None:
        parts.append(section("Backtest", _backtest(inputs), sid="backtest-section"))
    if inputs.plan is not None:
        parts.append(section("Plan", plan_section(inputs.plan), sid="plan-section"))
    return page(heading, parts)


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


def write_html(
    inputs: ReportInputs | GroupInputs, path: str | Path, *, title: str | None = None
) -> Path:
    """Write the report to ``path`` (UTF-8) and return the path: the page of one fit, or of
    the separate fits of each group (:func:`scalinglab.report.html_groups.render_groups_html`)."""
    p = Path(path)
    if isinstance(inputs, GroupInputs):
        text = render_groups_html(inputs, title=title)
    else:
        text = render_html(inputs, title=title)
    p.write_text(text, encoding="utf-8")
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
