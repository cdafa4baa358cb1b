"""The agent loop: plan → ground → critique (veto → re-plan) → execute → record.

One step of an episode:
  0. the history compressor (the critic's own, else the CPU rules) turns the steps so far
     into a macro-action history ("filled the form: name, street, city");
  1. the planner proposes an Intent ("click the Save button") or a direct Action; planners
     whose ``propose`` names a ``context`` parameter also get a ``critic.base.PlanContext``
     (the macro history and the last critique); the others get exactly what they always did;
  2. the grounder turns the Intent's target into a point on the screenshot;
  3. the critic approves or vetoes, by ``critic_policy``:
     ``veto-and-replan`` (default): a veto goes back to the planner as a ``Critique`` (a str
     carrying the verdict and its suggestion), at most ``max_retries`` times;
     ``veto-and-accept-suggestion``: a veto with a suggested action runs the suggestion
     instead, once the critic has approved it too (a veto without one re-plans);
     ``advisory``: verdicts are recorded, every action runs.
     A rejection whose score is below ``critic_min_score`` is advice only (a critic unsure
     of itself does not intervene); an abstaining critic never does;
  4. the env executes the approved action; the step is written to the trajectory, with the
     elements seen, the macro history, and per verdict its outcome, the action before and
     after the critic, and its evidence image (saved next to the step's screenshot).
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from PIL import Image

from critic.base import Critic, Critique, PlanContext, ReviewContext, is_abstain
from critic.history import HistoryCompressor, MacroHistory, RuleCompressor
from cua.core import (
    TERMINAL_ACTIONS,
    Action,
    Attempt,
    Click,
    CoordChain,
    CuaError,
    DoubleClick,
    EpisodeResult,
    Grounding,
    Intent,
    ModelSpace,
    Move,
    Observation,
    RightClick,
    Scroll,
    SetupError,
    StepRecord,
    StepTimeoutError,
    Task,
    Verdict,
)
from cua.planners import Planner
from cua.core.store import EpisodeWriter, atomic_write_image
from envs.base import Env, StepResult
from grounding.base import Grounder

R = TypeVar("R")


CriticPolicy = Literal["veto-and-replan", "veto-and-accept-suggestion", "advisory"]
CRITIC_POLICIES: tuple[str, ...] = ("veto-and-replan", "veto-and-accept-suggestion", "advisory")


@dataclass
class AgentConfig:
    max_steps: int | None = None  # None → the task's own max_steps
    max_retries: int = 2  # re-plans after a veto or a refused grounding
    stage_timeout_s: float | None = 120.0  # limit for one planner / grounder / critic call
    critic_policy: CriticPolicy = "veto-and-replan"
    critic_min_score: float = 0.0  # rejections scored below this are advice only (unscored ones count)
    record_elements: bool = True  # the elements seen before each step, for offline critic data
    keep_frames: int = 3  # earlier screenshots a critic may compare with (repeated actions)

    def __post_init__(self) -> None:
        if self.critic_policy not in CRITIC_POLICIES:
            raise CuaError(f"unknown critic policy {self.critic_policy!r}; known: {', '.join(CRITIC_POLICIES)}")


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
        config: AgentConfig | None = None, compressor: HistoryCompressor | None = None,
    ) -> None:
        self.planner, self.grounder, self.critic = planner, grounder, critic
        self.config = config or AgentConfig()
        # HiViG: the critic keeps the macro history it gives the policy; else the CPU rules.
        self.compressor: HistoryCompressor = compressor or getattr(critic, "compressor", None) or RuleCompressor()
        self._planner_takes_context = "context" in inspect.signature(planner.propose).parameters
        # Evidence images of the last step, (file name, image): run_episode saves them.
        self.pending_evidence: list[tuple[str, Image.Image]] = []

    @property
    def stack(self) -> dict[str, str]:
        critic = self.critic.name
        c = self.config
        if c.critic_policy != "veto-and-replan" or c.critic_min_score > 0:  # results say how it was used
            critic += f" [{c.critic_policy}" + (f", min score {c.critic_min_score:g}]" if c.critic_min_score > 0 else "]")
        return {"planner": self.planner.name, "grounder": self.grounder.name, "critic": critic}

    def run_episode(self, env: Env, task: Task, writer: EpisodeWriter | None = None,
                    stop: threading.Event | None = None) -> EpisodeResult:
        """Never raises for a failing env or component: the result says ``error`` with the
        reason, and the steps already written stay on disk. A SetupError (no browser, no
        Xvfb) is raised instead: no later episode could run either. ``stop`` (set by another
        thread, e.g. the app's Stop button) is checked between steps: the episode ends as
        ``stopped`` with its steps kept, and the task is not graded."""
        started = time.time()
        result = EpisodeResult(task_id=task.id, seed=task.seed, status="running",
                               stack=self.stack, env=getattr(env, "name", type(env).__name__),
                               started_at=started)
        history: list[StepRecord] = []
        frames: dict[int, Image.Image] = {}
        obs: Observation | None = None
        try:
            obs = env.reset(task)
            result.instruction = task.instruction or obs.instruction
            stopped = False
            for index in range(self.config.max_steps or task.max_steps):
                if stop is not None and stop.is_set():
                    stopped = True
                    break
                record, stepped = self.step(env, task, obs, history, index,
                                            writer.screenshot_name(index) if writer else f"step_{index:04d}.png",
                                            frames)
                if writer:
                    for name, image in self.pending_evidence:
                        atomic_write_image(writer.folder / name, image)
                    writer.write_step(record, obs.screenshot)
                history.append(record)
                frames[index] = obs.screenshot
                for old in [i for i in frames if i <= index - self.config.keep_frames]:
                    del frames[old]
                if stepped is not None:
                    obs = stepped.observation
                if record.done:
                    break
            if stopped:
                result.status = "stopped"
            else:
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
        screenshot_name: str, frames: dict[int, Image.Image] | None = None,
    ) -> tuple[StepRecord, StepResult | None]:
        timings: dict[str, float] = {"planner": 0.0, "grounder": 0.0, "critic": 0.0}
        attempts: list[Attempt] = []
        notes: list[dict[str, Any]] = []
        critique: Critique | None = None
        approved: tuple[Action, list[CoordChain]] | None = None
        timeout = self.config.stage_timeout_s
        frames = frames or {}
        self.pending_evidence = []
        t = time.perf_counter()
        macro = self.compressor.compress(task, history, frames)
        timings["history"] = time.perf_counter() - t
        for attempt_no in range(self.config.max_retries + 1):
            t = time.perf_counter()
            propose: Callable[..., Any] = self.planner.propose
            if self._planner_takes_context:
                propose = functools.partial(propose, context=PlanContext(macro, critique, attempt_no))
            proposal = call_with_timeout(propose, timeout, "planner", task, history, obs, critique)
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
                    critique = Critique(attempt.error)
                    continue
                action = intent_to_action(proposal, grounding.point.x, grounding.point.y)
                chains = [c for c in [grounding.chain(obs.size)] if c is not None]
            else:
                action = proposal
                space = ModelSpace.screenshot(*obs.size)
                chains = [CoordChain.from_model(p, space, obs.size) for p in action.points()]
            attempt.action = action
            verdict = self._review(task, obs, action, attempt.intent, attempt.grounding, history, macro,
                                   frames, timings, notes, screenshot_name, len(attempts))
            attempt.verdict = verdict
            attempts.append(attempt)
            if not notes[-1]["intervened"]:
                approved = (action, chains)
                break
            critique = Critique.from_verdict(verdict)
            suggestion = verdict.suggestion
            if self.config.critic_policy == "veto-and-accept-suggestion" and suggestion is not None:
                # The critic's own suggestion is reviewed too: a bad one must not slip through.
                again = self._review(task, obs, suggestion, attempt.intent, None, history, macro, frames,
                                     timings, notes, screenshot_name, len(attempts))
                attempts.append(Attempt(intent=attempt.intent, action=suggestion, verdict=again,
                                        error="suggested by the critic"))
                if not notes[-1]["intervened"]:
                    space = ModelSpace.screenshot(*obs.size)
                    approved = (suggestion, [CoordChain.from_model(p, space, obs.size, raw_text="critic suggestion")
                                             for p in suggestion.points()])
                    break
                critique = Critique.from_verdict(again)
        record = StepRecord(index=index, screenshot=screenshot_name, url=obs.url,
                            attempts=attempts, timings=timings)
        extra = self._agent_info(obs, macro, notes)
        if approved is None:
            record.error = "no action approved: " + (critique or "")
            record.info = {"agent": extra}
            return record, None
        action, chains = approved
        for note in notes:
            note["action_after"] = action.model_dump()
        t = time.perf_counter()
        stepped = env.step(action)
        record.timings["env"] = time.perf_counter() - t  # the record holds its own copy of ``timings``
        record.action = action
        record.chains = [c.executed(obs.device_scale_factor) for c in chains]
        record.reward = stepped.reward
        record.done = stepped.done or isinstance(action, TERMINAL_ACTIONS)
        record.info = {**_json_safe(stepped.info), "agent": extra}
        return record, stepped

    def _review(
        self, task: Task, obs: Observation, action: Action, intent: Intent | None,
        grounding: Grounding | None, history: list[StepRecord], macro: MacroHistory,
        frames: dict[int, Image.Image], timings: dict[str, float], notes: list[dict[str, Any]],
        screenshot_name: str, attempt_index: int,
    ) -> Verdict:
        """One critic call; appends what the trajectory keeps of it to ``notes``."""
        context = ReviewContext(task=task, observation=obs, action=action, intent=intent,
                                grounding=grounding, history=history, macro_history=macro, frames=frames)
        t = time.perf_counter()
        verdict = call_with_timeout(self.critic.review, self.config.stage_timeout_s, "critic", context)
        timings["critic"] += time.perf_counter() - t
        evidence = None
        if context.evidence is not None:
            evidence = f"{Path(screenshot_name).stem}_critic{attempt_index}.png"
            self.pending_evidence.append((evidence, context.evidence))
        intervened = self._intervenes(verdict)
        if is_abstain(verdict):
            outcome = "abstained"
        elif verdict.approve:
            outcome = "approved"
        else:  # a rejection stops the action, or (advisory policy, low score) is only advice
            outcome = "vetoed" if intervened else "advised"
        notes.append({"attempt": attempt_index, "critic": verdict.critic or self.critic.name,
                      "policy": self.config.critic_policy, "outcome": outcome, "intervened": intervened,
                      "action_before": action.model_dump(), "action_after": None, "evidence": evidence})
        return verdict

    def _intervenes(self, verdict: Verdict) -> bool:
        if verdict.approve or self.config.critic_policy == "advisory":
            return False
        return verdict.score is None or verdict.score >= self.config.critic_min_score

    def _agent_info(self, obs: Observation, macro: MacroHistory, notes: list[dict[str, Any]]) -> dict[str, Any]:
        info: dict[str, Any] = {"macro_history": macro.text(), "critic": notes}
        if self.config.record_elements:
            info["elements"] = [e.model_dump() for e in obs.elements]
        return info
