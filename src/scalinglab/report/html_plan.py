"""The plan section of the HTML report: the recommended plan's quantities, its alternatives
(compute-optimal, inference-aware, data-constrained, target loss: the ``plans`` of
:class:`scalinglab.plan.planner.Plan`), the model shapes, the hyperparameters and the cost.

It reads the plan's JSON-like mapping (``Plan.as_dict()``), so a plan saved as JSON renders the
same. Units: N in parameters, D in tokens, compute in FLOP, loss in the fit's metric unit, cost
in GPU-hours / hours / days. Every text goes through :func:`escape`; numbers are shown with 6
significant digits and carry their exact value in ``data-value``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scalinglab.report.html_tables import cell, escape, number, plan_table

#: Columns of the alternatives table: plan quantity -> header (with unit).
PLAN_COLUMNS = (
    ("N", "N (parameters)"),
    ("D", "D (tokens)"),
    ("tokens_per_param", "D/N"),
    ("loss", "loss"),
    ("compute", "training C (FLOP)"),
    ("inference_compute", "inference C (FLOP)"),
    ("total_compute", "total C (FLOP)"),
)
#: Columns of the shapes table, in order: key -> header.
SHAPE_COLUMNS = (
    ("d_model", "d_model"),
    ("n_layers", "layers"),
    ("n_heads", "heads"),
    ("head_dim", "head dim"),
    ("aspect_ratio", "d_model / layers"),
    ("params_non_embedding", "N non-embedding"),
    ("params_embedding", "N embedding"),
    ("params_total", "N total"),
    ("relative_error", "N total / N* - 1"),
)


def _estimate_cells(e: Any) -> str:
    """value [low, high] of an estimate mapping as three cells; '-' cells when absent."""
    if not isinstance(e, Mapping):
        return "<td>-</td><td>-</td><td>-</td>"
    return "".join(cell(e.get(k)) for k in ("value", "low", "high"))


def alternatives_table(plan: Mapping[str, Any]) -> str:
    """One row per plan computed (``plans``), the recommended one marked; three cells per
    quantity: value, low, high (the plan's interval level)."""
    plans = plan.get("plans")
    if not isinstance(plans, Mapping) or not plans:
        return ""
    keys = [
        k for k, _ in PLAN_COLUMNS if any(isinstance(p, Mapping) and k in p for p in plans.values())
    ]
    heads = dict(PLAN_COLUMNS)
    head = '<tr><th class="name" rowspan="2">plan</th><th class="name" rowspan="2">method</th>'
    head += "".join(f'<th colspan="3">{escape(heads[k])}</th>' for k in keys) + "</tr>"
    head += "<tr>" + "<th>value</th><th>low</th><th>high</th>" * len(keys) + "</tr>"
    rows, notes = [], []
    for name, p in plans.items():
        if not isinstance(p, Mapping):
            continue
        mark = " (recommended)" if name == plan.get("recommended") else ""
        rows.append(
            f'<tr data-plan="{escape(name)}"><td class="name">{escape(name)}{mark}</td>'
            f'<td class="name">{escape(p.get("method", ""))}</td>'
            + "".join(_estimate_cells(p.get(k)) for k in keys)
            + "</tr>"
        )
        notes += [f"{name}: {n}" for n in p.get("notes") or [] if isinstance(n, str)]
    level = plan.get("level")
    pct = f"{round(100 * float(level))}% " if isinstance(level, int | float) else ""
    out = (
        f'<h3>Alternatives</h3><p class="meta">Low and high: the {escape(pct)}interval over the '
        "fit's bootstrap draws.</p>"
        f'<div class="wide"><table id="plan-alternatives">{head}{"".join(rows)}</table></div>'
    )
    return out + _list(notes, "plan-notes")


def shapes_table(shapes: Any) -> str:
    """Transformer shapes whose parameter count is closest to the plan's N."""
    if not isinstance(shapes, Sequence) or not shapes:
        return ""
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for _, h in SHAPE_COLUMNS) + "</tr>"
    rows = [
        "<tr>" + "".join(cell(s.get(k)) for k, _ in SHAPE_COLUMNS) + "</tr>"
        for s in shapes
        if isinstance(s, Mapping)
    ]
    return f'<h3>Model shapes</h3><table id="plan-shapes">{head}{"".join(rows)}</table>'


def hyper_table(hyper: Any) -> str:
    """Learning rate and batch size (tokens) with their intervals and sources."""
    if not isinstance(hyper, Mapping):
        return ""
    rows = []
    for key, label in (("lr", "learning rate"), ("batch_tokens", "batch (tokens)")):
        if key in hyper:
            source = hyper.get("lr_source" if key == "lr" else "batch_source", "")
            rows.append(
                f'<tr><td class="name">{escape(label)}</td>{_estimate_cells(hyper[key])}'
                f'<td class="name">{escape(source)}</td></tr>'
            )
    head = (
        '<tr><th class="name">hyperparameter</th><th>value</th><th>low</th><th>high</th>'
        '<th class="name">source</th></tr>'
    )
    return f'<h3>Hyperparameters</h3><table id="plan-hyper">{head}{"".join(rows)}</table>'


def cost_table(cost: Any) -> str:
    """The accelerator assumed and the training cost: GPU-hours, wall hours and days."""
    if not isinstance(cost, Mapping):
        return ""
    facts = "".join(
        f'<tr><th class="name">{escape(k)}</th><td class="name" colspan="3">'
        f"{number(cost[k])}</td></tr>"
        for k in ("accelerator", "peak_flops", "mfu", "gpus", "formula", "note")
        if cost.get(k) is not None
    )
    rows = "".join(
        f'<tr><th class="name">{escape(label)}</th>{_estimate_cells(cost[k])}</tr>'
        for k, label in (
            ("gpu_hours", "GPU-hours"),
            ("wall_hours", "wall hours"),
            ("wall_days", "wall days"),
        )
        if k in cost
    )
    head = '<tr><th class="name">cost</th><th>value</th><th>low</th><th>high</th></tr>'
    return f'<h3>Cost</h3><table id="plan-cost">{facts}{head}{rows}</table>'


def _list(items: Sequence[str], list_id: str) -> str:
    if not items:
        return ""
    return f'<ul id="{list_id}">' + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"


def plan_section(plan: Mapping[str, Any]) -> str:
    """The whole plan section body: the recommended plan's quantities (``#plan``), then the
    alternatives, shapes, hyperparameters and cost tables, each present when the plan has it."""
    lead = ""
    if plan.get("recommended"):
        lead = (
            f'<p id="plan-recommended">Recommended: <b>{escape(plan["recommended"])}</b>'
            f" ({escape(plan.get('method', ''))}).</p>"
        )
    fc = plan.get("flop_convention")
    if isinstance(fc, Mapping) and fc.get("formula"):
        lead += f'<p class="meta">FLOP convention: {escape(fc["formula"])}.</p>'
    return (
        lead
        + plan_table(plan)
        + alternatives_table(plan)
        + shapes_table(plan.get("shapes"))
        + hyper_table(plan.get("hyperparameters"))
        + cost_table(plan.get("cost"))
    )


__all__ = ("alternatives_table", "cost_table", "hyper_table", "plan_section", "shapes_table")
