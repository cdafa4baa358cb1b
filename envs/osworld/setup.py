"""OSWorld ``config`` / ``postconfig`` steps run on the local session, after the
``SetupController._<type>_setup`` methods of xlang-ai/OSWorld ``desktop_env/controllers/setup.py``
(karakuri-ai/OSWorld-JP copy): launch, execute / command (stdout / stderr files, ``until``),
sleep, open, activate_window, close_window, download (from a cache or ``file://`` only),
chrome_open_tabs, chrome_close_tabs. Chrome itself is the local Chromium (chrome.py): the
``socat`` forwarder to its debugging port is not needed, and ``pkill chrome`` / ``killall
chrome`` stop this episode's Chromium only, never a browser of the user's.

As in OSWorld, a command that fails is logged, not raised; what cannot be done here at all (a
step type or download ``support.py`` would have refused) raises UnsupportedTaskError.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cua.core import Action, CuaError
from cua.core.codecs import parse
from envs.osworld import chrome
from envs.osworld.chrome_metrics import compare_urls
from envs.osworld.machine import LocalMachine, inside
from envs.osworld.support import (
    MAX_SLEEP_S,
    OPEN_WITH,
    command_argv,
    find_download,
    hidden_guest_path,
    is_cdp_forwarder,
    is_chrome_kill,
    pyautogui_code,
    resolve_program,
)
from envs.osworld.task import SetupStep, UnsupportedTaskError

log = logging.getLogger(__name__)
UNTIL_MAX_TRIES = 100  # OSWorld polls ``until`` forever while the guest answers; we stop sooner
UNTIL_MAX_S = 600.0  # ... and at 10 minutes in all, however long each try takes
UNTIL_POLL_S = 0.3
NO_WINDOW_PROGRAMS = frozenset({"socat", "sleep", "sh", "bash"})
# The guest's Chrome window is "... - Google Chrome" (class google-chrome); ours says Chromium.
CHROME_WINDOW_ALIASES: dict[str, tuple[str, ...]] = {
    "Google Chrome": ("Chromium",), "google-chrome": ("chromium",), "Google-chrome": ("Chromium",),
}


class SetupRunner:
    def __init__(
        self,
        machine: LocalMachine,
        xdotool: Callable[..., str],
        act: Callable[[Action], None],
        download_dirs: list[Path],
        window_wait_s: float = 10.0,
        chromium_flags: list[str] | None = None,
        cache_root: Path | None = None,
    ) -> None:
        self.machine = machine
        self.xdotool = xdotool
        self.act = act  # runs one of our actions on the display (pyautogui steps)
        self.download_dirs = download_dirs
        self.window_wait_s = window_wait_s
        self.chromium_flags = list(chromium_flags or [])  # e.g. --proxy-server for offline mirrors
        self.cache_root = cache_root  # the configured OSWorld cache: file:// downloads only from it

    def run(self, steps: list[SetupStep]) -> None:
        for step in steps:
            handler = getattr(self, f"_{step.type}", None)
            if handler is None:
                raise UnsupportedTaskError(f"setup step {step.type!r} needs the OSWorld VM")
            log.info("SETUP: %s(%s)", step.type, step.parameters)
            handler(**step.parameters)

    # --- steps ----------------------------------------------------------------------------
    def _launch(self, command: str | list[str], shell: bool = False, **_: Any) -> None:
        if not command:
            raise UnsupportedTaskError("launch: empty command")
        if self._replay_pyautogui(command, shell):
            return
        argv = command_argv(command, shell)
        if self._chrome_command(argv, shell):
            return
        if not shell:
            if chrome.is_chrome(argv[0]):
                self._focus_window_of(chrome.launch_chromium(self.machine, argv, self.chromium_flags))
                return
            program = resolve_program(argv[0])
            if program is None:
                raise UnsupportedTaskError(f"launch: {argv[0]!r} is not installed")
            argv = [program, *argv[1:]]
        proc = self.machine.launch(argv if not shell else command, shell)
        if not shell and Path(argv[0]).name not in NO_WINDOW_PROGRAMS:
            self._focus_window_of(proc)

    def _execute(self, command: str | list[str], stdout: str = "", stderr: str = "",
                 shell: bool = False, until: dict[str, Any] | None = None, **_: Any) -> None:
        if not command:
            raise UnsupportedTaskError("execute: empty command")
        if self._replay_pyautogui(command, shell):
            return
        if self._chrome_command(command_argv(command, shell), shell):
            return
        until = until or {}
        deadline = time.monotonic() + UNTIL_MAX_S
        for _ in range(UNTIL_MAX_TRIES):
            if until and time.monotonic() > deadline:
                raise UnsupportedTaskError(f"execute: {command!r} did not meet {until!r} within "
                                           f"{UNTIL_MAX_S:.0f} s")
            result = self.machine.run(command, shell)
            if result is None:
                log.warning("setup command failed to run: %r", command)
            else:
                if stdout:
                    inside(self.machine.cache_dir, stdout, "execute stdout file").write_text(result.output)
                if stderr:
                    inside(self.machine.cache_dir, stderr, "execute stderr file").write_text(result.error)
            if not until or (result is not None and (
                    ("returncode" in until and result.returncode == until["returncode"])
                    or ("stdout" in until and until["stdout"] in result.output)
                    or ("stderr" in until and until["stderr"] in result.error))):
                return
            time.sleep(UNTIL_POLL_S)
        log.warning("setup command never met %r: %r", until, command)

    _command = _execute

    def _sleep(self, seconds: float, **_: Any) -> None:
        try:
            wait = float(seconds)
        except (TypeError, ValueError):
            raise UnsupportedTaskError(f"sleep: {seconds!r} is not a number of seconds") from None
        if not 0 <= wait <= MAX_SLEEP_S:
            raise UnsupportedTaskError(f"sleep of {wait:g} s: more than {MAX_SLEEP_S:g} s is not supported")
        time.sleep(wait)

    def _open(self, path: str, **_: Any) -> None:
        """The desktop's default app for the file: a program of ours, not a task command."""
        app = OPEN_WITH.get(Path(path).suffix.lower())
        program = resolve_program(app) if app else None
        if app is None or program is None:
            raise UnsupportedTaskError(f"open {path!r}: no local app opens it")
        if hidden_guest_path(path):
            raise UnsupportedTaskError(f"open {path!r}: a hidden file is not opened")
        target = self.machine.guest_file(path, "open")
        if not target.is_file() or os.access(target, os.X_OK):
            raise UnsupportedTaskError(f"open {path!r}: not a plain, non-executable file in the sandbox home")
        local = str(target)
        if chrome.is_chrome(app):
            proc = chrome.launch_chromium(self.machine, [app], self.chromium_flags,
                                          own_targets=[target.resolve().as_uri()])
        else:
            proc = self.machine.launch_own([program, local])  # absolute: never read as a flag
        self._focus_window_of(proc)

    def _activate_window(self, window_name: str, strict: bool = False, by_class: bool = False,
                         **_: Any) -> None:
        window = self._find_window(window_name, strict, by_class)
        if window is None:
            log.warning("activate_window: no window %r", window_name)
            return
        # No window manager runs: raise and focus it ourselves (the guest uses wmctrl -a).
        self.xdotool("windowraise", window)
        self.xdotool("windowfocus", window)

    def _close_window(self, window_name: str, strict: bool = False, by_class: bool = False,
                      **_: Any) -> None:
        window = self._find_window(window_name, strict, by_class)
        if window is not None:
            self.xdotool("windowclose", window)

    def _chrome_open_tabs(self, urls_to_open: list[str], **_: Any) -> None:
        chrome.open_tabs(self.machine, list(urls_to_open))

    def _chrome_close_tabs(self, urls_to_close: list[str], **_: Any) -> None:
        chrome.close_tabs(self.machine, list(urls_to_close), compare_urls)

    def _download(self, files: list[dict[str, str]], **_: Any) -> None:
        for f in files:
            url, path = f.get("url", ""), f.get("path", "")
            if not url or not path:
                raise UnsupportedTaskError(f"download: invalid url ({url!r}) or path ({path!r})")
            if hidden_guest_path(path) and not self.machine.trust_commands:
                raise UnsupportedTaskError(f"download to {path!r}: a hidden file/folder needs trust_commands")
            src = find_download(url, path, self.download_dirs, self.cache_root)
            if src is None:
                raise UnsupportedTaskError(f"download {url!r}: not cached and there is no network")
            dest = self.machine.guest_file(path, "download path")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)

    # --- helpers --------------------------------------------------------------------------
    def _chrome_command(self, argv: list[str], shell: bool) -> bool:
        """Commands about the guest's Chrome that mean something else here (True: handled)."""
        if is_cdp_forwarder(argv, shell):
            log.info("SETUP: %s not needed: the getters use Chromium's debugging port directly", argv)
            return True
        if is_chrome_kill(argv, shell):
            chrome.stop_chromium(self.machine)
            return True
        return False

    def _replay_pyautogui(self, command: str | list[str], shell: bool) -> bool:
        code = pyautogui_code(command, shell)
        if code is None:
            return False
        for action in parse(code, "pyautogui").actions:
            self.act(action)
        return True

    def _find_window(self, name: str, strict: bool, by_class: bool) -> str | None:
        for candidate in (name, *CHROME_WINDOW_ALIASES.get(name, ())):
            pattern = f"^{_regex_escape(candidate)}$" if strict else _regex_escape(candidate)
            try:
                found = self.xdotool("search", "--onlyvisible", "--class" if by_class else "--name",
                                     pattern)
            except CuaError:
                continue
            ids = found.split()
            if ids:
                return ids[0]
        return None

    def _focus_window_of(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.window_wait_s
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ids = self.xdotool("search", "--onlyvisible", "--pid", proc.pid).split()
            except CuaError:
                ids = []
            if ids:
                self.xdotool("windowfocus", ids[0])
                return
            time.sleep(0.05)
        log.warning("launched %r showed no window within %.0f s", proc.args, self.window_wait_s)


def _regex_escape(text: str) -> str:
    # xdotool search takes a POSIX extended regex.
    return "".join("\\" + c if c in r".^$*+?()[]{}|\\" else c for c in text)
