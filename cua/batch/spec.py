"""What a worker needs to rebuild the agent and the suite on its side: plain, picklable data.

``cua run`` and ``cua eval`` build their stack from the same ``StackSpec`` (planner / grounder /
critic given as ``NAME[:k=v,...]`` plus the loop's settings), so one flag set means one stack
whether it runs in-process, in a worker process or in a Ray actor.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from cua.core import CuaError, EnvError, StepTimeoutError
from cua.core.registry import Registry, UnknownComponentError, parse_spec

if TYPE_CHECKING:
    from cua.agent import Agent


@dataclass(frozen=True)
class StackSpec:
    planner: str = "instructions"
    grounder: str = "a11y"
    critic: str = "approve-all"
    max_steps: int | None = None
    max_retries: int = 2
    critic_policy: str = "veto-and-replan"
    critic_min_score: float = 0.0

    def _registries(self) -> list[tuple[Registry, str]]:
        from critic.base import CRITICS
        from cua.planners import PLANNERS
        from grounding import GROUNDERS

        return [(PLANNERS, self.planner), (GROUNDERS, self.grounder), (CRITICS, self.critic)]

    def validate(self) -> None:
        """Check the component names without building anything (a VLM grounder would load its
        weights): a typo fails here, in the parent, before any worker starts."""
        from cua.agent import CRITIC_POLICIES

        for registry, spec in self._registries():
            name, _ = parse_spec(spec)
            if name not in registry.names():
                close = difflib.get_close_matches(name, registry.names(), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise UnknownComponentError(
                    f"unknown {registry.kind} {name!r}{hint}; known: {', '.join(registry.names())}")
        if self.critic_policy not in CRITIC_POLICIES:
            raise CuaError(f"unknown critic policy {self.critic_policy!r}; known: {', '.join(CRITIC_POLICIES)}")

    def build(self) -> Agent:
        from cua.agent import Agent, AgentConfig

        (planners, p), (grounders, g), (critics, c) = self._registries()
        return Agent(planners.make(p), grounders.make(g), critics.make(c),
                     AgentConfig(max_steps=self.max_steps, max_retries=self.max_retries,
                                 critic_policy=self.critic_policy,  # type: ignore[arg-type]
                                 critic_min_score=self.critic_min_score))

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _subclass_names(base: type) -> set[str]:
    names, todo = set(), [base]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def infra_error_names() -> set[str]:
    """Exception types that mean the infrastructure failed, not the agent: every EnvError
    (page loads, crashed browsers, VMs, sites; adapters subclass it), stage timeouts, and a
    model server that does not answer."""
    names = _subclass_names(EnvError) | _subclass_names(StepTimeoutError) | {"TimeoutError"}
    try:
        from grounding.backends.openai_compat import ModelServerError

        names |= _subclass_names(ModelServerError)
    except ImportError:  # the models extra is optional
        pass
    return names


def grader_error_names() -> set[str]:
    """Exception types that mean the task's grader could not score the episode: neither the
    agent's fault nor a flaky infrastructure, so never retried. OSWorld's EvaluationError (a
    getter or metric raised) and UnsupportedTaskError (a task this runner cannot set up or
    score, SandboxPathError and UntrustedCommandError included), a task file that does not
    parse, WebArena's UnsupportedTaskError and its LLM judge answering off-script (JudgeError,
    an EnvError: checked first)."""
    names: set[str] = set()
    try:
        from envs.osworld.task import (
            EvaluationError,
            TaskFileError,
            UnsupportedTaskError,
        )

        for cls in (EvaluationError, TaskFileError, UnsupportedTaskError):
            names |= _subclass_names(cls)
    except ImportError:
        pass
    try:
        from envs.webarena.evaluators import JudgeError
        from envs.webarena.task import UnsupportedTaskError as WebArenaUnsupported

        names |= _subclass_names(JudgeError) | _subclass_names(WebArenaUnsupported)
    except ImportError:
        pass
    return names


def classify_error(error: str | None) -> str:
    """``"PageLoadError: ..."`` (as ``Agent.run_episode`` records it) → ``grader``, ``infra``
    or ``agent``."""
    if not error:
        return "agent"
    type_name = error.split(":", 1)[0].strip()
    if type_name in grader_error_names():
        return "grader"
    return "infra" if type_name in infra_error_names() else "agent"
