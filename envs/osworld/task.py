"""The OSWorld task JSON (``evaluation_examples/examples/<domain>/<uuid>.json``) as pydantic models.

Tolerant of the fields that vary between task files (``source``, ``trajectory``, ``proxy``,
``fixed_ip``, ``possibility_of_env_change``, anything new: kept as extras), strict on the ones a
runner needs (``id``, ``instruction``, ``config`` steps, ``evaluator``). The evaluator rules follow
the comment in OSWorld's ``desktop_env/desktop_env.py::_set_evaluator_info``: when ``func`` is a
list, ``result``/``expected``/``options`` are lists of the same length (``None`` where unused).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cua.core import CuaError

# Task ids and domains name folders (the cache folder cache/<id>, examples/<domain>/<id>.json).
SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")


def name_problem(name: str, what: str = "id") -> str | None:
    """Why ``name`` cannot be a task id / domain used as a folder name (None: it can)."""
    if not SAFE_NAME.fullmatch(name) or name in (".", ".."):
        return f"{what} {name[:80]!r} may hold only letters, digits, '.', '_' and '-' (and is not . or ..)"
    return None


class TaskFileError(CuaError, ValueError):
    """A task file that is not valid OSWorld task JSON (the message names the file and field)."""


class UnsupportedTaskError(CuaError):
    """A task this runner cannot set up or score (unknown evaluator function, a getter or setup
    step that needs the VM, a missing app): reported as unsupported, never scored 0. Not an
    EnvError: retrying cannot help (the suite lists such tasks in ``skipped()`` instead)."""


class UntrustedCommandError(UnsupportedTaskError):
    """The task would run a command from its file on this machine and the user did not opt in
    (``trust_commands``): the message names the command and how to allow it."""


class SandboxPathError(UnsupportedTaskError):
    """A path from the task file that leads outside the episode's sandbox (``/etc/passwd``,
    ``~/../..``, a symlink out of it): refused, never read or written."""


class EvaluationError(CuaError):
    """A getter or metric raised while scoring. OSWorld writes no result for such an episode
    (``lib_run_single`` never reaches ``result.txt``), so it is an error, not a 0."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")

    @property
    def fields(self) -> dict[str, Any]:
        """Every field of the spec, declared or extra (getter/setup functions take them all)."""
        return self.model_dump(exclude_none=False)


class SetupStep(_Open):
    """``{"type": "execute", "parameters": {...}}`` → ``SetupController._execute_setup(**parameters)``."""

    type: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)


class GetterSpec(_Open):
    """``{"type": "vm_file", "path": ..., "dest": ...}`` → ``getters.get_vm_file(env, spec)``."""

    type: str = Field(min_length=1)


class Evaluator(BaseModel):
    model_config = ConfigDict(extra="allow")

    func: str | list[str]
    conj: Literal["and", "or"] = "and"
    result: GetterSpec | list[GetterSpec | None] | None = None
    expected: GetterSpec | list[GetterSpec | None] | None = None
    options: dict[str, Any] | list[dict[str, Any] | None] | None = None
    postconfig: list[SetupStep] = Field(default_factory=list)

    @field_validator("result", "expected", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        # OSWorld treats a missing or empty result/expected the same way (``len(...) > 0``).
        return None if v in ({}, [], "") else v

    @field_validator("func")
    @classmethod
    def _names(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, list) and not v:
            raise ValueError("func is an empty list")
        return v

    @model_validator(mode="after")
    def _same_lengths(self) -> Evaluator:
        if not isinstance(self.func, list):
            for name in ("result", "expected", "options"):
                if isinstance(getattr(self, name), list):
                    raise ValueError(f"func is one name but {name} is a list")  # noqa: TRY004 - pydantic wants ValueError
            return self
        n = len(self.func)
        for name in ("result", "expected", "options"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, list):
                raise ValueError(f"func is a list of {n} but {name} is not a list")  # noqa: TRY004
            if len(value) != n:
                raise ValueError(f"func has {n} entries but {name} has {len(value)}")
        return self

    @property
    def funcs(self) -> list[str]:
        return list(self.func) if isinstance(self.func, list) else [self.func]

    def getter_specs(self) -> list[GetterSpec]:
        out: list[GetterSpec] = []
        for value in (self.result, self.expected):
            items = value if isinstance(value, list) else [value]
            out += [s for s in items if s is not None]
        return out


class OSWorldTask(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    snapshot: str | None = None
    source: str | None = None
    config: list[SetupStep] = Field(default_factory=list)
    related_apps: list[str] = Field(default_factory=list)
    evaluator: Evaluator
    proxy: bool = False

    @field_validator("id")
    @classmethod
    def _safe_id(cls, v: str) -> str:
        problem = name_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @property
    def is_infeasible(self) -> bool:
        return self.evaluator.func == "infeasible"


def parse_task(data: Any, where: str = "task") -> OSWorldTask:
    if not isinstance(data, dict):
        raise TaskFileError(f"{where}: an OSWorld task is a JSON object, got {type(data).__name__}")
    try:
        return OSWorldTask.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise TaskFileError(f"{where}: {loc}: {first['msg']} ({exc.error_count()} problem(s))") from exc


def load_task(path: str | Path) -> OSWorldTask:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaskFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{path}: not JSON: {exc}") from exc
    return parse_task(data, str(path))
