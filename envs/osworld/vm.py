"""OSWorldVMEnv: an OSWorld task on OSWorld's own VMs through ``desktop_env`` (the ``osworld``
extra, PyPI ``desktop-env``), with our actions sent through the pyautogui codec.

``desktop_env.desktop_env.DesktopEnv(provider_name, path_to_vm, action_space="pyautogui", ...)``
does setup, input and scoring in the guest (anchors-runtime §1.1); this wrapper only translates
(``to_osworld_action``): Done → "DONE", Fail(by="agent") → "FAIL" (the infeasibility claim OSWorld
scores), Fail(by="runtime") → "DONE" (the runtime gave up: the state is scored as it is, no
claim), Wait → "WAIT", CallUser → nothing (the episode ends on the current screen), anything else
→ pyautogui code: ``codecs.emit`` for the basic actions, here for triple clicks, button and key
holds, and for text pyautogui cannot type (non-ASCII: pasted through the clipboard, as OSWorld's
UI-TARS agent does). That code is generated from typed actions, never model text.
Screenshot pixels are guest screen pixels, so no coordinate change is needed. A guest that does
not answer (connection refused, timeout) is an EnvError: the runner retries it and reports it
apart from agent failures. Not exercised by tests here (no VM, docker or KVM on this machine).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

from cua.core import (
    Action, CallUser, Done, EnvError, Fail, KeyDown, KeyUp, MouseDown, MouseUp, Observation,
    SetupError, TripleClick, Type, Wait,
)
from cua.core.codecs import emit
from cua.core.codecs.common import fmt
from envs.base import POINTER_KEYBOARD_ACTIONS, StepResult, Task, check_supported
from envs.osworld.task import (
    EvaluationError,
    OSWorldTask,
    UnsupportedTaskError,
    parse_task,
)

EXTRA_HINT = "pip install 'cua-runtime[osworld]' (PyPI package desktop-env)"


@dataclass
class OSWorldVMConfig:
    provider: str = "docker"  # docker | vmware | virtualbox | aws
    path_to_vm: str | None = None
    region: str | None = None
    headless: bool = True
    width: int = 1920
    height: int = 1080
    os_type: str = "Ubuntu"
    cache_dir: str = "cache"
    require_a11y_tree: bool = False
    pause_s: float = 2.0  # OSWorld's step(pause=2)

    @classmethod
    def from_params(cls, provider: str, params: dict[str, str], cache_root: str | None) -> OSWorldVMConfig:
        cfg = cls(provider=provider, path_to_vm=params.get("path_to_vm"), region=params.get("region"),
                  cache_dir=cache_root or "cache")
        if "headless" in params:
            cfg.headless = params["headless"].lower() not in ("0", "false", "no")
        return cfg


def _desktop_env_class() -> Any:
    try:
        from desktop_env.desktop_env import DesktopEnv  # type: ignore[import-not-found]
    except ImportError as exc:
        raise SetupError(f"the OSWorld VM runner needs the osworld extra: {EXTRA_HINT} ({exc})") from exc
    return DesktopEnv


def _is_transport_error(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:
        return isinstance(exc, (ConnectionError, TimeoutError))
    return isinstance(exc, (requests.exceptions.RequestException, ConnectionError, TimeoutError))


# Our key names that pyautogui spells otherwise (the rest are the same in both).
_PG_KEYS = {"meta": "win", "contextmenu": "apps"}


def _lit(text: str) -> str:
    """A Python string literal of ``text`` (no backtick, which would end a code fence in a log)."""
    return repr(text).replace("`", "\\x60")


def _xy(x: float | None, y: float | None) -> str:
    return "" if x is None or y is None else f"x={fmt(x)}, y={fmt(y)}, "


def _paste(text: str) -> str:
    """Clipboard paste for text pyautogui cannot type (it drops non-ASCII characters): what
    OSWorld's UI-TARS agent sends with ``input_swap``; a trailing newline is pressed as Enter."""
    body = text.rstrip("\n")
    lines = [f"import pyperclip\npyperclip.copy({_lit(body)})\npyautogui.hotkey('ctrl', 'v')\ntime.sleep(0.5)"] if body else []
    lines += ["pyautogui.press('enter')"] * (len(text) - len(body))
    return "\n".join(lines)


