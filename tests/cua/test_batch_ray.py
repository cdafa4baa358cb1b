"""The Ray backend on a local Ray with 2 CPUs gives the same per-episode results as one local
worker process."""

from __future__ import annotations

import pytest

from cua.batch import run_batch
from cua.stack import Stack
from cua.batch.jobs import read_events

ray = pytest.importorskip("ray")  # the `ray` extra; installed by `make install`, so CI runs this

SUITE = "miniwob/click-test,click-button-sequence"
STACK = Stack(max_steps=1)  # click-button-sequence fails in one step: both outcomes appear


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


def test_a_killed_actor_is_gone_before_its_episode_can_be_retried(tmp_path, no_ray_left):
    """``ray.kill`` only asks; a dying actor could still write into the episode folder the retry
    reuses. The backend reports the death (and so allows the retry) only once the process is gone."""
    import time

    from cua.batch.backend import Died, Started
    from cua.batch.jobs import plan_jobs
    from cua.batch.ray_backend import RayBackend, _process_gone
    from cua.batch.worker import WorkerConfig
    from cua.suites import resolve

    suite, _ = resolve("miniwob/click-test")
    job = plan_jobs(suite, ["click-test"], [0], tmp_path)[0]
    backend = RayBackend(WorkerConfig("miniwob/click-test", STACK, str(tmp_path)), 1, "local")
    try:
        old_pid = backend.pids()[0]
        backend.assign(0, job, 1)
        deadline = time.monotonic() + 120
        while not any(isinstance(e, Started) for e in backend.poll(0.5)):
            assert time.monotonic() < deadline, "the actor never started the episode"
        backend.kill(0, "episode timeout: ran past 1 s")
        assert _process_gone(old_pid)  # not just asked to stop: stopped
        died = [e for e in backend.poll(0) if isinstance(e, Died)]
        assert [(e.job, e.reason) for e in died] == [(job, "episode timeout: ran past 1 s")]
        assert backend.idle_slots() == [0] and backend.pids()[0] != old_pid
    finally:
        backend.close()
