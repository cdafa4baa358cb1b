"""The Critic protocol and what a critic is shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cua.core import Action, Grounding, Intent, Observation, StepRecord, Task, Verdict
from cua.core.registry import Registry


@dataclass
class ReviewContext:
    task: Task
    observation: Observation
    action: Action
    intent: Intent | None = None
    grounding: Grounding | None = None
    history: list[StepRecord] = field(default_factory=list)


@runtime_checkable
class Critic(Protocol):
    name: str

    def review(self, context: ReviewContext) -> Verdict: ...


class ApproveAll:
    """Approves every action: the baseline that shows what the loop does without a critic."""

    name = "approve-all"

    def review(self, context: ReviewContext) -> Verdict:
        return Verdict(approve=True, reason="approve-all critic", critic=self.name)


CRITICS: Registry[Critic] = Registry("critic")
CRITICS.register("approve-all")(ApproveAll)
CRITICS.register("none")(ApproveAll)
