"""TOML law files (scalinglab.laws.law_file): read, validated, written back, and used by the CLI.

Golden value: the Chinchilla fit on Epoch AI's digitised data, objective 1.0182740178e-3 on the
240 runs with loss < 3.44 from the 4,500-start grid of Besiroglu et al. 2024 (arXiv:2404.10102,
section 2), as tests/laws/test_formula.py pins it for the formula law.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

import scalinglab
from scalinglab.data import load_dataset, select_runs
from scalinglab.errors import FitError
from scalinglab.fit import fit
from scalinglab.laws import get_law
from scalinglab.laws.formula import formula_law, law_from_name, law_name
from scalinglab.laws.law_file import _toml, law_file_text, read_law_file, write_law_file

GOLDEN_OBJECTIVE = 1.0182740178e-3
# Besiroglu et al. 2024, section 2: the product of these per-parameter grids is their 4,500
# starts (log E, log A, log B, alpha, beta)
CHINCHILLA_TOML = """\
name = "Chinchilla, approach 3"
formula = "E + A/N^alpha + B/D^beta"
citation = "Hoffmann et al. 2022, arXiv:2203.15556, eq. 10"
variables = ["N", "D"]
target_space = "log"

[params.E]
meaning = "irreducible loss"
unit = "nats per token"
grid = [-1.0, -0.5, 0.0, 0.5, 1.0]

[params.A]
grid = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]

[params.B]
grid = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]

[params.alpha]
meaning = "exponent of N"
grid = [0.0, 0.5, 1.0, 1.5, 2.0]

