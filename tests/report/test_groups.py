"""`report --group-by`: the separate fits of each group (a fit set) and a joint fit's shared
parameters, on the page and in Chromium offline."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _fixtures import DATA
from test_html import CHROMIUM, CHROMIUM_ARGS, _require_browser, run_cli

SHIFT = 0.2  # group b's loss is group a's plus 0.2 nats: its E should be larger by about that


@pytest.fixture(scope="module")
def grouped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("groups")
    a = pd.read_csv(DATA / "planted_runs.csv").assign(family="a")
    b = a.assign(family="b", loss=a["loss"] + SHIFT, run_id=a["run_id"] + "b")
    pd.concat([a, b]).to_csv(d / "runs.csv", index=False)
    proc = run_cli(
        "report", "runs.csv", "--group-by", "family", "--bootstrap", "0", "--no-backtest",
        "--compute", "1e21", "-o", "groups.html", "--fit-out", "set.json", "--json", cwd=d,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return {"dir": d, "json": json.loads(proc.stdout)}


def _row_raw(text: str, table: str, group: str) -> list[str]:
    m = re.search(rf'<table id="{table}">.*?</table>', text, re.S)
    assert m is not None, table
    row = re.search(rf'<tr data-group="{re.escape(group)}">(.*?)</tr>', m.group(0))
    assert row is not None, group
    return re.findall(r'data-value="([^"]*)"', row.group(1))


def _row_values(text: str, table: str, group: str) -> list[float]:
    return [float(v) for v in _row_raw(text, table, group)]


def test_group_report_one_row_and_panel_per_group(grouped: dict[str, Any]) -> None:
    d, out = grouped["dir"], grouped["json"]
    assert out["groups"] == ["family=a", "family=b"] and out["backtest"] is None
    fitset = json.loads((d / "set.json").read_text())
    assert fitset["kind"] == "fit_set" and fitset["group_by"] == "family"
    text = (d / "groups.html").read_text(encoding="utf-8")
    names = list(fitset["fits"][0]["params"])
    for f in fitset["fits"]:
        cells = _row_values(text, "group-params", f["provenance"]["group"])
        assert cells[0 : 3 * len(names) : 3] == [f["params"][n] for n in names]
    e_a, e_b = (f["params"]["E"] for f in fitset["fits"])
    assert e_b - e_a == pytest.approx(SHIFT, abs=0.05)
    assert 'id="fig-group-0"' in text and 'id="fig-group-1"' in text
    assert 'id="g0-plan-alternatives"' in text and 'id="g1-plan-alternatives"' in text


def test_saved_fit_set_gives_the_same_page(grouped: dict[str, Any]) -> None:
    d = grouped["dir"]
    proc = run_cli("report", "set.json", "-o", "again.html", "--json", cwd=d)
    assert proc.returncode == 0, proc.stderr
    first = (d / "groups.html").read_text(encoding="utf-8")
    again = (d / "again.html").read_text(encoding="utf-8")
    for g in ("family=a", "family=b"):
        assert _row_raw(again, "group-params", g) == _row_raw(first, "group-params", g)
    bad = run_cli("report", "set.json", "--group-by", "family", "-o", "x.html", cwd=d)
    assert bad.returncode == 2
    assert "--group-by 'family' applies when the report fits runs" in bad.stderr


def test_joint_fit_shows_shared_parameters(grouped: dict[str, Any]) -> None:
    d = grouped["dir"]
    proc = run_cli(
        "report", "runs.csv", "--group-by", "family", "--shared", "alpha,beta,A,B",
        "--bootstrap", "0", "--no-backtest", "-o", "joint.html", "--fit-out", "joint.json",
        cwd=d,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    p = json.loads((d / "joint.json").read_text())["params"]
    text = (d / "joint.html").read_text(encoding="utf-8")
    assert re.search(r'<span id="joint-shared">alpha, beta, A, B</span>', text)
    rows = {g: _row_values(text, "joint-params", g) for g in ("a", "b")}
    # columns E, A, B, alpha, beta (value low high each); shared ones equal across groups
    assert rows["a"][0] == p["E[a]"] and rows["b"][0] == p["E[b]"]
    assert rows["a"][9] == rows["b"][9] == p["alpha"]
    assert p["E[b]"] - p["E[a]"] == pytest.approx(SHIFT, abs=0.05)


def test_group_report_renders_in_chromium_offline(grouped: dict[str, Any], tmp_path: Path) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    blocked: list[str] = []
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
            headless=True, offline=True, viewport={"width": 1200, "height": 900},
        )  # fmt: skip
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
            page.goto((grouped["dir"] / "groups.html").resolve().as_uri(), wait_until="load")
            page.wait_for_function("document.body.dataset.plotly !== undefined")
            assert page.evaluate("document.body.dataset.plotly") == "ready"
            log = page.evaluate("window.scalinglabReport.log")
            assert log == ["plotly", "fig-group-0", "fig-group-1"]
            for i in (0, 1):
                div = page.locator(f"#fig-group-{i}")
                assert div.locator(".scatterlayer .point").count() > 0
                assert div.locator(".scatterlayer .js-line").count() > 0
            assert page.locator("#group-params tr[data-group]").count() == 2
            assert page.locator("#g0-plan-alternatives").is_visible()
        finally:
            ctx.close()
    assert not errors, errors
    assert not blocked, blocked


def test_plot_group_by_draws_one_panel_per_group(grouped: dict[str, Any]) -> None:
    from matplotlib.image import imread

    from scalinglab.report.plots import DPI, PANEL

    d = grouped["dir"]
    proc = run_cli("plot", "set.json", "--group-by", "family", "-o", "panels.png", cwd=d)
    assert proc.returncode == 0, proc.stderr
    img = imread(d / "panels.png")
    # two groups side by side: two panels wide, one high
    assert img.shape[:2] == (round(PANEL[1] * DPI), round(2 * PANEL[0] * DPI))
    assert img[..., :3].std() > 0.05  # something is drawn
    for args, message in (
        (("--group-by", "size"), "--group-by 'size': set.json is grouped by 'family'"),
        (("--group-by", "family", "--kind", "residuals"), "--group-by draws --kind fit"),
    ):
        bad = run_cli("plot", "set.json", *args, "-o", "bad.png", cwd=d)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
    single = str(DATA / "planted_fit.json")
    bad = run_cli("plot", single, "--group-by", "family", "-o", "bad.png", cwd=d)
    assert bad.returncode == 2 and "is a single fit without groups" in bad.stderr
