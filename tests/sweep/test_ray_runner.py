"""The Ray runner against a local Ray instance the test starts: runs train as Ray tasks, come
back to the driver, which alone stores them; a second run skips them all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sweep_helpers import variant

from scalinglab.data.store import Store
from scalinglab.sweep import SweepSpec, plan_sweep
from scalinglab.sweep.ray_runner import RayRunner
from scalinglab.sweep.runner import run_sweep
from scalinglab.sweep.spec import SweepError
from scalinglab.sweep.workdir import WorkDir

ray = pytest.importorskip(
    "ray", reason="ray is not installed (pip install 'scalinglab[distributed]')"
)


def test_unreachable_cluster_is_a_clear_error() -> None:
    # runs before the module's local instance starts: "auto" then finds no cluster
    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    with pytest.raises(
        SweepError, match=r"--ray-address auto: cannot connect to Ray .*ray start --head"
    ):
        list(RayRunner(address="auto").run([]))


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_runner_trains_stores_and_resumes(tmp_path: Path, local_ray: Any) -> None:
    spec = SweepSpec.from_dict(variant(design={"sizes": [3000.0, 6000.0], "tokens_per_param": 1.0}))
    keys = sorted(r.key for r in plan_sweep(spec))
    store = tmp_path / "runs.duckdb"
    kw: dict[str, Any] = {"store": store, "workdir": tmp_path / "work", "quiet": True}
    out = run_sweep(spec, ray_address="auto", **kw)
    assert out.ok and sorted(out.trained) == keys
    with Store.open(store) as st:
        sources = sorted(st.list_imports()["source"])
        assert sources == [f"sweep:tiny:{k}" for k in keys]
        assert all(st.runs(i)["val_loss"].notna().any() for i in st.list_imports()["import_id"])
    assert WorkDir(tmp_path / "work" / "tiny").completions() == {k: 1 for k in keys}
    again = run_sweep(spec, ray_address="auto", **kw)
    assert sorted(again.skipped) == keys and again.trained == ()
