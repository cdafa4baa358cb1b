"""The local stand-in for OSWorld's VM: a sandbox home folder, commands run there.

OSWorld's guest is Ubuntu with user ``user`` (home ``/home/user``); its Flask server runs setup
commands with ``subprocess.run(command, shell=shell, timeout=120)``, ``shlex.split``-ing a string
command when ``shell`` is false and expanding ``~/`` arguments (``desktop_env/server/main.py``
``execute_command``). Here the same commands run on this machine with ``HOME`` set to a fresh
sandbox folder, the working directory in it, and ``/home/user`` rewritten to it, so a task file
never writes into the real home. It is a sandbox for paths, not a security boundary: only run
task files you trust (as with OSWorld's own VM-less setups).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cua.core import EnvError

VM_HOME = "/home/user"
SERVER_TIMEOUT_S = 120  # the guest server's subprocess timeout
_VM_HOME_RE = re.compile(re.escape(VM_HOME) + r"(?=/|\b|$)")


@dataclass(frozen=True)
class CommandResult:
    """What the guest's ``/execute`` returns: ``output`` (stdout), ``error`` (stderr), ``returncode``."""

    output: str
    error: str
    returncode: int


class LocalMachine:
    def __init__(self, root: Path, display: str | None) -> None:
        self.root = root
        self.home = root / "home"
        self.cache_dir = root / "cache"
        self.display = display
        for d in (self.home, self.home / "Desktop", self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._children: list[subprocess.Popen[bytes]] = []
        self.chromium: subprocess.Popen[bytes] | None = None  # the episode's browser (chrome.py)
        self.cdp_link: Any = None  # chrome.py's open CDP connection to it, reused across getters
        self.cleanups: list[Callable[[], None]] = []  # run by stop(), before processes end

    @property
    def chromium_profile(self) -> Path:
        """Where the guest's Chrome keeps its profile (``~/.config/google-chrome``), so OSWorld's
        getters and task commands that touch those files find them in the sandbox."""
        return self.home / ".config" / "google-chrome"

    # --- paths --------------------------------------------------------------------------
    def rewrite(self, text: str) -> str:
        """``/home/user/...`` in a command or path → the sandbox home."""
        return _VM_HOME_RE.sub(str(self.home), text)

    def vm_path(self, path: str) -> Path:
        """A guest path as a local one: ``~`` and ``/home/user`` are the sandbox home, a
        relative path is relative to it (the guest server's working directory)."""
        if path == "~" or path.startswith("~/"):
            return self.home / path[2:]
        p = Path(self.rewrite(path))
        return p if p.is_absolute() else self.home / p

    # --- processes ----------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {**os.environ, "HOME": str(self.home), "PWD": str(self.home)}
        if self.display:
            env["DISPLAY"] = self.display
        return env

    def argv(self, command: str | list[str], shell: bool) -> str | list[str]:
        if shell:
            if not isinstance(command, str):
                command = " ".join(command)  # subprocess(shell=True) runs argv[0] only; OSWorld passes strings
            return self.rewrite(command)
        parts = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        if not parts:
            raise EnvError("empty command")
        return [str(self.vm_path(a)) if a.startswith(("~/", VM_HOME)) else a for a in parts]

    def run(self, command: str | list[str], shell: bool = False,
            timeout_s: float = SERVER_TIMEOUT_S) -> CommandResult | None:
        """Run to completion like the guest's ``/execute``; None where the guest answers 500
        (the program cannot start, or it ran past the timeout)."""
        try:
            done = subprocess.run(self.argv(command, shell), shell=shell, cwd=self.home, env=self.env(),
                                  capture_output=True, text=True, timeout=timeout_s, check=False,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired, EnvError):
            return None
        return CommandResult(done.stdout, done.stderr, done.returncode)

    def launch(self, command: str | list[str], shell: bool = False) -> subprocess.Popen[bytes]:
        """Start without waiting (``/setup/launch``); stopped with the episode."""
        try:
            proc = subprocess.Popen(self.argv(command, shell), shell=shell, cwd=self.home,
                                    env=self.env(), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
        except OSError as exc:
            raise EnvError(f"cannot launch {command!r}: {exc}") from exc
        self._children.append(proc)
        return proc

    @property
    def pids(self) -> list[int]:
        """Process ids of what launch() started (group leaders)."""
        return [p.pid for p in self._children]

    def stop(self) -> None:
        """SIGTERM each launched process group, SIGKILL what is left after 2 s."""
        for cleanup in self.cleanups:
            cleanup()
        self.cleanups.clear()
        for proc in self._children:
            _terminate(proc, 2.0)
        self._children.clear()
        self.chromium = None

    def stop_one(self, proc: subprocess.Popen[bytes], grace_s: float = 2.0) -> None:
        """Stop one launched program (its process group); SIGKILL after ``grace_s``."""
        _terminate(proc, grace_s)
        if proc in self._children:
            self._children.remove(proc)
        if proc is self.chromium:
            self.chromium = None


def _terminate(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):  # the group: children of the leader too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
