"""Every user-facing `raise` of the fitting side, with the message it must give."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from scalinglab._version import RESULT_FORMAT
from scalinglab.cli import common as fitcmd
from scalinglab.cli.common import parse_fix
from scalinglab.errors import DataError, FitError, NotFittedError
from scalinglab.fit import FitResult, Objective, fit, fit_groups
from scalinglab.laws import get_law
from scalinglab.trust import predict

TRUTH = {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.36}


def _runs(n_side: int = 4, seed: int = 0) -> pd.DataFrame:
    N, D = np.meshgrid(np.geomspace(1e7, 1e10, n_side), np.geomspace(1e8, 1e11, n_side))
    N, D = N.ravel(), D.ravel()
    law = get_law("chinchilla")
    y = law.predict(law.to_internal(TRUTH), {"N": N, "D": D})[0]
    y = y * np.exp(0.005 * np.random.default_rng(seed).standard_normal(y.size))
    return pd.DataFrame({"N": N, "D": D, "y": y, "size": np.repeat(np.arange(n_side), n_side)})


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    return _runs()


@pytest.fixture(scope="module")
def small_fit(runs: pd.DataFrame) -> FitResult:
    return fit(runs, "chinchilla", n_boot=20, seed=0)


def _num(value: float) -> str:
    """Regex for a number as an error message shows it (plain, or numpy 2's repr; the latter
    is a bug, see test_bad_values_are_shown_as_plain_numbers)."""
    plain = re.escape(repr(float(value)))
    return rf"(?:{plain}|np\.float64\({plain}\))"


# ----- laws/registry.py -----


def test_unknown_law_suggests_close_name() -> None:
    with pytest.raises(FitError, match=r"unknown law 'chinchila'\. Did you mean 'chinchilla'\?"):
        get_law("chinchila")
    with pytest.raises(FitError, match=r"Known laws: .*chinchilla, .*kaplan, .*power_law"):
        get_law("zzz")
    with pytest.raises(FitError, match=r"unknown law 'powerlaw'.*Did you mean 'power_law'"):
        fit(_runs(), "powerlaw")


def test_unknown_law_without_close_name_has_no_suggestion() -> None:
    with pytest.raises(FitError) as info:
        get_law("qqqqqq")
    assert "Did you mean" not in str(info.value)


# ----- fit/objectives.py -----


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "l1"}, r"objective kind 'l1' is unknown; use 'huber' or 'lsq'"),
        ({"space": "sqrt"}, r"objective space 'sqrt' is unknown; use 'log' or 'linear'"),
        ({"delta": 0.0}, r"Huber delta must be a positive number, got 0\.0"),
        ({"delta": -1e-3}, r"Huber delta must be a positive number"),
        ({"delta": math.nan}, r"Huber delta must be a positive number, got nan"),
        ({"delta": math.inf}, r"Huber delta must be a positive number, got inf"),
        ({"asymmetry": 0.0}, r"asymmetry must be a positive factor \(1 = symmetric\), got 0\.0"),
        ({"asymmetry": -2.0}, r"asymmetry must be a positive factor"),
        ({"asymmetry": math.nan}, r"asymmetry must be a positive factor"),
    ],
)
def test_bad_objective(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(FitError, match=message):
        Objective(**kwargs)  # type: ignore[arg-type]


# ----- fit/api.py: data -----


def test_missing_variable_column_names_it_and_how_to_map(runs: pd.DataFrame) -> None:
    with pytest.raises(
        FitError,
        match=r"law 'chinchilla' needs column 'D': training tokens \(map it with --map D=COLUMN.*"
        r"runs has columns N, y, size",
    ):
        fit(runs.drop(columns="D"), "chinchilla")
    with pytest.raises(FitError, match=r"needs column 'x'.*choose it with --x COLUMN"):
        fit(runs, "power_law")


def test_missing_column_names_the_source(runs: pd.DataFrame) -> None:
    with pytest.raises(FitError, match=r"my_file\.csv has columns"):
        fit(runs.drop(columns="N"), "chinchilla", provenance={"source": "my_file.csv"})


@pytest.mark.parametrize(("col", "value"), [("N", 0.0), ("N", -5.0), ("D", 0.0), ("D", math.nan)])
def test_non_positive_variable(runs: pd.DataFrame, col: str, value: float) -> None:
    bad = runs.copy()
    bad.loc[[2, 5], col] = value
    with pytest.raises(
        DataError,
        match=rf"column '{col}' must be a positive finite number for law 'chinchilla'; "
        rf"bad at rows 3 \({_num(value)}\), 6 \({_num(value)}\)\. Fix or exclude",
    ):
        fit(bad, "chinchilla")


def test_non_numeric_variable(runs: pd.DataFrame) -> None:
    bad = runs.astype({"N": object})
    bad.loc[0, "N"] = "big"
    with pytest.raises(DataError, match=r"column 'N' must be a positive.*rows 1 \('big'\)"):
        fit(bad, "chinchilla")


def test_many_bad_rows_are_counted() -> None:
    bad = _runs(n_side=6)
    bad["D"] = -1.0
    with pytest.raises(
        DataError, match=rf"bad at rows 1 \({_num(-1.0)}\), .*20 \({_num(-1.0)}\) and 16 more"
    ):
        fit(bad, "chinchilla")


def test_bad_values_are_shown_as_plain_numbers(runs: pd.DataFrame) -> None:
    bad = runs.copy()
    bad.loc[2, "N"] = 0.0
    with pytest.raises(DataError) as info:
        fit(bad, "chinchilla")
    assert "np.float64" not in str(info.value)
    bad = runs.copy()
    bad.loc[0, "y"] = -1.0
    with pytest.raises(DataError) as info:
        fit(bad, "chinchilla")
    assert "np.float64" not in str(info.value)


@pytest.mark.parametrize("value", [0.0, -1.0])
def test_non_positive_target_for_log_space(runs: pd.DataFrame, value: float) -> None:
    bad = runs.copy()
    bad.loc[3, "y"] = value
    with pytest.raises(
        DataError,
        match=rf"the target must be positive and finite \(the objective is in log space\); "
        rf"bad at rows 4 \({_num(value)}\)",
    ):
        fit(bad, "chinchilla")


def test_nan_target(runs: pd.DataFrame) -> None:
    bad = runs.copy()
    bad.loc[0, "y"] = math.nan
    with pytest.raises(
        DataError, match=rf"the target must be positive and finite.*rows 1 \({_num(math.nan)}\)"
    ):
        fit(bad, "chinchilla")
    # in linear space only finiteness is required, and NaN still fails
    with pytest.raises(
        DataError, match=rf"the target must be finite; bad at rows 1 \({_num(math.nan)}\)"
    ):
        fit(bad, "chinchilla", objective=Objective(kind="lsq", space="linear"))


def test_missing_target_column(runs: pd.DataFrame) -> None:
    with pytest.raises(FitError, match=r"the runs table has no target column 'loss'; columns: N"):
        fit(runs, "chinchilla", y="loss")


def test_fewer_runs_than_free_parameters(runs: pd.DataFrame) -> None:
    with pytest.raises(
        FitError,
        match=r"runs: 4 runs, fewer than the 5 free parameters of law 'chinchilla'; "
        r"add runs, relax --where, or --fix some parameters",
    ):
        fit(runs.iloc[:4], "chinchilla")
    # fixing a parameter makes 4 runs enough
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(runs.iloc[:4], "chinchilla", n_boot=0, fix={"E": 1.8})
    assert r.params["E"] == pytest.approx(1.8)


def test_zero_weights_do_not_count_as_runs(runs: pd.DataFrame) -> None:
    w = np.zeros(len(runs))
    w[:3] = 1.0
    with pytest.raises(FitError, match=r"3 runs, fewer than the 5 free parameters"):
        fit(runs, "chinchilla", weights=list(w))


# ----- fit/api.py: options -----


@pytest.mark.parametrize(
    "weights",
    [[1.0, 2.0], [-1.0] + [1.0] * 15, [math.nan] + [1.0] * 15, [math.inf] + [1.0] * 15],
    ids=["wrong_length", "negative", "nan", "inf"],
)
def test_bad_weights(runs: pd.DataFrame, weights: list[float]) -> None:
    with pytest.raises(
        FitError, match=r"weights must be 16 finite non-negative numbers, one per run"
    ):
        fit(runs, "chinchilla", weights=weights)


def test_weights_column_missing_or_bad(runs: pd.DataFrame) -> None:
    with pytest.raises(FitError, match=r"weights column 'w' not found; columns: N, D, y, size"):
        fit(runs, "chinchilla", weights="w")
    bad = runs.assign(w=["x"] + [1.0] * 15)
    with pytest.raises(FitError, match=r"weights must be 16 finite non-negative numbers"):
        fit(bad, "chinchilla", weights="w")


def test_bad_fix_name_and_value(runs: pd.DataFrame) -> None:
    with pytest.raises(
        FitError,
        match=r"--fix gamma=\.\.\.: law 'chinchilla' has no parameter 'gamma'; its parameters "
        r"are E, A, B, alpha, beta",
    ):
        fit(runs, "chinchilla", fix={"gamma": 1.0})
    with pytest.raises(FitError, match=r"--fix E=0\.0: E must be a positive finite number"):
        fit(runs, "chinchilla", fix={"E": 0.0})
    with pytest.raises(FitError, match=r"--fix A=-3\.0: A must be a positive finite number"):
        fit(runs, "chinchilla", fix={"A": -3.0})
    with pytest.raises(FitError, match=r"--fix alpha=nan: alpha must be a finite number"):
        fit(runs, "chinchilla", fix={"alpha": math.nan})


def test_all_parameters_fixed(runs: pd.DataFrame) -> None:
    with pytest.raises(FitError, match=r"every parameter is fixed: leave at least one free"):
        fit(runs, "chinchilla", fix=TRUTH)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 95.0, math.nan])
def test_level_out_of_range(runs: pd.DataFrame, level: float) -> None:
    with pytest.raises(FitError, match=r"level must be between 0 and 1 \(e\.g\. 0\.95\), got"):
        fit(runs, "chinchilla", level=level)


def test_negative_n_boot(runs: pd.DataFrame) -> None:
    with pytest.raises(FitError, match=r"bootstrap resamples must be >= 0, got -1"):
        fit(runs, "chinchilla", n_boot=-1)


def test_bad_resample_by(runs: pd.DataFrame) -> None:
    with pytest.raises(
        FitError, match=r"--resample-by 'model': no such column; columns: N, D, y, size"
    ):
        fit(runs, "chinchilla", n_boot=10, resample_by="model")
    with pytest.raises(FitError, match=r"--resample-by 'one': needs at least 2 distinct values"):
        fit(runs.assign(one=1), "chinchilla", n_boot=10, resample_by="one")


def test_resample_by_group_works(runs: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(runs, "chinchilla", n_boot=20, resample_by="size", seed=1)
    assert r.bootstrap.resample_by == "size"
    draws = np.array(r.bootstrap.draws, dtype=float)
    assert draws.shape == (20, 5)


def test_grid_with_wrong_number_of_columns(runs: pd.DataFrame) -> None:
    with pytest.raises(
        FitError,
        match=r"start grid has 4 columns; law 'chinchilla' has 5 parameters \(E, A, B, alpha, beta\)",
    ):
        fit(runs, "chinchilla", grid=np.zeros((3, 4)))


def test_grid_naming_unknown_params(runs: pd.DataFrame) -> None:
    with pytest.raises(
        FitError,
        match=r"start grid names unknown parameters \['gamma'\]; law 'chinchilla' has E, A, B",
    ):
        fit(runs, "chinchilla", grid={"alpha": [0.3], "gamma": [1.0]})


def test_grid_with_nan(runs: pd.DataFrame) -> None:
    grid = np.array([[0.5, 6.0, 7.0, 0.3, 0.3], [math.nan, 6.0, 7.0, 0.3, 0.3]])
    with pytest.raises(FitError, match=r"start grid contains NaN or infinite values"):
        fit(runs, "chinchilla", grid=grid)


def test_mapping_grid_replaces_axes(runs: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(runs, "chinchilla", n_boot=0, grid={"alpha": [0.3], "beta": [0.3]})
    assert r.search.starts == 5 * 6 * 6  # E, A, B axes from the default grid
    assert r.params["alpha"] == pytest.approx(TRUTH["alpha"], rel=0.05)


def test_law_not_evaluable_at_any_start(runs: pd.DataFrame) -> None:
    # linear-space objective on a log-space law: exp(f) overflows at these starts
    grid = np.array([[800.0, 800.0, 800.0, 0.0, 0.0], [900.0, 900.0, 900.0, 0.0, 0.0]])
    with pytest.raises(
        FitError,
        match=r"law 'chinchilla' could not be evaluated at any start on runs; "
        r"check the data's units and the start grid",
    ):
        fit(runs, "chinchilla", grid=grid, objective=Objective(kind="lsq", space="linear"))


def test_joint_fit_options(runs: pd.DataFrame) -> None:
    with pytest.raises(
        FitError, match=r"a joint fit needs both --group-by COLUMN and --shared PARAM\[,PARAM\]"
    ):
        fit(runs, "chinchilla", group_by="size")
    with pytest.raises(FitError, match=r"a joint fit needs both"):
        fit(runs, "chinchilla", shared=["alpha"])
    with pytest.raises(
        FitError, match=r"--group-by 'model': no such column; columns: N, D, y, size"
    ):
        fit(runs, "chinchilla", group_by="model", shared=["alpha"])


def test_fit_groups_unknown_law(runs: pd.DataFrame) -> None:
    with pytest.raises(FitError, match=r"unknown law 'chinchila'"):
        fit_groups([("a", runs)], "chinchila")


# ----- predict -----


def test_predict_missing_columns(small_fit: FitResult) -> None:
    with pytest.raises(
        FitError, match=r"law 'chinchilla' needs column 'D': training tokens.*points has columns N"
    ):
        predict(small_fit, {"N": [1e9]})


def test_predict_non_positive_point(small_fit: FitResult) -> None:
    with pytest.raises(DataError, match=r"points: column 'N' must be a positive finite number"):
        predict(small_fit, {"N": [-1.0], "D": [1e9]})


def test_predict_unknown_interval_kind(small_fit: FitResult) -> None:
    with pytest.raises(
        FitError,
        match=r"interval 'wide' is unknown; use one of calibrated, predictive, bootstrap",
    ):
        predict(small_fit, {"N": [1e9], "D": [1e10]}, interval="wide")


@pytest.mark.parametrize("level", [0.0, 1.5])
def test_predict_bad_level(small_fit: FitResult, level: float) -> None:
    with pytest.raises(FitError, match=r"level must be between 0 and 1, got"):
        predict(small_fit, {"N": [1e9], "D": [1e10]}, level=level)


# ----- fit/result.py -----


def test_load_missing_fit_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "nope.json"
    with pytest.raises(NotFittedError, match=r"fit file '.*nope\.json' does not exist"):
        FitResult.load(path)


def test_load_non_fit_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(
        NotFittedError,
        match=r"other\.json: not a fit or fit_set file \(no 'kind' key\); write one with "
        r"`scalinglab fit \.\.\. --out fit\.json`",
    ):
        FitResult.load(path)
    path.write_text("[1, 2]")
    with pytest.raises(NotFittedError, match=r"not a scalinglab result \(a JSON object"):
        FitResult.load(path)


def test_load_invalid_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(
        NotFittedError, match=r"broken\.json: not a JSON result file \(Expecting property name"
    ):
        FitResult.load(path)


def test_wrong_result_format(small_fit: FitResult) -> None:
    d = small_fit.to_dict()
    d["format"] = RESULT_FORMAT + 1
    with pytest.raises(
        NotFittedError,
        match=rf"this fit was written in result format {RESULT_FORMAT + 1}; this scalinglab "
        rf"reads format {RESULT_FORMAT}\. Refit with this version",
    ):
        FitResult.from_json(json.dumps(d))
    del d["format"]
    with pytest.raises(NotFittedError, match=r"result format 1;"):
        FitResult.from_dict(d)


def test_damaged_fit_file(small_fit: FitResult) -> None:
    d = small_fit.to_dict()
    del d["search"]
    with pytest.raises(NotFittedError, match=r"<json>: fit file is incomplete or damaged"):
        FitResult.from_json(json.dumps(d))
    d = small_fit.to_dict()
    d["unexpected"] = 1
    with pytest.raises(NotFittedError, match=r"fit file is incomplete or damaged"):
        FitResult.from_json(json.dumps(d), origin="x.json")


def test_unknown_law_in_fit_file(small_fit: FitResult) -> None:
    r = dataclasses.replace(small_fit, law="nolaw")
    with pytest.raises(FitError, match=r"unknown law 'nolaw'"):
        predict(r, {"N": [1e9], "D": [1e10]})


# ----- plan/compute_optimal.py -----


def test_compute_optimal_needs_chinchilla(small_fit: FitResult) -> None:
    from scalinglab.plan.compute_optimal import compute_optimal

    other = dataclasses.replace(small_fit, law="kaplan")
    with pytest.raises(
        FitError,
        match=r"compute-optimal allocation needs a 'chinchilla' fit; this fit is 'kaplan'",
    ):
        compute_optimal(other, 1e21)


@pytest.mark.parametrize("C", [0.0, -1e21, math.nan, math.inf])
def test_compute_optimal_bad_compute(small_fit: FitResult, C: float) -> None:
    from scalinglab.plan.compute_optimal import compute_optimal

    with pytest.raises(FitError, match=r"compute must be a positive number of FLOP, got"):
        compute_optimal(small_fit, C)


def test_compute_optimal_non_positive_exponent(small_fit: FitResult) -> None:
    from scalinglab.plan.compute_optimal import compute_optimal

    r = dataclasses.replace(small_fit, params={**small_fit.params, "beta": -0.1})
    with pytest.raises(
        FitError, match=r"the fitted exponents must be positive .*\(alpha=0\.\d+, beta=-0\.1\)"
    ):
        compute_optimal(r, 1e21)


# ----- cli/common.py helpers -----


@pytest.mark.parametrize("item", ["alpha", "alpha=", "=0.3", "alpha=abc", "alpha=nan", "alpha=inf"])
def test_parse_fix_rejects(item: str) -> None:
    with pytest.raises(
        FitError, match=r"--fix .*: expected PARAM=NUMBER, e\.g\. --fix alpha=0\.34"
    ):
        parse_fix([item])


def test_parse_fix_accepts() -> None:
    assert parse_fix([" alpha = 0.34", "E=1.8"]) == {"alpha": 0.34, "E": 1.8}
    assert parse_fix(None) == {}


def test_load_fit_missing_json_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFittedError, match=r"does not exist"):
        fitcmd.load_fit(str(tmp_path / "gone.json"), str(tmp_path / "store.duckdb"))


def test_load_fit_unknown_store_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from scalinglab.data.store import Store
    from scalinglab.errors import StoreError

    path = tmp_path / "store.duckdb"
    with pytest.raises(StoreError, match=r"no such store .*store\.duckdb"):
        fitcmd.load_fit("deadbeef", str(path))  # a read never creates the store
    assert not path.exists()
    with Store.open(path) as st:
        st.save_fit('{"kind": "fit"}', law="chinchilla", source="t")
    with pytest.raises(NotFittedError, match=r"fit id 'deadbeef' is not in the store"):
        fitcmd.load_fit("deadbeef", str(path))
