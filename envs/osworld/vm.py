"""OSWorldVMEnv: an OSWorld task on OSWorld's own VMs through ``desktop_env`` (the ``osworld``
extra, PyPI ``desktop-env``), with our actions sent through the pyautogui codec.

``desktop_env.desktop_env.DesktopEnv(provider_name, path_to_vm, action_space="pyautogui", ...)``
does setup, input and scoring in the guest (anchors-runtime §1.1); this wrapper only translates:
Done/Fail/Wait → "DONE"/"FAIL"/"WAIT", anything else → one pyautogui line (``codecs.emit``).
Screenshot pixels are guest screen pixels, so no coordinate change is needed. A guest that does
not answer (connection refused, timeout) is an EnvError: the runner retries it and reports it
apart from agent failures. Not exercised by tests here (no VM, docker or KVM on this machine).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

from cua.core import Action, Done, EnvError, Fail, Observation, SetupError, Wait
from cua.core.codecs import emit
from envs.base import StepResult, Task
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


def to_osworld_action(action: Action) -> str:
    if isinstance(action, Done):
        return "DONE"
    if isinstance(action, Fail):
        return "FAIL"
    if isinstance(action, Wait):
        return "WAIT"
    return emit(action, "pyautogui")


class OSWorldVMEnv:
    name = "osworld-vm"

    def __init__(self, config: OSWorldVMConfig | None = None) -> None:
        self.config = config or OSWorldVMConfig()
        self._cls = _desktop_env_class()  # fails here, with the hint, when the extra is missing
        self._env: Any = None
        self._task: OSWorldTask | None = None

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
        return self._observation(self._call("reset", lambda: env.reset(task_config=config)))

    def step(self, action: Action) -> StepResult:
        env = self._guest()
        command = to_osworld_action(action)
        obs, reward, done, info = self._call(
            "step", lambda: env.step(command, self.config.pause_s))
        info = dict(info or {}, pyautogui=command)
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
