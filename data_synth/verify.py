"""Verification by execution, every time a task is generated.

A task is kept only if, in a real browser:
  1. its validator FAILS on the initial state (and does not error);
  2. the reference plan, run through the agent loop by ``ReferencePlanPlanner`` and recorded
     with ``EpisodeWriter``, ends with the validator passing and no page errors;
  3. the validator FAILS again when one state-changing step is left out of the plan
     (``ablations`` such steps are tried; 0 tries them all).
Anything else discards the task with a reason; nothing here raises for a bad task.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
from pathlib import Path
from typing import Any, Literal

from playwright.sync_api import Page
from pydantic import BaseModel, Field

from cua.agent import Agent
from cua.core import EnvError
from cua.core.store import EpisodeWriter, atomic_write_bytes
from cua.policies.planner_grounder import PlannerGrounderPolicy
from cua.stack import Stack
from data_synth.env import SyntheticEnv, task_from_synth
from data_synth.instructions import GroundingSample, samples_for
from data_synth.page import PageUnstableError, page_errors, task_digest
from data_synth.planner import ReferencePlanPlanner
from data_synth.rng import Rand
from data_synth.spec import GroundedStep, SynthTask
from grounding.base import NoGrounder

log = logging.getLogger(__name__)

DiscardReason = Literal[
    "template-error", "page-unstable", "page-error", "validator-error", "validator-passes-initially",
    "plan-failed", "validator-fails-after-plan", "ablation-passes", "env-error",
]
TASK_FILE, GROUNDING_FILE, OUTCOME_FILE, EPISODE_DIR = "task.json", "grounding.json", "outcome.json", "episode"


class Outcome(BaseModel):
    """outcome.json of a task folder, written last: its presence means the task is finished."""

    task_id: str
    status: Literal["verified", "discarded"]
    reason: DiscardReason | None = None
    detail: str | None = None
    family: str = ""
    template: str = ""
    level: str = ""
    seed: int | None = None
    plan_steps: int = 0
    actions: int = 0
    ablations: list[int] = Field(default_factory=list)
    grounding_samples: int = 0
    element_kinds: dict[str, int] = Field(default_factory=dict)
    digest: str | None = None
    seconds: float = 0.0


class Discard(Exception):
    def __init__(self, reason: DiscardReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


# The reference plan proposes grounded actions itself (no grounder is asked), every action runs,
# and every stage runs in the env's thread (the planner reads the live Playwright page).
VERIFY_STACK = Stack(planner=ReferencePlanPlanner.name, grounder="none", critic="approve-all", max_retries=0,
                     stage_timeout_s=None)


_SID = re.compile(r'^\[data-sid="([^"]+)"\]$')


def _agent(planner: ReferencePlanPlanner) -> Agent:
    return VERIFY_STACK.build(policy=PlannerGrounderPolicy(planner, NoGrounder()))


def verify(env: SyntheticEnv, synth: SynthTask, folder: Path | None = None, ablations: int = 2,
           extra_targets: int = 3) -> Outcome:
    """Verify ``synth`` in ``env``; with ``folder``, write task.json, grounding.json, the
    episode and outcome.json there. EnvError (a dead browser) propagates: the caller restarts."""
    started = time.time()
    outcome = Outcome(task_id=synth.id, status="discarded", family=synth.family, template=synth.template,
                      level=synth.level, seed=synth.seed, plan_steps=len(synth.plan))
    samples: list[GroundingSample] = []
    grounded: list[GroundedStep] = []
    try:
        outcome.digest = task_digest(synth)
        grounded, samples = _reference_run(env, synth, folder, extra_targets)
        outcome.ablations = _ablate(env, synth, ablations)
        outcome.status = "verified"
    except Discard as d:
        outcome.reason, outcome.detail = d.reason, d.detail
    outcome.actions = len(grounded)
    outcome.grounding_samples = len(samples)
    for s in samples:
        outcome.element_kinds[s.kind] = outcome.element_kinds.get(s.kind, 0) + 1
    outcome.seconds = round(time.time() - started, 3)
    if folder is not None:
        _write(folder, synth, grounded, samples, outcome)
    return outcome


def _reference_run(env: SyntheticEnv, synth: SynthTask, folder: Path | None, extra: int
                   ) -> tuple[list[GroundedStep], list[GroundingSample]]:
    task = task_from_synth(synth)
    samples: list[GroundingSample] = []
    initial: dict[str, Any] = {}

    def on_start(page: Page) -> None:
        try:
            initial["score"] = synth.validator(page)
        except Exception as e:  # noqa: BLE001 — any validator failure discards the task
            initial["error"] = f"{type(e).__name__}: {e}"

    def on_target(page: Page, step: GroundedStep) -> None:
        m = _SID.match(step.selector or "")
        samples.extend(samples_for(page, synth.id, f"{EPISODE_DIR}/{step.screenshot}", env.screenshot_size,
                                   env.config.device_scale_factor, m.group(1) if m else None, extra, synth.seed))

    planner = ReferencePlanPlanner(env, on_start=on_start, on_target=on_target)
    writer = EpisodeWriter(folder / EPISODE_DIR) if folder is not None else None
    with env.observing("screenshot" if folder is not None else "none"):
        result = _run(env, task, planner, writer)
    if "error" in initial:
        raise Discard("validator-error", f"on the initial state: {initial['error']}")
    if initial.get("score", 0.0) >= 1.0:
        raise Discard("validator-passes-initially", "the validator passes before any action")
    errors = page_errors(env.page)
    if errors:
        raise Discard("page-error", errors[0])
    if result.status != "success":
        state = env.page.evaluate("() => window.__app.state")
        raise Discard("validator-fails-after-plan", "; ".join(synth.validator.explain(state)) or "score 0")
    return planner.grounded, samples


def _run(env: SyntheticEnv, task: Any, planner: ReferencePlanPlanner, writer: EpisodeWriter | None) -> Any:
    """One episode; an episode error becomes the Discard it stands for."""
    try:
        result = _agent(planner).run_episode(env, task, writer)
    except PageUnstableError as e:
        raise Discard("page-unstable", str(e)) from e
    if result.status != "error":
        return result
    error = result.error or ""
    if error.startswith("PageUnstableError"):
        raise Discard("page-unstable", error.split(": ", 1)[-1])
    if error.startswith("PlanError"):
        raise Discard("plan-failed", error.split(": ", 1)[-1])
    if "browser crashed" in error:
        raise EnvError(error)
    try:  # was it the validator that failed at the end?
        task.config["validator"](env.page)
    except Exception as e:
        raise Discard("validator-error", f"{type(e).__name__}: {e}") from e
    raise Discard("env-error", error)


def ablation_steps(synth: SynthTask, ablations: int) -> list[int]:
    """Which state-changing steps are left out, one at a time (fixed by the task's seed)."""
    candidates = [i for i, s in enumerate(synth.plan) if s.changes_state]
    if ablations <= 0 or ablations >= len(candidates):
        return candidates
    return sorted(Rand(synth.seed, synth.id, "ablate").sample(candidates, ablations))


def _ablate(env: SyntheticEnv, synth: SynthTask, ablations: int) -> list[int]:
    steps = ablation_steps(synth, ablations)
    for k in steps:
        planner = ReferencePlanPlanner(env, skip=frozenset({k}))
        with env.observing("none"):
            result = _run(env, task_from_synth(synth), planner, None)
        if result.status == "success":
            raise Discard("ablation-passes",
                          f"the validator passes without step {k + 1} ({synth.plan[k].instruction})")
    return steps


def _write(folder: Path, synth: SynthTask, grounded: list[GroundedStep], samples: list[GroundingSample],
           outcome: Outcome) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    task = {"task": synth.model_dump(mode="json"), "grounded_plan": [g.model_dump(mode="json") for g in grounded],
            "digest": outcome.digest}
    atomic_write_bytes(folder / TASK_FILE, json.dumps(task, indent=1).encode())
    atomic_write_bytes(folder / GROUNDING_FILE,
                       json.dumps([s.model_dump(mode="json") for s in samples], indent=1).encode())
    atomic_write_bytes(folder / OUTCOME_FILE, outcome.model_dump_json(indent=1).encode())


def discard_outcome(task_id: str, reason: DiscardReason, error: BaseException) -> Outcome:
    """The outcome of a task that could not even be generated or opened."""
    detail = f"{type(error).__name__}: {error}"
    log.warning("%s discarded (%s): %s", task_id, reason, detail)
    log.debug("%s", "".join(traceback.format_exception(error, limit=4)))
    return Outcome(task_id=task_id, status="discarded", reason=reason, detail=detail)
