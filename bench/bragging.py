"""Bragging (bootstrap robust aggregating: the median of the predictions of bootstrap refits,
Buhlmann and Yu 2002, "Analyzing bagging", Annals of Statistics 30(4), section 2.2) against
the point fit, on the held-out part of the 20 revisiting_lang curves (fit ``Training == 1``,
predict ``Training == 0``, Alabdulmohsin et al. 2022). A measurement for issue 13 (auto that
beats every single law): the optimum of M4 on several curves lies on a flat ridge, so its
point extrapolation is unstable, and aggregating refits lowers the error. ``--law auto``
brags its M4 and power-law candidates (scalinglab.trust.auto.BRAG_BOOT).

Run: ``.venv/bin/python bench/bragging.py [--boot 60]`` (about 20 s on 2 cores). Last line:
``bragging_vs_point: X``, M4's mean held-out RMSE(log) bragged over point.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from scalinglab.data import load_dataset, select_runs
from scalinglab.fit import fit
from scalinglab.laws import get_law


def predictions(law_name: str, params: dict[str, float], x: np.ndarray) -> np.ndarray:
    """Log predictions of ``law_name`` at ``x`` (the laws here are in log space)."""
    law = get_law(law_name)
    f, _ = law.evaluate(np.atleast_2d(law.to_internal(params)), {"x": x})
    return np.asarray(f[0], dtype=float)


def curve_errors(law_name: str, n_boot: int) -> tuple[list[float], list[float], list[float]]:
    """Per curve: held-out RMSE(log) of the point fit, of the median of the bootstrap refits'
    predictions and of their mean."""
    runs = select_runs(load_dataset("revisiting_lang"), x="Seen Examples")
    names = get_law(law_name).param_names
    point, median, mean = [], [], []
    for _, curve in runs.groupby(["Domain", "Task", "Model"]):
        train, test = curve[curve["Training"] == 1], curve[curve["Training"] == 0]
        r = fit(train, law_name, n_boot=n_boot, seed=0)
        x = test["x"].to_numpy(float)
        truth = np.log(test["y"].to_numpy(float))
        draws = r.bootstrap.draws[np.all(np.isfinite(r.bootstrap.draws), axis=1)]
        boot = np.vstack(
            [predictions(law_name, dict(zip(names, d, strict=True)), x) for d in draws]
        )
        for out, pred in (
            (point, predictions(law_name, dict(r.params), x)),
            (median, np.median(boot, axis=0)),
            (mean, np.mean(boot, axis=0)),
        ):
            out.append(float(np.sqrt(np.mean((pred - truth) ** 2))))
    return point, median, mean


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boot", type=int, default=60, help="bootstrap refits per curve")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    ratio = float("nan")
    for law_name in ("power_law", "m4"):
        t0 = time.perf_counter()
        point, median, mean = curve_errors(law_name, args.boot)
        better = sum(m < p for m, p in zip(median, point, strict=True))
        print(
            f"{law_name}: mean RMSE(log) point {np.mean(point):.5f}, bragged (median) "
            f"{np.mean(median):.5f}, bagged (mean) {np.mean(mean):.5f}; bragging better on "
            f"{better} of {len(point)} curves ({time.perf_counter() - t0:.0f} s)"
        )
        ratio = float(np.mean(median) / np.mean(point))
    print(f"bragging_vs_point: {ratio:.3f}")


if __name__ == "__main__":
    main()
