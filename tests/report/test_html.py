"""The HTML report: end to end in headless Chromium with the network off, plus page checks.

The browser test needs Debian's chromium (/usr/bin/chromium) and the Python playwright package
(`scripts/setup test` installs both). Without them it FAILS; it may skip only when
SCALINGLAB_ALLOW_SKIP_BROWSER=1.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _fixtures import planted_fit, planted_predictions, planted_runs

import scalinglab
from scalinglab.report.build import ReportInputs
from scalinglab.report.html import parameter_values, render_html
from scalinglab.trust.backtest import BacktestResult

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MAX_BYTES = 10_000_000


def _entry() -> list[str]:
    if (Path(scalinglab.__file__).parent / "__main__.py").exists():
        return [sys.executable, "-m", "scalinglab"]
    return [str(Path(sys.executable).parent / "scalinglab")]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    return subprocess.run(
        [*_entry(), *args], capture_output=True, text=True, timeout=600, env=env, cwd=cwd
    )


@pytest.fixture(scope="module")
def chinchilla_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report of the bundled Chinchilla data, built through the real entry point."""
    d = tmp_path_factory.mktemp("report")
    proc = run_cli(
        "report",
        "chinchilla_epoch",
        "--where",
        "loss < 3.44",
        "-o",
        "report.html",
        "--bootstrap",
        "100",
        "--fit-out",
        "fit.json",
        "--compute",
        "1e24",
        "--inference-tokens",
        "1e13",
        "--unique-tokens",
        "1e12",
        "--target-loss",
        "2.0",
        "--json",
        cwd=d,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    return {"dir": d, "json": out, "html": d / "report.html", "fit": d / "fit.json"}


def test_report_command_json_and_size(chinchilla_report: dict[str, Any]) -> None:
    out, page = chinchilla_report["json"], chinchilla_report["html"]
    assert out["path"] == "report.html" and out["bytes"] == page.stat().st_size
    assert out["law"] == "chinchilla" and out["backtest"] == "top 20% by C"
    assert page.stat().st_size < MAX_BYTES


def test_report_is_self_contained(chinchilla_report: dict[str, Any]) -> None:
    text = chinchilla_report["html"].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", text)
    assert not re.search(r"<link[^>]*\bhref=", text)
    assert "cdn.plot.ly" not in text.split("</head>", 1)[1]  # only plotly.js itself may name it
    for section in ("fig-fit", "fig-residuals", "fig-bootstrap", "fig-frontier", "fig-isoflop"):
        assert f'id="{section}"' in text
    assert 'id="backtest"' in text and 'id="plan"' in text


def test_report_shows_the_law_notes(chinchilla_report: dict[str, Any]) -> None:
    """The law's notes (how N and D are counted, the closed form) are on the page, escaped."""
    from scalinglab.laws.registry import get_law

    text = chinchilla_report["html"].read_text(encoding="utf-8")
    notes = get_law("chinchilla").notes
    assert "counts training tokens" in notes  # the notes this check is about
    m = re.search(r'<p class="meta" id="law-notes">Notes: ([^<]*)</p>', text)
    assert m is not None and html.unescape(m.group(1)) == notes


def test_report_without_law_notes_has_no_notes_line() -> None:
    """A law without notes (power_law) gets no empty notes paragraph."""
    from _fixtures import curve_fit

    from scalinglab.laws.registry import get_law

    r = curve_fit()
    assert r.law == "power_law" and get_law("power_law").notes == ""
    page = render_html(ReportInputs(r))
    assert 'id="law-notes"' not in page and 'id="formula"' in page


def _plan_cells(text: str, plan: str) -> list[float]:
    m = re.search(rf'<tr data-plan="{plan}">(.*?)</tr>', text)
    assert m is not None, plan
    return [float(v) for v in re.findall(r'data-value="([^"]*)"', m.group(1))]


def test_report_plan_alternatives(chinchilla_report: dict[str, Any]) -> None:
    """The alternatives table against independent arithmetic on the fitted parameters:
    compute-optimal N* from Hoffmann et al. 2022 (arXiv:2203.15556) appendix D.2,
    N* = G (C/6)^(beta/(alpha+beta)) with G = (alpha A / (beta B))^(1/(alpha+beta)), D* = C/(6N*);
    inference-aware: inference FLOP = 2 N D_inf (Sardana et al. 2023, arXiv:2401.00448)."""
    text = chinchilla_report["html"].read_text(encoding="utf-8")
    p = json.loads(chinchilla_report["fit"].read_text())["params"]
    a, b = p["alpha"], p["beta"]
    g = (a * p["A"] / (b * p["B"])) ** (1 / (a + b))
    n_opt = g * (1e24 / 6) ** (b / (a + b))
    co = _plan_cells(text, "compute_optimal")  # N, D, D/N, loss, C: value low high each
    assert co[0] == pytest.approx(n_opt, rel=1e-6)
    assert co[3] == pytest.approx(1e24 / 6 / n_opt, rel=1e-6)
    assert co[12:15] == [1e24, 1e24, 1e24]
    inf = _plan_cells(text, "inference_aware")
    assert inf[15] == pytest.approx(2 * inf[0] * 1e13, rel=1e-9)  # inference C
    assert inf[18] == pytest.approx(inf[12] + inf[15], rel=1e-9)  # total C
    assert inf[0] < co[0]  # serving 1e13 tokens favours a smaller model trained longer
    tl = _plan_cells(text, "target_loss")
    assert tl[9] == pytest.approx(2.0, rel=1e-6)  # reaches the loss asked for
    assert (
        '<tr data-plan="data_constrained"><td class="name">data_constrained (recommended)' in text
    )
    for tid in ("plan-shapes", "plan-hyper", "plan-cost"):
        assert f'id="{tid}"' in text


def test_plan_section_of_a_target_loss_only() -> None:
    from scalinglab.report.build import plan_for_report

    r = planted_fit()
    p = r.params  # the loss of N = 1e9, D = 2e10 by the law's formula (Hoffmann et al. eq. 2)
    loss = p["E"] + p["A"] / 1e9 ** p["alpha"] + p["B"] / 2e10 ** p["beta"]
    plan = plan_for_report(r, None, target_loss=loss)
    page = render_html(ReportInputs(r, plan=plan))
    assert [m for m in re.findall(r'<tr data-plan="([^"]*)">', page)] == ["target_loss"]
    assert _plan_cells(page, "target_loss")[9] == pytest.approx(loss, rel=1e-6)


def test_report_outliers_against_the_fit_residuals(chinchilla_report: dict[str, Any]) -> None:
    """The outlier table equals an independent robust z-score of the residuals in the fit's
    JSON: (r - median) / s, s the larger of MAD / 0.6745 (Iglewicz and Hoaglin 1993) and the
    80% quantile of |r - median| / 1.2816, |z| > 3.5, largest first."""
    import numpy as np

    fit = json.loads(chinchilla_report["fit"].read_text())
    r = np.array(fit["residuals"], dtype=float)
    dev = np.sort(np.abs(r - np.median(r)))
    k = 0.8 * (dev.size - 1)  # linear interpolation between order statistics
    q80 = dev[int(k)] + (k - int(k)) * (dev[min(int(k) + 1, dev.size - 1)] - dev[int(k)])
    s = max(np.median(dev) / 0.6745, q80 / 1.2816)
    z = (r - np.median(r)) / s
    ids = np.array(fit["data"]["run_id"])
    order = np.argsort(-np.abs(z))
    expected = [str(ids[i]) for i in order if abs(z[i]) > 3.5]
    text = chinchilla_report["html"].read_text(encoding="utf-8")
    table = re.search(r'<table id="outliers">(.*?)</table>', text)
    assert table is not None
    assert re.findall(r'<tr data-run="([^"]*)">', table.group(1)) == expected
    # with loss < 3.44 the next under-trained small runs are flagged first (rows 6, 11, 12)
    assert expected[:3] == [f"chinchilla_epoch:{k}" for k in (6, 11, 12)]


def test_report_parameters_equal_the_fit_json(chinchilla_report: dict[str, Any]) -> None:
    fit = json.loads(chinchilla_report["fit"].read_text())
    shown = parameter_values(chinchilla_report["html"].read_text(encoding="utf-8"))
    assert shown == fit["params"]
    # published optimum of this selection (DESIGN.md): the report shows the same fit
    assert fit["params"]["E"] == pytest.approx(1.81722, rel=1e-4)


def _require_browser() -> None:
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "the Python package playwright is not installed"
    if problem is None and not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is missing"
    if problem is not None:
        message = (
            f"browser test cannot run: {problem}. Run `scripts/setup test` (installs playwright "
            "and Debian's chromium)."
        )
        if os.environ.get("SCALINGLAB_ALLOW_SKIP_BROWSER") == "1":
            pytest.skip(message)
        pytest.fail(message)


def test_report_renders_in_chromium_offline(
    chinchilla_report: dict[str, Any], tmp_path: Path
) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    page_file = chinchilla_report["html"]
    fit = json.loads(chinchilla_report["fit"].read_text())
    errors: list[str] = []
    blocked: list[str] = []
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            offline=True,
            viewport={"width": 1200, "height": 900},
        )
        try:

            def route(r: Any) -> None:
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            ctx.route("**/*", route)
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on(
                "console",
                lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            page.wait_for_function("document.body.dataset.plotly !== undefined")
            assert page.evaluate("document.body.dataset.plotly") == "ready", page.inner_text(
                "#plotly-status"
            )
            # plotly.js came from the compressed bundle, and every figure was drawn after it
            targets = page.evaluate(
                "[...document.querySelectorAll('script.plotly-figure')].map(e => e.dataset.target)"
            )
            log = page.evaluate("window.scalinglabReport.log")
            assert log == ["plotly", *targets], log
            assert page.evaluate("typeof Plotly.newPlot") == "function"
            # the shared plotly_white template reached the figures (white plot background)
            bg = "document.getElementById('fig-fit')._fullLayout.plot_bgcolor"
            assert page.evaluate(bg) == "white"
            assert page.inner_text("#plotly-status").strip() == ""
            plots = page.locator(".js-plotly-plot")
            n = plots.count()
            assert n >= 6  # fit, residuals, bootstrap, frontier, isoflop, backtest
            for i in range(n):
                div = plots.nth(i)
                div_id = div.get_attribute("id")
                assert div.locator(".main-svg").count() > 0, div_id
                assert div.locator(".main-svg path").count() > 0, div_id
                drawn = div.locator(".scatterlayer .point, .scatterlayer .js-line, .bars path")
                assert drawn.count() > 0, f"{div_id}: no points, lines or bars drawn"
            cells = page.locator("#params td.param-value")
            shown = {
                cells.nth(i).locator("xpath=..").get_attribute("data-param"): cells.nth(i)
                for i in range(cells.count())
            }
            assert set(shown) == set(fit["params"])
            for name, cell in shown.items():
                value = fit["params"][name]
                raw = cell.get_attribute("data-value")
                assert raw == repr(value) and float(raw) == value, name
                assert cell.inner_text().strip() == format(value, ".6g"), name
            # the plan's tables: one row per alternative, shapes, hyperparameters, cost
            rows = page.locator("#plan-alternatives tr[data-plan]")
            assert [rows.nth(i).get_attribute("data-plan") for i in range(rows.count())] == [
                "compute_optimal",
                "inference_aware",
                "data_constrained",
                "target_loss",
            ]
            # the diagnostics: findings (or the line saying there are none) and the outliers
            assert page.locator("#diagnose").is_visible()
            assert page.locator("#outliers tr[data-run]").count() >= 1
            for tid in ("plan", "plan-shapes", "plan-hyper", "plan-cost"):
                assert page.locator(f"#{tid}").is_visible(), tid
                assert page.locator(f"#{tid} td").count() >= 3, tid
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            ctx.close()
    assert not errors, errors
    assert not blocked, f"the report tried the network: {blocked}"
    assert (tmp_path / "report.png").stat().st_size > 10_000


# ----- page content without a browser -----


def test_text_is_escaped() -> None:
    r = planted_fit()
    evil = "<script>alert('x')</script>"
    bad = dataclasses.replace(
        r,
        provenance=dataclasses.replace(r.provenance, source=evil, where='N > 1 and "<b>"'),
        warnings=(f"warning {evil}",),
        data={**r.data, "run_id": [f"{evil}{i}" for i in range(len(r.data["y"]))]},
    )
    page = render_html(ReportInputs(bad), title=f"title {evil}")
    body = page.split("</head>", 1)[1]
    # the compressed plotly.js is opaque Ascii85 text that may hold "<b>" by chance: left out
    body = re.sub(
        r'(<script[^>]*id="plotly-gz"[^>]*>).*?</script>', r"\1</script>", body, flags=re.S
    )
    assert evil not in body and "<b>" not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body


def test_page_with_backtest_and_plan_sections() -> None:
    r = planted_fit()
    bt = BacktestResult(
        summary=__import__("pandas").DataFrame(
            [{"law": "chinchilla", "group": None, "n_fit": 45, "n_holdout": 9, "rmse_log": 0.01}]
        ),
        predictions=planted_predictions(),
        fits={},
    )
    plan = {"compute": 1e22, "N": {"value": 1e9, "low": 9e8, "high": 2e9}, "warnings": ["w <1>"]}
    page = render_html(
        ReportInputs(r, runs=planted_runs(), backtest=bt, holdout="top 20% by C", plan=plan)
    )
    assert 'id="fig-backtest"' in page and 'id="backtest"' in page
    assert 'data-value="1000000000.0"' in page and "w &lt;1&gt;" in page
    assert parameter_values(page) == r.params


def test_sweep_curves_are_drawn_one_line_per_run(tmp_path: Path) -> None:
    import pandas as pd

    from scalinglab.errors import DataError
    from scalinglab.report.build import curves_of
    from scalinglab.report.html_figures import figure_curves

    rows = [
        {"run_id": f"r{k}", "N": 1e4 * (k + 1), "step": s, "val_loss": 3.0 / (k + 1) + 1 / s}
        for k in range(3)
        for s in (10, 20, 40)
    ]
    path = tmp_path / "curves.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    curves = curves_of(str(path), None)
    assert list(curves.columns) == ["run_id", "step", "y", "N"] and len(curves) == 9
    fig = figure_curves(curves)
    assert [len(t.x) for t in fig.data] == [3, 3, 3]
    assert fig.data[1].y == (1.5 + 1 / 10, 1.5 + 1 / 20, 1.5 + 1 / 40)
    page = render_html(ReportInputs(planted_fit(), curves=curves))
    assert 'id="fig-curves"' in page
    finals = pd.DataFrame(rows).drop(columns="step").assign(run_id=[f"x{i}" for i in range(9)])
    finals.to_csv(path, index=False)
    with pytest.raises(DataError, match="no 'step' column; export a sweep's curves"):
        curves_of(str(path), None)


def test_bundle_is_the_installed_plotly_compressed(chinchilla_report: dict[str, Any]) -> None:
    """The page carries plotly.js gzip-compressed as Ascii85 (or base64) text, not the plain
    4.8 MB script: decoded by Python's own codecs, it is exactly the installed plotly.min.js."""
    import base64
    import gzip

    from plotly.offline import get_plotlyjs

    text = chinchilla_report["html"].read_text(encoding="utf-8")
    m = re.search(
        r'<script type="application/octet-stream" id="plotly-gz" '
        r'data-encoding="(ascii85|base64)">(.*?)</script>',
        text,
        re.S,
    )
    assert m is not None
    decode = base64.a85decode if m.group(1) == "ascii85" else base64.b64decode
    plain = get_plotlyjs()
    assert gzip.decompress(decode(m.group(2))).decode("utf-8") == plain
    assert plain[:2000] not in text  # the plain script is not inlined as well
    # issue 15: at most 2.5 MB (the plain bundle alone is 4.8 MB)
    assert len(text.encode("utf-8")) <= 2_500_000 < len(plain.encode("utf-8"))


def test_ascii85_fallback_and_figure_rounding() -> None:
    import plotly.graph_objects as go

    from scalinglab.report.html_bundle import _safe_in_script, figure_json

    assert (
        _safe_in_script("a</b<c")
        and not _safe_in_script("a</ScRipt")
        and not _safe_in_script("<!--")
    )
    fig = go.Figure(go.Scatter(x=[1 / 3, 1e-300], y=[123456789.123, 2.0]))
    data = json.loads(figure_json(fig))["data"][0]
    assert data["x"] == [0.3333333, 1e-300] and data["y"] == [123456800.0, 2.0]
    # the plotly_white template is written once in the page, not in each figure
    fig.update_layout(template="plotly_white")
    shared = json.loads(figure_json(fig))
    assert shared["sharedTemplate"] is True and "template" not in shared["layout"]
    page = render_html(ReportInputs(planted_fit()))
    assert page.count('id="plotly-template"') == 1 and page.count('"sharedTemplate":true') >= 3


def test_figure_json_cannot_end_its_script_element() -> None:
    import plotly.graph_objects as go

    from scalinglab.report.html_bundle import figure_div

    fig = go.Figure(go.Scatter(x=[1], y=[2], text=["</script><script>alert(1)</script>"]))
    div = figure_div(fig, "fig-x")
    body = div.split('class="plotly-figure" data-target="fig-x">', 1)[1]
    assert body.count("</script>") == 1 and body.endswith("</script></div>")
    payload = json.loads(body[: -len("</script></div>")])
    assert payload["data"][0]["text"] == ["</script><script>alert(1)</script>"]
