"""One live episode in a worker thread the UI controls (start / pause / step / stop).

Playwright's sync API is bound to the thread that launched the browser, so the env is
created, used and closed inside ONE worker thread; the UI reads events from a queue. The
episode itself is ``Agent.run_episode`` unchanged: the controls hook into the env (after
reset) and the trajectory writer (after each step is on disk), so what the app writes is
exactly what ``cua run`` writes, under ``<runs>/app/<time>-<task>/episodes/<task>__seed<n>/``.
Stop sets the agent's stop event: the episode ends as ``stopped`` with its steps kept.

The critic is always wrapped in ``cua.ui.human.HumanApproval``: in "approve each action" mode
every proposal waits for the user; otherwise only a policy's ``CallUser`` does (in the app
there is a person to ask: answer it, take over, or approve, which ends the episode as
``needs_user``). The policy is wrapped in ``cua.ui.human.UserTurns`` so the user's own action
runs under any critic policy. The agent runs without a stage timeout (a person may think for
minutes); the wrappers keep the stack's timeout on the policy's and the critic's own calls.
"""

from __future__ import annotations

import logging
import platform
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from cua.core import CuaError, EpisodeResult, StepRecord, Task
from cua.stack import Stack
from cua.ui.human import HumanApproval, Proposal, UserTurns, asks_user

log = logging.getLogger(__name__)


DEFAULT_IDLE_LIMIT_S = 30 * 60


@dataclass
class RunSpec:
    task: str = "miniwob-cpu/click-button"  # suite/task, or ignored when url is set
    seed: int = 0
    url: str | None = None  # a URL + free instruction → BrowserEnv
    instruction: str | None = None
    policy: str = "planner"  # planner (the planner + grounder below), native:profile=..., a plugin's policy
    planner: str = "instructions"
    grounder: str = "a11y"
    critic: str = "approve-all"
    max_steps: int | None = None
    start_paused: bool = False
    approve_each: bool = False  # the user approves / edits / rejects every action before it runs
    step_delay_s: float = 0.0  # a pause between steps, to watch at a human pace
    runs_root: Path = Path("runs")
    # A run left paused or waiting for a decision this long is stopped, closing its browser
    # (the page that controlled it may be gone). None waits forever.
    idle_limit_s: float | None = DEFAULT_IDLE_LIMIT_S

    def stack(self) -> Stack:
        return Stack(policy=self.policy or "planner", planner=self.planner, grounder=self.grounder,
                     critic=self.critic, max_steps=self.max_steps)


@dataclass
class Event:
    kind: str  # "status" | "reset" | "step" | "proposal" | "done" | "error"
    message: str = ""
    record: StepRecord | None = None
    image: Image.Image | None = None
    result: EpisodeResult | None = None
    proposal: Proposal | None = None


@dataclass
class Control:
    """Pause / step / stop, checked by the worker between steps."""

    _run: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _steps: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: bool = False  # the worker is blocked at the gate right now (paused between steps)
    idle_limit_s: float | None = None  # paused longer than this: stop
    stop_reason: str | None = None

    def __post_init__(self) -> None:
        self._run.set()

    @property
    def paused(self) -> bool:
        return not self._run.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def pause(self) -> None:
        self._run.clear()

    def resume(self) -> None:
        with self._lock:
            self._steps = 0
        self._run.set()

    def step(self) -> None:
        """Let one more step run, then pause again."""
        with self._lock:
            self._steps += 1
        self._run.set()

    def stop(self, reason: str = "stopped by the user") -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
        self._stop.set()
        self._run.set()

    @property
    def stop_event(self) -> threading.Event:
        return self._stop

    def gate(self, delay_s: float = 0.0) -> None:
        """Called by the worker between steps: waits ``delay_s`` (the watch pace), then blocks
        while paused; returns at once on stop (the agent checks the stop event next). A Step
        press lets exactly one step through and pauses again."""
        if delay_s > 0:
            self._stop.wait(delay_s)
        self.waiting = not self._run.is_set()
        since = time.monotonic()
        try:
            while not self._run.wait(0.1):
                if self._stop.is_set():
                    return
                if self.idle_limit_s is not None and time.monotonic() - since > self.idle_limit_s:
                    self.stop(f"stopped after {self.idle_limit_s:g} s paused")
                    return
        finally:
            self.waiting = False
        if self._stop.is_set():
            return
        with self._lock:
            if self._steps > 0:
                self._steps -= 1
                if self._steps == 0:
                    self._run.clear()


