"""The one description of an agent stack, and the one place it is built.

``cua run``, ``cua eval`` (in every worker process or Ray actor), the app's live view and the
synthetic-task verifier all describe what they run as a ``Stack`` (plain, picklable data) and
call ``build()``. One flag set means one stack wherever it runs.

The policy is ``planner`` (the ``planner`` + ``grounder`` fields below: the regex planner with
a CPU grounder by default), a registered policy by spec (``native:profile=ui-tars-1.5,...``), or
a user's own class loaded with ``--plugin module:Class``.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Callable

from cua.core import CuaError
from cua.core.registry import Registry, UnknownComponentError, parse_spec

if TYPE_CHECKING:
    from critic.base import Critic
    from cua.agent import Agent
    from cua.policies.base import Policy

PLANNER_POLICY = "planner"  # the planner + grounder policy, built from the stack's planner / grounder


@dataclass(frozen=True)
class Stack:
    policy: str = PLANNER_POLICY
    planner: str = "instructions"
    grounder: str = "a11y"
    critic: str = "approve-all"
    max_steps: int | None = None  # turns per episode; None: the task's own budget
    max_retries: int = 2
    critic_policy: str = "veto-and-replan"
    critic_min_score: float = 0.0
    stage_timeout_s: float | None = 120.0  # one policy turn or critic call; None: no limit

    def _registries(self) -> list[tuple[Registry, str]]:
        from critic.base import CRITICS
        from cua.planners import PLANNERS
        from cua.policies import POLICIES
        from grounding import GROUNDERS

        if self.uses_planner:
            return [(PLANNERS, self.planner), (GROUNDERS, self.grounder), (CRITICS, self.critic)]
        return [(POLICIES, self.policy), (CRITICS, self.critic)]

    @property
    def uses_planner(self) -> bool:
        return parse_spec(self.policy)[0] == PLANNER_POLICY

    def validate(self) -> None:
        """Check the component names without building anything (a model policy would load its
        weights): a typo fails here, in the parent, before any worker starts."""
        from cua.agent import CRITIC_POLICIES

        for registry, spec in self._registries():
            name, _ = parse_spec(spec)
            if name not in registry.names():
                known = registry.names() + ([PLANNER_POLICY] if registry.kind == "policy" else [])
                close = difflib.get_close_matches(name, known, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise UnknownComponentError(f"unknown {registry.kind} {name!r}{hint}; known: {', '.join(known)}")
        if self.critic_policy not in CRITIC_POLICIES:
            raise CuaError(f"unknown critic policy {self.critic_policy!r}; known: {', '.join(CRITIC_POLICIES)}")

    def build(self, wrap_critic: Callable[[Critic], Critic] | None = None, policy: Policy | None = None) -> Agent:
        """The agent; ``wrap_critic`` puts something around the critic (the app's approvals);
        ``policy``, a live object, replaces the described one (the synthetic verifier's
        reference plan, which reads the page it is verified on)."""
        from cua.agent import Agent, AgentConfig
        from cua.policies.planner_grounder import PlannerGrounderPolicy

        self.validate()
        registries = self._registries()
        critic = registries[-1][0].make(self.critic)
        if policy is None and self.uses_planner:
            (planners, p), (grounders, g) = registries[:2]
            policy = PlannerGrounderPolicy(planners.make(p), grounders.make(g))
        elif policy is None:
            policy = registries[0][0].make(self.policy)
        config = AgentConfig(max_steps=self.max_steps, max_retries=self.max_retries,
                             critic_policy=self.critic_policy,  # type: ignore[arg-type]
                             critic_min_score=self.critic_min_score, stage_timeout_s=self.stage_timeout_s)
        return Agent(policy, wrap_critic(critic) if wrap_critic else critic, config)

    def with_(self, **changes: object) -> Stack:
        return replace(self, **changes)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Stack:
        """A stack read back from run.json (fields added since it was written get their defaults;
        unknown fields are an error naming them)."""
        known = set(cls.__dataclass_fields__)
        if unknown := sorted(set(data) - known):
            raise CuaError(f"unknown stack field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**data)  # type: ignore[arg-type]


def import_plugins(plugins: tuple[str, ...] | list[str]) -> list[str]:
    """Import each ``module`` (it may register suites, planners, grounders, critics, policies),
    or ``module:Class``: a policy class, registered as the policy ``module.Class`` (its
    constructor's keyword arguments come from ``--policy module.Class:k=v``). Returns the policy
    names registered that way."""
    from cua.policies import POLICIES

    registered = []
    for plugin in plugins:
        module_name, _, class_name = plugin.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise CuaError(f"--plugin {plugin}: cannot import {module_name} ({e})") from e
        if not class_name:
            continue
        cls = getattr(module, class_name, None)
        if not callable(cls):
            raise CuaError(f"--plugin {plugin}: {module_name} has no class {class_name!r}")
        name = f"{module_name}.{class_name}"
        POLICIES.register(name)(cls)
        registered.append(name)
    return registered
