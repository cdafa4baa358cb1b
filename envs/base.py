"""The one Env protocol every environment implements, and what it exchanges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cua.core import Action, Observation, Task

__all__ = ["Env", "StepResult", "Task"]


@dataclass
class StepResult:
    observation: Observation
    reward: float = 0.0
    done: bool = False
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Env(Protocol):
    """reset → step* → evaluate → close. Coordinates in actions are screenshot pixels; the env
    converts them to its screen (CSS / X11) pixels and reports what it executed in
    ``info["executed_points"]`` as ``[[x, y], ...]``."""

    name: str

    def reset(self, task: Task) -> Observation: ...

    def step(self, action: Action) -> StepResult: ...

    def evaluate(self) -> float: ...

    def close(self) -> None: ...
