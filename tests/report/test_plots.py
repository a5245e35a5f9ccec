"""matplotlib figures: image comparison against tests/report/baseline/, determinism, errors.

Baselines: `.venv/bin/python tests/report/make_baselines.py --images` (see that file).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from _fixtures import (
    BASELINE,
    IMAGE_KINDS,
    IMAGE_TOLERANCE,
    curve_fit,
    curve_runs,
    draw,
    planted_fit,
    planted_predictions,
    planted_runs,
    rms_difference,
)

from scalinglab.errors import DataError, FitError
from scalinglab.report import analysis, plots


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_matches_baseline(kind: str, tmp_path: Path) -> None:
    expected = BASELINE / f"{kind}.png"
    assert expected.exists(), (
        f"no baseline {expected}; run `.venv/bin/python tests/report/make_baselines.py --images`"
    )
    actual = plots.save_figure(draw(kind), tmp_path / f"{kind}.png")
    rms = rms_difference(expected, actual)
    assert rms <= IMAGE_TOLERANCE, (
        f"{kind}: RMS difference {rms:.3f} > {IMAGE_TOLERANCE} against {expected}; "
        f"the new image is {actual}. If the change is intended, regenerate the baselines."
    )


def test_rms_difference_detects_a_change(tmp_path: Path) -> None:
    a = plots.save_figure(draw("bootstrap"), tmp_path / "a.png")
    r = planted_fit()
    shifted = dataclasses.replace(r, params={**r.params, "alpha": r.params["alpha"] * 1.05})
    b = plots.save_figure(plots.plot_bootstrap(shifted), tmp_path / "b.png")
    assert rms_difference(a, b) > IMAGE_TOLERANCE


def test_png_and_svg_are_deterministic_and_undated(tmp_path: Path) -> None:
    for suffix in ("png", "svg"):
        one = plots.save_figure(draw("fit"), tmp_path / f"one.{suffix}").read_bytes()
        two = plots.save_figure(draw("fit"), tmp_path / f"two.{suffix}").read_bytes()
        assert one == two, suffix
    svg = (tmp_path / "one.svg").read_text()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg
    assert b"Matplotlib version" not in (tmp_path / "one.png").read_bytes()


def test_plots_leave_global_matplotlib_state_alone(tmp_path: Path) -> None:
    before = dict(matplotlib.rcParams)
    plots.save_figure(draw("frontier"), tmp_path / "f.svg")
    assert dict(matplotlib.rcParams) == before


def test_import_and_plotting_touch_neither_pyplot_nor_the_backend(tmp_path: Path) -> None:
    """Importing scalinglab loads neither matplotlib nor plotly; drawing uses the Agg canvas
    explicitly, without pyplot or a global backend switch."""
    code = f"""
import sys, scalinglab, scalinglab.cli.application
assert not [m for m in ('matplotlib', 'plotly') if m in sys.modules]
import matplotlib
backend = matplotlib.rcParams._get_backend_or_none()
from scalinglab.fit.result import FitResult
from scalinglab.report import plots
r = FitResult.load({str(Path(__file__).parent / "data" / "planted_fit.json")!r})
plots.save_figure(plots.plot_fit(r), {str(tmp_path / "x.png")!r})
assert 'matplotlib.pyplot' not in sys.modules
assert matplotlib.rcParams._get_backend_or_none() == backend
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_isoflop_recovers_the_planted_exponent() -> None:
    iso = analysis.isoflop(planted_runs())
    assert len(iso.budgets) == 6 and iso.budgets["N_opt"].notna().all()
    # N* ~ C^(beta/(alpha+beta)) = C^0.521 for the planted law
    assert iso.exponent == pytest.approx(0.37 / 0.71, abs=0.03)


def test_frontier_band_contains_the_estimate() -> None:
    fr = analysis.frontier(planted_fit(), np.array([1e20, 1e24]))
    assert (fr["N_low"] <= fr["N"]).all() and (fr["N"] <= fr["N_high"]).all()
    assert (fr["D_low"] <= fr["D"]).all() and (fr["D"] <= fr["D_high"]).all()


def test_backtest_panel_places_each_prediction() -> None:
    panel = analysis.backtest_panel(planted_predictions(), planted_runs(), "C")
    assert len(panel.fitted) + panel.held["run_id"].nunique() == len(planted_runs())
    assert np.isfinite(panel.held["x"]).all()


# ----- errors -----


def test_save_figure_rejects_other_formats(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"use a \.png or \.svg file name"):
        plots.save_figure(draw("bootstrap"), tmp_path / "x.pdf")


def test_frontier_needs_chinchilla() -> None:
    with pytest.raises(
        FitError, match=r"frontier needs a .*'chinchilla' fit; this fit is 'power_law'"
    ):
        plots.plot_frontier(curve_fit())


def test_bootstrap_needs_draws() -> None:
    r = planted_fit()
    bare = dataclasses.replace(
        r, bootstrap=dataclasses.replace(r.bootstrap, draws=np.empty((0, len(r.params))))
    )
    with pytest.raises(FitError, match="no bootstrap draws to plot"):
        plots.plot_bootstrap(bare)


def test_bootstrap_unknown_parameter() -> None:
    with pytest.raises(FitError, match="no parameter 'gamma' in this 'chinchilla' fit"):
        plots.plot_bootstrap(planted_fit(), names=["gamma"])


def test_isoflop_needs_columns() -> None:
    with pytest.raises(DataError, match="IsoFLOP analysis needs columns N"):
        analysis.isoflop(pd.DataFrame({"x": [1.0], "y": [2.0]}))


def test_backtest_panel_needs_run_ids() -> None:
    with pytest.raises(DataError, match="needs the runs' run_id"):
        analysis.backtest_panel(planted_predictions(), planted_runs().drop(columns="run_id"), "C")


def test_backtest_plot_needs_runs() -> None:
    with pytest.raises(DataError, match="backtest plot needs the runs"):
        plots.figure("backtest", planted_fit())


def test_unknown_kind() -> None:
    with pytest.raises(DataError, match="unknown plot kind 'pie'"):
        plots.figure("pie", planted_fit())


def test_curves_need_something_to_draw() -> None:
    with pytest.raises(DataError, match="loss curves need runs with a step column"):
        plots.plot_curves()


def test_curves_need_a_step_column() -> None:
    with pytest.raises(DataError, match="loss curves need a 'step' column"):
        plots.plot_curves(runs=curve_runs().drop(columns="step"))


def test_curves_of_a_two_variable_fit() -> None:
    with pytest.raises(FitError, match="loss curves draw one-variable fits"):
        plots.plot_curves(planted_fit())


def test_curves_are_keyed_by_run_when_groups_share_steps() -> None:
    import pandas as pd

    from scalinglab.report.plots import _curve_key

    sweep = pd.DataFrame(
        {"group": "ladder", "run_id": ["a", "a", "b", "b"], "step": [1, 2, 1, 2], "y": 1.0}
    )
    assert _curve_key(sweep) == "run_id"  # "group" names the design: its runs share steps
    one_per_group = sweep.assign(group=sweep["run_id"])
    assert _curve_key(one_per_group) == "group"
