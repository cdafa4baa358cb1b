"""Why a task cannot run here: an unknown evaluator function (for every provider), or, for the
local Xvfb session, a setup step / getter / metric that needs OSWorld's VM, an app that is
not installed, a path that leads out of the sandbox, or a command from the task file that the
user has not trusted (``trust_commands``; jail.py says how trusted commands are isolated).
Each reason is one line a user can act on; tasks with one are skipped, never scored 0.

What an UNTRUSTED task file (no ``trust_commands``) can make this machine do:
  * replay pyautogui input on the episode's Xvfb display (parsed by our codec, never executed);
  * start our own Chromium (outside the jail, scrubbed environment: no API keys) with
    allow-listed flags only (window size/position, maximized, incognito, new window, language;
    chrome_flags.py) and open http(s)/about: pages in it (never file:, chrome:, javascript:,
    data:, link-local or metadata addresses); its network is the configured mirror proxy
    (``chromium_proxy``) or nothing (a dead loopback proxy, loopback included): task pages need
    a mirror or the opt-in;
  * ``open`` a file inside the sandbox home whose type maps to an installed app standing in for OSWorld's
    desktop (LibreOffice, Chromium for .html/.pdf, GIMP, VLC): no .desktop files, scripts or
    executables;
  * copy files from the configured OSWorld cache root ($CUA_OSWORLD_CACHE) into the sandbox
    home (``download``; never into a hidden folder or dotfile there, where our apps would read
    it as settings), and read/write files inside the sandbox home and the task's cache folder;
  * sleep (at most MAX_SLEEP_S per step), stop the episode's own Chromium (``pkill chrome``).
It cannot run a program of its choosing, read files outside the sandbox home / cache root,
pass flags or environment to our programs beyond the above, or reach the network directly.
With ``trust_commands`` its commands run in the jail of jail.py (which says what that leaves)."""

from __future__ import annotations

import shlex
import shutil
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

from cua.core import ActionParseError
from cua.core.codecs import parse
from envs.osworld.chrome import chromium_executable, is_chrome
from envs.osworld.chrome_flags import chrome_args_reason, url_reason
from envs.osworld.getters import COMMAND_GETTERS, LOCAL_GETTERS
from envs.osworld.jail import TRUST_HINT
from envs.osworld.machine import VM_HOME, guest_path_escapes, name_escapes
from envs.osworld.metrics import METRICS, OSWORLD_METRIC_NAMES
from envs.osworld.task import OSWorldTask, SetupStep

LOCAL_SETUP_STEPS = frozenset({
    "launch", "execute", "command", "sleep", "open", "activate_window", "close_window", "download",
    "chrome_open_tabs", "chrome_close_tabs",
})
KILL_BY_NAME = frozenset({"pkill", "killall"})
# Programs OSWorld's Ubuntu image has, and what stands in for them here.
PROGRAM_ALIASES: dict[str, tuple[str, ...]] = {
    "google-chrome": ("google-chrome", "chromium", "chromium-browser"),
    "chromium": ("chromium", "chromium-browser", "google-chrome"),
    "gnome-terminal": ("gnome-terminal", "xterm"),
    "libreoffice": ("libreoffice", "soffice"),
    "soffice": ("soffice", "libreoffice"),
}
# related_apps / domain → (what the user should install, the programs that count).
APP_PROGRAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "libreoffice_calc": ("LibreOffice", ("libreoffice", "soffice")),
    "libreoffice_writer": ("LibreOffice", ("libreoffice", "soffice")),
    "libreoffice_impress": ("LibreOffice", ("libreoffice", "soffice")),
    "gimp": ("GIMP", ("gimp",)),
    "vlc": ("VLC", ("vlc",)),
    "thunderbird": ("Thunderbird", ("thunderbird",)),
    "vs_code": ("VS Code", ("code",)),
    "chrome": ("Chromium", ("google-chrome", "chromium", "chromium-browser")),
}
# open(path) in the guest runs the desktop's default app for the file type.
OPEN_WITH: dict[str, str] = {
    **dict.fromkeys((".xlsx", ".xls", ".ods", ".csv", ".docx", ".doc", ".odt", ".pptx", ".ppt",
                     ".odp"), "libreoffice"),
    **dict.fromkeys((".html", ".htm", ".pdf"), "chromium"),
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".xcf"), "gimp"),
    **dict.fromkeys((".mp3", ".mp4", ".wav", ".avi", ".mkv"), "vlc"),
}


