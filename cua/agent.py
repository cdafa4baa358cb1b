"""The agent loop: plan → ground → critique (veto → re-plan) → execute → record.

One step of an episode:
  1. the planner proposes an Intent ("click the Save button") or a direct Action;
  2. the grounder turns the Intent's target into a point on the screenshot;
  3. the critic approves or vetoes; a veto goes back to the planner as a critique
     (at most ``max_retries`` times);
  4. the env executes the approved action; the step is written to the trajectory.
"""

from __future__ import annotations

import json
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from critic.base import Critic, ReviewContext
from cua.core import (
    TERMINAL_ACTIONS, Action, Attempt, Click, CoordChain, DoubleClick, EpisodeResult, Intent,
    ModelSpace, Move, Observation, RightClick, Scroll, SetupError, StepRecord, StepTimeoutError,
    Task,
)
from cua.planners import Planner
from cua.store import EpisodeWriter
from envs.base import Env, StepResult
from grounding.base import Grounder

R = TypeVar("R")


@dataclass
class AgentConfig:
    max_steps: int | None = None  # None → the task's own max_steps
    max_retries: int = 2  # re-plans after a veto or a refused grounding
    stage_timeout_s: float | None = 120.0  # limit for one planner / grounder / critic call


def call_with_timeout(fn: Callable[..., R], timeout: float | None, stage: str, *args: Any) -> R:
    if timeout is None:
        return fn(*args)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"cua-{stage}")
    try:
        return pool.submit(fn, *args).result(timeout=timeout)
    except FutureTimeout:
        raise StepTimeoutError(f"{stage} took longer than {timeout:g} s") from None
    finally:
        pool.shutdown(wait=False)


def intent_to_action(intent: Intent, x: float, y: float) -> Action:
    if intent.kind == "scroll":
        return Scroll(direction=intent.direction or "down", x=x, y=y)
    kinds = {"click": Click, "double_click": DoubleClick, "right_click": RightClick, "move": Move}
    return kinds[intent.kind](x=x, y=y)


def _json_safe(info: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(info, default=str))


class Agent:
    def __init__(
        self, planner: Planner, grounder: Grounder, critic: Critic,
        config: AgentConfig | None = None,
    ) -> None:
        self.planner, self.grounder, self.critic = planner, grounder, critic
        self.config = config or AgentConfig()

    @property
    def stack(self) -> dict[str, str]:
        return {"planner": self.planner.name, "grounder": self.grounder.name,
                "critic": self.critic.name}

    def run_episode(self, env: Env, task: Task, writer: EpisodeWriter | None = None) -> EpisodeResult:
        """Never raises for a failing env or component: the result says ``error`` with the
        reason, and the steps already written stay on disk. A SetupError (no browser, no
        Xvfb) is raised instead: no later episode could run either."""
        started = time.time()
        result = EpisodeResult(task_id=task.id, seed=task.seed, status="running",
                               stack=self.stack, env=getattr(env, "name", type(env).__name__),
                               started_at=started)
        history: list[StepRecord] = []
        obs: Observation | None = None
        try:
            obs = env.reset(task)
            result.instruction = task.instruction or obs.instruction
            for index in range(self.config.max_steps or task.max_steps):
                record, stepped = self.step(env, task, obs, history, index,
                                            writer.screenshot_name(index) if writer else f"step_{index:04d}.png")
                if writer:
                    writer.write_step(record, obs.screenshot)
                history.append(record)
                if stepped is not None:
                    obs = stepped.observation
                if record.done:
                    break
            score = float(env.evaluate())
            result.reward = score
            result.status = "success" if score >= 1.0 - 1e-9 else "failure"
        except SetupError:
            raise  # no result.json: a resumed run retries this episode
        except Exception as e:  # noqa: BLE001 — recorded, never lost; the runner decides what next
            result.status = "error"
            result.error = f"{type(e).__name__}: {e}"
            result.trace = traceback.format_exc(limit=5)
        result.steps = len(history)
        result.duration_s = time.time() - started
        if writer:
            if obs is not None:
                result.final_screenshot = writer.write_final_screenshot(obs.screenshot)
            writer.finish(result)
        return result

    def step(
        self, env: Env, task: Task, obs: Observation, history: list[StepRecord], index: int,
        screenshot_name: str,
    ) -> tuple[StepRecord, StepResult | None]:
        timings: dict[str, float] = {"planner": 0.0, "grounder": 0.0, "critic": 0.0}
        attempts: list[Attempt] = []
        critique: str | None = None
        approved: tuple[Action, list[CoordChain]] | None = None
        timeout = self.config.stage_timeout_s
        for _ in range(self.config.max_retries + 1):
            t = time.perf_counter()
            proposal = call_with_timeout(self.planner.propose, timeout, "planner",
                                         task, history, obs, critique)
            timings["planner"] += time.perf_counter() - t
            attempt = Attempt(intent=proposal if isinstance(proposal, Intent) else None)
            if isinstance(proposal, Intent):
                t = time.perf_counter()
                grounding = call_with_timeout(self.grounder.ground, timeout, "grounder",
                                              obs.screenshot, proposal.target, obs)
                timings["grounder"] += time.perf_counter() - t
                attempt.grounding = grounding
                if grounding.point is None:
                    attempt.error = f"grounder found no {proposal.target!r}"
                    attempts.append(attempt)
                    critique = attempt.error
                    continue
                action = intent_to_action(proposal, grounding.point.x, grounding.point.y)
                chains = [c for c in [grounding.chain(obs.size)] if c is not None]
            else:
                action = proposal
                space = ModelSpace.screenshot(*obs.size)
                chains = [CoordChain.from_model(p, space, obs.size) for p in action.points()]
            attempt.action = action
            t = time.perf_counter()
            verdict = call_with_timeout(self.critic.review, timeout, "critic", ReviewContext(
                task=task, observation=obs, action=action, intent=attempt.intent,
                grounding=attempt.grounding, history=history))
            timings["critic"] += time.perf_counter() - t
            attempt.verdict = verdict
            attempts.append(attempt)
            if verdict.approve:
                approved = (action, chains)
                break
            critique = verdict.reason or "the critic rejected the action"
        record = StepRecord(index=index, screenshot=screenshot_name, url=obs.url,
                            attempts=attempts, timings=timings)
        if approved is None:
            record.error = "no action approved: " + (critique or "")
            return record, None
        action, chains = approved
        t = time.perf_counter()
        stepped = env.step(action)
        timings["env"] = time.perf_counter() - t
        record.action = action
        record.chains = [c.executed(obs.device_scale_factor) for c in chains]
        record.reward = stepped.reward
        record.done = stepped.done or isinstance(action, TERMINAL_ACTIONS)
        record.info = _json_safe(stepped.info)
        return record, stepped
