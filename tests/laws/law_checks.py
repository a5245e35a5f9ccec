"""Checks shared by the law tests of this directory: Jacobian against central differences,
planted data, quiet fits, planted-parameter recovery, interval coverage over seeds and fits
refused with a message."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, settings

from scalinglab.fit import FitResult, fit
from scalinglab.laws import Law, get_law
from scalinglab.laws.base import FloatArray

# hypothesis: few examples (each is a fit with a bootstrap), deterministic, no shrinking (a
# failing fit would be repeated many times; the failing example is still printed)
SETTINGS = settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
)


def concrete(law: Law, frame: pd.DataFrame) -> Law:
    """The law as fit() uses it on ``frame`` (specialised when its parameters depend on it)."""
    return law.specialize(frame) if law.specialize is not None else law


def assert_jacobian(
    law: Law, theta: FloatArray, X: Mapping[str, FloatArray], tol: float = 1e-6
) -> None:
    """The analytic Jacobian of ``law.evaluate`` at each row of ``theta`` against central
    differences, relative to the largest entry of each row (steps scaled to each parameter)."""
    f, J = law.evaluate(theta, X)
    assert len(J) == theta.shape[1]
    Js = np.stack([np.broadcast_to(j, f.shape) for j in J])
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(Js))
    for p in range(theta.shape[1]):
        h = 1e-6 * np.maximum(1e-3, np.abs(theta[:, p]))
        up, dn = theta.copy(), theta.copy()
        up[:, p] += h
        dn[:, p] -= h
        fd = (law.evaluate(up, X)[0] - law.evaluate(dn, X)[0]) / (2 * h[:, None])
        scale = np.max(np.abs(Js[p]), axis=1, keepdims=True) + 1e-12
        err = float(np.max(np.abs(Js[p] - fd) / scale))
        assert err < tol, (law.param_names[p], err)


def uniform_theta(
    rng: np.random.Generator, bounds: list[tuple[float, float]], rows: int = 5
) -> FloatArray:
    """``rows`` parameter vectors, column j uniform on ``bounds[j]`` (drawn column by column)."""
    return np.column_stack([rng.uniform(lo, hi, rows) for lo, hi in bounds])


def planted(
    law_name: str,
    truth: Mapping[str, float],
    X: Mapping[str, FloatArray],
    sigma: float,
    seed: int,
) -> pd.DataFrame:
    """The law's values at ``X`` for ``truth`` with seeded noise: multiplicative log-normal
    (y exp(sigma z)) for log-space laws, additive (y + sigma z) for linear-space ones."""
    frame = pd.DataFrame({k: np.asarray(v) for k, v in X.items()})
    law = concrete(get_law(law_name), frame)
    clean = law.predict(law.to_internal(truth), {k: np.asarray(v, float) for k, v in X.items()})[0]
    z = np.random.default_rng(seed).standard_normal(clean.size)
    frame["y"] = clean * np.exp(sigma * z) if law.space == "log" else clean + sigma * z
    return frame


def quiet_fit(frame: pd.DataFrame, law: str, **kw: Any) -> FitResult:
    """``fit`` without the nested calibration (it does not change parameter intervals) and with
    warnings silenced (they are recorded in the result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(frame, law, **kw)


def assert_sane(r: FitResult) -> None:
    """What every fit of valid data must satisfy: finite parameters and intervals."""
    assert all(math.isfinite(v) for v in r.params.values()), r.params
    assert math.isfinite(r.objective) and r.objective >= 0
    if r.bootstrap.n:
        for k, (lo, hi) in r.intervals.items():
            assert math.isfinite(lo) and math.isfinite(hi) and lo <= hi, k


def fit_planted(
    law_name: str,
    truth: Mapping[str, float],
    X: Mapping[str, FloatArray],
    sigma: float,
    seed: int,
    n_boot: int = 100,
) -> FitResult:
    """A quiet fit of :func:`planted` data (seeded like the data), checked with
    :func:`assert_sane`."""
    r = quiet_fit(planted(law_name, truth, X, sigma, seed), law_name, n_boot=n_boot, seed=seed)
    assert_sane(r)
    return r


def coverage(
    law_name: str,
    truth: Mapping[str, float],
    X: Mapping[str, FloatArray],
    sigma: float,
    seeds: range = range(10),
    n_boot: int = 200,
    check: Callable[[FitResult], None] = assert_sane,
) -> dict[str, int]:
    """How many of ``seeds`` put each true parameter inside its 95% bootstrap interval."""
    inside = dict.fromkeys(truth, 0)
    for seed in seeds:
        r = quiet_fit(planted(law_name, truth, X, sigma, seed), law_name, n_boot=n_boot, seed=seed)
        check(r)
        for k, (lo, hi) in r.intervals.items():
            inside[k] += lo <= truth[k] <= hi
    return inside


def assert_coverage(
    law_name: str, truth: Mapping[str, float], X: Mapping[str, FloatArray], sigma: float
) -> None:
    """Each true parameter inside its 95% interval for at least 8 of 10 seeds (P(<= 7) ~ 1% at
    true coverage 0.95)."""
    inside = coverage(law_name, truth, X, sigma)
    assert all(n >= 8 for n in inside.values()), inside


def assert_fit_refuses(
    frame: pd.DataFrame, law_name: str, error: type[Exception], match: str
) -> None:
    """``fit(frame, law_name)`` raises ``error`` with a message matching ``match``."""
    with pytest.raises(error, match=match):
        fit(frame, law_name, n_boot=0)


def max_log_error(
    law_name: str, r: FitResult, truth: Mapping[str, float], X: Mapping[str, FloatArray]
) -> float:
    """Largest |log(fitted / true)| (log-space laws) or |fitted - true| (linear) over ``X``."""
    law = r.law_obj()
    Xf = {k: np.asarray(v, float) for k, v in X.items()}
    fitted = law.predict(r.theta(), Xf)[0]
    true = law.predict(law.to_internal(truth), Xf)[0]
    if law.space == "log":
        return float(np.max(np.abs(np.log(fitted / true))))
    return float(np.max(np.abs(fitted - true)))
