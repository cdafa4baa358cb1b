"""Which kind of failure an errored episode is: the infrastructure's (retried), the grader's
(never retried, reported apart), or the agent's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cua.core import EnvError, StepTimeoutError

if TYPE_CHECKING:
    pass


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
