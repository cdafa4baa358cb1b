"""The Critic protocol, what a critic is shown, and what it hands back to the planner.

A Verdict's ``score`` is the critic's confidence in its own verdict (0..1, None = not said);
the agent loop lets a rejection below its abstain threshold pass as advice only. A critic
that cannot judge (a model answer in the wrong format, no evidence either way) ABSTAINS:
``approve=True`` so the action runs as if there were no critic, ``error_type="abstain"`` and
``score=0`` so nobody counts it as an approval (offline evaluation counts it as an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from PIL import Image

from cua.core import Action, Grounding, Intent, Observation, StepRecord, Task, TurnRecord, Verdict
from cua.core.registry import Registry

if TYPE_CHECKING:
    from critic.history import MacroHistory

# The error types every critic reports in (HiViG / GUI-Critic-R1 failure classes).
WRONG_ELEMENT = "wrong_element"
OFF_TARGET = "off_target"  # a near miss: next to the right element, on nothing useful
NOT_INTERACTABLE = "not_interactable"
PREMATURE_TERMINATION = "premature_termination"  # premature or wrong termination
REPEATED_LOOP = "repeated_loop"
TYPING_WITHOUT_FOCUS = "typing_without_focus"
OUT_OF_BOUNDS = "out_of_bounds"
ERROR_TYPES = (WRONG_ELEMENT, OFF_TARGET, NOT_INTERACTABLE, PREMATURE_TERMINATION,
               REPEATED_LOOP, TYPING_WITHOUT_FOCUS, OUT_OF_BOUNDS)
ABSTAIN = "abstain"


@dataclass
class ReviewContext:
    task: Task
    observation: Observation
    action: Action
    intent: Intent | None = None
    grounding: Grounding | None = None
    history: list[StepRecord] = field(default_factory=list)
    # What the agent has achieved so far (critic.history); None: the critic may compute it.
    macro_history: MacroHistory | None = None
    # Screenshots before earlier steps, by step index (the loop keeps the last few): lets a
    # critic see whether the last action changed anything.
    frames: dict[int, Image.Image] = field(default_factory=dict)
    # The policy's turn this action comes from: its thought, raw output, the other actions of
    # the turn (None for a critic's or user's own action, and for records made without a policy).
    turn: TurnRecord | None = None
    # Free-form inputs from a data set (e.g. GUI-Critic-Test's own prompt), never required.
    extra: dict[str, Any] = field(default_factory=dict)
    # Set by the critic: the image it judged from (marked screenshot + zoom), for the trajectory.
    evidence: Image.Image | None = None


@runtime_checkable
class Critic(Protocol):
    name: str

    def review(self, context: ReviewContext) -> Verdict: ...


def abstain(reason: str, critic: str) -> Verdict:
    return Verdict(approve=True, reason=reason, error_type=ABSTAIN, score=0.0, critic=critic)


def is_abstain(verdict: Verdict) -> bool:
    return verdict.error_type == ABSTAIN


class Critique(str):
    """What the planner gets back after a veto: the text (so planners that read a plain
    string keep working) plus the verdict it came from, with its suggestion if any."""

    verdict: Verdict | None

    def __new__(cls, text: str, verdict: Verdict | None = None) -> Self:
        obj = super().__new__(cls, text)
        obj.verdict = verdict
        return obj

    @classmethod
    def from_verdict(cls, verdict: Verdict) -> Self:
        parts = [verdict.reason or "the critic rejected the action"]
        if verdict.error_type:
            parts.append(f"(error: {verdict.error_type})")
        if verdict.suggestion is not None:
            parts.append(f"suggested instead: {verdict.suggestion.model_dump_json()}")
        return cls(" ".join(parts), verdict)

    @property
    def suggestion(self) -> Action | None:
        return self.verdict.suggestion if self.verdict else None


@dataclass
class PlanContext:
    """Passed as ``context=`` to planners whose ``propose`` names a ``context`` parameter:
    the macro-action history every step, and the last critique within the step."""

    macro_history: MacroHistory | None = None
    critique: Critique | None = None
    attempt: int = 0


class ApproveAll:
    """Approves every action: the baseline that shows what the loop does without a critic."""

    name = "approve-all"

    def review(self, context: ReviewContext) -> Verdict:
        return Verdict(approve=True, reason="approve-all critic", critic=self.name)


def parse_flag(value: bool | str) -> bool:
    """``true/on/1/yes`` → True from a CLI spec value ("rules:focus=off")."""
    if isinstance(value, bool):
        return value
    low = value.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected on/off, got {value!r}")


CRITICS: Registry[Critic] = Registry("critic")
CRITICS.register("approve-all")(ApproveAll)
CRITICS.register("none")(ApproveAll)
