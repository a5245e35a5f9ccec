"""The frame shared by the report pages (one fit, or the fits of a group): style, sections,
the law's header, and the page itself with the compressed plotly.js and its loader at the end
(:mod:`scalinglab.report.html_bundle`). Every text goes through :func:`escape`."""

from __future__ import annotations

from collections.abc import Sequence

from scalinglab._version import __version__
from scalinglab.fit.result import FitResult
from scalinglab.report.html_bundle import bundle_scripts
from scalinglab.report.html_tables import escape

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;}
h1{font-size:1.5em;margin-bottom:0.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;}
code.formula{font-size:1.1em;background:#f4f4f4;padding:0.2em 0.4em;}
table{border-collapse:collapse;margin:0.6em 0;}
td,th{border:1px solid #ddd;padding:0.25em 0.6em;text-align:right;font-size:0.9em;}
th{background:#f4f4f4;}td.name,th.name{text-align:left;}td.shared{background:#eef5ff;}
ul.warnings li{color:#8a4b00;}.meta{color:#555;font-size:0.9em;}
.figure{margin:1em 0;}div.wide{overflow-x:auto;}
"""


def section(title: str, body: str, *, sid: str) -> str:
    return f'<section id="{escape(sid)}"><h2>{escape(title)}</h2>{body}</section>'


def law_header(r: FitResult) -> str:
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


def page(heading: str, parts: Sequence[str]) -> str:
    """The whole HTML document: the heading, the parts in order, a footer and plotly.js."""
    body = [
        f"<h1>{escape(heading)}</h1>",
        *parts,
        f'<p class="meta">Made by scalinglab {escape(__version__)}; opens without a network '
        "(plotly.js is inlined, gzip-compressed, and decompressed by the browser).</p>",
        bundle_scripts(),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(heading)}</title><style>{CSS}</style></head>\n<body>"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


__all__ = ("CSS", "law_header", "page", "section")
