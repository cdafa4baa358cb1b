"""The run folder is the source of truth for what is done.

    <run>/run.json          what was asked: suite, tasks, seeds, stack, workers, backend
    <run>/episodes/<ep>/    one folder per (task, seed); result.json present = finished
    <run>/retried/<ep>.N/   earlier attempts of an episode (infra error, dead worker, timeout,
                            or in flight when the run was killed), kept for inspection
    <run>/events.jsonl      start / retry / worker-died / done, one JSON line each, fsynced
    <run>/results.jsonl     one line per finished episode, appended as they finish

Resuming: an episode folder with result.json is kept; one without (in flight when the run was
killed) is moved to ``retried/`` and the episode runs again from scratch. Every (task, seed)
has one folder, so there is never a second result for it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from cua.core import EpisodeResult
from cua.core.store import RESULT_FILE, episode_dirname, load_episode
from cua.suites import Suite

EVENTS_FILE = "events.jsonl"
RESULTS_JSONL = "results.jsonl"
RETRIED_DIR = "retried"


@dataclass(frozen=True)
class Job:
    task: str  # the suite's task name (what ``suite.make_task`` takes)
    seed: int
    task_id: str  # the Task's id, which names the episode folder
    folder: Path


def plan_jobs(suite: Suite, task_names: list[str], seeds: list[int], run_dir: Path) -> list[Job]:
    jobs: list[Job] = []
    seen: set[tuple[str, int]] = set()
    for name in task_names:
        for seed in seeds:
            if (name, seed) in seen:  # a task listed twice still runs once per seed
                continue
            seen.add((name, seed))
            task = suite.make_task(name, seed)
            jobs.append(Job(name, seed, task.id, Path(run_dir) / "episodes" / episode_dirname(task.id, seed)))
    return jobs


def finished_result(job: Job) -> EpisodeResult | None:
    if not (job.folder / RESULT_FILE).exists():
        return None
    return load_episode(job.folder).result


def move_aside(job: Job, run_dir: Path) -> Path | None:
    """Moves an unfinished attempt's folder to ``retried/<ep>.N`` so the next starts clean."""
    if not job.folder.exists():
        return None
    aside = Path(run_dir) / RETRIED_DIR
    aside.mkdir(parents=True, exist_ok=True)
    n = 1
    while (aside / f"{job.folder.name}.{n}").exists():
        n += 1
    target = aside / f"{job.folder.name}.{n}"
    shutil.move(str(job.folder), target)
    return target


def split_finished(jobs: list[Job], run_dir: Path) -> tuple[dict[Job, EpisodeResult], list[Job]]:
    """(finished results, jobs still to run); unfinished folders are moved aside."""
    done: dict[Job, EpisodeResult] = {}
    todo: list[Job] = []
    for job in jobs:
        result = finished_result(job)
        if result is not None:
            done[job] = result
            continue
        move_aside(job, run_dir)  # a corrupt result.json or a partial folder: run it again
        todo.append(job)
    return done, todo


class EventLog:
    """Append-only JSON lines, flushed and fsynced: a SIGKILL loses at most the line in flight."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: object) -> None:
        line = json.dumps({"event": event, "at": round(time.time(), 3), **fields}, default=str)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def read_events(run_dir: Path) -> list[dict[str, object]]:
    path = Path(run_dir) / EVENTS_FILE
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # the line a kill cut short
            continue
    return events


def attempts_by_episode(run_dir: Path) -> dict[tuple[str, int], int]:
    """(task, seed) → how many times an episode was started, over every resume of the run."""
    counts: dict[tuple[str, int], int] = {}
    for e in read_events(run_dir):
        if e.get("event") == "start":
            key = (str(e["task"]), int(e["seed"]))  # type: ignore[call-overload]
            counts[key] = counts.get(key, 0) + 1
    return counts
