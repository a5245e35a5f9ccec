"""Joint fits across groups with some parameters shared.

Practitioners compare datasets or architectures at equal exponents: e.g. one Chinchilla law per
dataset with ``alpha`` and ``beta`` shared and ``E, A, B`` per dataset
(``--group-by dataset --shared alpha,beta``). :func:`joint_law` builds that as an ordinary
:class:`~scalinglab.laws.base.Law`, so the same engine, bootstrap and intervals apply:

* its parameters are the shared ones (under their own names) followed by one copy of each
  other parameter per group, named ``NAME[group]``;
* it reads the base law's variables plus ``_group``, the group's index, from the group column;
* evaluation runs the base law once per group on that group's runs and scatters the result;
  a shared parameter's derivative collects every group's contribution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from scalinglab.errors import FitError
from scalinglab.fit.variables import law_variables
from scalinglab.laws.base import FloatArray, Law, Param


def joint_law(base: Law, group_col: str, groups: Sequence[str], shared: Sequence[str]) -> Law:
    unknown = [s for s in shared if s not in base.param_names]
    if unknown:
        raise FitError(
            f"--shared names {', '.join(map(repr, unknown))}, not parameters of law "
            f"{base.name!r} ({', '.join(base.param_names)})."
        )
    if len(groups) < 2:
        raise FitError("a joint fit with --shared needs at least 2 groups (--group-by COLUMN).")
    labels = [str(g) for g in groups]
    index = {g: i for i, g in enumerate(labels)}
    G, P = len(labels), len(base.params)
    # column of the joint theta that feeds base parameter j in group g
    cols = np.empty((G, P), dtype=np.intp)
    params: list[Param] = []
    for j, p in enumerate(base.params):
        if p.name in shared:
            cols[:, j] = len(params)
            params.append(p)
    for j, p in enumerate(base.params):
        if p.name not in shared:
            for g, label in enumerate(labels):
                cols[g, j] = len(params)
                params.append(
                    replace(
                        p, name=f"{p.name}[{label}]", meaning=f"{p.meaning} ({group_col} = {label})"
                    )
                )

    def prepare(frame: pd.DataFrame) -> dict[str, FloatArray]:
        if group_col not in frame.columns:
            raise FitError(f"joint fit: the table has no group column {group_col!r}.")
        keys = frame[group_col].astype(str)
        bad = ~keys.isin(labels)
        if bad.any():
            raise FitError(
                f"joint fit: {group_col} values {sorted(set(keys[bad]))} were not among the fitted "
                f"groups ({', '.join(labels)})."
            )
        X = dict(law_variables(frame, base, "runs"))
        X["_group"] = np.asarray(keys.map(index).to_numpy(), dtype=float)
        return X

    def evaluate(
        theta: FloatArray, X: Mapping[str, FloatArray]
    ) -> tuple[FloatArray, list[FloatArray]]:
        g_of = X["_group"].astype(np.intp)
        S, n = theta.shape[0], g_of.size
        f = np.empty((S, n))
        J = [np.zeros((S, n)) for _ in params]
        for g in range(G):
            m = g_of == g
            if not m.any():
                continue
            Xg = {k: v[m] for k, v in X.items() if k != "_group"}
            fg, Jg = base.evaluate(theta[:, cols[g]], Xg)
            f[:, m] = fg
            for j in range(P):
                J[cols[g, j]][:, m] += np.broadcast_to(Jg[j], fg.shape)
        return f, J

    return Law(
        name=base.name,
        version=base.version,
        title=f"{base.title}, joint over {group_col} with {', '.join(shared) or 'nothing'} shared",
        formula=base.formula,
        citation=base.citation,
        variables=(*base.variables, "_group"),
        params=tuple(params),
        evaluate=evaluate,
        space=base.space,
        positive_target=base.positive_target,
        prepare=prepare,
        notes=f"joint fit over {group_col}: groups {', '.join(labels)}; shared {', '.join(shared)}",
    )
