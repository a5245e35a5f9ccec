"""Size of the HTML report of the Chinchilla runs with a plan, and of the plotly.js it inlines.

Builds the report the way ``scalinglab report chinchilla_epoch --where "loss < 3.44" --compute
1e24 -o report.html`` does (the ``chinchilla`` law, its backtest, the plan at 1e24 FLOP), with a
modest bootstrap (100 resamples, seed 0) for speed: the bootstrap count changes only the size of
the histogram figure's data. Prints the plotly.js bundle before (the plain ``plotly.min.js`` the
report used to inline) and after (gzip level 9, then Ascii85 text, as the page carries it; the figures' JSON
to 7 significant digits), the page
with the plain bundle in place of the compressed one, and last ``report_bytes: X`` (the written
file; goal at most 2,500,000, issue 15).

Run: ``.venv/bin/python bench/report_size.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from scalinglab.report.build import gather
from scalinglab.report.html import write_html
from scalinglab.report.html_bundle import plotly_bundle

LIMIT = 2_500_000


def main() -> None:
    t0 = time.perf_counter()
    inputs = gather(
        "chinchilla_epoch",
        where="loss < 3.44",
        compute=1e24,
        bootstrap=100,
        backtest_bootstrap=50,
        seed=0,
        workers=2,
    )
    with tempfile.TemporaryDirectory() as d:
        path = write_html(inputs, Path(d) / "report.html")
        size = path.stat().st_size
    b = plotly_bundle()
    print(f"built in {time.perf_counter() - t0:.1f} s")
    print(f"plotly.js plain (before):         {b.plain_bytes:>10,} bytes")
    print(f"plotly.js gzip -9:                {b.gzip_bytes:>10,} bytes")
    print(f"plotly.js gzip + {b.encoding} (after): {b.inline_bytes:>10,} bytes")
    print(f"rest of the page (figures, tables): {size - b.inline_bytes:>8,} bytes")
    print(f"same page with the plain bundle:  {size - b.inline_bytes + b.plain_bytes:>10,} bytes")
    print(f"limit: {LIMIT:,}; within: {size <= LIMIT}")
    print(f"report_bytes: {size}")


if __name__ == "__main__":
    main()
