"""OSWorld's getters that can run against the local session, with OSWorld's signatures
``get_<type>(env, config)`` and return values.

Ported from xlang-ai/OSWorld ``desktop_env/evaluators/getters/file.py`` (vm_file, cloud_file,
cache_file), ``getters/general.py`` (vm_command_line, vm_command_error), ``getters/misc.py``
(rule) and ``getters/info.py`` (vm_screen_size, vm_window_size), as read in the OS-Map,
ljxpython/OSWorldUse and karakuri-ai/OSWorld-JP copies. ``local_file`` is this project's own:
a file next to the task JSON (gold files of hand-made tasks), returned as its path.
The Chromium getters live in chrome_getters.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from cua.core import CuaError
from envs.osworld.chrome_getters import CHROME_GETTERS
from envs.osworld.context import Getter, GetterContext
from envs.osworld.machine import inside
from envs.osworld.task import SandboxPathError


def _many(config: dict[str, Any]) -> tuple[list[str], list[str], set[int]]:
    if config.get("multi", False):
        paths, dests = list(config["path"]), list(config["dest"])
    else:
        paths, dests = [config["path"]], [config["dest"]]
    return paths, dests, set(config.get("gives", [0]))


def _one_or_list(items: list[Any]) -> Any:
    return items[0] if len(items) == 1 else items


def get_vm_file(env: GetterContext, config: dict[str, Any]) -> str | None | list[str | None]:
    """Copy guest files into the cache dir; a missing file gives None (OSWorld logs, no raise).
    Only files in the sandbox home are read (SandboxPathError otherwise)."""
    paths, dests, gives = _many(config)
    out: list[str | None] = []
    for i, (p, d) in enumerate(zip(paths, dests)):
        src = env.machine.guest_file(str(p), "vm_file path")
        local = inside(env.cache_dir, str(d), "vm_file dest")
        if not src.is_file():
            if i in gives:
                out.append(None)
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, local)
        if i in gives:
            out.append(str(local))
    return _one_or_list(out)


def get_cloud_file(env: GetterContext, config: dict[str, Any]) -> str | list[str]:
    """A gold file: used from the cache dir when there (OSWorld downloads only what is missing);
    fetched here only from ``file://`` URLs (no network)."""
    paths, dests, gives = _many(config)
    out: list[str] = []
    for i, (url, d) in enumerate(zip(paths, dests)):
        local = inside(env.cache_dir, str(d), "cloud_file dest")
        if i in gives:
            out.append(str(local))
        if local.exists():
            continue
        parsed = urlparse(url)
        if parsed.scheme != "file":
            raise CuaError(f"cloud_file {url!r} is not cached at {local} and there is no network")
        source = Path(unquote(parsed.path)).resolve()
        if env.cache_root is None or not source.is_relative_to(Path(env.cache_root).resolve()):
            raise SandboxPathError(f"cloud_file {url!r} is outside the OSWorld cache root")
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, local)
    return _one_or_list(out)


def get_cache_file(env: GetterContext, config: dict[str, Any]) -> str:
    path = inside(env.cache_dir, str(config["path"]), "cache_file path")
    assert path.exists(), f"cache file {path} does not exist"  # OSWorld asserts too
    return str(path)


def task_tree(task_dir: Path) -> Path:
    """Where a task's own files may live: the ``evaluation_examples`` folder of a task in the
    official layout (``<root>/examples/<domain>/<id>.json``), else the task's folder."""
    return task_dir.parent.parent if task_dir.parent.name == "examples" else task_dir


def get_local_file(env: GetterContext, config: dict[str, Any]) -> str | list[str]:
    """Files next to the task JSON (``path`` relative to its folder), for hand-made tasks;
    never outside the task's tree (see task_tree)."""
    base = env.task_dir or Path.cwd()
    root = task_tree(base).resolve()
    paths = config["path"] if config.get("multi", False) else [config["path"]]
    out = []
    for p in paths:
        local = (base / str(p)).resolve()
        if Path(str(p)).is_absolute() or not local.is_relative_to(root):
            raise SandboxPathError(f"local_file {p!r} is outside the task's folder {root}")
        out.append(str(local))
    return _one_or_list(out)


def get_vm_command_line(env: GetterContext, config: dict[str, Any]) -> str | None:
    result = env.machine.run(config["command"], bool(config.get("shell", False)))
    return None if result is None else result.output


def get_vm_command_error(env: GetterContext, config: dict[str, Any]) -> str | None:
    result = env.machine.run(config["command"], bool(config.get("shell", False)))
    return None if result is None else result.error


def get_rule(env: GetterContext, config: dict[str, Any]) -> Any:
    return config["rules"]


def get_vm_screen_size(env: GetterContext, config: dict[str, Any]) -> dict[str, int]:
    w, h = env.screen_size
    return {"width": w, "height": h}


def get_vm_window_size(env: GetterContext, config: dict[str, Any]) -> dict[str, int] | None:
    """The first visible window of WM_CLASS ``app_class_name`` (None when there is none)."""
    try:
        ids = env.xdotool("search", "--onlyvisible", "--class", config["app_class_name"]).split()
        if not ids:
            return None
        shell = env.xdotool("getwindowgeometry", "--shell", ids[0])
    except CuaError:
        return None
    fields = dict(line.split("=", 1) for line in shell.splitlines() if "=" in line)
    return {"width": int(fields["WIDTH"]), "height": int(fields["HEIGHT"])}


LOCAL_GETTERS: dict[str, Getter] = {
    name.removeprefix("get_"): fn for name, fn in globals().items()
    if name.startswith("get_") and callable(fn)
} | CHROME_GETTERS
# Getters that run a command from the task file (only with trust_commands).
COMMAND_GETTERS = frozenset({"vm_command_line", "vm_command_error"})

__all__ = ["LOCAL_GETTERS", "Getter", "GetterContext"]
