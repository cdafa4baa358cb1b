"""The local stand-in for OSWorld's VM: a sandbox home folder, commands run there.

OSWorld's guest is Ubuntu with user ``user`` (home ``/home/user``); its Flask server runs setup
commands with ``subprocess.run(command, shell=shell, timeout=120)``, ``shlex.split``-ing a string
command when ``shell`` is false and expanding ``~/`` arguments (``desktop_env/server/main.py``
``execute_command``). Here a task's commands run only when the user trusts them
(``trust_commands``; otherwise UntrustedCommandError), inside the jail of jail.py when it works
here (no network, read-only filesystem but the sandbox, real home hidden), with ``HOME`` set to
a fresh sandbox folder, the working directory in it, and ``/home/user`` rewritten to it.
Programs of our own (the episode's Chromium, the app that opens a file) start with
``launch_own``, outside the jail, with the jail's scrubbed environment (no API keys or tokens of
the caller); once a trusted command has run in the episode their HOME is a separate folder
outside the sandbox root (which the jail cannot write), so dotfiles a jailed command planted in
the sandbox home (``~/.gdbinit``, plug-ins, app settings) are not read by them. Paths from the task file that the adapter reads or writes
itself go through ``guest_file`` / ``inside``: anything leading out of the sandbox (``/etc``,
``..``, a symlink planted by a command) is a SandboxPathError.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cua.core import EnvError
from envs.osworld import jail
from envs.osworld.task import SandboxPathError, UntrustedCommandError

VM_HOME = "/home/user"
SERVER_TIMEOUT_S = 120  # the guest server's subprocess timeout
_VM_HOME_RE = re.compile(re.escape(VM_HOME) + r"(?=/|\b|$)")


@dataclass(frozen=True)
class CommandResult:
    """What the guest's ``/execute`` returns: ``output`` (stdout), ``error`` (stderr), ``returncode``."""

    output: str
    error: str
    returncode: int


def guest_path_escapes(path: str) -> bool:
    """True when a guest path from a task file is not under the guest's home (checked on the
    text, before anything runs; guest_file also resolves symlinks at use)."""
    text = path.strip()
    if text == "~" or text.startswith("~/"):
        text = VM_HOME + text[1:]
    elif not text.startswith("/"):
        text = f"{VM_HOME}/{text}"
    norm = posixpath.normpath(text)
    return not (norm == VM_HOME or norm.startswith(VM_HOME + "/"))


def name_escapes(name: str) -> bool:
    """True when a file name meant for a folder of ours (a getter's ``dest``, a cache file)
    is absolute or climbs out with ``..``."""
    norm = posixpath.normpath(name.strip() or ".")
    return norm == ".." or norm.startswith(("/", "../"))


def inside(base: Path, name: str, what: str) -> Path:
    """``base / name``, refused when it leads outside ``base`` (symlinks resolved)."""
    target = (base / name).resolve()
    if name_escapes(name) or not target.is_relative_to(base.resolve()):
        raise SandboxPathError(f"{what} {name!r} leads outside {base}")
    return base / name


