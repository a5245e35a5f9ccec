"""`scalinglab plot` and `scalinglab report` options, outputs and user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _fixtures import DATA
from matplotlib.image import imread
from typer.testing import CliRunner

from scalinglab.cli import app
from scalinglab.report.build import is_fit_file
from scalinglab.report.build import is_runs as is_data

runner = CliRunner()
FIT = str(DATA / "planted_fit.json")
CURVE_FIT = str(DATA / "curve_fit.json")
RUNS = str(DATA / "planted_runs.csv")
CURVES = str(DATA / "curve_runs.csv")


def invoke(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("fit", ()),
        ("residuals", ()),
        ("bootstrap", ()),
        ("frontier", ()),
        ("isoflop", ()),
        ("isoflop", ("--data", RUNS)),
        ("backtest", ("--data", RUNS, "--bootstrap", "20")),
    ],
)
def test_plot_kinds(kind: str, extra: tuple[str, ...], tmp_path: Path) -> None:
    out = tmp_path / f"{kind}.png"
    code, stdout, stderr = invoke("plot", FIT, "--kind", kind, "-o", str(out), "--json", *extra)
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload == {"path": str(out), "bytes": out.stat().st_size, "kind": kind}
    assert imread(out).shape[0] > 100


def test_plot_curves_from_runs_and_fit(tmp_path: Path) -> None:
    for args in (("--data", CURVES, "--metric", "loss"), ()):
        out = tmp_path / "c.svg"
        code, stdout, stderr = invoke("plot", CURVE_FIT, "--kind", "curves", "-o", str(out), *args)
        assert code == 0, stderr
        assert "wrote" in stdout and out.read_text().startswith("<?xml")


def test_plot_quiet_prints_nothing(tmp_path: Path) -> None:
    code, stdout, _ = invoke("plot", FIT, "-o", str(tmp_path / "f.png"), "--quiet")
    assert code == 0 and stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kind", "pie"), "--kind 'pie' is unknown; use one of fit, isoflop"),
        (("-o", "x.pdf"), "use a .png or .svg file name"),
        (("--kind", "backtest"), "--kind backtest needs the runs to backtest on: add --data"),
    ],
)
def test_plot_user_errors(args: tuple[str, ...], message: str) -> None:
    code, _, stderr = invoke("plot", FIT, *args)
    assert code == 2 and "error:" in stderr and message in stderr.replace("\n", " ")


def test_plot_frontier_of_a_power_law_is_a_user_error(tmp_path: Path) -> None:
    code, _, stderr = invoke("plot", CURVE_FIT, "--kind", "frontier", "-o", str(tmp_path / "f.png"))
    assert code == 2 and "frontier needs a (non-joint) 'chinchilla' fit" in stderr


def test_report_from_a_fit_with_data(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    code, stdout, stderr = invoke(
        "report", FIT, "--data", RUNS, "--backtest-bootstrap", "20", "-o", str(out), "--json"
    )
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["bytes"] == out.stat().st_size and payload["backtest"] == "top 20% by C"
    assert 'id="fig-backtest"' in out.read_text()


def test_report_of_a_fit_alone_has_no_backtest(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    code, stdout, stderr = invoke("report", FIT, "-o", str(out), "--quiet")
    assert code == 0 and stdout == "", stderr
    page = out.read_text()
    assert 'id="fig-fit"' in page and 'id="backtest"' not in page


def test_report_fits_runs_with_the_law_given(tmp_path: Path) -> None:
    out, fit_out = tmp_path / "r.html", tmp_path / "fit.json"
    code, _, stderr = invoke(
        "report", CURVES, "--x", "step", "--metric", "loss", "--where", "run_id == 'b'",
        "--bootstrap", "20", "--backtest-bootstrap", "20", "-o", str(out), "--fit-out",
        str(fit_out), "--quiet",
    )  # fmt: skip
    assert code == 0, stderr
    assert json.loads(fit_out.read_text())["law"] == "power_law"
    assert "top 20% by x" in out.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((FIT, "-o", "r.txt"), "the report is HTML; name it *.html"),
        ((FIT, "--law", "kaplan"), "--law 'kaplan' applies when the report fits runs"),
        ((RUNS, "--data", RUNS), "goes with a fit;"),
    ],
)
def test_report_user_errors(args: tuple[str, ...], message: str) -> None:
    code, _, stderr = invoke("report", *args)
    assert code == 2 and "error:" in stderr and message in stderr.replace("\n", " ")


def test_fit_or_data_detection(tmp_path: Path) -> None:
    assert is_fit_file(FIT) and not is_data(FIT)
    assert is_data(RUNS) and is_data("chinchilla_epoch")
    runs_json = tmp_path / "runs.json"
    runs_json.write_text(json.dumps([{"N": 1e8, "D": 1e9, "loss": 3.0}]))
    assert is_data(str(runs_json)) and not is_fit_file(str(runs_json))
    assert not is_data("0123abcd")  # a store id