def resolve_program(name: str) -> str | None:
    """The local executable standing in for the guest's ``name`` (None: not installed)."""
    if is_chrome(name):
        return chromium_executable()
    base = Path(name).name
    for candidate in PROGRAM_ALIASES.get(base, (name,)):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def command_argv(command: str | list[str] | None, shell: bool) -> list[str]:
    if not command:
        return []
    if isinstance(command, list):
        return [str(c) for c in command]
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def is_cdp_forwarder(argv: list[str], shell: bool = False) -> bool:
    """``socat tcp-listen:9222,fork tcp:localhost:1337``: OSWorld exposes Chrome's debugging port
    to the host; the local getters reach Chromium's port directly."""
    return (not shell and bool(argv) and Path(argv[0]).name == "socat"
            and any(a.startswith(("tcp:localhost:", "tcp:127.0.0.1:")) for a in argv[1:]))


def is_chrome_kill(argv: list[str], shell: bool = False) -> bool:
    """``pkill chrome`` / ``killall chrome`` (``-f`` allowed): OSWorld's way to make Chrome write
    its profile files; here it stops the episode's Chromium only."""
    if shell or not argv or Path(argv[0]).name not in KILL_BY_NAME:
        return False
    names = [a for a in argv[1:] if not a.startswith("-")]
    return bool(names) and all(n in ("chrome", "chromium", "google-chrome") for n in names)


def pyautogui_code(command: str | list[str] | None, shell: bool = False) -> str | None:
    """``["python", "-c", "import pyautogui; ..."]``: input the guest runs with pyautogui. Here it
    is parsed by the pyautogui codec (never executed) and replayed through xdotool."""
    if shell:
        return None
    argv = command_argv(command, shell)
    if len(argv) == 3 and Path(argv[0]).name.startswith("python") and argv[1] == "-c" \
            and "pyautogui" in argv[2]:
        return argv[2]
    return None


def download_cache_name(url: str, path: str) -> str:
    """OSWorld's cache file name for a download (``controllers/setup.py::_download_setup``)."""
    return f"{uuid.uuid5(uuid.NAMESPACE_URL, url)}_{Path(path).name}"


def find_download(url: str, path: str, cache_dirs: list[Path],
                  cache_root: Path | None = None) -> Path | None:
    """A download available without network: already in a cache dir under OSWorld's name, or a
    ``file://`` URL of an existing file inside the configured cache root (a task file must not
    be able to copy any file of this machine into the sandbox, where screenshots would show it)."""
    for d in cache_dirs:
        cached = d / download_cache_name(url, path)
        if cached.is_file():
            return cached
    parsed = urlparse(url)
    if parsed.scheme == "file":
        local = Path(unquote(parsed.path)).resolve()
        if local.is_file() and file_url_allowed(local, cache_root):
            return local
    return None


def file_url_allowed(local: Path, cache_root: Path | None) -> bool:
    """``file://`` sources are read only from the CONFIGURED cache root (``$CUA_OSWORLD_CACHE``),
    passed explicitly: never derived from a task's cache folder, whose name comes from the task."""
    return cache_root is not None and local.resolve().is_relative_to(Path(cache_root).resolve())


def hidden_guest_path(path: str) -> bool:
    """A guest path with a dot-folder or dotfile in it (``~/.config/...``, ``~/.gdbinit``):
    settings our apps would read."""
    return any(part.startswith(".") and part not in (".", "..")
               for part in Path(path.replace("~", VM_HOME, 1)).parts)


MAX_SLEEP_S = 60.0  # a sleep step longer than this is refused (a task must not hold the runner)


def evaluator_reason(task: OSWorldTask) -> str | None:
    """For every provider: a func OSWorld itself does not know cannot be scored anywhere."""
    unknown = [f for f in task.evaluator.funcs if f not in OSWORLD_METRIC_NAMES]
    if unknown:
        return f"unknown evaluator function {unknown[0]!r} (not an OSWorld metric)"
    if not task.is_infeasible and task.evaluator.result is None:
        return "evaluator has no result getter"
    return None


