"""Recovery benchmark for ``scalinglab discover`` (issue 14): noisy data planted from six laws
(power law with offset, Chinchilla, Kaplan, BNSL with one break, exponential saturation and
E + A/(N D)^a), three seeds each, 0.5% multiplicative noise; a case is recovered when the
best discovered law predicts the noise-free planted law within 1% over the data range (the
planted cases and the check are tests/discover/discover_planted.py). The suite's own fast
recovery test is tests/discover/test_search.py (exponential saturation); this full run takes
about 7 minutes on 2 cores with --workers 2 (18 searches), so it is a benchmark, not a test.

Run: ``.venv/bin/python bench/discover_recovery.py [--budget 600]``. Last line:
``discover_recovery: X``, the fraction of cases recovered (the issue asks for at least 0.8).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "discover"))

from discover_planted import PLANTED, equivalent, runs_of

from scalinglab.discover import discover

SEEDS = (0, 1, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=600.0, help="seconds per search")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    ok_count = total = 0
    for p in PLANTED:
        for seed in SEEDS:
            t0 = time.perf_counter()
            r = discover(
                runs_of(p, seed),
                list(p.variables),
                seed=seed,
                budget_s=args.budget,
                workers=args.workers,
            )
            ok, dev = equivalent(p, r)
            ok_count += ok
            total += 1
            print(
                f"{p.name} seed {seed} {'OK ' if ok else 'MISS'} dev {dev:.4f} "
                f"{r.leaderboard[0].formula} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    assert len({p.name for p in PLANTED}) >= 6
    print(f"recovered {ok_count} of {total}")
    print(f"discover_recovery: {ok_count / total:.3f}")


if __name__ == "__main__":
    main()
