"""Learning rate and batch size for a planned run, from fitted or published laws.

Fitted: a :class:`FitResult` of ``lr_opt`` (lr*(N, D), Li et al. 2025) or ``lr_opt_compute``
(eta*(C), DeepSeek-AI 2024), and of ``batch_opt`` (B*(D)) or ``batch_opt_compute`` (B*(C)).
Published, when no fit is given (``source``): the same laws at their published parameter sets
(``Law.published[source]``), evaluated through the laws' own formulas:

* ``"deepseek2024"``: eta_opt = 0.3118 C^-0.1250, B_opt = 0.2920 C^0.3271 tokens (DeepSeek-AI
  2024, arXiv:2401.02954, eq. 1), fitted on budgets of 1e17 to 2e19 FLOP. Their C is M D with M
  the non-embedding training FLOP per token, M = 72 n_layer d_model^2 + 12 n_layer d_model
  l_seq (eq. 2), not 6ND: we compute M from the planned shape and sequence length.
* ``"li2025"``: eta = 1.79 N^-0.713 D^0.307, B = 0.58 D^0.571 tokens (Li et al. 2025,
  arXiv:2503.04715, Step Law), N the non-embedding parameters.

Every row of the plan (point estimate and bootstrap draws) gets its own value, so the interval
carries the uncertainty of the allocation (and of a fitted hyperparameter law, whose draws are
paired with the plan's); the uncertainty of a published law itself is not known and not
included. A plan outside the range a law was fitted on gets a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from scalinglab.errors import FitError
from scalinglab.fit.result import FitResult
from scalinglab.laws.base import FloatArray
from scalinglab.laws.registry import get_law, list_laws
from scalinglab.plan.compute_optimal import Estimate
from scalinglab.plan.shape import ModelShape
from scalinglab.plan.surface import estimate
from scalinglab.units import deepseek_flops_per_token

SOURCES = ("deepseek2024", "li2025")


@dataclass(frozen=True)
class _Published:
    """A law's published parameter set (``Law.published[source]``) and the range it was
    fitted on."""

    law: str
    source: str  # the key of Law.published
    ranges: dict[str, tuple[float, float]]
    range_note: str

    @property
    def name(self) -> str:
        values = get_law(self.law).published[self.source]
        return f"{self.law} ({', '.join(f'{k} = {v:g}' for k, v in values.items())})"

    def predict(self, vals: Mapping[str, FloatArray]) -> FloatArray:
        """The law at the planned rows ``vals`` (variable -> (R,)), through its formula."""
        law = get_law(self.law)
        theta = law.to_internal(law.published[self.source])
        return np.asarray(law.predict(theta, {v: vals[v] for v in law.variables})[0])


# DeepSeek-AI 2024 (arXiv:2401.02954, eq. 1) fitted on C = M D from 1e17 to 2e19 FLOP; Li et al.
# 2025 (arXiv:2503.04715): approximately the model and data sizes of their grid searches (their
# largest: 1B non-embedding parameters, 100B tokens); treat those bounds as approximate.
_DEEPSEEK_RANGE = {"C": (1e17, 2e19)}
PUBLISHED: dict[str, dict[str, _Published]] = {
    "deepseek2024": {
        "lr": _Published(
            "lr_opt_compute", "deepseek2024", _DEEPSEEK_RANGE, "C = M D from 1e17 to 2e19 FLOP"
        ),
        "batch": _Published(
            "batch_opt_compute", "deepseek2024", _DEEPSEEK_RANGE, "C = M D from 1e17 to 2e19 FLOP"
        ),
    },
    "li2025": {
        "lr": _Published(
            "lr_opt",
            "li2025",
            {"N": (6e7, 1e9), "D": (2e9, 1e11)},
            "N ~6e7-1e9 non-embedding, D ~2e9-1e11 tokens (approximate)",
        ),
        "batch": _Published(
            "batch_opt", "li2025", {"D": (2e9, 1e11)}, "D ~2e9-1e11 tokens (approximate)"
        ),
    },
}


def fitted_laws(kind: str) -> list[str]:
    """Names of the registered laws of the optimal ``kind`` ("lr" or "batch"), from each law's
    ``hyperparameter`` declaration."""
    return [law.name for law in list_laws() if law.hyperparameter == kind]


@dataclass(frozen=True)
class Hyperparameters:
    lr: Estimate
    batch_tokens: Estimate
    lr_source: str
    batch_source: str
    lr_range: str
    batch_range: str
    deepseek_compute: Estimate  # C = M D of the plan, DeepSeek's convention
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "lr": self.lr.as_dict(),
            "batch_tokens": self.batch_tokens.as_dict(),
            "lr_source": self.lr_source,
            "batch_source": self.batch_source,
            "lr_fitted_range": self.lr_range,
            "batch_fitted_range": self.batch_range,
            "deepseek_compute": self.deepseek_compute.as_dict(),
            "warnings": list(self.warnings),
        }


def _outside(
    name: str, vals: dict[str, FloatArray], ranges: dict[str, tuple[float, float]], what: str
) -> list[str]:
    out = []
    for v, (lo, hi) in ranges.items():
        x = float(vals[v][0])
        if not lo <= x <= hi:
            out.append(
                f"{what}: the plan's {v} = {x:.3g} is outside the range {name} was fitted on "
                f"[{lo:.3g}, {hi:.3g}]; the recommendation is an extrapolation."
            )
    return out


def _from_fit(
    kind: str, fit: FitResult, vals: dict[str, FloatArray]
) -> tuple[FloatArray, str, dict[str, tuple[float, float]]]:
    law = fit.law_obj()
    if law.hyperparameter != kind:
        laws = fitted_laws(kind)
        raise FitError(
            f"the {kind} fit must be of law {' or '.join(map(repr, laws))}; "
            f"got {fit.law!r}. Fit one with `scalinglab fit RUNS --law {laws[0]}`."
        )
    names = law.param_names
    point = np.array([[fit.params[n] for n in names]])
    draws = fit.draws()
    P = np.vstack([point, draws]) if draws.size else point
    theta = law.to_internal_array(P)
    R = vals["D"].size
    idx = (
        np.concatenate([[0], 1 + (np.arange(R - 1) % max(P.shape[0] - 1, 1))])
        if P.shape[0] > 1
        else np.zeros(R, int)
    )
    out = np.empty(R)
    for r in range(R):
        X = {v: np.array([vals[v][r]]) for v in law.variables}
        out[r] = law.predict(theta[idx[r] : idx[r] + 1], X)[0, 0]
    ranges = {
        v: (float(np.min(fit.data[v])), float(np.max(fit.data[v])))
        for v in law.variables
        if v in fit.data
    }
    return out, f"fitted {fit.law!r} ({fit.citation})", ranges


def hyperparameters(
    N: FloatArray,
    D: FloatArray,
    shape: ModelShape,
    *,
    level: float,
    seq_len: int = 2048,
    source: str = "deepseek2024",
    lr_fit: FitResult | None = None,
    batch_fit: FitResult | None = None,
) -> Hyperparameters:
    """Learning rate and batch size (tokens) for rows of planned (N, D)."""
    if source not in SOURCES:
        raise FitError(
            f"hyperparameter source {source!r} is unknown; use one of {', '.join(SOURCES)}."
        )
    if not (isinstance(seq_len, int) and seq_len > 0):
        raise FitError(f"sequence length must be a positive integer, got {seq_len!r}.")
    ratio = N / N[0]  # draws scale the planned shape with their own N
    M = deepseek_flops_per_token(shape.n_layers, shape.d_model, seq_len) * ratio
    N_ne = shape.params_non_embedding * ratio
    vals = {"N": N_ne, "D": D, "C": M * D}
    warn: list[str] = []
    results: dict[str, tuple[FloatArray, str, str]] = {}
    for kind, fit in (("lr", lr_fit), ("batch", batch_fit)):
        if fit is not None:
            y, label, ranges = _from_fit(kind, fit, vals)
            rng_text = ", ".join(f"{v} in [{a:.3g}, {b:.3g}]" for v, (a, b) in ranges.items())
            warn += _outside(f"the fitted {fit.law!r}", vals, ranges, kind)
        else:
            p = PUBLISHED[source][kind]
            y = p.predict(vals)
            label = f"published: {p.name}, {get_law(p.law).citation}"
            rng_text = p.range_note
            warn += _outside(p.name, vals, p.ranges, kind)
        results[kind] = (y, label, rng_text)
    return Hyperparameters(
        lr=estimate(results["lr"][0], level),
        batch_tokens=estimate(results["batch"][0], level),
        lr_source=results["lr"][1],
        batch_source=results["batch"][1],
        lr_range=results["lr"][2],
        batch_range=results["batch"][2],
        deepseek_compute=estimate(vals["C"], level),
        warnings=tuple(warn),
    )


__all__ = ["PUBLISHED", "SOURCES", "Hyperparameters", "hyperparameters"]