def _step_reason(step: SetupStep, cache_dirs: list[Path], where: str, cache_root: Path | None = None,
                 trust_commands: bool = False) -> str | None:
    p = step.parameters
    if step.type not in LOCAL_SETUP_STEPS:
        return f"{where} step {step.type!r} needs the OSWorld VM"
    if step.type == "sleep":
        try:
            seconds = float(p.get("seconds", 0))
        except (TypeError, ValueError):
            return f"{where} sleep: {p.get('seconds')!r} is not a number of seconds"
        if not 0 <= seconds <= MAX_SLEEP_S:
            return f"{where} sleep of {seconds:g} s: more than {MAX_SLEEP_S:g} s is not supported"
    if step.type == "chrome_open_tabs":
        for url in p.get("urls_to_open", []):
            reason = url_reason(str(url))
            if reason:
                return f"{where} chrome_open_tabs: {reason}"
    if step.type in ("launch", "execute", "command"):
        shell = bool(p.get("shell", False))
        code = pyautogui_code(p.get("command"), shell)
        if code is not None:
            try:
                parse(code, "pyautogui")
            except ActionParseError as exc:
                return f"{where} {step.type} runs pyautogui code the codec cannot replay: {exc.reason}"
            return None
        argv = command_argv(p.get("command"), shell)
        if is_cdp_forwarder(argv, shell) or is_chrome_kill(argv, shell):
            return None
        if not shell and argv and is_chrome(argv[0]):
            reason = chrome_args_reason(argv[1:])
            if reason:
                return f"{where} {step.type}: {reason}"
        for key in ("stdout", "stderr"):
            if p.get(key) and name_escapes(str(p[key])):
                return f"{where} {step.type} writes its {key} to {p[key]!r}, outside the cache folder"
        if argv and Path(argv[0]).name in KILL_BY_NAME:
            return f"{where} {step.type} kills processes by name ({' '.join(argv)}), outside the sandbox"
        if is_chrome(argv[0] if argv else "") and chromium_executable() is None:
            return f"{where} {step.type}: no Chromium stands in for {argv[0]!r} (set $CUA_CHROMIUM)"
        text = " ".join(argv)
        if "sudo " in f"{text} " or text.startswith("sudo"):
            return f"{where} {step.type} uses sudo (needs the VM's root password)"
        if not argv:
            return f"{where} {step.type} has no command"
        if not shell and resolve_program(argv[0]) is None:
            return f"{where} {step.type}: {Path(argv[0]).name!r} is not installed"
    elif step.type == "open":
        if guest_path_escapes(str(p.get("path", ""))):
            return f"{where} open {p.get('path')!r}: outside the sandbox home"
        if hidden_guest_path(str(p.get("path", ""))):
            return f"{where} open {p.get('path')!r}: a hidden file is not opened"
        app = OPEN_WITH.get(Path(str(p.get("path", ""))).suffix.lower())
        if app is None or resolve_program(app) is None:
            return f"{where} open {p.get('path')!r}: no local app opens it ({app or 'unknown type'} not installed)"
    elif step.type == "download":
        for f in p.get("files", []):
            url, path = f.get("url", ""), f.get("path", "")
            if guest_path_escapes(str(path)):
                return f"{where} download to {path!r}: outside the sandbox home"
            if hidden_guest_path(str(path)) and not trust_commands:
                return (f"{where} download to {path!r}: a hidden file/folder (app settings our "
                        f"programs would read); {TRUST_HINT}")
            if find_download(url, path, cache_dirs, cache_root) is None:
                host = urlparse(url).netloc or url[:60]
                return (f"{where} download from {host} is not cached and there is no network "
                        f"(put it in the cache as {download_cache_name(url, path)})")
    return None


def _runs_command(step: SetupStep) -> bool:
    """A launch / execute / command step that runs its command on this machine (not one that
    is replayed, emulated, or our own Chromium)."""
    if step.type not in ("launch", "execute", "command"):
        return False
    shell = bool(step.parameters.get("shell", False))
    command = step.parameters.get("command")
    argv = command_argv(command, shell)
    if pyautogui_code(command, shell) is not None or is_cdp_forwarder(argv, shell) \
            or is_chrome_kill(argv, shell):
        return False
    return not (step.type == "launch" and not shell and argv and is_chrome(argv[0]))


def task_commands(task: OSWorldTask) -> list[str]:
    """``"setup execute: mkdir -p ..."`` for each command from the task file that the local
    runner would run on this machine (setup, postconfig, command getters)."""
    out: list[str] = []
    for where, steps in (("setup", task.config), ("postconfig", task.evaluator.postconfig)):
        for step in steps:
            if _runs_command(step):
                command = step.parameters.get("command")
                text = command if isinstance(command, str) else " ".join(map(str, command or []))
                out.append(f"{where} {step.type}: {text}")
    if not task.is_infeasible:
        for spec in task.evaluator.getter_specs():
            if spec.type in COMMAND_GETTERS:
                command = spec.fields.get("command")
                out.append(f"getter {spec.type}: "
                           f"{command if isinstance(command, str) else ' '.join(map(str, command or []))}")
    return out


