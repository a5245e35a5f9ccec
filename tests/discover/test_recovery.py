"""Recovery: on noisy data planted from six catalogue laws (three seeds each), ``discover``
returns a law equivalent to the planted one (equal predictions over the data range within
1%, see discover_planted.py) in at least 80% of the cases. Slow: about 18 searches of 30 to
200 candidates each (the fast variant is in test_search.py)."""

from __future__ import annotations

import pytest
from discover_planted import PLANTED, equivalent, runs_of

from scalinglab.discover import discover

SEEDS = (0, 1, 2)


@pytest.mark.slow
def test_recovers_planted_laws_in_80_percent_of_cases() -> None:
    outcomes = []
    for p in PLANTED:
        for seed in SEEDS:
            r = discover(runs_of(p, seed), list(p.variables), seed=seed, budget_s=3600)
            ok, dev = equivalent(p, r)
            outcomes.append((p.name, seed, ok, dev, r.leaderboard[0].formula))
    rate = sum(o[2] for o in outcomes) / len(outcomes)
    assert len({o[0] for o in outcomes}) >= 6
    assert rate >= 0.8, "\n".join(map(str, outcomes))
