"""``run_batch``: a suite's tasks × seeds over N workers (local processes or Ray actors).

The scheduler hands one episode at a time to each idle worker, kills a worker whose episode
runs past ``episode_timeout_s``, retries infrastructure failures (an EnvError, a dead worker, a
timeout) up to ``retries`` more times, and never retries what the agent did (a failure, or an
error of its own). Each finished episode is final on disk the moment its result.json is written;
``results.jsonl`` and ``events.jsonl`` grow as episodes end, and the report is rebuilt from the
folders at the end. Starting again on the same folder resumes (see ``cua.batch.jobs``).
"""

from __future__ import annotations

import fcntl
import json
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from cua.batch.backend import Backend, Died, Fatal, Finished, Started
from cua.batch.jobs import (
    RESULTS_JSONL,
    EventLog,
    Job,
    attempts_by_episode,
    finished_result,
    move_aside,
    plan_jobs,
    split_finished,
)
from cua.batch.report import BatchReport, versions
from cua.batch.stats import is_infra
from cua.batch.worker import EpisodeRunner, WorkerConfig
from cua.core import CuaError, EpisodeResult
from cua.core.store import RESULT_FILE, atomic_write_bytes, write_json
from cua.stack import Stack, import_plugins
from cua.suites import Suite, resolve

if TYPE_CHECKING:
    from cua.agent import Agent

LOCK_FILE = ".lock"


def make_backend(config: WorkerConfig, workers: int, ray_address: str | None,
                 inline: EpisodeRunner | None = None) -> Backend:
    if inline is not None:
        from cua.batch.inline import InlineBackend

        return InlineBackend(inline)
    if ray_address:
        from cua.batch.ray_backend import RayBackend

        return RayBackend(config, workers, ray_address)
    from cua.batch.local import LocalBackend

    return LocalBackend(config, workers)


def _infra_result(job: Job, stack: Stack, reason: str) -> EpisodeResult:
    """What a worker could not write itself: it died, or was killed for running too long."""
    return EpisodeResult(task_id=job.task_id, seed=job.seed, status="error", error=reason,
                         error_kind="infra", stack={k: str(v) for k, v in stack.as_dict().items()
                                                    if k in ("policy", "planner", "grounder", "critic")})


class _Progress:
    def __init__(self, console: Console, total: int, title: str, enabled: bool) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("ok {task.fields[ok]} · fail {task.fields[fail]} · infra {task.fields[infra]}"
                              " · grader {task.fields[grader]} · retries {task.fields[retries]}"), TimeElapsedColumn())
        self.bar = Progress(*columns, console=console, disable=not enabled)
        self.counts = {"ok": 0, "fail": 0, "infra": 0, "grader": 0, "retries": 0}
        self.id = self.bar.add_task(title, total=total, **self.counts)

    def done(self, r: EpisodeResult, advance: int = 1) -> None:
        key = ("ok" if r.status == "success" else "infra" if is_infra(r)
               else "grader" if r.error_kind == "grader" else "fail")
        self.counts[key] += 1
        self.bar.update(self.id, advance=advance, **self.counts)

    def retry(self) -> None:
        self.counts["retries"] += 1
        self.bar.update(self.id, **self.counts)


def run_batch(
    suite_spec: str | Suite, stack: Stack, run_dir: Path, seeds: list[int], workers: int = 1,
    task_names: list[str] | None = None, ray_address: str | None = None, retries: int = 2,
    episode_timeout_s: float | None = None, console: Console | None = None, show_progress: bool = True,
    plugins: tuple[str, ...] = (), inline: bool = False, agent: Agent | None = None,
) -> BatchReport:
    """``inline``: run every episode in this process, one after the other (``cua run``); a
    Suite object or a ready ``agent`` (instead of building ``stack``) are allowed only then,
    since worker processes rebuild both from plain names."""
    console = console or Console()
    import_plugins(plugins)
    if not inline and (agent is not None or not isinstance(suite_spec, str)):
        raise CuaError("a ready agent or Suite object runs only inline (workers rebuild them from names)")
    if agent is None:
        stack.validate()
    if isinstance(suite_spec, str):
        suite, names = resolve(suite_spec)
    else:
        suite, names, suite_spec = suite_spec, suite_spec.task_names(), suite_spec.name
    names = task_names or names
    run_dir = Path(run_dir)
    (run_dir / "episodes").mkdir(parents=True, exist_ok=True)
    with _exclusive(run_dir):
        return _run(suite_spec, suite, stack, run_dir, seeds, 1 if inline else workers, names, ray_address,
                    retries, episode_timeout_s, console, show_progress, plugins, inline, agent)


