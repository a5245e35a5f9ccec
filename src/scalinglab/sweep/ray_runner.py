"""The Ray runner: each run is a Ray task; results come back to the driver.

``address``: ``"local"`` starts a private Ray instance on this machine (shut down afterwards),
``"auto"`` joins the cluster this machine belongs to, ``"HOST:PORT"`` joins that head node. If
Ray is already initialised in this process (a notebook, a test), that instance is used as is.
Ray retries a task whose worker died (``max_retries``); the task resumes from its checkpoint
when the work directory is on a filesystem the nodes share, and restarts otherwise. The TrainResult
travels back to the driver, which writes it into the work directory and alone writes the store.

``ray`` is imported only here, and only when a Ray sweep starts (optional extra
``scalinglab[distributed]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalinglab.sweep.spec import SweepError
from scalinglab.sweep.workdir import WorkDir, atomic_write_json
from scalinglab.sweep.worker import train_task

_POLL_S = 0.25


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise SweepError(
            "--ray-address needs Ray: pip install 'scalinglab[distributed]' (ray>=2.9)."
        ) from exc
    return ray


@dataclass
class RayRunner:
    """Runs tasks as Ray tasks of ``num_cpus`` CPUs each (``num_gpus`` GPUs when > 0)."""

    address: str = "local"
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    max_retries: int = 3

    def run(
        self, tasks: list[dict[str, Any]], tick: Callable[[], None] = lambda: None
    ) -> Iterator[tuple[str, str | None]]:
        """Yield (key, error) as tasks finish (error ``None`` when the result is on disk)."""
        ray = _import_ray()
        started = False
        if not ray.is_initialized():
            try:
                if self.address == "local":
                    ray.init(include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=self.address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise SweepError(
                    f"--ray-address {self.address}: cannot connect to Ray ({exc}). Start a "
                    "cluster (ray start --head) or use --ray-address local."
                ) from exc
            started = True
        remote = ray.remote(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=self.max_retries
        )(train_task)
        try:
            refs = {remote.remote(t): t for t in tasks}
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1, timeout=_POLL_S)
                for ref in done:
                    task = refs.pop(ref)
                    yield self._collect(ray, ref, task)
                tick()
        finally:
            if started:
                ray.shutdown()

    @staticmethod
    def _collect(ray: Any, ref: Any, task: dict[str, Any]) -> tuple[str, str | None]:
        key = str(task["key"])
        try:
            result = ray.get(ref)
        except ray.exceptions.RayError as exc:
            return key, f"{type(exc).__name__}: {exc}"
        path = WorkDir(Path(task["root"])).result(key)
        if not path.exists():  # the task ran on another node: keep its result here
            atomic_write_json(path, result)
        return key, None
