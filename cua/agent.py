"""The agent loop: ask the policy → critique each action (veto → ask again) → execute → record.

One step of an episode executes at most one action and writes one ``StepRecord``:
  0. the history compressor (the critic's own, else the CPU rules) turns the steps so far
     into a macro-action history ("filled the form: name, street, city");
  1. if actions of the last turn are still queued (policies may propose several per turn),
     the next one is taken; otherwise the policy is asked for a new turn
     (``cua.policies.base``): the task, the screenshot, the records so far and the recent
     screenshots, the critique of a vetoed proposal, and what went wrong with the last action;
  2. the critic approves or vetoes, by ``critic_policy``:
     ``veto-and-replan`` (default): a veto goes back to the policy as a ``Critique`` (a str
     carrying the verdict and its suggestion), at most ``max_retries`` times, and the rest of
     the vetoed turn is dropped (it assumed the vetoed action);
     ``veto-and-accept-suggestion``: a veto with a suggested action runs the suggestion
     instead, once the critic has approved it too (a veto without one asks again);
     ``advisory``: verdicts are recorded, every action runs.
     A rejection whose score is below ``critic_min_score`` is advice only (a critic unsure
     of itself does not intervene); an abstaining critic never does;
  3. the env executes the approved action; one the env cannot do (a tab on a desktop) is
     recorded as the step's error and told to the policy next turn, the episode goes on.

The step budget (``max_steps``, else the task's) counts turns: steps that asked the policy.
The episode ends at a terminal action: ``Done(answer)`` (graded, the answer reaches the
grader), ``Fail`` (graded: OSWorld scores an infeasible task by it), ``CallUser`` (a batch run
has nobody to ask: ``needs_user``, not graded), or when the budget is spent (graded as is).
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from PIL import Image

from critic.base import ApproveAll, Critic, Critique, ReviewContext, is_abstain
from critic.history import HistoryCompressor, MacroHistory, RuleCompressor
from cua.core import (
    Action,
    Attempt,
    CallUser,
    CoordChain,
    CuaError,
    Done,
    EpisodeResult,
    Fail,
    ModelSpace,
    Observation,
    SetupError,
    StepRecord,
    StepTimeoutError,
    Task,
    TERMINAL_ACTIONS,
    TurnRecord,
    UnsupportedActionError,
    Verdict,
)
from cua.core.store import EpisodeWriter, atomic_write_image
from cua.planners import Planner
from cua.policies.base import Policy, PolicyInput, Proposal, components, image_window
from envs.base import Env, StepResult
from grounding.base import Grounder

R = TypeVar("R")


CriticPolicy = Literal["veto-and-replan", "veto-and-accept-suggestion", "advisory"]
CRITIC_POLICIES: tuple[str, ...] = ("veto-and-replan", "veto-and-accept-suggestion", "advisory")


@dataclass
class AgentConfig:
    max_steps: int | None = None  # turns; None → the task's own max_steps
    max_retries: int = 2  # asks again after a veto or a turn that proposed nothing
    stage_timeout_s: float | None = 120.0  # limit for one policy turn / critic call
    critic_policy: CriticPolicy = "veto-and-replan"
    critic_min_score: float = 0.0  # rejections scored below this are advice only (unscored ones count)
    record_elements: bool = True  # the elements seen before each step, for offline critic data
    keep_frames: int = 3  # earlier screenshots a critic may compare with (repeated actions)
    max_actions_per_turn: int = 16  # the rest of a longer turn is dropped (and noted)

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


def _soft(timeout: float) -> float:
    """The deadline a policy is given inside the hard stage limit: room to wind down and say
    why (stop asking again, cut a request short) before the turn is abandoned."""
    return max(timeout * 0.9, timeout - 5.0)


def _json_safe(info: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(info, default=str))


@dataclass
class EpisodeState:
    """What the loop carries between steps of one episode."""

    history: list[StepRecord] = field(default_factory=list)
    frames: dict[int, Image.Image] = field(default_factory=dict)  # screenshot before each kept record
    queue: deque[Proposal] = field(default_factory=deque)  # the rest of the current turn
    turns: int = 0  # policy turns so far (the step budget)
    feedback: str | None = None  # told to the policy next turn (an action the env could not do)


class Agent:
    def __init__(self, policy: Policy, critic: Critic | None = None, config: AgentConfig | None = None,
                 compressor: HistoryCompressor | None = None) -> None:
        self.policy = policy
        self.critic: Critic = critic or ApproveAll()
        self.config = config or AgentConfig()
        # HiViG: the critic keeps the macro history it gives the policy; else the CPU rules.
        self.compressor: HistoryCompressor = compressor or getattr(self.critic, "compressor", None) or RuleCompressor()
        # Evidence images of the last step, (file name, image): run_episode saves them.
        self.pending_evidence: list[tuple[str, Image.Image]] = []

    @classmethod
    def from_parts(cls, planner: Planner, grounder: Grounder, critic: Critic | None = None,
                   config: AgentConfig | None = None, compressor: HistoryCompressor | None = None) -> Agent:
        """The planner + grounder policy (the regex planner's stack)."""
        from cua.policies.planner_grounder import PlannerGrounderPolicy

        return cls(PlannerGrounderPolicy(planner, grounder), critic, config, compressor)

    @property
    def stack(self) -> dict[str, str]:
        critic = self.critic.name
        c = self.config
        if c.critic_policy != "veto-and-replan" or c.critic_min_score > 0:  # results say how it was used
            critic += f" [{c.critic_policy}" + (f", min score {c.critic_min_score:g}]" if c.critic_min_score > 0 else "]")
        parts = components(self.policy)
        return {"policy": self.policy.name, **parts, "critic": critic}

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
        state = EpisodeState()
        obs: Observation | None = None
        try:
            obs = env.reset(task)
            result.instruction = task.instruction or obs.instruction
            budget = self.config.max_steps or task.max_steps
            termination = "step_budget"
            while True:
                if stop is not None and stop.is_set():
                    termination = "stopped"
                    break
                if not state.queue and state.turns >= budget:
                    break
                index = len(state.history)
                name = writer.screenshot_name(index) if writer else f"step_{index:04d}.png"
                record, stepped = self.step(env, task, obs, state, name, stop)
                if writer:
                    for file, image in self.pending_evidence:
                        atomic_write_image(writer.folder / file, image)
                    writer.write_step(record, obs.screenshot)
                state.history.append(record)
                state.frames[index] = obs.screenshot
                self._prune_frames(state)
                if stepped is not None:
                    obs = stepped.observation
                if record.done:
                    termination = self._end(record.action, result)
                    break
            result.termination = termination  # type: ignore[assignment]
            if termination == "stopped":
                result.status = "stopped"
            elif termination == "needs_user":
                result.status = "needs_user"  # nobody to ask: not graded
            else:
                score = float(env.evaluate())
                result.reward = score
                result.status = "success" if score >= 1.0 - 1e-9 else "failure"
        except SetupError:
            raise  # no result.json: a resumed run retries this episode
        except Exception as e:  # noqa: BLE001 — recorded, never lost; the runner decides what next
            result.status = "error"
            result.termination = result.termination or "error"  # a grader that failed keeps how it ended
            result.error = f"{type(e).__name__}: {e}"
            result.trace = traceback.format_exc(limit=5)
        result.steps = len(state.history)
        result.turns = state.turns
        result.duration_s = time.time() - started
        if writer:
            if obs is not None:
                result.final_screenshot = writer.write_final_screenshot(obs.screenshot)
            writer.finish(result)
        return result

    @staticmethod
    def _end(action: Action | None, result: EpisodeResult) -> str:
        """The termination a final action means; its answer / reason go into the result."""
        if isinstance(action, Done):
            result.answer = action.answer
            return "done"
        if isinstance(action, Fail):
            result.reason = action.reason
            return "infeasible" if action.by == "agent" else "gave_up"
        if isinstance(action, CallUser):
            result.reason = action.question
            return "needs_user"
        return "step_budget"  # the env said done by itself (a MiniWoB task ended)

    def _prune_frames(self, state: EpisodeState) -> None:
        """Keep the screenshots the critic compares with (the last few records) and the ones
        the policy sends again (the first record of each of its last ``image_window`` turns)."""
        history = state.history
        keep = {r.index for r in history[-self.config.keep_frames:]} if self.config.keep_frames else set()
        turn_starts = [r.index for r in history if r.turn is not None]
        keep.update(turn_starts[-image_window(self.policy):])
        for old in [i for i in state.frames if i not in keep]:
            del state.frames[old]

    def step(self, env: Env, task: Task, obs: Observation, state: EpisodeState,
             screenshot_name: str, stop: threading.Event | None = None) -> tuple[StepRecord, StepResult | None]:
        """One step (one executed action at most). ``stop``, once set, ends the asking again
        after a veto: the episode notices it before the next step."""
        index = len(state.history)
        timings: dict[str, float] = {"policy": 0.0, "critic": 0.0}
        attempts: list[Attempt] = []
        notes: list[dict[str, Any]] = []
        critique: Critique | None = None
        approved: tuple[Action, list[CoordChain], TurnRecord | None] | None = None
        turn_index: int | None = None
        asked = False
        self.pending_evidence = []
        t = time.perf_counter()
        macro = self.compressor.compress(task, state.history, state.frames)
        timings["history"] = time.perf_counter() - t
        budget = self.config.max_steps or task.max_steps
        for attempt_no in range(self.config.max_retries + 1):
            if attempt_no and stop is not None and stop.is_set():
                break
            turn: TurnRecord | None = None
            if state.queue and attempt_no == 0:
                proposal = state.queue.popleft()
                turn_index = state.history[-1].turn_index if state.history else None
            else:
                state.queue.clear()
                if not asked:  # the first call of the policy in this step starts a turn
                    if state.turns >= budget:  # a vetoed queued action: no turn left to ask again
                        critique = Critique("the step budget is spent")
                        break
                    state.turns += 1
                    turn_index, asked = state.turns - 1, True
                timeout = self.config.stage_timeout_s
                inp = PolicyInput(task=task, observation=obs, history=state.history, frames=state.frames,
                                  screenshot_name=screenshot_name, turn_index=turn_index, critique=critique,
                                  feedback=state.feedback, attempt=attempt_no, macro=macro,
                                  steps_left=max(budget - turn_index, 1),
                                  deadline=None if timeout is None else time.monotonic() + _soft(timeout))
                t = time.perf_counter()
                answer = call_with_timeout(self.policy.act, timeout, "policy", inp)
                timings["policy"] += time.perf_counter() - t
                for stage, seconds in answer.timings.items():
                    timings[stage] = timings.get(stage, 0.0) + seconds
                turn = answer.record
                if not answer.proposals:
                    attempt = Attempt(turn=turn, intent=answer.intent, grounding=answer.grounding,
                                      error=turn.error or "the policy proposed no action")
                    attempts.append(attempt)
                    critique = Critique(attempt.error or "")
                    continue
                proposal, *rest = answer.proposals
                limit = self.config.max_actions_per_turn
                if len(rest) >= limit:
                    turn.error = f"{len(rest) + 1} actions in one turn: only the first {limit} run"
                state.queue.extend(rest[:limit - 1])
            attempt = Attempt(turn=turn, intent=proposal.intent, grounding=proposal.grounding,
                              action=proposal.action)
            verdict = self._review(task, obs, proposal, state, macro, timings, notes, screenshot_name,
                                   len(attempts), turn)
            attempt.verdict = verdict
            attempts.append(attempt)
            if not notes[-1]["intervened"]:
                approved = (proposal.action, proposal.chains, turn)
                break
            state.queue.clear()  # the rest of the turn assumed the vetoed action
            critique = Critique.from_verdict(verdict)
            suggestion = verdict.suggestion
            if self.config.critic_policy == "veto-and-accept-suggestion" and suggestion is not None:
                # The critic's own suggestion is reviewed too: a bad one must not slip through.
                again = self._review(task, obs, Proposal(suggestion), state, macro, timings, notes,
                                     screenshot_name, len(attempts), turn)
                attempts.append(Attempt(intent=proposal.intent, action=suggestion, verdict=again,
                                        error="suggested by the critic"))
                if not notes[-1]["intervened"]:
                    space = ModelSpace.screenshot(*obs.size)
                    chains = [CoordChain.from_model(p, space, obs.size, raw_text="critic suggestion")
                              for p in suggestion.points()]
                    source = "user" if verdict.critic == "human" else "critic"
                    taken = TurnRecord(index=turn_index if turn_index is not None else state.turns - 1,
                                       policy=self.policy.name, source=source, actions=[suggestion],
                                       feedback=critique)
                    approved = (suggestion, chains, taken)
                    break
                critique = Critique.from_verdict(again)
        record = StepRecord(index=index, screenshot=screenshot_name, url=obs.url, attempts=attempts,
                            timings=timings, turn_index=turn_index)
        extra = self._agent_info(obs, macro, notes)
        if approved is None:
            record.error = "no action approved: " + (critique or "")
            record.turn = next((a.turn for a in reversed(attempts) if a.turn is not None), None)
            record.info = {"agent": extra}
            state.feedback = record.error
            return record, None
        action, chains, turn = approved
        record.turn = turn
        for note in notes:
            note["action_after"] = action.model_dump()
        t = time.perf_counter()
        try:
            stepped = env.step(action)
        except UnsupportedActionError as e:
            record.timings["env"] = time.perf_counter() - t
            record.error = str(e)
            record.info = {"agent": extra}
            state.queue.clear()
            state.feedback = f"The last action ({action.type}) could not be run: {e}"
            return record, None
        record.timings["env"] = time.perf_counter() - t  # the record holds its own copy of ``timings``
        state.feedback = None
        record.action = action
        record.chains = [c.executed(obs.device_scale_factor) for c in chains]
        record.reward = stepped.reward
        record.done = stepped.done or isinstance(action, TERMINAL_ACTIONS)
        record.info = {**_json_safe(stepped.info), "agent": extra}
        return record, stepped

    def _review(
        self, task: Task, obs: Observation, proposal: Proposal, state: EpisodeState, macro: MacroHistory,
        timings: dict[str, float], notes: list[dict[str, Any]], screenshot_name: str, attempt_index: int,
        turn: TurnRecord | None,
    ) -> Verdict:
        """One critic call; appends what the trajectory keeps of it to ``notes``."""
        action = proposal.action
        context = ReviewContext(task=task, observation=obs, action=action, intent=proposal.intent,
                                grounding=proposal.grounding, history=state.history, macro_history=macro,
                                frames=state.frames, turn=turn)
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
