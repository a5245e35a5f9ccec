"""The HTML tables of the report: fitted parameters, fit facts, backtest and plan.

Every piece of text goes through :func:`escape` (:func:`html.escape`). Numbers are shown with
``DISPLAY_DIGITS`` significant digits; the exact value is in the cell's ``data-value``
attribute as ``repr(float)``, which round-trips, so the numbers shown can be checked against the
fit's JSON exactly.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.fit.result import FitResult

DISPLAY_DIGITS = 6


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(v: Any) -> str:
    """A number for display (6 significant digits); '-' for missing."""
    if v is None:
        return "-"
    if isinstance(v, bool | np.bool_):
        return escape(v)
    if isinstance(v, int | float | np.integer | np.floating):
        f = float(v)
        return "-" if not math.isfinite(f) else format(f, f".{DISPLAY_DIGITS}g")
    return escape(v)


def cell(v: Any, *, attrs: str = "") -> str:
    raw = ""
    if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool):
        raw = f' data-value="{escape(repr(float(v)))}"'
    return f"<td{attrs}{raw}>{number(v)}</td>"


def table(frame: pd.DataFrame, *, table_id: str) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        body.append("<tr>" + "".join(cell(v) for v in row) + "</tr>")
    return f'<table id="{escape(table_id)}"><tr>{head}</tr>{"".join(body)}</table>'


def params_table(result: FitResult) -> str:
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
            f'<tr data-param="{escape(name)}"><td class="name">{escape(name)}{fixed}</td>'
            + cell(value, attrs=' class="param-value"')
            + cell(lo, attrs=' class="param-low"')
            + cell(hi, attrs=' class="param-high"')
            + f'<td class="name">{escape(meaning)}</td><td class="name">{escape(unit)}</td></tr>'
        )
    head = (
        '<tr><th class="name">parameter</th><th>value</th>'
        f"<th>{pct}% low</th><th>{pct}% high</th>"
        '<th class="name">meaning</th><th class="name">unit</th></tr>'
    )
    return f'<table id="params">{head}{"".join(rows)}</table>'


def fit_facts(result: FitResult) -> str:
    s = result.search
    b = result.bootstrap
    sel = result.provenance
    facts = [
        ("runs", result.n_points),
        ("source", sel.source),
        ("selection (--where)", sel.where),
        ("group", sel.group),
        ("metric", f"{sel.metric} ({sel.metric_unit})"),
        ("objective", f"{format(result.objective, '.10g')} = {result.objective_text}"),
        ("AIC / BIC", f"{result.aic:.6g} / {result.bic:.6g}"),
        ("starts", f"{s.starts}: {s.starts_converged} converged, {s.starts_at_best} at the best"),
        (
            "bootstrap",
            f"{b.converged} of {b.n} resamples converged, seed {b.seed}",
        ),
        ("interval level", result.level),
        ("fit id", result.fit_id),
        ("fitted", f"{result.created_at} with scalinglab {result.package_version}"),
    ]
    rows = "".join(
        f'<tr><th class="name">{escape(k)}</th><td class="name">{escape(v)}</td></tr>'
        for k, v in facts
        if v is not None
    )
    return f'<table id="fit-facts">{rows}</table>'


def plan_table(plan: Mapping[str, Any]) -> str:
    rows = []
    scalars = []
    for key, value in plan.items():
        if isinstance(value, Mapping) and "value" in value:
            rows.append(
                f'<tr><td class="name">{escape(key)}</td>'
                + "".join(cell(value.get(k)) for k in ("value", "low", "high"))
                + "</tr>"
            )
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            items = "".join(f"<li>{escape(v)}</li>" for v in value)
            scalars.append(f"<li>{escape(key)}:<ul>{items}</ul></li>")
        elif value is not None and not isinstance(value, Mapping | list):
            scalars.append(f"<li>{escape(key)}: {number(value)}</li>")
    head = '<tr><th class="name">quantity</th><th>value</th><th>low</th><th>high</th></tr>'
    out = f"<ul>{''.join(scalars)}</ul>" if scalars else ""
    return out + (f'<table id="plan">{head}{"".join(rows)}</table>' if rows else "")