class LiveRun:
    """Runs one episode in its own thread; ``events`` carries what happens, in order."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.events: queue.Queue[Event] = queue.Queue()
        self.control = Control(idle_limit_s=spec.idle_limit_s)
        if spec.start_paused:
            self.control.pause()
        self.records: list[StepRecord] = []
        self.result: EpisodeResult | None = None
        self.error: str | None = None
        self.human: HumanApproval | None = None
        name = (spec.task if not spec.url else "url").replace("/", "_").replace(",", "+")
        self.run_dir = Path(spec.runs_root) / "app" / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-{id(self) % 10000:04d}"
        self.episode_dir: Path | None = None
        self.thread = threading.Thread(target=self._work, name="cua-live-run", daemon=True)

    def start(self) -> LiveRun:
        self.thread.start()
        return self

    @property
    def finished(self) -> bool:
        return not self.thread.is_alive()

    # ---- worker thread ----------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self.events.put(event)

    def _work(self) -> None:
        env = None
        try:
            from cua.core.store import episode_dirname, write_json

            spec = self.spec
            stack = spec.stack()
            what = (f"planner={stack.planner} grounder={stack.grounder}" if stack.uses_planner
                    else f"policy={stack.policy}")
            self._emit(Event("status", f"building the stack: {what} critic={stack.critic}"))
            timeout = stack.stage_timeout_s
            if spec.approve_each:  # the user's own action runs as the suggestion of a veto
                stack = stack.with_(critic_policy="veto-and-accept-suggestion")

            def wrap(critic):
                self.human = HumanApproval(critic, self._proposed, self.control.stop_event,
                                           idle_limit_s=spec.idle_limit_s, on_idle=self.control.stop,
                                           ask=None if spec.approve_each else asks_user, timeout_s=timeout)
                return self.human

            # A person may think for minutes: no stage timeout in the loop, the wrappers keep
            # it on the model calls.
            agent = stack.with_(stage_timeout_s=None).build(wrap_critic=wrap)
            agent.policy = UserTurns(agent.policy, self.human, timeout_s=timeout)
            task, make_env, suite_name = self._task()
            self.episode_dir = self.run_dir / "episodes" / episode_dirname(task.id, task.seed)
            self.episode_dir.mkdir(parents=True, exist_ok=True)
            write_json(self.run_dir / "run.json", {
                "suite": suite_name, "tasks": [task.name], "seeds": [task.seed], "stack": agent.stack,
                "stack_spec": stack.as_dict(), "python": platform.python_version(), "started_at": time.time(),
                "source": "app"})
            self._emit(Event("status", f"starting the environment for {task.id}"))
            env = make_env()
            writer = _StreamingWriter(self.episode_dir, self)
            result = agent.run_episode(_GatedEnv(env, self), task, writer, stop=self.control.stop_event)
            self.result = result
            from cua.batch.jobs import Job
            from cua.batch.report import BatchReport

            job = Job(task.name, task.seed if task.seed is not None else 0, task.id, self.episode_dir)
            BatchReport(run_dir=self.run_dir, suite=suite_name, spec=stack.as_dict(), seeds=[job.seed], workers=1,
                        backend="app", results={job: result}, domain_of={task.name: suite_name}).write()
            self._emit(Event("done", result.error or result.status, result=result))
        except Exception as e:
            log.exception("live run failed")
            self.error = f"{type(e).__name__}: {e}"
            self._emit(Event("error", self.error))
        finally:
            if env is not None:
                try:
                    env.close()
                except Exception as e:  # noqa: BLE001
                    log.warning("closing the env: %s", e)

    def _proposed(self, proposal: Proposal) -> None:
        what = "the policy asks for you" if proposal.asks_user else "waiting for your decision"
        self._emit(Event("proposal", f"step {proposal.step}: {what}", proposal=proposal,
                         image=proposal.screenshot.copy()))

    def _task(self) -> tuple[Task, Any, str]:
        spec = self.spec
        if spec.url:
            from envs.browser import BrowserEnv

            if not spec.instruction:
                raise CuaError("a URL needs an instruction")
            config = web_browser_config(spec.url)
            task = Task(id="url/custom", instruction=spec.instruction, seed=spec.seed,
                        start_url=spec.url, max_steps=spec.max_steps or 15)
            return task, lambda: BrowserEnv(config), "url"
        from cua.suites import resolve

        suite, names = resolve(spec.task)
        if len(names) != 1:
            raise CuaError(f"choose one task, e.g. {suite.name}/{names[0] if names else 'name'}")
        return suite.make_task(names[0], spec.seed), suite.make_env, suite.name


def web_browser_config(url: str):
    """Browser settings for a URL typed in the app: http(s) only, and the browser stays on that
    URL's origin. Whoever reaches the app must not read this machine's files through
    ``file://`` (BrowserConfig's allow-list holds exact origins, so "any http(s) site" cannot
    be said there)."""
    from envs.browser import BrowserConfig, origin_of

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CuaError(f"only http:// and https:// URLs can be opened from the app, not {url!r}")
    return BrowserConfig(allowed_origins=[origin_of(url)])


class _GatedEnv:
    """The env, with the pause gate after reset (the first step waits for Start / Step)."""

    def __init__(self, env: Any, run: LiveRun) -> None:
        self._env, self._run = env, run
        self.name = getattr(env, "name", type(env).__name__)

    def reset(self, task: Task):
        obs = self._env.reset(task)
        self._run._emit(Event("reset", f"reset: {task.instruction or obs.instruction or task.id}",
                              image=obs.screenshot.copy()))
        self._run.control.gate()
        return obs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


class _StreamingWriter:
    """EpisodeWriter that reports each step once it is on disk, then waits at the gate."""

    def __new__(cls, folder: Path, run: LiveRun):
        from cua.core.store import EpisodeWriter

        class Writer(EpisodeWriter):
            def write_step(self, record: StepRecord, screenshot: Image.Image) -> None:
                super().write_step(record, screenshot)
                run.records.append(record)
                run._emit(Event("step", f"step {record.index}", record=record, image=screenshot.copy()))
                if not record.done:
                    run.control.gate(run.spec.step_delay_s)

        return Writer(folder)
