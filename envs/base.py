"""The one Env protocol every environment implements, what it exchanges, and its action space."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cua.core import BASIC_ACTIONS, Action, Observation, Task, UnsupportedActionError

__all__ = ["Env", "StepResult", "Task", "check_supported", "supported_actions"]

# What every X11-style pointer + keyboard backend can do beyond the basic set.
POINTER_KEYBOARD_ACTIONS: frozenset[str] = BASIC_ACTIONS | {
    "triple_click", "mouse_down", "mouse_up", "key_down", "key_up",
}


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
    ``info["executed_points"]`` as ``[[x, y], ...]``.

    Every env of the project also declares ``supported_actions: frozenset[str]`` (action type
    names; read it through ``supported_actions(env)``, which gives ``BASIC_ACTIONS`` for envs
    that do not declare it) and starts ``step`` with ``check_supported(self, action)``: an action
    outside that set raises UnsupportedActionError and changes nothing. Not a protocol member,
    so users' envs without it still count as Envs."""

    name: str

    def reset(self, task: Task) -> Observation: ...

    def step(self, action: Action) -> StepResult: ...

    def evaluate(self) -> float: ...

    def close(self) -> None: ...


def supported_actions(env: Any) -> frozenset[str]:
    """The action types ``env`` can do: its ``supported_actions``; for a wrapper without one
    (``AsyncEnv``, ``GymEnv``: an ``env`` attribute) the wrapped env's; else ``BASIC_ACTIONS``."""
    seen = 0
    while env is not None and seen < 8:  # a wrapper chain, never a cycle
        declared = getattr(env, "supported_actions", None)
        if isinstance(declared, (frozenset, set, tuple, list)):
            return frozenset(declared)
        env, seen = getattr(env, "env", None), seen + 1
    return BASIC_ACTIONS


def check_supported(env: Any, action: Action) -> None:
    """UnsupportedActionError (one line, naming the env and what it can do) unless ``env`` can
    do ``action``. Call it first in ``step``, so a refused action changes nothing."""
    can = supported_actions(env)
    if action.type not in can:
        name = getattr(env, "name", None) or type(env).__name__
        raise UnsupportedActionError(f"{name} cannot do '{action.type}' (it can: {', '.join(sorted(can))})")
