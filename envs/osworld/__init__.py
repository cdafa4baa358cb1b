"""OSWorld task adapter: task JSON in the official layout, OSWorld's evaluator semantics, and
two ways to run a task: our own Xvfb session (``OSWorldLocalEnv``, for tasks whose setup and
evaluation only need local programs) or OSWorld's ``desktop_env`` VMs (``OSWorldVMEnv``)."""

from envs.osworld.task import (
    EvaluationError,
    Evaluator,
    GetterSpec,
    OSWorldTask,
    SandboxPathError,
    SetupStep,
    TaskFileError,
    UnsupportedTaskError,
    UntrustedCommandError,
    load_task,
    parse_task,
)

__all__ = [
    "EvaluationError", "Evaluator", "GetterSpec", "OSWorldTask", "SandboxPathError", "SetupStep",
    "TaskFileError", "UnsupportedTaskError", "UntrustedCommandError", "load_task", "parse_task",
]
