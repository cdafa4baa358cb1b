"""What the agent loop records: intents, groundings, verdicts, steps, episode results.

These are plain pydantic models so ``steps.jsonl`` is readable without the project's code.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cua.core.actions import Action
from cua.core.coords import CoordChain, ModelSpace
from cua.core.geometry import Box, Point

SCHEMA_VERSION = 1

IntentKind = Literal["click", "double_click", "right_click", "move", "scroll"]


class Intent(BaseModel):
    """What the planner wants done, with the target described in words (grounded later)."""

    model_config = ConfigDict(frozen=True)

    kind: IntentKind = "click"
    target: str  # "the Save button"
    direction: Literal["up", "down", "left", "right"] | None = None  # for kind == "scroll"
    thought: str | None = None


class Grounding(BaseModel):
    """A grounder's answer: a point (None means it refuses), in screenshot pixels."""

    point: Point | None
    box: Box | None = None
    score: float | None = None
    raw_text: str = ""
    model_space: ModelSpace
    model_point: Point | None = None
    latency_s: float = 0.0
    grounder: str = ""
    crops: list[Box] = Field(default_factory=list)  # zoom windows looked at, in screenshot pixels
    candidates: list[Point] = Field(default_factory=list)  # further points offered, best first

    def chain(self, shot_size: tuple[int, int]) -> CoordChain | None:
        if self.point is None:
            return None
        return CoordChain(
            raw_text=self.raw_text, model_space=self.model_space,
            model_point=self.model_point or self.point, screenshot_point=self.point,
            screenshot_size=shot_size,
        )


class Verdict(BaseModel):
    approve: bool
    reason: str = ""
    error_type: str | None = None
    suggestion: Action | None = None
    score: float | None = None
    critic: str = ""


class Attempt(BaseModel):
    """One proposal inside a step: the plan, its grounding, the critic's verdict."""

    intent: Intent | None = None
    action: Action | None = None
    grounding: Grounding | None = None
    verdict: Verdict | None = None
    error: str | None = None


class StepRecord(BaseModel):
    """One line of steps.jsonl."""

    schema_version: int = SCHEMA_VERSION
    index: int
    screenshot: str  # file name (relative to the episode folder) of the screenshot *before* the action
    url: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    action: Action | None = None  # what was executed (None when every attempt was vetoed)
    chains: list[CoordChain] = Field(default_factory=list)
    reward: float = 0.0
    done: bool = False
    info: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    error: str | None = None


EpisodeStatus = Literal["success", "failure", "error", "running", "stopped"]  # stopped: by the user (the app)


class EpisodeResult(BaseModel):
    """result.json of an episode folder."""

    schema_version: int = SCHEMA_VERSION
    task_id: str
    seed: int | None = None
    instruction: str | None = None
    status: EpisodeStatus
    reward: float = 0.0
    steps: int = 0
    error: str | None = None
    # "infra": the env, a VM, a site or a model server failed (retried); "agent": the agent did;
    # "grader": the task's evaluator could not score it (a metric raised, an unsupported task).
    error_kind: Literal["infra", "agent", "grader"] | None = None
    trace: str | None = None  # last frames of the traceback when status == "error"
    stack: dict[str, str] = Field(default_factory=dict)  # planner / grounder / critic names
    env: str = ""
    started_at: float = 0.0
    duration_s: float = 0.0
    final_screenshot: str | None = None