def untrusted_reason(task: OSWorldTask) -> str | None:
    commands = task_commands(task)
    if not commands:
        return None
    shown = commands[0] if len(commands[0]) <= 100 else commands[0][:97] + "..."
    more = f" (+{len(commands) - 1} more)" if len(commands) > 1 else ""
    return f"runs commands from the task file on this machine: {shown!r}{more}; {TRUST_HINT}"


def _path_reason(task: OSWorldTask) -> str | None:
    """A getter path that would read or write outside the sandbox home / the cache folder."""
    for spec in task.evaluator.getter_specs():
        f = spec.fields
        paths = f.get("path") if isinstance(f.get("path"), list) else [f.get("path")]
        dests = f.get("dest") if isinstance(f.get("dest"), list) else [f.get("dest")]
        if spec.type == "vm_file":
            bad = [p for p in paths if p is not None and guest_path_escapes(str(p))]
            if bad:
                return f"getter vm_file reads {bad[0]!r}, outside the sandbox home"
        if spec.type == "cache_file":
            dests = paths
        bad = [d for d in dests if d is not None and name_escapes(str(d))]
        if bad:
            return f"getter {spec.type} writes {bad[0]!r}, outside the cache folder"
    return None


def local_reason(task: OSWorldTask, domain: str | None = None,
                 cache_dirs: list[Path] | None = None, trust_commands: bool = False,
                 cache_root: Path | None = None) -> str | None:
    """Why the local Xvfb session cannot run ``task`` (None: it can). A task that runs
    commands from its file needs ``trust_commands``."""
    reason = evaluator_reason(task)
    if reason:
        return reason
    cache_dirs = cache_dirs or []
    for app in dict.fromkeys([*(task.related_apps or []), *([domain] if domain else [])]):
        if app in APP_PROGRAMS:
            label, programs = APP_PROGRAMS[app]
            if not any(shutil.which(p) for p in programs):
                return f"needs {label} ({' / '.join(programs)} not installed)"
    for step in task.config:
        reason = _step_reason(step, cache_dirs, "setup", cache_root, trust_commands)
        if reason:
            return reason
    for step in task.evaluator.postconfig:
        reason = _step_reason(step, cache_dirs, "postconfig", cache_root, trust_commands)
        if reason:
            return reason
    if task.is_infeasible:  # never scored by getters, but its setup still runs
        return None if trust_commands else untrusted_reason(task)
    for spec in task.evaluator.getter_specs():
        if spec.type not in LOCAL_GETTERS:
            return f"getter {spec.type!r} needs the OSWorld VM"
        if spec.type == "cloud_file":
            urls = spec.fields.get("path")
            dests = spec.fields.get("dest")
            pairs = zip(urls, dests) if isinstance(urls, list) else [(urls, dests)]
            for url, dest in pairs:
                if not any((d / str(dest)).is_file() for d in cache_dirs) \
                        and not str(url).startswith("file://"):
                    return f"getter cloud_file downloads {url!r}: not cached and no network"
        if spec.type == "page_info":
            reason = url_reason(str(spec.fields.get("url", "")))
            if reason:
                return f"getter page_info: {reason}"
    for func in task.evaluator.funcs:
        if func not in METRICS:
            return f"metric {func!r} is not available locally"
    return _path_reason(task) or (None if trust_commands else untrusted_reason(task))


def local_notes(task: OSWorldTask) -> list[str]:
    """Caveats of running ``task`` here that do not stop it: pages it opens on the internet
    (there is no network: they show Chromium's error page, while tab and URL getters still
    see their URLs)."""
    urls: list[str] = []
    for step in [*task.config, *task.evaluator.postconfig]:
        p = step.parameters
        if step.type in ("chrome_open_tabs", "chrome_close_tabs"):
            urls += [str(u) for u in p.get("urls_to_open", p.get("urls_to_close", []))]
        elif step.type == "launch":
            argv = command_argv(p.get("command"), bool(p.get("shell", False)))
            if argv and is_chrome(argv[0]):
                urls += [a for a in argv[1:] if "://" in a]
    remote = [u for u in dict.fromkeys(urls)
              if urlparse(u).scheme in ("http", "https")
              and urlparse(u).hostname not in ("localhost", "127.0.0.1", "::1")]
    if not remote:
        return []
    return [(f"opens internet pages offline ({', '.join(remote[:3])}{' ...' if len(remote) > 3 else ''}): "
            "they load only through a mirror (chromium_proxy); tab/URL getters still see the URLs")]
