"""Formula laws (scalinglab.laws.formula): a typed formula is a law like the built-in ones.

Golden values: the Chinchilla fit on Epoch AI's digitised data (Besiroglu et al. 2024,
arXiv:2404.10102) as tests/fit/test_golden_chinchilla.py pins it: objective 1.0182740178e-3 on
the 240 runs with loss < 3.44 from the 4,500-start grid of Besiroglu et al., section 2.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglab
from scalinglab.data import load_dataset, select_runs
from scalinglab.errors import FitError
from scalinglab.fit import FitResult, fit
from scalinglab.laws import get_law
from scalinglab.laws.base import FloatArray
from scalinglab.laws.formula import formula_law
from scalinglab.trust import predict

CHINCHILLA = "E + A/N^alpha + B/D^beta"
GOLDEN_OBJECTIVE = 1.0182740178e-3


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    df = select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")
    assert len(df) == 240
    return df


def _besiroglu_grid() -> FloatArray:
    """Besiroglu et al. 2024, section 2, in the order (log E, log A, log B, alpha, beta)."""
    exps = [0.0, 0.5, 1.0, 1.5, 2.0]
    es = [-1.0, -0.5, 0.0, 0.5, 1.0]
    scales = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    rows = [
        (e, a, b, al, be) for al, be, e, a, b in itertools.product(exps, exps, es, scales, scales)
    ]
    return np.array(rows, dtype=float)


@pytest.fixture(scope="module")
def fits(runs: pd.DataFrame) -> dict[str, FitResult]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_boot=0 warns that there are no intervals
        return {
            "builtin": fit(runs, "chinchilla", n_boot=0, grid=_besiroglu_grid()),
            "formula": fit(runs, CHINCHILLA, n_boot=0, grid=_besiroglu_grid()),
            "formula_default_grid": fit(runs, CHINCHILLA, n_boot=0),
        }


def test_law_from_formula_has_the_chinchilla_layout() -> None:
    law = get_law(CHINCHILLA)
    assert law.name == "formula:E + A/N^alpha + B/D^beta"
    assert get_law("formula:E+A/N**alpha+B/D^beta") is law  # normalised and cached
    assert law.variables == ("N", "D")
    assert law.param_names == ("E", "A", "B", "alpha", "beta")  # the Besiroglu grid's order
    assert [p.log for p in law.params] == [True, True, True, False, False]
    assert law.space == "log"


@pytest.mark.parametrize("which", ["formula", "formula_default_grid"])
def test_reproduces_the_builtin_chinchilla_fit(fits: dict[str, FitResult], which: str) -> None:
    r, ref = fits[which], fits["builtin"]
    assert r.objective <= GOLDEN_OBJECTIVE + 1e-9
    assert r.objective == pytest.approx(ref.objective, rel=1e-9)
    assert set(r.params) == set(ref.params)
    for k, v in ref.params.items():
        assert r.params[k] == pytest.approx(v, rel=1e-5), k
    assert r.law == "formula:E + A/N^alpha + B/D^beta"


def test_formula_objective_recomputed_directly(
    fits: dict[str, FitResult], runs: pd.DataFrame
) -> None:
    from scipy.special import huber

    p = fits["formula"].params
    N, D, L = (runs[c].to_numpy(dtype=float) for c in ("N", "D", "y"))
    pred = p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]
    assert float(huber(1e-3, np.log(pred) - np.log(L)).sum()) == pytest.approx(
        fits["formula"].objective, rel=1e-10
    )


JACOBIAN_CASES = [
    (CHINCHILLA, {}),
    ("E + A*exp(-k*sqrt(N)) + B/(D/1e9)^beta", {}),
    ("a + b*log(C)^2 - c*tanh(x/C)", {"variables": ["C", "x"], "space": "linear"}),
    ("L0 * (1 + (N/Nc)^(-alpha))^(beta*2)", {}),
]


@pytest.mark.parametrize(("text", "kw"), JACOBIAN_CASES)
def test_symbolic_jacobian_matches_central_differences(text: str, kw: dict[str, object]) -> None:
    law = formula_law(
        text,
        variables=kw.get("variables"),  # type: ignore[arg-type]
        target_space=kw.get("space"),  # type: ignore[arg-type]
    )
    rng = np.random.default_rng(0)
    X = {v: np.exp(rng.uniform(np.log(10.0), np.log(1e6), 30)) for v in law.variables}
    theta = np.stack(
        [rng.uniform(-1.0, 1.0, 5) if p.log else rng.uniform(0.2, 0.8, 5) for p in law.params],
        axis=1,
    )
    f, J = law.evaluate(theta, X)
    assert np.all(np.isfinite(f))
    for i in range(len(law.params)):
        h = 1e-5
        tp, tm = theta.copy(), theta.copy()
        tp[:, i] += h
        tm[:, i] -= h
        fd = (law.evaluate(tp, X)[0] - law.evaluate(tm, X)[0]) / (2 * h)
        np.testing.assert_allclose(
            np.broadcast_to(J[i], f.shape),
            fd,
            rtol=1e-6,
            atol=1e-8 * max(1.0, np.abs(f).max()),
            err_msg=law.params[i].name,
        )


def test_log_space_is_log_of_the_formula() -> None:
    law = get_law(CHINCHILLA)
    N, D = np.array([1e8, 1e9]), np.array([1e9, 2e10])
    p = {"E": 1.7, "A": 400.0, "B": 2000.0, "alpha": 0.3, "beta": 0.35}
    got = law.predict(law.to_internal(p), {"N": N, "D": D})
    want = p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]
    np.testing.assert_allclose(got[0], want, rtol=1e-13)


def test_non_positive_prediction_is_nan_in_log_space() -> None:
    law = formula_law("a - b*N", params={"a": {"log": False, "lower": None, "grid": [0.0]}})
    f, _ = law.evaluate(np.array([[1.0, np.log(1.0)]]), {"N": np.array([0.5, 2.0])})
    assert np.isfinite(f[0, 0]) and np.isnan(f[0, 1])


def test_defaults_by_shape_and_overrides(runs: pd.DataFrame) -> None:
    law = formula_law("E + A*N^(-alpha)", params={"alpha": {"upper": 2.0, "grid": [0.3]}})
    E, A, alpha = law.params
    assert (E.log, E.lower, A.log, alpha.log, alpha.lower, alpha.upper) == (
        True, 0.0, True, False, 0.0, 2.0,
    )  # fmt: skip
    assert alpha.grid == (0.3,)
    assert get_law(law.name) is law  # the overrides are part of the name
    X = {"N": runs["N"].to_numpy(dtype=float)}
    y = runs["y"].to_numpy(dtype=float)
    grid = law.start_grid(X, y)  # the offset starts below the smallest loss
    assert np.exp(np.unique(grid[:, 0])).max() < y.min()


BAD = [
    ("E + A/N^^alpha", r"syntax error at column 9"),
    ("E + A/N^alpha + foo(D)", r"unknown function 'foo' at column 17"),
    ("N + D", r"no parameter to fit"),
    ("E + A/alpha", r"reads no runs column"),
    ("E + A.real/N", r"attribute at column 5 is not allowed"),
    ("E + __import__('os')/N", r"'__import__' at column 5 is reserved|not allowed"),
    ("E + A/N; rm", r"overrides after ';' are not JSON"),
    ("E + A/N @ B", r"character '@' at column 9 is not allowed"),
    ("E + exp/N", r"function exp at column 5 needs"),
    ("E + log(N, 2)", r"log\(\) at column 5 takes one argument"),
    ("E + A/N[0]", r"character '\[' at column 8"),
    ("E + A/N^alpha + B/D^beta; []", r"overrides must be a JSON object"),
    ("A*B/N^alpha", r"parameters A, B cannot be identified"),
    ("E + A*N/0", r"is not finite \(.*\): a division by zero"),
    ("E + log(0)*A*N", r"is not finite"),
    ("E + A*N^alpha*0^beta", r"is not differentiable in 'beta'"),
    ("E + A/N^(a*b)", r"parameters a, b cannot be identified"),
    # 'tokens' is not a known column, so it is a parameter that cannot be told from B and E
    ("E + A/N^alpha + B/tokens^beta", r"cannot be identified .* name the variables"),
]


@pytest.mark.parametrize(("text", "match"), BAD)
def test_bad_formulas_are_rejected_with_the_reason(text: str, match: str) -> None:
    with pytest.raises(FitError, match=match):
        get_law(text)


def test_bad_options_are_rejected() -> None:
    with pytest.raises(FitError, match=r"variables \['T'\] do not appear"):
        formula_law("E + A/N", variables=["T"])
    with pytest.raises(FitError, match=r"overrides name \['Z'\], not parameters"):
        formula_law("E + A/N", params={"Z": {"grid": [1.0]}})
    with pytest.raises(FitError, match=r"unknown override keys \['start'\]"):
        formula_law("E + A/N", params={"A": {"start": 1.0}})
    with pytest.raises(FitError, match=r"log=True needs a lower bound >= 0"):
        formula_law("E + A/N", params={"A": {"lower": -1.0}})
    with pytest.raises(FitError, match=r"target space 'cubic'"):
        formula_law("E + A/N", target_space="cubic")  # type: ignore[arg-type]
    with pytest.raises(FitError, match=r"empty formula"):
        formula_law("  ")
    with pytest.raises(FitError, match=r"check the parentheses"):
        formula_law("E + (A/N")


def test_variables_named_in_the_law_name(runs: pd.DataFrame) -> None:
    law = get_law('E + A/N^alpha + B/tokens^beta; {"variables": ["N", "tokens"]}')
    assert law.variables == ("N", "tokens")
    assert law.param_names == ("E", "A", "B", "alpha", "beta")
    with pytest.raises(FitError, match=r"needs column 'tokens'"):
        fit(runs, law, n_boot=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(runs.assign(tokens=runs["D"]), law, n_boot=0)
    assert r.objective <= GOLDEN_OBJECTIVE + 1e-9


def test_formula_not_finite_on_the_data(runs: pd.DataFrame) -> None:
    with pytest.raises(FitError, match=r"could not be evaluated at any start on chinchilla_epoch"):
        fit(runs, "E + A*log(N - 1e13)", n_boot=0)  # log of a negative number on every run


def test_builtin_names_are_not_formulas() -> None:
    assert get_law("chinchilla").name == "chinchilla"
    with pytest.raises(FitError, match="unknown law 'chinchila'"):
        get_law("chinchila")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    main = Path(scalinglab.__file__).parent / "__main__.py"
    entry = (
        [sys.executable, "-m", "scalinglab"]
        if main.exists()
        else [str(Path(sys.executable).parent / "scalinglab")]
    )
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*entry, *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )


@pytest.mark.parametrize(
    ("law", "match"),
    [("E + A/N^^alpha", "syntax error at column 9"), ("E + A/N + f(D)", "unknown function 'f'")],
)
def test_cli_rejects_a_bad_formula_with_exit_2(law: str, match: str) -> None:
    proc = _cli("fit", "chinchilla_epoch", "--law", law, "--bootstrap", "0", "--no-store")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") or "\nerror:" in proc.stderr, proc.stderr
    assert match in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_fits_a_formula(tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    proc = _cli(
        "fit", "chinchilla_epoch", "--law", CHINCHILLA, "--where", "loss < 3.44",
        "--bootstrap", "0", "--no-store", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    r = FitResult.load(out)
    assert r.law == f"formula:{CHINCHILLA}"
    assert r.objective <= GOLDEN_OBJECTIVE + 1e-9


def test_saved_formula_fit_reloads_and_predicts_the_same(
    fits: dict[str, FitResult], tmp_path: Path
) -> None:
    r = fits["formula"]
    path = tmp_path / "formula_fit.json"
    r.save(path)
    back = FitResult.load(path)
    assert back.law == r.law and back.params == r.params
    points = pd.DataFrame({"N": [1e9, 7e10], "D": [2e10, 1.4e12]})
    a, b = predict(r, points), predict(back, points)
    np.testing.assert_allclose(a["value"], b["value"], rtol=1e-14)
    p = r.params
    N, D = points["N"].to_numpy(), points["D"].to_numpy()
    want = p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]
    np.testing.assert_allclose(b["value"], want, rtol=1e-12)
