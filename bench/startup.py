"""Start-up cost of the CLI: ``scalinglab --help`` and ``scalinglab laws list`` against
``python -c pass``, each run 10 times in alternation (the machine's load hits all alike).

Prints the median wall time and the median process time (user + system CPU of the child) of
each; the last line is ``startup_ratio: X``, the median wall time of ``scalinglab --help`` over
that of ``python -c pass`` (the issue's definition).

    python bench/startup.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

RUNS = 10
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "scalinglab --help": [sys.executable, "-m", "scalinglab", "--help"],
    "scalinglab laws list": [sys.executable, "-m", "scalinglab", "laws", "list"],
}


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    env_note = os.environ.get("OPENBLAS_CORETYPE", "-")
    walls: dict[str, list[float]] = {k: [] for k in COMMANDS}
    cpus: dict[str, list[float]] = {k: [] for k in COMMANDS}
    for cmd in COMMANDS.values():
        timed(cmd)  # warm the file cache once
    for _ in range(RUNS):
        for name, cmd in COMMANDS.items():
            w, c = timed(cmd)
            walls[name].append(w)
            cpus[name].append(c)
    print(f"{RUNS} runs each, alternating; OPENBLAS_CORETYPE={env_note}")
    for name in COMMANDS:
        print(
            f"{name:>22}: wall {statistics.median(walls[name]) * 1e3:7.1f} ms, "
            f"process {statistics.median(cpus[name]) * 1e3:7.1f} ms"
        )
    ratio = statistics.median(walls["scalinglab --help"]) / statistics.median(
        walls["python -c pass"]
    )
    print(f"startup_ratio: {ratio:.1f}")


if __name__ == "__main__":
    main()
