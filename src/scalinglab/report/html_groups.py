"""Grouped fits in the HTML report: a joint fit's shared and per-group parameters
(:func:`joint_table`, on the one-fit page), and the page of a :class:`scalinglab.fit.FitSet`,
the separate fits of each group (:func:`render_groups_html`: a parameter table with one row per
group, one figure panel per group, each group's outliers and, with a budget, each group's plan).

Parameter cells show 6 significant digits with the exact value in ``data-value``; every text
goes through :func:`escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from scalinglab.fit.result import FitResult
from scalinglab.laws.registry import get_law
from scalinglab.report.build import GroupInputs
from scalinglab.report.html_bundle import figure_div
from scalinglab.report.html_figures import figure_fit
from scalinglab.report.html_page import law_header, page, section
from scalinglab.report.html_plan import plan_section
from scalinglab.report.html_tables import cell, escape
from scalinglab.report.html_trust import outliers_table


def _param_cells(r: FitResult, name: str, *, css: str = "") -> str:
    lo, hi = r.intervals.get(name, (math.nan, math.nan))
    attrs = f' class="{css}"' if css else ""
    return cell(r.params[name], attrs=attrs) + cell(lo, attrs=attrs) + cell(hi, attrs=attrs)


def _head(first: str, names: Sequence[str], level: float) -> str:
    pct = round(100 * level)
    top = f'<tr><th class="name" rowspan="2">{escape(first)}</th>' + "".join(
        f'<th colspan="3">{escape(n)}</th>' for n in names
    )
    return (
        top
        + "</tr><tr>"
        + f"<th>value</th><th>{pct}% low</th><th>{pct}% high</th>" * len(names)
        + "</tr>"
    )


def joint_table(r: FitResult) -> str:
    """A joint fit's parameters, one row per group: shared parameters (shaded, the same in
    every row) and each group's own (``name[group]`` in the fit)."""
    j = r.joint
    if j is None:
        return ""
    base = get_law(r.law).param_names
    rows = []
    for g in j.groups:
        cells = "".join(
            _param_cells(r, p, css="shared") if p in j.shared else _param_cells(r, f"{p}[{g}]")
            for p in base
        )
        rows.append(f'<tr data-group="{escape(g)}"><td class="name">{escape(g)}</td>{cells}</tr>')
    shared = ", ".join(j.shared) or "none"
    lead = (
        f"<p>One joint fit over the groups of <b>{escape(j.group_by)}</b>; shared by all groups "
        f'(shaded): <span id="joint-shared">{escape(shared)}</span>.</p>'
    )
    return (
        lead
        + f'<div class="wide"><table id="joint-params">{_head(j.group_by, base, r.level)}{"".join(rows)}</table></div>'
    )


def group_table(fits: Sequence[FitResult], group_by: str) -> str:
    """The separate fits' parameters, one row per group, with each group's run count."""
    names = list(fits[0].params)
    rows = []
    for r in fits:
        g = str(r.provenance.group)
        cells = "".join(_param_cells(r, n) if n in r.params else "<td>-</td>" * 3 for n in names)
        rows.append(
            f'<tr data-group="{escape(g)}"><td class="name">{escape(g)}</td>{cells}'
            f"<td>{r.n_points}</td></tr>"
        )
    head = _head(group_by, names, fits[0].level).replace(
        "</tr>", '<th rowspan="2">runs</th></tr>', 1
    )
    return f'<div class="wide"><table id="group-params">{head}{"".join(rows)}</table></div>'


def render_groups_html(inputs: GroupInputs, *, title: str | None = None) -> str:
    """The page of the separate fits of each group (plotly.js inlined, compressed)."""
    fs = inputs.fits
    first = fs.fits[0]
    source = first.provenance.source or "runs"
    heading = title or f"scalinglab report: {first.law} fits of {source} by {fs.group_by}"
    body = group_table(fs.fits, fs.group_by)
    if fs.failed:
        items = "".join(f"<li>{escape(g)}: {escape(m)}</li>" for g, m in fs.failed)
        body += f'<ul class="warnings" id="group-failed">{items}</ul>'
    parts = [law_header(first), section(f"Groups of {fs.group_by}", body, sid="groups")]
    figs = "".join(
        figure_div(_titled(figure_fit(r), r), f"fig-group-{i}") for i, r in enumerate(fs.fits)
    )
    parts.append(section("Figures (one panel per group)", figs, sid="figures"))
    outliers = "".join(
        f'<h3 data-group="{escape(r.provenance.group)}">{escape(fs.group_by)} = '
        f"{escape(r.provenance.group)}</h3>"
        + outliers_table(r).replace('id="outliers', f'id="outliers-{i}', 1)
        for i, r in enumerate(fs.fits)
    )
    parts.append(section("Outlying runs", outliers, sid="diagnostics"))
    if inputs.plans:
        plans = "".join(
            f"<h3>{escape(fs.group_by)} = {escape(g)}</h3>"
            + plan_section(p).replace(' id="plan', f' id="g{i}-plan')
            for i, (g, p) in enumerate(inputs.plans.items())
        )
        parts.append(section("Plan of each group", plans, sid="plan-section"))
    return page(heading, parts)


def _titled(fig: go.Figure, r: FitResult) -> go.Figure:
    group = r.provenance.group
    fig.update_layout(title_text=f"{escape(group)}: {fig.layout.title.text or ''}")
    return fig


__all__ = ("group_table", "joint_table", "render_groups_html")
