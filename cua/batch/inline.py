"""In-process backend: one slot, the episode runs in this process when it is polled.

``cua run`` is this: the batch runner with one worker that is the caller itself (no process
start-up, the caller's own objects allowed: a Suite or an Agent built in code). There is no
episode timeout here (a process cannot kill itself and go on); the stage timeouts still hold.
"""

from __future__ import annotations

from cua.batch.backend import Died, Event, Fatal, Finished, Started
from cua.batch.jobs import Job
from cua.batch.worker import EpisodeRunner
from cua.core import SetupError


class InlineBackend:
    name = "inline"
    workers = 1

    def __init__(self, runner: EpisodeRunner) -> None:
        self.runner = runner
        self._job: tuple[Job, int] | None = None

    def idle_slots(self) -> list[int]:
        return [] if self._job else [0]

    def assign(self, slot: int, job: Job, attempt: int) -> None:
        self._job = (job, attempt)

    def poll(self, timeout: float) -> list[Event]:
        if self._job is None:
            return []
        (job, attempt), self._job = self._job, None
        try:
            result = self.runner.run(job.task, job.seed, attempt)
        except SetupError as e:
            return [Started(0), Fatal(0, str(e))]
        except Exception as e:  # noqa: BLE001 — the episode's own errors are in its result; this is the runner's
            self.runner.close_env()
            return [Started(0), Died(0, job, f"{type(e).__name__}: {e}")]
        return [Started(0), Finished(0, job, result.model_dump_json())]

    def kill(self, slot: int, reason: str) -> None:  # no episode timeout in-process
        pass

    def pids(self) -> dict[int, int]:
        import os

        return {0: os.getpid()}

    def close(self) -> None:
        self.runner.close()
