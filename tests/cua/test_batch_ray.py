"""The Ray backend on a local Ray with 2 CPUs gives the same per-episode results as one local
worker process."""

from __future__ import annotations

import pytest

from cua.batch import StackSpec, run_batch
from cua.batch.jobs import read_events

ray = pytest.importorskip("ray")  # the `ray` extra; installed by `make install`, so CI runs this

SUITE = "miniwob/click-test,click-button-sequence"
STACK = StackSpec(max_steps=1)  # click-button-sequence fails in one step: both outcomes appear


@pytest.fixture
def no_ray_left():
    yield
    if ray.is_initialized():
        ray.shutdown()


def outcomes(report) -> dict[tuple[str, int], tuple[str, float, int]]:
    return {(j.task, j.seed): (r.status, r.reward, r.steps) for j, r in report.results.items()}


def test_ray_local_gives_the_same_results_as_one_local_worker(tmp_path, no_ray_left):
    local = run_batch(SUITE, STACK, tmp_path / "local", seeds=[0, 1], workers=1, show_progress=False)
    on_ray = run_batch(SUITE, STACK, tmp_path / "ray", seeds=[0, 1], workers=2, ray_address="local",
                       episode_timeout_s=120, show_progress=False)
    assert outcomes(on_ray) == outcomes(local)
    assert {s for s, _, _ in outcomes(local).values()} == {"success", "failure"}
    assert on_ray.backend == "ray local" and not ray.is_initialized()  # the run shut its Ray down
    starts = [e for e in read_events(tmp_path / "ray") if e["event"] == "start"]
    assert len(starts) == 4 and {e["slot"] for e in starts} == {0, 1}
