"""One worker's side of a batch run: a suite, an agent and one env reused across episodes.

The same ``EpisodeRunner`` serves a local worker process and a Ray actor. The env is built on
the first episode and rebuilt after an episode that ended in an error (a crashed browser must
not poison the next one). An episode that errors gets ``error_kind`` (infra or agent) in its
result.json, so the scheduler knows whether a retry can help.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cua.batch.errors import classify_error
from cua.core import EpisodeResult
from cua.core.store import EpisodeWriter, episode_dirname, write_json
from cua.stack import Stack, import_plugins
from envs.base import Env

if TYPE_CHECKING:
    from cua.agent import Agent
    from cua.suites import Suite

log = logging.getLogger(__name__)

WORKERS_DIR = "workers"  # <run>/workers/<slot>.json: pid and the episode each worker holds


@dataclass(frozen=True)
class WorkerConfig:
    suite: str  # a suite spec that ``cua.suites.resolve`` understands, rebuilt in the worker
    stack: Stack
    run_dir: str
    # Modules imported first in every worker: they may register suites and components.
    plugins: tuple[str, ...] = ()


class ClassifyingWriter(EpisodeWriter):
    """Stamps ``error_kind`` on an errored result before result.json is written."""

    def finish(self, result: EpisodeResult) -> None:
        if result.status == "error" and result.error_kind is None:
            result.error_kind = classify_error(result.error)  # type: ignore[assignment]
        super().finish(result)


class EpisodeRunner:
    """``suite`` / ``agent`` given: used as they are (the in-process runner, for objects a
    worker could not rebuild from the config); otherwise built from the config."""

    def __init__(self, config: WorkerConfig, slot: int | str = 0, suite: Suite | None = None,
                 agent: Agent | None = None) -> None:
        from cua.suites import resolve

        import_plugins(config.plugins)
        self.config = config
        self.slot = slot
        self.suite = suite or resolve(config.suite)[0]
        self.agent = agent or config.stack.build()
        self.env: Env | None = None
        self.run_dir = Path(config.run_dir)
        self.state_file = self.run_dir / WORKERS_DIR / f"{slot}.json"
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self._write_state(None)

    def _write_state(self, job: dict[str, object] | None) -> None:
        write_json(self.state_file, {"pid": os.getpid(), "slot": self.slot, "job": job, "at": time.time()})

    def run(self, task_name: str, seed: int, attempt: int = 1) -> EpisodeResult:
        """Runs one episode into its folder. Raises SetupError (nothing can run here)."""
        task = self.suite.make_task(task_name, seed)
        folder = self.run_dir / "episodes" / episode_dirname(task.id, seed)
        self._write_state({"task": task_name, "seed": seed, "attempt": attempt, "folder": str(folder)})
        if self.env is None:
            self.env = self.suite.make_env()
        result = self.agent.run_episode(self.env, task, ClassifyingWriter(folder))
        if result.status == "error":
            log.warning("%s seed %s: %s", task.id, seed, result.error)
            self.close_env()
        self._write_state(None)
        return result

    def close_env(self) -> None:
        if self.env is None:
            return
        try:
            self.env.close()
        except Exception as e:  # noqa: BLE001 — a crashed env may fail to close; a new one follows
            log.warning("closing a failed env: %s", e)
        self.env = None

    def close(self) -> None:
        self.close_env()


def result_json(result: EpisodeResult) -> str:
    return result.model_dump_json()


def read_state(run_dir: Path) -> dict[str, dict[str, object]]:
    """slot → the state file each worker wrote (tests and watchers read pids from here)."""
    out: dict[str, dict[str, object]] = {}
    for path in sorted((Path(run_dir) / WORKERS_DIR).glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # being replaced right now
    return out
