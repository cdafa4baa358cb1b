"""What the native-policy tests share: runs through the real batch runner (inline), a still
screen for tests that need no browser, and readers for what a run folder holds.

Nothing here stands in for the component under test: the policy, its HTTP client, the agent
loop, the runner and the store are the project's; the model is the loopback stand-in
(``standin.py``) or a tiny random-init checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from standin import Oracle, OracleEnv, OracleStep, Seen, StandIn

from cua.batch import run_batch
from cua.batch.report import BatchReport
from cua.core import (
    BASIC_ACTIONS,
    TERMINAL_ACTIONS,
    Action,
    Done,
    EpisodeResult,
    Observation,
    StepRecord,
    Task,
    TurnRecord,
)
from cua.policies.native import NativeProfile, get_native_profile
from cua.stack import Stack
from cua.suites import Suite, get_suite
from envs.base import StepResult, check_supported


def require_chromium() -> None:
    import pytest

    if not shutil.which(os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")) and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (CI fails instead of skipping)")


# ---- a screen that never changes ---------------------------------------------------------------

class StillEnv:
    """A desktop-sized picture that no action changes: for tests about what the policy does with
    the model's words, not about a page. The task succeeds when the episode ends with
    ``Done(answer)`` whose answer is ``expected_answer`` (any Done when it is None)."""

    name = "still"

    def __init__(self, size: tuple[int, int] = (320, 200), supported: Iterable[str] | None = None,
                 expected_answer: str | None = None) -> None:
        self.size = size
        self.supported_actions = frozenset(supported) if supported is not None else BASIC_ACTIONS
        self.expected_answer = expected_answer
        self.executed: list[Action] = []
        self.evaluations = 0  # evaluate() calls: how often the episode was graded
        image = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(image)
        draw.rectangle([size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2], outline="black", fill="#cde")
        self._image = image
        self._task: Task | None = None

    def _obs(self) -> Observation:
        return Observation(screenshot=self._image.copy(), instruction=self._task.instruction if self._task else None)

    def reset(self, task: Task) -> Observation:
        self._task, self.executed = task, []
        return self._obs()

    def step(self, action: Action) -> StepResult:
        check_supported(self, action)
        self.executed.append(action)
        points = [[p.x, p.y] for p in action.points()]
        return StepResult(self._obs(), 0.0, isinstance(action, TERMINAL_ACTIONS), {"executed_points": points})

    def evaluate(self) -> float:
        self.evaluations += 1
        last = self.executed[-1] if self.executed else None
        if not isinstance(last, Done):
            return 0.0
        return 1.0 if self.expected_answer is None or last.answer == self.expected_answer else 0.0

    def close(self) -> None:
        pass


def still_suite(env: StillEnv, instruction: str = "Press the OK button.", max_steps: int = 3,
                tasks: tuple[str, ...] = ("still",)) -> Suite:
    def task(name: str, seed: int | None) -> Task:
        return Task(id=f"still/{name}", instruction=instruction, seed=seed, max_steps=max_steps)

    return Suite("still", "one still screen", lambda: list(tasks), lambda: env, task)


class KeepOpen:
    """An env the runner may "close" without closing it (one browser shared by many runs of
    a test module; the module closes it at the end)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.name = getattr(env, "name", "env")

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


# ---- runs -----------------------------------------------------------------------------------------

@dataclass
class NativeRun:
    profile: NativeProfile
    run_dir: Path
    report: BatchReport
    standin: StandIn
    log: list[OracleStep] = field(default_factory=list)  # executed steps (oracle runs only)
    wall_s: float = 0.0

    def episode_dirs(self) -> list[Path]:
        """Episode folders in the order their (last) attempt started (events.jsonl)."""
        folders = {(j.task, j.seed): j.folder for j in self.report.results}
        order: list[Path] = []
        for line in (self.run_dir / "events.jsonl").read_text().splitlines():
            event = json.loads(line)
            if event["event"] == "start":
                folder = folders[(event["task"], event["seed"])]
                if folder in order:
                    order.remove(folder)
                order.append(folder)
        return order

    def results(self) -> list[EpisodeResult]:
        return list(self.report.results.values())


def spec(profile: str, url: str, **options: object) -> str:
    extra = "".join(f",{k}={v}" for k, v in options.items())
    return f"native:profile={profile},url={url},model=standin{extra}"


