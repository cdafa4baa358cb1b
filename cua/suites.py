"""Named task suites: which env to build and which tasks it offers."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

from cua.core import Task, TaskNotFoundError
from envs.base import Env

# MiniWoB++ tasks the CPU default stack (instruction-list planner + a11y grounder) can attempt:
# their utterance names every target by its visible text or role.
MINIWOB_CPU_TASKS = [
    "click-button", "click-button-sequence", "click-checkboxes", "click-dialog",
    "click-dialog-2", "click-link", "click-option", "click-tab", "click-test", "click-test-2",
    "enter-text", "enter-text-2", "enter-text-dynamic", "focus-text", "focus-text-2",
    "login-user",
]


def _nothing_skipped() -> list[tuple[str, str]]:
    return []


def _domain_by_prefix(task_name: str) -> str:
    return task_name.split("-", 1)[0]


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    task_names: Callable[[], list[str]]
    make_env: Callable[[], Env]
    make_task: Callable[[str, int | None], Task]
    # Tasks of the source the suite cannot run here, each with the reason (shown in reports).
    skipped: Callable[[], list[tuple[str, str]]] = _nothing_skipped
    # The group a task is reported under (OSWorld: its app folder; synthetic: its family).
    domain: Callable[[str], str] = _domain_by_prefix


def _miniwob_env() -> Env:
    from envs.miniwob import MiniWoBEnv

    return MiniWoBEnv()


def _miniwob_names() -> list[str]:
    from envs.miniwob import miniwob_task_names

    return miniwob_task_names()


def _miniwob_task(name: str, seed: int | None) -> Task:
    from envs.miniwob import make_task

    return make_task(name, seed)


SUITES: dict[str, Suite] = {
    "miniwob": Suite("miniwob", "every MiniWoB++ task bundled in the miniwob package",
                     _miniwob_names, _miniwob_env, _miniwob_task),
    "miniwob-cpu": Suite("miniwob-cpu", "MiniWoB++ tasks the CPU default stack can attempt",
                         lambda: list(MINIWOB_CPU_TASKS), _miniwob_env, _miniwob_task),
}


def _synthetic_env() -> Env:
    from data_synth.env import SyntheticEnv

    return SyntheticEnv()


def _synthetic_suite(level: str | None) -> Suite:
    def names() -> list[str]:
        from data_synth.env import task_names

        return task_names(level)  # None: every level

    def task(name: str, seed: int | None) -> Task:
        from data_synth.env import make_task

        return make_task(name, seed)

    return Suite("synthetic" + (f"-{level}" if level else ""),
                 f"generated web apps with executable validators ({level or 'all levels'})",
                 names, _synthetic_env, task)


for _level in (None, "easy", "medium", "hard"):
    _suite = _synthetic_suite(_level)
    SUITES[_suite.name] = _suite


# Suites read from files: ``osworld:PATH`` / ``webarena:PATH`` → loader(PATH), imported lazily.
SUITE_LOADERS: dict[str, str] = {
    "osworld": "cua.osworld_suite:osworld_suite",
    "webarena": "cua.webarena_suite:webarena_suite",
}


def _load_file_suite(scheme: str, path: str) -> Suite:
    import importlib

    module, _, attr = SUITE_LOADERS[scheme].partition(":")
    loader: Callable[[str], Suite] = getattr(importlib.import_module(module), attr)
    return loader(path)


def get_suite(name: str) -> Suite:
    scheme, colon, path = name.partition(":")
    if colon and scheme in SUITE_LOADERS:
        return _load_file_suite(scheme, path)
    if name not in SUITES:
        close = difflib.get_close_matches(name, SUITES, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise TaskNotFoundError(f"unknown suite {name!r}{hint}; known: {', '.join(sorted(SUITES))}")
    return SUITES[name]


def resolve(spec: str) -> tuple[Suite, list[str]]:
    """``miniwob-cpu`` → the whole suite; ``miniwob/click-button,click-link`` → those tasks;
    ``osworld:PATH`` / ``webarena:PATH`` → every task the file (or folder) holds."""
    if spec.partition(":")[0] in SUITE_LOADERS:
        suite = get_suite(spec)
        return suite, suite.task_names()
    suite_name, slash, tasks = spec.partition("/")
    suite = get_suite(suite_name)
    if not slash:
        return suite, suite.task_names()
    known = suite.task_names()
    if suite.name != "miniwob" and suite_name.startswith("miniwob"):
        known = get_suite("miniwob").task_names()  # any MiniWoB task, e.g. miniwob-cpu/choose-list
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    for n in names:
        if n not in known:
            close = difflib.get_close_matches(n, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise TaskNotFoundError(f"unknown task {suite.name}/{n}{hint}")
    return suite, names
