"""What an OSWorld getter receives in place of OSWorld's ``env``: the sandbox machine (files,
commands, the episode's Chromium), the task's cache dir and the display."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.osworld.machine import LocalMachine


@dataclass
class GetterContext:
    machine: LocalMachine
    cache_dir: Path
    task_dir: Path | None
    xdotool: Callable[..., str]
    screen_size: tuple[int, int]
    # The configured OSWorld cache root ($CUA_OSWORLD_CACHE): the only place file:// gold files
    # are read from (None: nowhere).
    cache_root: Path | None = None


Getter = Callable[[GetterContext, dict[str, Any]], Any]
