"""plotly.js inlined compressed, and the figures drawn once the page has decompressed it.

The full ``plotly.min.js`` of the installed ``plotly`` package (about 4.8 MB) is gzip-compressed
at build time (level 9, mtime 0, so the same plotly gives the same bytes), written as Ascii85
text (25% over the binary; base64, 33%, when the text would hold ``</script`` or ``<!--``) and put in a
``<script type="application/octet-stream">`` element. No package on PyPI ships plotly's
partial bundles, so compression, not a smaller build, keeps the report near 2 MB.

In the page an async loader reads that text, decodes it, decompresses it with the browser's built-in
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
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

#: The plotly ``config`` of every figure.
FIGURE_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}


@dataclass(frozen=True)
class Bundle:
    """plotly.js as it goes in the page: ``text`` in ``encoding`` (``"ascii85"`` or
    ``"base64"``) of the gzip stream; sizes in bytes of the plain script, of its gzip stream
    and of the text inlined."""

    text: str
    encoding: str
    plain_bytes: int
    gzip_bytes: int

    @property
    def inline_bytes(self) -> int:
        return len(self.text)


def _safe_in_script(text: str) -> bool:
    """True when ``text`` cannot end or re-mode a ``<script>`` element: no ``</script``
    (any case) and no ``<!--`` (the HTML tokenizer's script-data states, WHATWG HTML 13.2.5)."""
    return re.search(r"</script|<!--", text, re.IGNORECASE) is None


@lru_cache(maxsize=1)
def plotly_bundle() -> Bundle:
    """The installed plotly.js, gzip-compressed, as Ascii85 text (5 characters per 4 bytes,
    Python's :func:`base64.a85encode`; 'z' for four zero bytes); base64 (4 per 3) when the
    Ascii85 text happens to hold ``</script`` or ``<!--``. Computed once a process."""
    plain = get_plotlyjs().encode("utf-8")
    packed = gzip.compress(plain, compresslevel=9, mtime=0)
    text = base64.a85encode(packed).decode("ascii")
    if _safe_in_script(text):
        return Bundle(text, "ascii85", len(plain), len(packed))
    return Bundle(base64.b64encode(packed).decode("ascii"), "base64", len(plain), len(packed))


#: Significant digits kept for the numbers of the figures' JSON: enough for any zoom of a
#: log axis and for the hover labels (5 digits); the exact values are in the tables.
FIGURE_DIGITS = 7


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(format(value, f".{FIGURE_DIGITS}g")) if math.isfinite(value) else value
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


#: The plotly template every figure of the report uses; written once in the page and given
#: back to each figure by the loader (it is about 6.5 kB of JSON a figure).
SHARED_TEMPLATE = "plotly_white"


@lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    fig = go.Figure(layout={"template": SHARED_TEMPLATE})
    out: dict[str, Any] = json.loads(fig.to_json())["layout"]["template"]
    return out


def _script_json(value: Any) -> str:
    """Compact JSON safe inside ``<script>``: every ``<`` written ``\\u003c``."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def figure_json(fig: go.Figure) -> str:
    """A figure's data and layout as compact JSON, numbers to :data:`FIGURE_DIGITS`
    significant digits, safe inside a ``<script>`` element (no ``</script>`` can end it early);
    the :data:`SHARED_TEMPLATE` is replaced by ``"sharedTemplate": true``."""
    raw = json.loads(fig.to_json(pretty=False, remove_uids=True))
    layout = raw.setdefault("layout", {})
    if layout.get("template") == _template():
        del layout["template"]
        raw["sharedTemplate"] = True
    return _script_json(_rounded(raw))


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
function b64(s) {
  const raw = atob(s);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}
function a85(s) {
  // Ascii85 as Python's base64.a85encode writes it: '!'..'u' are 0..84, five digits
  // base 85 per four bytes, 'z' for four zero bytes, the last group padded with 'u'
  s = s.replace(/z/g, "!!!!!");
  const pad = (5 - (s.length % 5)) % 5;
  s += "u".repeat(pad);
  const out = new Uint8Array((s.length / 5) * 4);
  for (let i = 0, j = 0; i < s.length; i += 5, j += 4) {
    let v = 0;
    for (let k = 0; k < 5; k++) v = v * 85 + (s.charCodeAt(i + k) - 33);
    out[j] = v >>> 24;
    out[j + 1] = (v >>> 16) & 255;
    out[j + 2] = (v >>> 8) & 255;
    out[j + 3] = v & 255;
  }
  return out.subarray(0, out.length - pad);
}
(async function () {
  const state = (window.scalinglabReport = { log: [] });
  const status = document.getElementById("plotly-status");
  try {
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser has no DecompressionStream (needs Chromium 80+, "
        + "Firefox 113+ or Safari 16.4+); the tables are still correct");
    }
    const el = document.getElementById("plotly-gz");
    const text = el.textContent.trim();
    const bytes = el.dataset.encoding === "ascii85" ? a85(text) : b64(text);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    const code = await new Response(stream).text();
    const s = document.createElement("script");
    s.text = code;
    document.head.appendChild(s);
    if (typeof Plotly === "undefined") throw new Error("plotly.js did not load");
    state.log.push("plotly");
    const config = CONFIG;
    const template = JSON.parse(document.getElementById("plotly-template").textContent);
    for (const el of document.querySelectorAll("script.plotly-figure")) {
      const fig = JSON.parse(el.textContent);
      if (fig.sharedTemplate) (fig.layout = fig.layout || {}).template = template;
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
    b = plotly_bundle()
    loader = LOADER_JS.replace("CONFIG", json.dumps(FIGURE_CONFIG))
    return (
        '<p class="meta" id="plotly-status">Drawing the figures (plotly.js is inlined, '
        "compressed; JavaScript is needed).</p>"
        f'<script type="application/octet-stream" id="plotly-gz" data-encoding="{b.encoding}">'
        f"{b.text}</script>"
        f'<script type="application/json" id="plotly-template">{_script_json(_template())}</script>'
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
