"""What the agent loop records: intents, groundings, verdicts, steps, episode results.

These are plain pydantic models so ``steps.jsonl`` is readable without the project's code.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cua.core.actions import Action
from cua.core.coords import CoordChain, ModelSpace
from cua.core.geometry import Box, Point

# 2: turns (the policy's thought, raw output, images sent, usage), answers and terminations.
SCHEMA_VERSION = 2

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


class Usage(BaseModel):
    """What one policy turn cost: model calls, tokens (where the backend says), images sent."""

    calls: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    images: int = 0
    image_tokens: int | None = None  # visual tokens the images become (their grid), where known
    request_bytes: int | None = None  # the last request's body on the wire (HTTP backends)
    latency_s: float = 0.0


class RejectedReply(BaseModel):
    """A model output the parser refused; ``error`` is what the model was told."""

    raw: str
    error: str


class TurnRecord(BaseModel):
    """One call of the policy: what it saw and said, and the actions it proposed (in screenshot
    pixels; the step's ``chains`` hold their coordinate chains)."""

    index: int  # the turn's number in the episode (the step budget counts turns)
    policy: str = ""
    source: Literal["policy", "user", "critic"] = "policy"  # user: the app's take-over
    thought: str | None = None
    raw_output: str | None = None  # the accepted model output, as received
    response: str | None = None  # the cleaned text replayed as the assistant's turn in later requests
    summary: str | None = None  # one line saying what was done (older turns appear as this text)
    actions: list[Action] = Field(default_factory=list)
    rejected: list[RejectedReply] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)  # screenshots sent (episode file names), current last
    image_size: tuple[int, int] | None = None  # (width, height) they were sent at
    feedback: str | None = None  # what the request told the model about its last step (veto, error)
    usage: Usage = Field(default_factory=Usage)
    error: str | None = None  # why the turn proposed nothing


class Attempt(BaseModel):
    """One proposal inside a step: the plan, its grounding, the critic's verdict."""

    turn: TurnRecord | None = None  # the policy call this proposal came from (None: rest of a turn)
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
    turn: TurnRecord | None = None  # the policy call whose action ran here (None: an earlier turn's next action)
    turn_index: int | None = None
    chains: list[CoordChain] = Field(default_factory=list)
    reward: float = 0.0
    done: bool = False
    info: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    error: str | None = None


# stopped: by the user (the app); needs_user: the policy asked a person (call_user) in a run without one.
EpisodeStatus = Literal["success", "failure", "error", "running", "stopped", "needs_user"]
# How the episode ended: the policy said done / infeasible / asked for a person, the runtime gave
# up for it (unreadable output after the retries), the step budget ran out, the user stopped it.
Termination = Literal["done", "infeasible", "gave_up", "needs_user", "step_budget", "stopped", "error"]


class EpisodeResult(BaseModel):
    """result.json of an episode folder."""

    schema_version: int = SCHEMA_VERSION
    task_id: str
    seed: int | None = None
    instruction: str | None = None
    status: EpisodeStatus
    reward: float = 0.0
    steps: int = 0
    turns: int = 0
    termination: Termination | None = None
    answer: str | None = None  # Done(answer): what a WebArena grader reads
    reason: str | None = None  # Fail's reason, or CallUser's question
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
