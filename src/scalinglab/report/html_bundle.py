"""plotly.js inlined compressed, and the figures drawn once the page has decompressed it.

The full ``plotly.min.js`` of the installed ``plotly`` package (about 4.8 MB) is gzip-compressed
at build time (level 9, mtime 0, so the same plotly gives the same bytes), base64-encoded and put
in a ``<script type="application/octet-stream">`` element. No package on PyPI ships plotly's
partial bundles, so compression, not a smaller build, keeps the report near 2 MB.

In the page an async loader reads that text, decompresses it with the browser's built-in
``DecompressionStream("gzip")`` (Chromium 80+, Firefox 113+, Safari 16.4+: no network, no
library), runs it as an inline script, then draws each figure from its JSON
(``<script type="application/json" class="plotly-figure" data-target="ID">``) with
``Plotly.newPlot``. It records what it did in ``window.scalinglabReport.log`` (``"plotly"``
first, then each figure's id) and sets ``data-plotly="ready"`` (or ``"failed"``, with the
reason shown in ``#plotly-status``) on ``<body>``: the browser test checks that order.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

#: The plotly ``config`` of every figure.
FIGURE_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}


@dataclass(frozen=True)
class Bundle:
    """plotly.js as it goes in the page: sizes in bytes of the plain script, of its gzip
    stream and of the base64 text inlined."""

    base64: str
    plain_bytes: int
    gzip_bytes: int

    @property
    def inline_bytes(self) -> int:
        return len(self.base64)


@lru_cache(maxsize=1)
def plotly_bundle() -> Bundle:
    """The installed plotly.js, gzip-compressed and base64-encoded (computed once a process)."""
    plain = get_plotlyjs().encode("utf-8")
    packed = gzip.compress(plain, compresslevel=9, mtime=0)
    return Bundle(base64.b64encode(packed).decode("ascii"), len(plain), len(packed))


def figure_json(fig: go.Figure) -> str:
    """A figure's data and layout as compact JSON that is safe inside a ``<script>`` element:
    every ``<`` is written ``\\u003c`` (still valid JSON), so no ``</script>`` can end it early."""
    text: str = fig.to_json(pretty=False, remove_uids=True)
    return text.replace("<", "\\u003c")


def figure_div(fig: go.Figure, div_id: str) -> str:
    """The figure's target ``<div>`` and its JSON; drawn by the loader (:data:`LOADER_JS`)."""
    height = fig.layout.height
    style = f"height:{int(height)}px;width:100%" if height else "height:420px;width:100%"
    return (
        f'<div class="figure"><div id="{div_id}" class="plotly-graph-div" style="{style}"></div>'
        f'<script type="application/json" class="plotly-figure" data-target="{div_id}">'
        f"{figure_json(fig)}</script></div>"
    )


LOADER_JS = """
(async function () {
  const state = (window.scalinglabReport = { log: [] });
  const status = document.getElementById("plotly-status");
  try {
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser has no DecompressionStream (needs Chromium 80+, "
        + "Firefox 113+ or Safari 16.4+); the tables are still correct");
    }
    const b64 = document.getElementById("plotly-gz").textContent.trim();
    const raw = atob(b64);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    const code = await new Response(stream).text();
    const s = document.createElement("script");
    s.text = code;
    document.head.appendChild(s);
    if (typeof Plotly === "undefined") throw new Error("plotly.js did not load");
    state.log.push("plotly");
    const config = CONFIG;
    for (const el of document.querySelectorAll("script.plotly-figure")) {
      const fig = JSON.parse(el.textContent);
      await Plotly.newPlot(el.dataset.target, fig.data, fig.layout || {}, config);
      state.log.push(el.dataset.target);
    }
    if (status) status.textContent = "";
    document.body.dataset.plotly = "ready";
  } catch (e) {
    document.body.dataset.plotly = "failed";
    if (status) status.textContent = "The figures could not be drawn: " + e.message;
    console.error(e);
  }
})();
"""


def bundle_scripts() -> str:
    """The compressed plotly.js and its loader, for the end of ``<body>``."""
    loader = LOADER_JS.replace("CONFIG", json.dumps(FIGURE_CONFIG))
    return (
        '<p class="meta" id="plotly-status">Drawing the figures (plotly.js is inlined, '
        "compressed; JavaScript is needed).</p>"
        f'<script type="application/octet-stream" id="plotly-gz">{plotly_bundle().base64}</script>'
        f"<script>{loader}</script>"
    )


__all__ = (
    "FIGURE_CONFIG",
    "Bundle",
    "bundle_scripts",
    "figure_div",
    "figure_json",
    "plotly_bundle",
)
