"""Fixture loaders and the figures the image tests compare (shared with make_baselines.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.image import imread

from scalinglab.data import read_runs, select_runs
from scalinglab.fit.result import FitResult

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
BASELINE = HERE / "baseline"
#: RMS difference (0-255 scale, as matplotlib.testing.compare) allowed against a baseline:
#: absorbs anti-aliasing differences between freetype/agg builds, not a moved curve.
IMAGE_TOLERANCE = 3.0


def planted_fit() -> FitResult:
    return FitResult.load(DATA / "planted_fit.json")


def planted_runs() -> pd.DataFrame:
    return select_runs(read_runs(DATA / "planted_runs.csv"))


def planted_predictions() -> pd.DataFrame:
    return pd.read_csv(DATA / "planted_backtest.csv", dtype={"run_id": str})


def curve_fit() -> FitResult:
    return FitResult.load(DATA / "curve_fit.json")


def curve_runs() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "curve_runs.csv", dtype={"run_id": str})
    return frame.assign(y=frame["loss"])


def draw(kind: str) -> Figure:
    from scalinglab.report import plots

    if kind == "backtest":
        return plots.plot_backtest(planted_predictions(), planted_runs(), axis="C")
    if kind == "curves":
        return plots.plot_curves(runs=curve_runs())
    if kind == "curves_fit":
        return plots.plot_curves(curve_fit())
    if kind == "isoflop":
        return plots.plot_isoflop(planted_runs(), result=planted_fit())
    return plots.figure(kind, planted_fit())


IMAGE_KINDS = (
    "fit",
    "isoflop",
    "frontier",
    "residuals",
    "backtest",
    "curves",
    "curves_fit",
    "bootstrap",
)


def draw_all() -> Iterator[tuple[str, Figure]]:
    for kind in IMAGE_KINDS:
        yield kind, draw(kind)


def rms_difference(expected: Path, actual: Path) -> float:
    """Root-mean-square difference of two PNGs on a 0-255 scale (RGB(A) channels)."""
    a = np.asarray(imread(expected), dtype=float)
    b = np.asarray(imread(actual), dtype=float)
    if a.shape != b.shape:
        raise AssertionError(f"image sizes differ: baseline {a.shape}, actual {b.shape}")
    scale = 255.0 if a.max() <= 1.0 else 1.0
    return float(np.sqrt(np.mean(((a - b) * scale) ** 2)))