@contextmanager
def _exclusive(run_dir: Path) -> Iterator[None]:
    """One run at a time per folder (two would both run the unfinished episodes). The kernel
    drops the lock when the process dies, SIGKILL included, so a killed run can resume."""
    with open(run_dir / LOCK_FILE, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CuaError(f"{run_dir} is in use by another `cua eval` (wait for it, or stop it first)") from None
        yield


def _check_same_run(run_dir: Path, suite_spec: str, names: list[str], seeds: list[int], stack: Stack,
                    agent_stack: dict[str, str] | None = None) -> None:
    """A folder that holds a run continues only that run: its finished episodes are kept and
    counted, so another suite, task list, seed list or stack would mix two runs in one report.
    ``--resume`` reads these from run.json, so it always matches."""
    run_json = run_dir / "run.json"
    if not run_json.exists():
        return
    try:
        asked = json.loads(run_json.read_text(encoding="utf-8"))
        before = {"suite": asked["suite"], "tasks": sorted(set(asked["tasks"])),
                  "seeds": sorted(set(asked["seeds"])), "stack_spec": asked["stack_spec"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CuaError(f"{run_json} is unreadable ({type(e).__name__}: {e}); "
                       "run into a new --out folder") from None
    now = {"suite": suite_spec, "tasks": sorted(set(names)), "seeds": sorted(set(seeds)),
           "stack_spec": stack.as_dict()}
    if isinstance(before["stack_spec"], dict):  # fields added since it was written have their defaults
        before["stack_spec"] = {**Stack().as_dict(), **before["stack_spec"]}
    if agent_stack is not None:  # a ready agent: the spec says little, its own names say which
        before["stack"], now["stack"] = asked.get("stack"), agent_stack
    differ = [k for k in now if before[k] != now[k]]
    if differ:
        details = "; ".join(f"{k}: {before[k]!r} there, {now[k]!r} now" for k in differ)
        raise CuaError(f"{run_dir} already holds another run ({details}). Continue that run with "
                       f"`cua eval --resume {run_dir}`, or start this one in a new --out folder")


def _run(
    suite_spec: str, suite: Suite, stack: Stack, run_dir: Path, seeds: list[int], workers: int, names: list[str],
    ray_address: str | None, retries: int, episode_timeout_s: float | None, console: Console,
    show_progress: bool, plugins: tuple[str, ...], inline: bool, agent: Agent | None,
) -> BatchReport:
    started = time.time()
    _check_same_run(run_dir, suite_spec, names, seeds, stack,  # before anything in the folder moves
                    agent.stack if agent is not None else None)
    jobs = plan_jobs(suite, names, seeds, run_dir)
    done, todo = split_finished(jobs, run_dir)
    backend_name = "inline" if inline else f"ray {ray_address}" if ray_address else "local"
    write_json(run_dir / "run.json", {
        "suite": suite_spec, "tasks": names, "seeds": seeds, "stack_spec": stack.as_dict(),
        "workers": workers, "backend": backend_name, "retries": retries,
        **({"stack": agent.stack} if agent is not None else {}),
        "episode_timeout_s": episode_timeout_s, "plugins": list(plugins), "versions": versions(), "started_at": started,
        "resumed_with_done": len(done)})
    events = EventLog(run_dir / "events.jsonl")
    events.write("run", todo=len(todo), done=len(done), workers=workers, backend=backend_name)

    def report() -> BatchReport:
        return BatchReport(run_dir=run_dir, suite=suite.name, spec=stack.as_dict(), seeds=seeds,
                           workers=workers, backend=backend_name, results=dict(done),
                           domain_of={n: suite.domain(n) for n in names}, skipped=suite.skipped(),
                           attempts=attempts_by_episode(run_dir), wall_s=round(time.time() - started, 2))

    report().write_results_jsonl()  # the finished episodes of earlier attempts of this run
    progress = _Progress(console, len(jobs), suite.name, show_progress)
    for r in done.values():
        progress.done(r)
    if todo:
        config = WorkerConfig(suite=suite_spec, stack=stack, run_dir=str(run_dir), plugins=tuple(plugins))
        runner = EpisodeRunner(config, 0, suite=suite, agent=agent) if inline else None
        _schedule(todo, done, config, workers, ray_address, retries, episode_timeout_s, events, progress, runner)
    final = report()
    final.write()
    final.write_results_jsonl()
    events.write("end", episodes=len(done), wall_s=final.wall_s)
    return final


def _schedule(
    todo: list[Job], done: dict[Job, EpisodeResult], config: WorkerConfig, workers: int,
    ray_address: str | None, retries: int, timeout_s: float | None, events: EventLog, progress: _Progress,
    inline: EpisodeRunner | None = None,
) -> None:
    pending = deque(todo)
    attempts: dict[Job, int] = {}
    running: dict[int, tuple[Job, float]] = {}  # slot → (episode, when it started; inf until then)
    workers = min(workers, len(todo))
    run_dir, stack = Path(config.run_dir), config.stack

    def accept(job: Job, result: EpisodeResult) -> None:
        done[job] = result
        events.write("done", task=job.task, seed=job.seed, status=result.status,
                     error_kind=result.error_kind, attempts=attempts[job])
        with open(run_dir / RESULTS_JSONL, "a", encoding="utf-8") as f:
            f.write(json.dumps({**result.model_dump(exclude={"trace"}), "task": job.task,
                                "attempts": attempts[job]}) + "\n")
        progress.done(result)

    def retry_or_give_up(job: Job, result: EpisodeResult) -> None:
        if attempts[job] <= retries:
            events.write("retry", task=job.task, seed=job.seed, attempt=attempts[job], reason=result.error)
            move_aside(job, run_dir)
            pending.append(job)  # behind the others: a flaky site gets time to recover
            progress.retry()
            return
        if not (job.folder / RESULT_FILE).exists():  # a dead worker wrote nothing final
            job.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(job.folder / RESULT_FILE, result.model_dump_json(indent=2).encode())
        accept(job, result)

    with progress.bar:
        backend = make_backend(config, workers, ray_address, inline)
        try:
            while pending or running:
                for slot in backend.idle_slots():
                    if not pending:
                        break
                    job = pending.popleft()
                    attempts[job] = attempts.get(job, 0) + 1
                    events.write("start", task=job.task, seed=job.seed, attempt=attempts[job], slot=slot)
                    backend.assign(slot, job, attempts[job])
                    running[slot] = (job, float("inf"))
                    progress.bar.update(progress.id, description=f"{job.task} seed {job.seed}")
                for event in backend.poll(0.2):
                    if isinstance(event, Fatal):
                        raise CuaError(event.message)
                    if isinstance(event, Started):
                        if event.slot in running:
                            running[event.slot] = (running[event.slot][0], time.monotonic())
                        continue
                    running.pop(event.slot, None)
                    if isinstance(event, Finished):
                        result = EpisodeResult.model_validate_json(event.result_json)
                        if is_infra(result):
                            retry_or_give_up(event.job, result)
                        else:
                            accept(event.job, result)
                    elif isinstance(event, Died) and event.job is not None:
                        job = event.job
                        events.write("worker_died", slot=event.slot, task=job.task, seed=job.seed,
                                     attempt=attempts[job], reason=event.reason)
                        on_disk = finished_result(job)  # it died after writing result.json
                        if on_disk is not None and not is_infra(on_disk):
                            accept(job, on_disk)
                        else:
                            retry_or_give_up(job, _infra_result(job, stack, event.reason))
                now = time.monotonic()
                for slot, (job, began) in list(running.items()):
                    if timeout_s is not None and now - began > timeout_s:
                        events.write("timeout", slot=slot, task=job.task, seed=job.seed, limit_s=timeout_s)
                        backend.kill(slot, f"episode timeout: ran past {timeout_s:g} s")
                        running[slot] = (job, float("inf"))  # killed once; its Died event follows
        finally:
            backend.close()
