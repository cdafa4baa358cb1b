"""The Policy protocol: (task, observation, bounded history) → a Turn of actions.

A policy is whatever decides what to do next: the regex planner with a grounder, a native
computer-use model (UI-TARS, Qwen, OpenCUA, EvoCUA), a hosted API, a user's own class. The agent
loop (``cua.agent``) asks it for a turn, has the critic review each proposed action, runs the
approved ones and records everything; it never needs to know which kind of policy it runs.

Policies are stateless between calls: what they remember is the episode's records (``history``)
and the recent screenshots (``frames``), so a resumed run, a critic's veto or a user who took
over for a step all reach the model the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from PIL import Image

from cua.core import Action, CoordChain, Grounding, Intent, Observation, StepRecord, Task, TurnRecord
from cua.core.registry import Registry

if TYPE_CHECKING:
    from critic.base import Critique
    from critic.history import MacroHistory


@dataclass
class PolicyInput:
    task: Task
    observation: Observation
    history: Sequence[StepRecord]  # the episode's records so far (one per executed action)
    frames: Mapping[int, Image.Image]  # screenshots before recent records, by record index
    screenshot_name: str  # this step's screenshot file (TurnRecord.images names files)
    turn_index: int  # the number of the turn being asked for (0 first)
    critique: Critique | None = None  # the critic vetoed this step's earlier proposal
    feedback: str | None = None  # what went wrong with the last action (the env could not do it)
    attempt: int = 0
    macro: MacroHistory | None = None  # the critic's macro-action history, where the loop has one
    steps_left: int | None = None  # turns left in the budget, this one included
    deadline: float | None = None  # time.monotonic() by which the turn must be answered


@dataclass
class Proposal:
    """One proposed action in screenshot pixels, with its coordinate chains (one per point)."""

    action: Action
    chains: list[CoordChain] = field(default_factory=list)
    intent: Intent | None = None
    grounding: Grounding | None = None


@dataclass
class Turn:
    """What the policy answered: the actions in order (several per turn are allowed), and the
    record that goes into the trajectory. No proposals means the turn failed (``record.error``
    says why: a grounder found nothing); the loop then asks again, with that as the critique."""

    proposals: list[Proposal]
    record: TurnRecord
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage inside the policy
    intent: Intent | None = None  # for a failed turn: what was asked, and what the grounder said
    grounding: Grounding | None = None


@runtime_checkable
class Policy(Protocol):
    name: str

    def act(self, inp: PolicyInput) -> Turn: ...


def image_window(policy: object) -> int:
    """Screenshots a policy sends per request (the current one included); 1 when it does not say."""
    return max(1, int(getattr(policy, "image_window", 1)))


def components(policy: object) -> dict[str, str]:
    """The names results tables show for a policy (planner / grounder, or the model)."""
    parts = getattr(policy, "components", None)
    return dict(parts) if isinstance(parts, Mapping) else {}


POLICIES: Registry[Policy] = Registry("policy")
