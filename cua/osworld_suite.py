"""``--suite osworld:PATH``: OSWorld tasks in the official layout, run locally or on VMs.

PATH is one of
  * a folder in the official layout: ``evaluation_examples/`` holding ``test_all.json``
    (domain → [task ids]) and ``examples/<domain>/<id>.json`` (or the repository root above it;
    without a meta file every ``examples/<domain>/*.json`` is a task);
  * a meta file like ``test_all.json`` / ``test_small.json`` (tasks under ``examples/`` next to it);
  * one task JSON (its domain is its folder's name).
The provider comes from ``PATH?provider=docker`` (``local`` | ``docker`` | ``vmware`` |
``virtualbox`` | ``aws``), else ``$CUA_OSWORLD_PROVIDER``, else ``local``; VM providers take
``path_to_vm``, ``region``, ``headless`` in the same query string. ``local`` runs on our own Xvfb
and lists only the tasks it can set up and score; every other task is in ``skipped()`` with the
reason. VM providers skip only tasks whose evaluator OSWorld itself does not know.
``chromium_proxy=URL`` (or ``$CUA_OSWORLD_CHROMIUM_PROXY``) sends the local Chromium's traffic
through a proxy, e.g. a local mirror that serves a task's pages offline.
``trust_commands=1`` (or ``$CUA_OSWORLD_TRUST_COMMANDS=1``) lets ``local`` run tasks whose setup,
postconfig or getters run shell commands from the task file on this machine, isolated with
``unshare`` where it works (``envs/osworld/jail.py``); without it those tasks are skipped with
the command they would run. VM providers run such commands in the VM, as OSWorld does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cua.core import Task, TaskNotFoundError
from cua.suites import Suite
from envs.base import Env

PROVIDERS = ("local", "docker", "vmware", "virtualbox", "aws")
PROVIDER_ENV_VAR = "CUA_OSWORLD_PROVIDER"
CHROMIUM_PROXY_ENV_VAR = "CUA_OSWORLD_CHROMIUM_PROXY"
MAX_STEPS = 15  # OSWorld's run_multienv.py default --max_steps


@dataclass
class _Entry:
    domain: str
    path: Path
    data: dict[str, Any] | None = None
    skip: str | None = None


@dataclass
class OSWorldSource:
    """Every task a path names, with its domain and file (read once, at load)."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def add_skip(self, task_id: str, domain: str, reason: str) -> None:
        """A listed task that is not read at all (e.g. an id that is no safe file name)."""
        if task_id not in self.entries:
            self.entries[task_id] = _Entry(domain, Path(), skip=reason)
            self.order.append(task_id)

    def add(self, task_id: str, domain: str, path: Path) -> None:
        if task_id in self.entries:
            return
        entry = _Entry(domain, path)
        if not path.is_file():
            entry.skip = f"listed for {domain} but {path} is missing"
        else:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                entry.data = data if isinstance(data, dict) else None
                if entry.data is None:
                    entry.skip = f"{path}: not a JSON object"
            except (OSError, json.JSONDecodeError) as exc:
                entry.skip = f"{path}: not readable JSON: {exc}"
        self.entries[task_id] = entry
        self.order.append(task_id)


def _split_spec(spec: str) -> tuple[Path, dict[str, str]]:
    path, _, query = spec.partition("?")
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    return Path(path).expanduser(), params


def _from_meta(meta: Path, examples: Path, source: OSWorldSource) -> None:
    try:
        mapping = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TaskNotFoundError(f"{meta}: not a readable OSWorld meta file: {exc}") from exc
    if not isinstance(mapping, dict) or not all(isinstance(v, list) for v in mapping.values()):
        raise TaskNotFoundError(f"{meta}: expected {{domain: [task ids]}} like test_all.json")
    from envs.osworld.task import name_problem

    for domain, ids in mapping.items():
        for task_id in ids:
            problem = name_problem(str(domain), "domain") or name_problem(str(task_id))
            if problem:  # joined into a path below: never outside examples/
                source.add_skip(str(task_id), str(domain), f"{meta}: {problem}")
                continue
            source.add(str(task_id), domain, examples / domain / f"{task_id}.json")