[params.beta]
grid = [0.0, 0.5, 1.0, 1.5, 2.0]
"""


def _entry() -> list[str]:
    if (Path(scalinglab.__file__).parent / "__main__.py").exists():
        return [sys.executable, "-m", "scalinglab"]
    return [str(Path(sys.executable).parent / "scalinglab")]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*_entry(), *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


@pytest.fixture()
def chinchilla_file(tmp_path: Path) -> Path:
    path = tmp_path / "chinchilla.toml"
    path.write_text(CHINCHILLA_TOML, encoding="utf-8")
    return path


def test_reads_the_settings_of_the_file(chinchilla_file: Path) -> None:
    law = get_law(str(chinchilla_file))
    assert law.formula == "E + A/N^alpha + B/D^beta"
    assert law.title == "Chinchilla, approach 3"
    assert law.citation.endswith("arXiv:2203.15556, eq. 10")
    assert law.variables == ("N", "D") and law.space == "log"
    E = law.param("E")
    assert (E.meaning, E.unit, E.log, E.lower) == ("irreducible loss", "nats per token", True, 0.0)
    assert law.param("alpha").meaning == "exponent of N"
    assert law.start_grid().shape == (4500, 5)
    # the name records everything, so a saved fit reloads the law without the file
    assert get_law(law.name) is law


def test_reproduces_the_builtin_chinchilla_optimum(chinchilla_file: Path) -> None:
    runs = select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_boot=0: no intervals
        r = fit(runs, str(chinchilla_file), n_boot=0)
    assert r.objective <= GOLDEN_OBJECTIVE + 1e-9
    assert r.objective == pytest.approx(GOLDEN_OBJECTIVE, rel=1e-8)
    assert r.params["alpha"] == pytest.approx(0.347310, abs=5e-5)
    assert r.params["beta"] == pytest.approx(0.367172, abs=5e-5)
    assert r.law.startswith("formula:E + A/N^alpha + B/D^beta; ")


@pytest.mark.parametrize(
    ("title", "citation"),
    [
        ('quote " backslash \\ done', "tab\tnewline\nbell\x07 del\x7f"),
        ("unicode: \u03b1 \u2264 1, \u00e9", "C:\\laws\\x.toml"),
    ],
)
def test_text_round_trips_to_the_same_law(tmp_path: Path, title: str, citation: str) -> None:
    spec = {
        "title": title,
        "citation": citation,
        "space": "log",
        "params": {
            "A": {"lower": 1e-3, "upper": 1e30, "unit": "nats"},
            "alpha": {"grid": [0.2, 1]},
        },
    }
    law = law_from_name(law_name("E + A/N^alpha", spec))
    tomllib.loads(law_file_text(law))  # valid TOML
    back = read_law_file(write_law_file(law, tmp_path / "law.toml"))
    assert back is law  # the same name, so the same cached law
    assert (back.title, back.citation) == (title, citation)
    assert back.param("A").unit == "nats" and back.param("alpha").grid == (0.2, 1.0)


def test_written_file_documents_the_inferred_defaults() -> None:
    text = law_file_text(get_law("E + A/N^alpha"))
    assert 'formula = "E + A/N^alpha"' in text
    assert '# variables = ["N"]  (inferred from the formula)' in text
    assert "# upper = 5.0  (inferred)" in text  # alpha, an exponent: [0, 5]
    assert "the fit starts from the data instead" in text  # E, an offset


def test_values_a_file_cannot_hold_are_written_as_equivalents(tmp_path: Path) -> None:
    """No bound (None) is written as -inf/inf; the law read back behaves the same."""
    law = formula_law("a - b*N", params={"a": {"log": False, "lower": None, "grid": [0.0]}})
    back = read_law_file(write_law_file(law, tmp_path / "law.toml"))
    assert back.param("a").internal_bounds() == law.param("a").internal_bounds()
    assert back.param("a").lower == -math.inf and back.param("a").grid == (0.0,)


def test_writer_refuses_a_value_toml_cannot_hold() -> None:
    with pytest.raises(FitError, match=r"cannot write \{'a': 1\} to a law file"):
        _toml({"a": 1})


def test_only_formula_laws_are_written() -> None:
    with pytest.raises(FitError, match="'chinchilla' is not a formula law"):
        law_file_text(get_law("chinchilla"))


BAD_FILES = [
    ("name = 'x'\n", r"no 'formula' key; add one"),
    ('formula = "E + A/N^alpha"\nexponent = 2\n', r"unknown key 'exponent' \(= 2\)"),
    (
        'formula = "E + A/N^alpha"\n[params.A]\nlow = 1.0\n',
        r"unknown key 'low' \(= 1.0\) in \[params.A\]; the keys are meaning, unit",
    ),
    (
        'formula = "E + A/N^alpha"\n[params.A]\nlower = 5.0\nupper = 1.0\n',
        r"\[params.A\] lower = 5.0 is not below upper = 1.0",
    ),
    (
        'formula = "E + A/N^alpha"\n[params.A]\nlower = "zero"\n',
        r"params.A.lower = 'zero' must be a number",
    ),
    (
        'formula = "E + A/N^alpha"\n[params.A]\nlower = -1.0\n',
        r"log=True needs a lower bound >= 0, got -1.0",
    ),
    (
        'formula = "E + A/N^alpha"\n[params.B]\nlower = 0.0\n',
        r"overrides name \['B'\], not parameters; the parameters are E, A, alpha",
    ),
    (
        'formula = "E + A/N^alpha"\n[params.alpha]\ngrid = [0.5, 9.0]\n',
        r"params.alpha.grid has \[9.0\] outside the bounds \[0, 5\]",
    ),
    ('formula = "E + A/N^alpha"\ntarget_space = "logit"\n', r"'logit' must be \"log\" or"),
    ('formula = "E + A/N^alpha"\nvariables = "N"\n', r"variables' = 'N' must be an array"),
    ('formula = "E + A/N^alpha"\nparams = 3\n', r"key 'params' = 3 must be tables"),
    ('formula = "E + A/N^alpha\n', r"not valid TOML"),
    ('formula = "E + A$N"\n', r"key 'formula': formula 'E \+ A\$N': character '\$'"),
    ('formula = "E + import(N)"\n', r"formula 'E \+ import\(N\)': syntax error at column 5"),
]


@pytest.mark.parametrize(("text", "match"), BAD_FILES)
def test_bad_files_are_refused_naming_file_key_and_value(
    tmp_path: Path, text: str, match: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FitError, match=match) as info:
        get_law(str(path))
    assert str(path) in str(info.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FitError, match=r"nosuch\.toml'?: no such file"):
        get_law(str(tmp_path / "nosuch.toml"))


def test_undecodable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'formula = "E + A/N^alpha" # caf\xe9\n')
    with pytest.raises(FitError, match="cannot be read"):
        get_law(str(path))


@pytest.fixture(scope="module")
def saved_fit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """``fit --law FILE.toml --out fit.json``, then the law file deleted: (fit file, params)."""
    tmp = tmp_path_factory.mktemp("saved")
    law = tmp / "chinchilla.toml"
    law.write_text(CHINCHILLA_TOML, encoding="utf-8")
    out = tmp / "fit.json"
    proc = run_cli(
        "fit", "chinchilla_epoch", "--where", "loss < 3.44", "--law", str(law),
        "--bootstrap", "20", "--no-calibrate", "--no-store", "--json", "--out", str(out),
        "-q", cwd=tmp,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    assert s["objective"] == pytest.approx(GOLDEN_OBJECTIVE, rel=1e-8)
    law.unlink()
    return out, s["params"]


def test_cli_predict_from_a_saved_fit_without_the_file(
    saved_fit: tuple[Path, dict[str, float]],
) -> None:
    out, p = saved_fit
    proc = run_cli(
        "predict", str(out), "--N", "7e10", "--D", "1.4e12", "--interval", "bootstrap", "--json",
        cwd=out.parent,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["predictions"]
    expect = p["E"] + p["A"] / 7e10 ** p["alpha"] + p["B"] / 1.4e12 ** p["beta"]
    assert row["value"] == pytest.approx(expect, rel=1e-9)


@pytest.mark.slow
def test_cli_plan_and_plot_from_a_saved_fit_without_the_file(
    saved_fit: tuple[Path, dict[str, float]],
) -> None:
    """The planner's numeric search on the file's law finds Chinchilla's closed-form optimum
    N* = G (C/6)^(beta/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta)) (Hoffmann et al.
    2022, appendix D.2), computed here from the fitted parameters."""
    out, p = saved_fit
    proc = run_cli("plan", str(out), "--compute", "1e22", "--json", cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    a, b = p["alpha"], p["beta"]
    G = (a * p["A"] / (b * p["B"])) ** (1 / (a + b))
    assert plan["N"]["value"] == pytest.approx(G * (1e22 / 6) ** (b / (a + b)), rel=1e-5)
    png = out.parent / "fit.png"
    proc = run_cli("plot", str(out), "--kind", "fit", "-o", str(png), cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_cli_report_from_a_saved_fit_shows_the_files_title(
    saved_fit: tuple[Path, dict[str, float]],
) -> None:
    out, _ = saved_fit
    html = out.parent / "report.html"
    proc = run_cli("report", str(out), "-o", str(html), cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    assert "Chinchilla, approach 3" in html.read_text(encoding="utf-8")


def test_cli_bad_file_exits_2_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('formula = "E + A/N^alpha"\n[params.A]\nlow = 1.0\n', encoding="utf-8")
    for args in (
        ("fit", "chinchilla_epoch", "--law", str(path), "--bootstrap", "0", "--no-store"),
        ("backtest", "chinchilla_epoch", "--law", str(path), "--holdout", "top 20% by C"),
        ("laws", "show", str(path)),
    ):
        proc = run_cli(*args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert "unknown key 'low'" in proc.stderr and "bad.toml" in proc.stderr, proc.stderr


def test_cli_laws_show_reads_a_file(tmp_path: Path, chinchilla_file: Path) -> None:
    proc = run_cli("laws", "show", str(chinchilla_file), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["citation"] == "Hoffmann et al. 2022, arXiv:2203.15556, eq. 10"


def test_cli_backtest_scores_the_file_like_the_builtin(
    tmp_path: Path, chinchilla_file: Path
) -> None:
    proc = run_cli(
        "backtest", "chinchilla_epoch", "--where", "loss < 3.44", "--law", str(chinchilla_file),
        "--law", "chinchilla", "--holdout", "top 20% by C", "--bootstrap", "0", "--workers", "1",
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    from_file, builtin = json.loads(proc.stdout)
    assert from_file["law"] == str(chinchilla_file) and from_file["n_holdout"] == 48
    for key in ("rmse_log", "mare", "max_are"):
        assert from_file[key] == pytest.approx(builtin[key], rel=1e-6), key