def to_osworld_action(action: Action) -> str | None:
    """The command OSWorld's ``DesktopEnv.step`` takes for ``action``; None: send nothing."""
    match action:
        case Done():
            return "DONE"
        case Fail(by="agent"):
            return "FAIL"
        case Fail():  # the runtime gave up: no infeasibility claim, the state is scored as it is
            return "DONE"
        case CallUser():
            return None
        case Wait():
            return "WAIT"
        case TripleClick(x=x, y=y):
            return f"pyautogui.tripleClick(x={fmt(x)}, y={fmt(y)})"
        case MouseDown(x=x, y=y, button=button):
            return f"pyautogui.mouseDown({_xy(x, y)}button={button!r})"
        case MouseUp(x=x, y=y, button=button):
            return f"pyautogui.mouseUp({_xy(x, y)}button={button!r})"
        case KeyDown(keys=keys):
            return "\n".join(f"pyautogui.keyDown({_lit(_PG_KEYS.get(k, k))})" for k in keys)
        case KeyUp(keys=keys):
            return "\n".join(f"pyautogui.keyUp({_lit(_PG_KEYS.get(k, k))})" for k in reversed(keys))
        case Type(text=text) if not text.isascii():
            return _paste(text)
    return emit(action, "pyautogui")


class OSWorldVMEnv:
    name = "osworld-vm"
    supported_actions: frozenset[str] = POINTER_KEYBOARD_ACTIONS  # what pyautogui code can do

    def __init__(self, config: OSWorldVMConfig | None = None) -> None:
        self.config = config or OSWorldVMConfig()
        self._cls = _desktop_env_class()  # fails here, with the hint, when the extra is missing
        self._env: Any = None
        self._task: OSWorldTask | None = None
        self._last_obs: dict[str, Any] | None = None

    def _guest(self) -> Any:
        if self._env is None:
            c = self.config
            kwargs: dict[str, Any] = {
                "provider_name": c.provider, "path_to_vm": c.path_to_vm, "action_space": "pyautogui",
                "screen_size": (c.width, c.height), "headless": c.headless, "os_type": c.os_type,
                "require_a11y_tree": c.require_a11y_tree, "cache_dir": c.cache_dir,
            }
            if c.region:
                kwargs["region"] = c.region
            self._env = self._call("start the VM", lambda: self._cls(**kwargs))
        return self._env

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:
            if isinstance(exc, (EnvError, EvaluationError)):
                raise
            raise EnvError(f"osworld-vm ({self.config.provider}): {what} failed: "
                           f"{type(exc).__name__}: {exc}") from exc

    def _observation(self, obs: dict[str, Any]) -> Observation:
        shot = obs.get("screenshot")
        if not shot:
            raise EnvError("osworld-vm: the guest returned no screenshot")
        return Observation(screenshot=Image.open(io.BytesIO(shot)).convert("RGB"),
                           accessibility=obs.get("accessibility_tree"),
                           instruction=obs.get("instruction"),
                           extra={"terminal": obs.get("terminal")})

    def reset(self, task: Task) -> Observation:
        raw = task.config.get("osworld")
        if raw is None:
            raise EnvError(f"{task.id}: not an OSWorld task (no config['osworld'])")
        self._task = raw if isinstance(raw, OSWorldTask) else parse_task(raw, task.id)
        from envs.osworld.support import evaluator_reason

        reason = evaluator_reason(self._task)
        if reason:
            raise UnsupportedTaskError(f"{task.id}: {reason}")
        config = self._task.model_dump(exclude_none=True)
        env = self._guest()
        self._last_obs = self._call("reset", lambda: env.reset(task_config=config))
        return self._observation(self._last_obs)

    def step(self, action: Action) -> StepResult:
        check_supported(self, action)
        env = self._guest()
        command = to_osworld_action(action)
        if command is None:  # CallUser: the guest is left alone; the episode ends where it is
            get_obs = getattr(env, "_get_obs", None)
            obs = self._call("observe", get_obs) if callable(get_obs) else self._last_obs
            if obs is None:
                raise EnvError("osworld-vm: call reset() before step()")
            self._last_obs = obs
            info = {"pyautogui": None, "question": getattr(action, "question", None)}
            return StepResult(self._observation(obs), 0.0, True, info)
        obs, reward, done, info = self._call(
            "step", lambda: env.step(command, self.config.pause_s))
        self._last_obs = obs
        info = dict(info or {}, pyautogui=command)
        if isinstance(action, Fail):
            info["fail_by"] = action.by
        return StepResult(self._observation(obs), float(reward or 0.0), bool(done), info)

    def evaluate(self) -> float:
        env = self._guest()

        def score() -> float:
            try:
                return float(env.evaluate())
            except Exception as exc:
                if _is_transport_error(exc):
                    raise
                raise EvaluationError(f"OSWorld evaluator failed: {type(exc).__name__}: {exc}") from exc

        return self._call("evaluate", score)

    def close(self) -> None:
        if self._env is not None:
            env, self._env = self._env, None
            self._call("close", env.close)
