"""``discover``: search the grammar for the law that extrapolates best inside the data.

The search, in order:

1. The user's holdout (``--holdout``, e.g. ``top 20% by C``) is split off each group first;
   the search never sees those runs. The rest is the search data.
2. Candidates: the catalogue's laws that apply to the variables (those ``--law auto`` would
   consider: ``auto_candidate`` laws whose variables the table offers) are seeds and are
   scored first; then the forms of :func:`scalinglab.discover.grammar.grammar`, simplest first.
3. Each candidate gets nested rolling-origin errors inside the search data
   (:mod:`scalinglab.discover.score`), candidates in parallel over ``workers`` processes.
   A grammar candidate whose first-origin error is ``ABANDON`` (3) times the best seed's is
   not fitted at the other origins. The search takes no new candidate once ``SEARCH_SHARE``
   of the time budget is spent (the rest is for the leaders' final fits; the seeds are always
   all scored); the candidates scored are always a prefix of the ordered list, so for a seed
   the result depends only on how many fitted in the budget (the result says whether the
   search was complete; ``max_candidates`` fixes the number).
4. Score = mean log nested RMSE(log) + ``penalty`` * number of parameters
   (:func:`scalinglab.discover.score.aggregate`).
5. The law returned: the best-scoring grammar form if its nested errors are significantly
   lower than those of the catalogue law with the lowest nested error, else that catalogue
   law (:func:`_choose`). The leaderboard is that law, then the Pareto front of (parameters,
   nested error) in score order, plus the reference catalogue law; the leaders are fitted on
   all the search data for their in-fit and held-out errors.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.data.select import group_runs
from scalinglab.discover.grammar import PARAM_LETTERS, Candidate, formula_text, grammar
from scalinglab.discover.result import DiscoverResult, LeaderRow
from scalinglab.discover.score import (
    FullFit,
    Part,
    Settings,
    aggregate,
    full_job,
    margin,
    origin_masks,
    reference_errors,
    score_job,
)
from scalinglab.errors import DataError, FitError, ScalinglabError
from scalinglab.fit.groups import pool_context, run_jobs
from scalinglab.laws.base import FloatArray, Law
from scalinglab.laws.formula import FUNCTIONS, KNOWN_VARIABLES, PREFIX, canonical
from scalinglab.laws.registry import list_laws
from scalinglab.trust.holdout import Holdout, axis_values

DEFAULT_BUDGET_S = 600.0
#: per parameter, the factor exp(PENALTY) by which it must cut the nested error (about 3%)
PENALTY = 0.03
SEARCH_SHARE = 0.8
#: how many of the best-scoring laws are fitted on all the search data at the end
LEADERS = 8
Progress = Callable[[int, int], None]


def catalogue_laws(frame: pd.DataFrame, variables: Sequence[str]) -> list[Law]:
    """The catalogue's laws that apply to a table of ``variables`` (and target y): the
    ``auto_candidate`` laws whose variables are among them, or whose ``prepare`` computes
    its variables from those columns alone (the over-training law's C and M from N and D)."""
    sub = frame[[*variables, "y"]]
    out = []
    for law in list_laws():
        if not law.auto_candidate or law.hyperparameter is not None:
            continue
        if law.prepare is not None:
            try:
                law.prepare(sub)
            except (ScalinglabError, KeyError):
                continue
        elif not set(law.variables) <= set(variables):
            continue
        out.append(law)
    return out


def law_name(text: str, variables: Sequence[str]) -> str:
    """The registry name of a grammar formula: names the variables it reads when one of them
    is not a column formulas know by default."""
    used = [v for v in variables if re.search(rf"\b{re.escape(v)}\b", text)]
    if all(v in KNOWN_VARIABLES for v in used):
        return PREFIX + canonical(text)
    return PREFIX + canonical(text) + "; " + json.dumps({"variables": used}, sort_keys=True)


def candidates(
    parts: Sequence[Part],
    variables: Sequence[str],
    *,
    max_terms: int,
    seeds: Sequence[str] | None = None,
) -> list[Candidate]:
    """Catalogue seeds first (``seeds``: only those of these names), then the grammar's
    forms, simplest first, without repeats."""
    frame = pd.concat([p.search for p in parts], ignore_index=True)
    laws = catalogue_laws(frame, variables)
    if seeds is not None:
        unknown = sorted(set(seeds) - {law.name for law in laws})
        if unknown:
            raise FitError(
                f"seed laws {unknown} are not catalogue laws of {', '.join(variables)}; those "
                f"are {', '.join(law.name for law in laws) or 'none'}."
            )
        laws = [law for law in laws if law.name in seeds]
    out = [Candidate(law.name, len(law.params), catalogue=law.name) for law in laws]
    X = {v: frame[v].to_numpy(dtype=float) for v in variables}
    for atoms, offset in grammar(variables, X, max_terms=max_terms):
        k = sum(a.n_params for a in atoms) + int(offset)
        out.append(Candidate(law_name(formula_text(atoms, offset), variables), k, atoms, offset))
    seen: set[str] = set()
    return [c for c in out if not (c.law_name in seen or seen.add(c.law_name))]  # type: ignore[func-returns-value]


def check_variables(runs: pd.DataFrame, variables: Sequence[str]) -> None:
    """Each variable a positive, finite column usable as a name in a formula; the target y
    positive and finite (the search fits in log space)."""
    if not variables:
        raise DataError("--vars: name at least one variable, e.g. --vars N,D.")
    cols = ", ".join(map(str, runs.columns))
    for v in variables:
        if v not in runs.columns:
            raise DataError(f"--vars {v!r}: no such column; columns: {cols}.")
        if not v.isidentifier() or v in FUNCTIONS or v == "E" or v.startswith("_"):
            raise DataError(
                f"--vars {v!r}: not usable as a name in a formula; rename the column with "
                f"--map NAME={v} (a plain name such as N, D or x)."
            )
        if re.fullmatch(rf"[{''.join(PARAM_LETTERS)}]\d+", v):
            raise DataError(
                f"--vars {v!r}: clashes with the grammar's parameter names (E, A1, a1, ...); "
                f"rename the column with --map NAME={v}."
            )
        col = pd.to_numeric(runs[v], errors="coerce").to_numpy(dtype=float)
        if np.isnan(col).all():
            raise DataError(
                f"--vars {v!r}: the runs have no values of {v}; columns: {cols}. Map one "
                f"with --map {v}=COLUMN or choose other variables."
            )
        bad = np.flatnonzero(~np.isfinite(col) | (col <= 0))
        if bad.size:
            rows = ", ".join(str(i + 1) for i in bad[:10])
            raise DataError(
                f"--vars {v!r}: must be positive and finite; bad at rows {rows}"
                f"{' and more' if bad.size > 10 else ''}. Exclude them with --where."
            )
    y = pd.to_numeric(runs["y"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(y) | (y <= 0))
    if bad.size:
        raise DataError(
            f"discover fits in log space: the target must be positive and finite; bad at rows "
            f"{', '.join(str(i + 1) for i in bad[:10])}. Exclude them with --where."
        )


def origin_axes(variables: Sequence[str], holdout: str | None) -> list[str]:
    """The columns the rolling origins extrapolate along: compute (C, 6ND where absent) and
    model size N for laws of N and D, else the first variable; a ``top ... by COL`` holdout's
    column first (the user's own direction of extrapolation)."""
    axes = ["C", "N"] if {"N", "D"} <= set(variables) else [variables[0]]
    spec = Holdout.parse(holdout) if holdout else None
    if spec is not None and spec.column is not None:
        axes = [spec.column] + [a for a in axes if a != spec.column]
    return axes


def make_parts(
    runs: pd.DataFrame, variables: Sequence[str], holdout: str | None, group_by: str | None
) -> tuple[Part, ...]:
    """Each group's search data (without its holdout) and rolling origins along
    :func:`origin_axes`."""
    axes = origin_axes(variables, holdout)
    spec = Holdout.parse(holdout) if holdout else None
    groups = group_runs(runs, group_by) if group_by else [(None, runs)]
    parts = []
    for key, frame in groups:
        frame = frame.reset_index(drop=True)
        held = spec.mask(frame) if spec else np.zeros(len(frame), dtype=bool)
        search = frame.loc[~held].reset_index(drop=True)
        masks = origin_masks([axis_values(search, a) for a in axes]) if len(search) >= 3 else ()
        parts.append(Part(key, search, frame.loc[held].reset_index(drop=True), masks))
    if not any(m is not None for p in parts for m in p.origins):
        raise DataError(
            f"discover: too few runs to backtest inside the data ({sum(len(p.search) for p in parts)}"
            " runs after the holdout); it needs at least 3 per group, better 10 or more."
        )
    return tuple(parts)


def _search(
    cands: list[Candidate],
    parts: tuple[Part, ...],
    settings: Settings,
    workers: int,
    deadline: float,
    progress: Progress | None,
) -> list[tuple[FloatArray, int]]:
    """Nested errors (and fits made) of a prefix of ``cands``: the catalogue seeds first (all of them), whose
    best first-origin errors become the reference for abandoning hopeless grammar candidates
    (:data:`scalinglab.discover.score.ABANDON`), then the grammar's, submitted in order until
    the deadline; every submitted candidate is finished."""
    n_seeds = sum(1 for c in cands if c.catalogue)
    count = [0]

    def tick() -> None:
        count[0] += 1
        if progress is not None:
            progress(count[0], len(cands))

    pool = (
        cf.ProcessPoolExecutor(max_workers=workers, mp_context=pool_context())
        if workers > 1
        else None
    )
    try:
        seeds = _phase(pool, cands[:n_seeds], parts, settings, workers, math.inf, tick)
        rest_settings = replace(settings, reference=reference_errors([e for e, _ in seeds]))
        rest = _phase(pool, cands[n_seeds:], parts, rest_settings, workers, deadline, tick)
    finally:
        if pool is not None:
            pool.shutdown()
    return seeds + rest


def _phase(
    pool: cf.ProcessPoolExecutor | None,
    cands: list[Candidate],
    parts: tuple[Part, ...],
    settings: Settings,
    workers: int,
    deadline: float,
    tick: Callable[[], None],
) -> list[tuple[FloatArray, int]]:
    """Nested errors of a prefix of ``cands`` (in order; none new after ``deadline`` but the
    first)."""
    results: dict[int, tuple[FloatArray, int]] = {}
    if pool is None:
        for i, c in enumerate(cands):
            if i and time.monotonic() > deadline:
                break
            results[i] = score_job((c, parts, settings))
            tick()
        return [results[i] for i in range(len(results))]
    pending: dict[cf.Future[tuple[FloatArray, int]], int] = {}
    nxt = 0
    while True:
        while len(pending) < 2 * workers and nxt < len(cands):
            if nxt and time.monotonic() > deadline:
                break
            pending[pool.submit(score_job, (cands[nxt], parts, settings))] = nxt
            nxt += 1
        if not pending:
            break
        finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for f in finished:
            results[pending.pop(f)] = f.result()
            tick()
    return [results[i] for i in range(len(results))]


def _front(order: list[int], k: FloatArray, nested: FloatArray) -> list[int]:
    """``order`` without the candidates another beats or equals on both parameters and nested
    error (strictly on one): they cannot win for any penalty >= 0."""
    keep = []
    for i in order:
        if not any(
            k[j] <= k[i] and nested[j] <= nested[i] and (k[j] < k[i] or nested[j] < nested[i])
            for j in order
            if j != i
        ):
            keep.append(i)
    return keep


def _row(c: Candidate, sc: dict[str, Any], i: int, full: FullFit | None) -> LeaderRow:
    def mean(v: tuple[float, ...]) -> float:
        finite = [x for x in v if math.isfinite(x)]
        return float(np.mean(finite)) if finite else math.nan

    return LeaderRow(
        law=c.law_name,
        formula=c.formula(),
        source=c.source,
        n_params=c.n_params,
        nested=float(sc["nested"][i]),
        score=float(sc["score"][i]),
        in_fit=mean(full.in_fit) if full else math.nan,
        heldout=mean(full.heldout) if full else math.nan,
        params=dict(full.params[0]) if full and len(full.params) == 1 else {},
    )


def _choose(
    order: list[int], done: list[Candidate], nested: FloatArray, logs: FloatArray
) -> tuple[int, int | None, str]:
    """The law the search returns, the reference catalogue law and why. The reference is the catalogue law with the lowest
    nested error (the published laws are compared on evidence alone, as ``--law auto``
    compares them; the complexity penalty is there to rank hundreds of generated forms). The
    best-scoring grammar form replaces it only when its nested errors are significantly lower
    (:func:`scalinglab.discover.score.margin`: a one-sided 5% test, over groups where there
    are several). Picking the lowest of hundreds of noisy scores favours forms that were lucky
    on these origins (the winner's curse), and the catalogue's laws keep their place unless the
    data show otherwise. Measured: on revisiting_lang, ``A1/x^a1 + A2/(1 + (x/s2)^a2)`` scored
    best, 0.14 +/- 0.11 log units below M4 over the 20 curves, and extrapolated to the
    held-out runs 1.16x worse than M4."""
    cat = [i for i in order if done[i].catalogue]
    grammar = [i for i in order if not done[i].catalogue]
    if not cat:
        return order[0], None, ""
    ref = min(cat, key=lambda i: (nested[i], order.index(i)))
    if not grammar:
        return ref, ref, ""
    top = grammar[0]
    m = margin(logs[top], logs[ref])
    name, base = done[top].formula(), done[ref].formula()
    if m.significant:
        return top, ref, f"{name} beats the best catalogue law {base} by {m.text()}: significant"
    return (
        ref,
        ref,
        (
            f"{name} scored best of the grammar; its nested errors are lower than the catalogue "
            f"law {base}'s by {m.text()}, not significantly (5%, one-sided): {base} is kept"
        ),
    )


def _check_options(budget_s: float, workers: int, max_terms: int, penalty: float) -> None:
    if not (budget_s > 0 and math.isfinite(budget_s)):
        raise FitError(f"--budget {budget_s}: give a positive time, e.g. 10m or 90s.")
    if workers < 1:
        raise FitError(f"workers {workers}: give a number of processes >= 1.")
    if max_terms not in (1, 2, 3):
        raise FitError(f"max_terms {max_terms}: the grammar allows 1, 2 or 3 terms.")
    if not (penalty >= 0 and math.isfinite(penalty)):
        raise FitError(f"penalty {penalty}: give a number >= 0 (0 = no complexity penalty).")


def discover(
    runs: pd.DataFrame,
    variables: Sequence[str],
    *,
    holdout: str | None = None,
    group_by: str | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    seed: int = 0,
    workers: int = 1,
    max_candidates: int | None = None,
    max_terms: int = 3,
    penalty: float = PENALTY,
    cap: int = 48,
    seeds: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> DiscoverResult:
    """Search laws of ``variables`` for ``runs``' target y (see the module docstring).

    ``budget_s``: seconds for the whole search; ``workers``: processes; ``max_candidates``:
    score at most this many (catalogue seeds first); ``cap``: starts per grammar fit;
    ``seeds``: the catalogue laws to seed with (default: all that apply);
    ``progress(done, total)`` is called after each candidate."""
    t0 = time.monotonic()
    _check_options(budget_s, workers, max_terms, penalty)
    check_variables(runs, variables)
    parts = make_parts(runs, variables, holdout, group_by)
    cands = candidates(parts, variables, max_terms=max_terms, seeds=seeds)
    total = len(cands)
    if max_candidates is not None:
        cands = cands[: max(1, max_candidates)]
    settings = Settings(cap=cap, seed=seed)
    scored = _search(cands, parts, settings, workers, t0 + SEARCH_SHARE * budget_s, progress)
    search_s = time.monotonic() - t0
    errs = [e for e, _ in scored]
    done = cands[: len(errs)]
    k = np.array([c.n_params for c in done], dtype=float)
    sc = aggregate(np.array(errs), k.astype(int), penalty)
    ok = [i for i in range(len(done)) if math.isfinite(sc["score"][i])]
    if not ok:
        raise FitError(
            "discover: no candidate law could be backtested inside the data; add runs or "
            "check the target and variables."
        )
    order = sorted(ok, key=lambda i: (sc["score"][i], i))
    front = _front(order, k, sc["nested"])[:LEADERS]
    chosen, ref, choice = _choose(order, done, sc["nested"], sc["logs"])
    extra = [ref] if ref is not None and ref not in front else []
    leaders = [chosen] + [i for i in front + extra if i != chosen]
    fulls = run_jobs(full_job, [(done[i], parts, settings) for i in leaders], workers)
    rows = [_row(done[i], sc, i, f) for i, f in zip(leaders, fulls, strict=True)]
    return DiscoverResult(
        variables=tuple(variables),
        holdout=holdout,
        groups=tuple("" if p.key is None else str(p.key) for p in parts),
        leaderboard=tuple(rows),
        best=rows[0].law,
        best_catalogue=done[ref].law_name if ref is not None else None,
        n_candidates=total,
        n_scored=len(done),
        complete=len(done) == total,
        n_fits=sum(n for _, n in scored),
        search_s=search_s,
        seconds=time.monotonic() - t0,
        seed=seed,
        budget_s=budget_s,
        penalty=penalty,
        workers=workers,
        choice=choice,
    )