class LocalMachine:
    def __init__(self, root: Path, display: str | None, trust_commands: bool = False) -> None:
        self.root = root
        self.trust_commands = trust_commands
        self.isolated = trust_commands and jail.probe().available
        if trust_commands and not self.isolated:
            jail.warn_unisolated()
        self.home = root / "home"
        self.cache_dir = root / "cache"
        self.display = display
        for d in (self.home, self.home / "Desktop", self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._children: list[subprocess.Popen[bytes]] = []
        self.chromium: subprocess.Popen[bytes] | None = None  # the episode's browser (chrome.py)
        self.cdp_link: Any = None  # chrome.py's open CDP connection to it, reused across getters
        self.cleanups: list[Callable[[], None]] = []  # run by stop(), before processes end
        self.commands_ran = False  # a (trusted) task command ran in this episode
        self._apps_home: Path | None = None

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

    def guest_file(self, path: str, what: str) -> Path:
        """``vm_path`` for a path the adapter itself reads or writes: it must stay in the
        sandbox home once symlinks are resolved (a task command may have planted one)."""
        local = self.vm_path(path)
        if guest_path_escapes(path) or not local.resolve().is_relative_to(self.home.resolve()):
            raise SandboxPathError(f"{what} {path!r} is outside the sandbox home "
                                   f"(only {VM_HOME}/... is mapped into the sandbox)")
        return local

    # --- processes ----------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """The environment of our own programs (Chromium, apps): the jail's short allow-list
        (no API keys), HOME the sandbox home, or, once task commands ran, apps_home."""
        return jail.task_env(self.apps_home(), self.display)

    def apps_home(self) -> Path:
        """HOME of our own programs: the sandbox home until a task command ran; then a fresh
        folder next to the sandbox root, out of the jail's reach (it is read-only there)."""
        if not self.commands_ran:
            return self.home
        if self._apps_home is None:
            self._apps_home = Path(tempfile.mkdtemp(prefix=f"{self.root.name}-apps-",
                                                    dir=self.root.parent))
        return self._apps_home

    def _task_argv(self, command: str | list[str], shell: bool) -> list[str]:
        """A task command as the argv that runs it: refused unless trusted, jailed if possible."""
        if not self.trust_commands:
            shown = command if isinstance(command, str) else " ".join(map(str, command))
            raise UntrustedCommandError(f"the task runs {shown[:120]!r} on this machine; "
                                        f"{jail.TRUST_HINT}")
        argv = self.argv(command, shell)
        self.commands_ran = True
        if isinstance(argv, str):
            argv = ["/bin/sh", "-c", argv]
        elif not _startable(argv[0], self.home):  # the jail would start; the program would not
            raise EnvError(f"cannot start {argv[0]!r}: not found or not executable")
        return jail.wrap(argv, self.root) if self.isolated else argv

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
        (the program cannot start, or it ran past the timeout). A task command: see _task_argv."""
        try:
            argv = self._task_argv(command, shell)
        except EnvError:
            return None
        # Output goes to files, not pipes: a background child (``sleep 1000 &``) would hold a
        # pipe open and the runner with it until the timeout. The command's process group is
        # killed once it ends, so such children do not outlive it (one that calls setsid does:
        # see jail.py).
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(argv, cwd=self.home, env=jail.task_env(self.home, self.display),
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                        start_new_session=True)
            except OSError:
                return None
            try:
                returncode: int | None = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                returncode = None
            finally:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if returncode is None:
                return None
            out.seek(0)
            err.seek(0)
            return CommandResult(out.read().decode(errors="replace"),
                                 err.read().decode(errors="replace"), returncode)

    def launch(self, command: str | list[str], shell: bool = False) -> subprocess.Popen[bytes]:
        """Start a task's command without waiting (``/setup/launch``); stopped with the episode."""
        return self._start(self._task_argv(command, shell), jail.task_env(self.home, self.display),
                           command)

    def launch_own(self, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start a program of ours (argv built by the adapter, not taken from the task file)."""
        home = self.apps_home()
        return self._start(argv, self.env(), argv, cwd=home)

    def _start(self, argv: list[str], env: dict[str, str], shown: object,
               cwd: Path | None = None) -> subprocess.Popen[bytes]:
        try:
            proc = subprocess.Popen(argv, cwd=cwd or self.home, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
        except OSError as exc:
            raise EnvError(f"cannot launch {shown!r}: {exc}") from exc
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
        if self._apps_home is not None:
            shutil.rmtree(self._apps_home, ignore_errors=True)
            self._apps_home = None

    def stop_one(self, proc: subprocess.Popen[bytes], grace_s: float = 2.0) -> None:
        """Stop one launched program (its process group); SIGKILL after ``grace_s``."""
        _terminate(proc, grace_s)
        if proc in self._children:
            self._children.remove(proc)
        if proc is self.chromium:
            self.chromium = None


def _startable(program: str, cwd: Path) -> bool:
    if "/" in program:
        path = Path(program) if Path(program).is_absolute() else cwd / program
        return path.is_file() and os.access(path, os.X_OK)
    return shutil.which(program) is not None


def _terminate(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):  # the group: children of the leader too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
