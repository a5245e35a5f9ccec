"""The diagnostics section of the HTML report: ``diagnose``'s findings on the fitted runs and
the fit (:mod:`scalinglab.trust.diagnose`), and the table of outlying runs by the robust
z-score of their residuals (:mod:`scalinglab.trust.outliers`, Iglewicz and Hoaglin 1993).

Both read the runs the fit itself used (``FitResult.data``), so a report of a saved fit shows
the same diagnostics as the report that made it. Every text goes through :func:`escape`.
"""

from __future__ import annotations

from scalinglab.errors import ScalinglabError
from scalinglab.fit.result import FitResult
from scalinglab.report import analysis as an
from scalinglab.report.html_tables import cell, escape
from scalinglab.trust.diagnose import diagnose_fit, diagnose_runs
from scalinglab.trust.findings import Finding
from scalinglab.trust.outliers import Z_THRESHOLD, fit_outliers


def findings_of(result: FitResult) -> list[Finding]:
    """``diagnose``'s checks on the fitted runs (trends, counts) and on the fit
    (identifiability), without refitting."""
    frame = an.observed(result)
    n_free = len([p for p in result.params if p not in result.fixed])
    return diagnose_runs(frame, metric=result.provenance.metric, n_params=n_free) + diagnose_fit(
        result
    )


def findings_list(findings: list[Finding]) -> str:
    if not findings:
        return '<p id="diagnose">No findings: diagnose found nothing in these runs or this fit.</p>'
    items = "".join(
        f'<li class="{escape(f.severity)}" data-kind="{escape(f.kind)}">'
        f"<b>{escape(f.kind)}</b> ({escape(f.severity)}): {escape(f.message)}</li>"
        for f in findings
    )
    return f'<ul class="warnings" id="diagnose">{items}</ul>'


def outliers_table(result: FitResult, *, threshold: float = Z_THRESHOLD) -> str:
    """Flagged runs, largest |z| first: run, its variables and y, residual and robust z."""
    try:
        flagged = fit_outliers(result, threshold=threshold)
    except ScalinglabError as e:
        return f'<p id="outliers-none">Outliers not scored: {escape(e)}</p>'
    lead = (
        f'<p class="meta">Runs whose fitted residual ({escape(result.space)} space) has a robust '
        f"z-score 0.6745 (r - median) / MAD beyond {threshold:g} in size (Iglewicz and Hoaglin "
        "1993). Flagged, not dropped: check each run and exclude it with --where if it does "
        "not belong.</p>"
    )
    if not flagged:
        return lead + '<p id="outliers-none">No run is flagged.</p>'
    columns = list(flagged[0].values)
    head = (
        '<tr><th class="name">run</th>'
        + "".join(f"<th>{escape(c)}</th>" for c in columns)
        + "<th>residual</th><th>robust z</th></tr>"
    )
    rows = "".join(
        f'<tr data-run="{escape(o.run_id)}"><td class="name">{escape(o.run_id)}</td>'
        + "".join(cell(o.values.get(c)) for c in columns)
        + cell(o.residual)
        + cell(o.z)
        + "</tr>"
        for o in flagged
    )
    return lead + f'<table id="outliers">{head}{rows}</table>'


def diagnostics_section(result: FitResult) -> str:
    """The section body: findings, then the outlier table."""
    try:
        findings = findings_list(findings_of(result))
    except ScalinglabError as e:
        findings = f'<p id="diagnose">diagnose could not run: {escape(e)}</p>'
    return "<h3>Findings</h3>" + findings + "<h3>Outlying runs</h3>" + outliers_table(result)


__all__ = ("diagnostics_section", "findings_list", "findings_of", "outliers_table")