def run_native(profile_name: str, suite: Suite | str, run_dir: Path, *, tasks: list[str] | None = None,
               seeds: tuple[int, ...] = (0,), make_env: Callable[[], Any] | None = None,
               reply: Callable[[int, Seen], str | bytes] | None = None, options: dict[str, object] | None = None,
               standin_kw: dict[str, Any] | None = None, retries: int = 2, max_steps: int | None = None,
               stage_timeout_s: float | None = 120.0) -> NativeRun:
    """One profile through the stand-in on a suite, inline in this thread. Without ``reply`` the
    stand-in answers the CPU stack's reference action (the env is wrapped in an OracleEnv)."""
    profile = get_native_profile(profile_name)
    base = get_suite(suite) if isinstance(suite, str) else suite
    oracle = Oracle()
    standin = StandIn(profile.layout, profile.space, oracle, reply=reply, **(standin_kw or {}))
    envs: list[OracleEnv] = []

    def env() -> Any:
        inner = make_env() if make_env is not None else base.make_env()
        if reply is not None:
            return inner
        wrapped = OracleEnv(inner, oracle)
        envs.append(wrapped)
        return wrapped

    wrapped_suite = Suite(base.name, base.description, base.task_names, env, base.make_task, base.skipped, base.domain)
    stack = Stack(policy=spec(profile.name, standin.url, **(options or {})), max_steps=max_steps,
                  stage_timeout_s=stage_timeout_s)
    started = time.monotonic()
    try:
        report = run_batch(wrapped_suite, stack, run_dir, list(seeds), task_names=tasks, inline=True,
                           agent=stack.build(), show_progress=False, retries=retries)
    finally:
        standin.close()
    log = [step for e in envs for step in e.log]
    return NativeRun(profile, Path(run_dir), report, standin, log, time.monotonic() - started)


def run_cpu(suite: str, run_dir: Path, tasks: list[str] | None = None, seeds: tuple[int, ...] = (0,),
            make_env: Callable[[], Any] | None = None) -> BatchReport:
    """The CPU stack (instruction-list planner + a11y grounder) on the same tasks and seeds."""
    stack = Stack()
    base = get_suite(suite)
    wrapped = Suite(base.name, base.description, base.task_names, make_env or base.make_env, base.make_task,
                    base.skipped, base.domain)
    return run_batch(wrapped, stack, run_dir, list(seeds), task_names=tasks, inline=True, agent=stack.build(),
                     show_progress=False)


class EnvCache:
    """One worker thread's envs, by key, reused by every run the thread does (a browser starts
    once per thread and suite); closed by the thread that opened them (Playwright's rule)."""

    def __init__(self) -> None:
        self.envs: dict[str, Any] = {}

    def get(self, key: str, factory: Callable[[], Any]) -> KeepOpen:
        if key not in self.envs:
            self.envs[key] = factory()
        return KeepOpen(self.envs[key])

    def close(self) -> None:
        for env in self.envs.values():
            env.close()
        self.envs.clear()


def run_parallel(jobs: list[Callable[[EnvCache], Any]], workers: int) -> list[Any]:
    """Runs ``jobs`` on ``workers`` threads, each with its own EnvCache; the results in order
    (an exception a job raised is re-raised here, after every thread has finished)."""
    import queue
    import threading

    todo: queue.Queue[int] = queue.Queue()
    for i in range(len(jobs)):
        todo.put(i)
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def worker() -> None:
        cache = EnvCache()
        try:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[i] = jobs[i](cache)
                except BaseException as e:  # noqa: BLE001 — reported by the caller
                    errors.append(e)
        finally:
            cache.close()

    threads = [threading.Thread(target=worker, name=f"native-run-{n}") for n in range(max(1, min(workers, len(jobs))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


# ---- reading a run folder ---------------------------------------------------------------------------

def read_steps(folder: Path) -> list[StepRecord]:
    path = folder / "steps.jsonl"
    if not path.exists():
        return []
    return [StepRecord.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_result(folder: Path) -> EpisodeResult:
    return EpisodeResult.model_validate_json((folder / "result.json").read_text(encoding="utf-8"))


def turns_of(steps: list[StepRecord]) -> list[TurnRecord]:
    """Every policy call of an episode, in order (one attempt each; the rest of a turn's
    actions run in later steps without one)."""
    return [a.turn for step in steps for a in step.attempts if a.turn is not None]
