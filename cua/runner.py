"""Run a suite's tasks × seeds with one agent, one env reused across episodes.

Each episode gets a folder under ``<run>/episodes/``; a finished episode (result.json present)
is skipped when the run is started again, so a killed run resumes where it stopped. An
episode that errors (browser crash, timeout) is recorded as ``error`` with its earlier steps
and its ``error_kind`` (infra or agent), and the env is rebuilt before the next one.

This is the in-process, one-env path (``cua run``, the app, the critic bench). ``cua eval``
(``cua.batch``) runs the same episodes over N worker processes or Ray, with retries,
per-episode timeouts and the report with confidence intervals.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cua.agent import Agent
from cua.batch.worker import ClassifyingWriter
from cua.core import EpisodeResult
from cua.core.store import RESULT_FILE, episode_dirname, load_episode, write_json
from cua.suites import Suite
from envs.base import Env

log = logging.getLogger(__name__)


@dataclass
class TaskStats:
    task: str
    episodes: int = 0
    successes: int = 0
    errors: int = 0
    reward_sum: float = 0.0
    steps_sum: int = 0

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    def add(self, r: EpisodeResult) -> None:
        self.episodes += 1
        self.successes += r.status == "success"
        self.errors += r.status == "error"
        self.reward_sum += r.reward
        self.steps_sum += r.steps

    def as_dict(self) -> dict[str, float | int | str]:
        n = max(self.episodes, 1)
        return {"task": self.task, "episodes": self.episodes, "successes": self.successes,
                "errors": self.errors, "success_rate": round(self.success_rate, 4),
                "mean_reward": round(self.reward_sum / n, 4), "mean_steps": round(self.steps_sum / n, 2)}


@dataclass
class RunSummary:
    run_dir: Path
    suite: str
    stack: dict[str, str]
    results: list[EpisodeResult] = field(default_factory=list)

    def per_task(self) -> list[TaskStats]:
        stats: dict[str, TaskStats] = {}
        for r in self.results:
            stats.setdefault(r.task_id, TaskStats(r.task_id)).add(r)
        return list(stats.values())

    def overall(self) -> TaskStats:
        total = TaskStats("overall")
        for r in self.results:
            total.add(r)
        return total

    def as_dict(self) -> dict:
        return {"suite": self.suite, "stack": self.stack, "run_dir": str(self.run_dir),
                "overall": self.overall().as_dict(),
                "tasks": [t.as_dict() for t in self.per_task()],
                "episodes": [r.model_dump(exclude={"trace"}) for r in self.results]}

    def table(self) -> Table:
        t = Table(title=f"{self.suite} — planner={self.stack.get('planner')} "
                        f"grounder={self.stack.get('grounder')} critic={self.stack.get('critic')}")
        for col in ("task", "episodes", "success", "rate", "mean reward", "mean steps", "errors"):
            t.add_column(col, justify="left" if col == "task" else "right", no_wrap=col == "task")
        def row(s: TaskStats) -> None:
            d = s.as_dict()
            t.add_row(s.task.split("/", 1)[-1], str(s.episodes), str(s.successes), f"{s.success_rate:.0%}",
                      f"{d['mean_reward']:.2f}", f"{d['mean_steps']:.1f}", str(s.errors))

        for s in self.per_task():
            row(s)
        t.add_section()
        row(self.overall())
        return t

    def markdown(self) -> str:
        lines = [f"# {self.suite}", "", f"Stack: {json.dumps(self.stack)}", "",
                 "| task | episodes | success | rate | mean reward | mean steps | errors |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        for s in [*self.per_task(), self.overall()]:
            d = s.as_dict()
            lines.append(f"| {s.task} | {s.episodes} | {s.successes} | {s.success_rate:.0%} | "
                         f"{d['mean_reward']:.2f} | {d['mean_steps']:.1f} | {s.errors} |")
        return "\n".join(lines) + "\n"


def _close_quietly(env: Env | None) -> None:
    if env is None:
        return
    try:
        env.close()
    except Exception as e:  # noqa: BLE001 — a crashed env may fail to close; we rebuild anyway
        log.warning("closing a failed env: %s", e)


def run_suite(
    suite: Suite, task_names: list[str], seeds: list[int], agent: Agent, run_dir: Path,
    console: Console | None = None, show_progress: bool = True,
) -> RunSummary:
    console = console or Console()
    run_dir = Path(run_dir)
    (run_dir / "episodes").mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "run.json", {
        "suite": suite.name, "tasks": task_names, "seeds": seeds, "stack": agent.stack,
        "python": platform.python_version(), "started_at": time.time()})
    summary = RunSummary(run_dir=run_dir, suite=suite.name, stack=agent.stack)
    jobs = [(name, seed) for name in task_names for seed in seeds]
    env: Env | None = None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("ok {task.fields[ok]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not show_progress, transient=False) as bar:
        progress = bar.add_task(suite.name, total=len(jobs), ok=0)
        try:
            for name, seed in jobs:
                task = suite.make_task(name, seed)
                folder = run_dir / "episodes" / episode_dirname(task.id, seed)
                if (folder / RESULT_FILE).exists():
                    done = load_episode(folder).result
                    if done is not None:
                        summary.results.append(done)
                        bar.update(progress, advance=1, ok=sum(r.status == "success" for r in summary.results))
                        continue
                bar.update(progress, description=f"{task.id} seed {seed}")
                if env is None:
                    env = suite.make_env()
                result = agent.run_episode(env, task, ClassifyingWriter(folder))
                if result.status == "error":
                    log.warning("%s seed %s: %s", task.id, seed, result.error)
                    _close_quietly(env)
                    env = None  # a fresh env for the next episode
                summary.results.append(result)
                bar.update(progress, advance=1, ok=sum(r.status == "success" for r in summary.results))
        finally:
            _close_quietly(env)
    write_json(run_dir / "results.json", summary.as_dict())
    (run_dir / "results.md").write_text(summary.markdown())
    return summary
