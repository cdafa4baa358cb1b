"""OSWorldLocalEnv: an OSWorld task on our own Xvfb session instead of OSWorld's VM.

reset(task) makes a fresh sandbox home (see machine.py), runs the task's ``config`` steps, and
returns the screen; step() runs our actions through DesktopEnv (xdotool); evaluate() runs
OSWorld's evaluator (postconfig, getters, metrics, conj) and returns its fractional score.
The task comes from ``Task.config["osworld"]`` (the task JSON as a dict or an OSWorldTask),
with ``config["task_dir"]`` (the JSON's folder) and ``config["domain"]``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from cua.core import Action, EnvError, Observation
from envs.base import StepResult, Task, check_supported
from envs.desktop import DesktopConfig, DesktopEnv
from envs.osworld import jail
from envs.osworld.evaluate import evaluate as osworld_evaluate
from envs.osworld.getters import LOCAL_GETTERS, GetterContext
from envs.osworld.machine import LocalMachine
from envs.osworld.metrics import METRICS
from envs.osworld.setup import SetupRunner
from envs.osworld.support import local_notes, local_reason, untrusted_reason
from envs.osworld.task import (
    OSWorldTask,
    UnsupportedTaskError,
    UntrustedCommandError,
    name_problem,
    parse_task,
)

CACHE_ENV_VAR = "CUA_OSWORLD_CACHE"  # OSWorld's cache/ folder: <dir>/<task id>/<files>
log = logging.getLogger(__name__)


@dataclass
class OSWorldLocalConfig:
    # OSWorld's guest screen, so coordinates in task files (pyautogui setup steps) mean the same.
    width: int = 1920
    height: int = 1080
    cache_root: str | None = None  # None → $CUA_OSWORLD_CACHE, else a fresh dir per episode
    work_root: str | None = None  # where sandboxes go (None: the system temp dir)
    keep_sandbox: bool = False  # leave each episode's sandbox home on disk (debugging)
    window_wait_s: float = 10.0
    # Extra flags for the Chromium that plays the guest's Chrome, e.g. "--proxy-server=URL" to
    # serve a task's internet pages from a local mirror.
    chromium_flags: list[str] = field(default_factory=list)
    # Run commands from task files on this machine (jailed where unshare works; jail.py).
    # None: $CUA_OSWORLD_TRUST_COMMANDS. Without it such tasks are refused at reset().
    trust_commands: bool | None = None

    @property
    def trusts_commands(self) -> bool:
        return jail.trusted_by_env() if self.trust_commands is None else self.trust_commands


def configured_cache_root(cache_root: str | None) -> Path | None:
    """The OSWorld cache root the user configured (resolved), or None."""
    root = cache_root or os.environ.get(CACHE_ENV_VAR)
    return Path(root).resolve() if root else None


def task_cache_dirs(task_id: str, cache_root: str | None) -> list[Path]:
    """``<cache root>/<task id>``; the id is checked once more (parse_task checks it too) so the
    folder never lies outside the root."""
    root = configured_cache_root(cache_root)
    if root is None:
        return []
    problem = name_problem(task_id)
    folder = (root / task_id).resolve()
    if problem or folder.parent != root:
        raise UnsupportedTaskError(problem or f"task id {task_id!r} leads outside the cache root")
    return [folder]


class OSWorldLocalEnv:
    name = "osworld-local"
    supported_actions: frozenset[str] = DesktopEnv.supported_actions  # xdotool does the input

    def __init__(self, config: OSWorldLocalConfig | None = None) -> None:
        self.config = config or OSWorldLocalConfig()
        self.desktop = DesktopEnv(DesktopConfig(width=self.config.width, height=self.config.height))
        self.machine: LocalMachine | None = None
        self.task: OSWorldTask | None = None
        self._task_dir: Path | None = None
        self._cache_dir: Path | None = None
        self._actions: list[Action] = []
        self.notes: list[str] = []  # caveats of the current task here (support.local_notes)

    @property
    def display(self) -> str | None:
        return self.desktop.display

    @property
    def home(self) -> Path:
        """The sandbox standing in for the guest's /home/user."""
        if self.machine is None:
            raise EnvError("osworld-local: call reset() first")
        return self.machine.home

    def reset(self, task: Task) -> Observation:
        raw = task.config.get("osworld")
        if raw is None:
            raise EnvError(f"{task.id}: not an OSWorld task (no config['osworld'])")
        osw = raw if isinstance(raw, OSWorldTask) else parse_task(raw, task.id)
        self._task_dir = Path(task.config["task_dir"]) if task.config.get("task_dir") else None
        download_dirs = task_cache_dirs(osw.id, self.config.cache_root)
        trusted = self.config.trusts_commands
        reason = local_reason(osw, task.config.get("domain"), download_dirs, trusted,
                              configured_cache_root(self.config.cache_root))
        if reason:
            error = UnsupportedTaskError if trusted or not untrusted_reason(osw) else UntrustedCommandError
            raise error(f"{task.id}: {reason}")
        self._end_episode()
        self.desktop.reset(Task(id=task.id, instruction=osw.instruction, seed=task.seed))
        root = Path(tempfile.mkdtemp(prefix=f"osworld-{osw.id[:8]}-", dir=self.config.work_root))
        self.machine = LocalMachine(root, self.desktop.display, trusted)
        # OSWorld's env.cache_dir is cache/<task id>: downloads and vm_file copies land there.
        self._cache_dir = download_dirs[0] if download_dirs else self.machine.cache_dir
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        self.machine.cache_dir = self._cache_dir
        self.task, self._actions = osw, []
        self.notes = local_notes(osw)
        for note in self.notes:
            log.warning("%s: %s", task.id, note)
        self._setup_runner(download_dirs).run(osw.config)
        return self.desktop.observe()

    def step(self, action: Action) -> StepResult:
        check_supported(self, action)  # before the history: a refused action was never taken
        if self.task is None:
            raise EnvError("osworld-local: call reset() before step()")
        self._actions.append(action)
        return self.desktop.step(action)

    def evaluate(self) -> float:
        """OSWorld's score for the episode so far (fractional where the metrics are)."""
        if self.task is None or self.machine is None:
            raise EnvError("osworld-local: call reset() before evaluate()")
        ctx = GetterContext(self.machine, self._cache_dir or self.machine.cache_dir, self._task_dir,
                            self.desktop.xdotool, (self.config.width, self.config.height),
                            configured_cache_root(self.config.cache_root))
        runner = self._setup_runner(task_cache_dirs(self.task.id, self.config.cache_root))
        return osworld_evaluate(self.task, ctx, list(self._actions), runner.run, LOCAL_GETTERS, METRICS)

    def close(self) -> None:
        self._end_episode()
        self.desktop.close()

    def _setup_runner(self, download_dirs: list[Path]) -> SetupRunner:
        assert self.machine is not None
        return SetupRunner(self.machine, self.desktop.xdotool, self._act, download_dirs,
                           self.config.window_wait_s, self.config.chromium_flags,
                           configured_cache_root(self.config.cache_root))

    def _act(self, action: Action) -> None:
        # Setup input (pyautogui steps) is the task's, not the agent's: not in the action history.
        self.desktop.step(action)

    def _end_episode(self) -> None:
        if self.machine is not None:
            self.machine.stop()
            if not self.config.keep_sandbox:
                shutil.rmtree(self.machine.root, ignore_errors=True)
        self.machine, self.task, self._actions = None, None, []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