def read_source(path: Path) -> OSWorldSource:
    source = OSWorldSource()
    if path.is_dir():
        base = path / "evaluation_examples" if (path / "evaluation_examples").is_dir() else path
        meta = base / "test_all.json"
        if meta.is_file():
            _from_meta(meta, base / "examples", source)
        else:
            examples = base / "examples" if (base / "examples").is_dir() else base
            for file in sorted(examples.glob("*/*.json")):
                source.add(file.stem, file.parent.name, file)
    elif path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TaskNotFoundError(f"{path}: not readable JSON: {exc}") from exc
        if isinstance(data, dict) and "evaluator" in data:
            source.add(str(data.get("id") or path.stem), path.parent.name, path)
        else:
            _from_meta(path, path.parent / "examples", source)
    else:
        raise TaskNotFoundError(f"osworld: no such file or folder {path}")
    if not source.order:
        raise TaskNotFoundError(f"osworld: no task files under {path}")
    return source


def osworld_suite(spec: str) -> Suite:
    from envs.osworld.jail import trusted_by_env
    from envs.osworld.support import evaluator_reason, local_reason
    from envs.osworld.task import TaskFileError, parse_task

    path, params = _split_spec(spec)
    provider = params.pop("provider", None) or os.environ.get(PROVIDER_ENV_VAR) or "local"
    if provider not in PROVIDERS:
        raise TaskNotFoundError(f"osworld: unknown provider {provider!r}; one of {', '.join(PROVIDERS)}")
    source = read_source(path)
    cache_root = params.get("cache") or os.environ.get("CUA_OSWORLD_CACHE")
    chromium_proxy = params.pop("chromium_proxy", None) or os.environ.get(CHROMIUM_PROXY_ENV_VAR)
    trust = params.pop("trust_commands", None)
    trust_commands = trusted_by_env() if trust is None else trust.strip().lower() in ("1", "true", "yes", "on")

    skipped: list[tuple[str, str]] = []
    runnable: list[str] = []
    for task_id in source.order:
        entry = source.entries[task_id]
        reason = entry.skip
        if reason is None:
            try:
                task = parse_task(entry.data, str(entry.path))
                root = Path(cache_root).resolve() if cache_root else None
                cache = [root / task.id] if root else []  # task.id: a safe name (parse_task)
                reason = (local_reason(task, entry.domain, cache, trust_commands, root)
                          if provider == "local" else evaluator_reason(task))
            except TaskFileError as exc:
                reason = f"invalid task file: {exc}"
        if reason:
            skipped.append((task_id, reason))
        else:
            runnable.append(task_id)

    def make_task(name: str, seed: int | None) -> Task:
        entry = source.entries.get(name)
        if entry is None or entry.data is None:
            raise TaskNotFoundError(f"unknown OSWorld task {name!r} in {path}")
        return Task(id=f"osworld/{name}", instruction=entry.data.get("instruction"), seed=seed,
                    max_steps=MAX_STEPS,
                    config={"osworld": entry.data, "task_dir": str(entry.path.parent),
                            "domain": entry.domain})

    def make_env() -> Env:
        if provider == "local":
            from envs.osworld.env import OSWorldLocalConfig, OSWorldLocalEnv

            flags = [f"--proxy-server={chromium_proxy}"] if chromium_proxy else []
            return OSWorldLocalEnv(OSWorldLocalConfig(cache_root=cache_root, chromium_flags=flags,
                                                      trust_commands=trust_commands))
        from envs.osworld.vm import OSWorldVMConfig, OSWorldVMEnv

        return OSWorldVMEnv(OSWorldVMConfig.from_params(provider, params, cache_root))

    def domain(name: str) -> str:
        entry = source.entries.get(name)
        return entry.domain if entry else "unknown"

    return Suite(f"osworld-{provider}", f"OSWorld tasks from {path} ({provider})",
                 lambda: list(runnable), make_env, make_task, lambda: list(skipped), domain)
