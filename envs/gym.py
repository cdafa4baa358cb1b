"""A gymnasium.Env over any Env, for RL code.

Observations are ``{"screenshot": HxWx3 uint8, "url": str, "instruction": str}``; actions are
the project's action JSON (``{"type": "click", "x": 10, "y": 20}``) parsed with
``ACTION_ADAPTER``; the full Observation rides along in ``info["observation"]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pydantic import ValidationError

from cua.core import ACTION_ADAPTER, Action, ActionParseError, InvalidObservationError, Observation
from envs.base import Env, Task

MAX_TEXT = 4096


class AnyText(spaces.Text):
    """Text of any characters (URLs, unicode instructions); gymnasium's default charset is
    alphanumeric only."""

    def __init__(self, max_length: int = MAX_TEXT) -> None:
        super().__init__(max_length=max_length, min_length=0)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length


def parse_action(action: str | Action) -> Action:
    """An action from its JSON text; anything else is an ActionParseError."""
    if not isinstance(action, str):
        return action
    try:
        return ACTION_ADAPTER.validate_json(action)
    except ValidationError as e:
        raise ActionParseError(f"not a valid action ({e.errors()[0]['msg']})", action) from e


class GymEnv(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self, env: Env, task: Task | None = None, screenshot_size: tuple[int, int] | None = None,
        max_steps: int | None = None, render_mode: str | None = None,
    ) -> None:
        """``screenshot_size`` (width, height) defaults to the env's ``screenshot_size``;
        ``max_steps`` defaults to the task's."""
        size = screenshot_size or getattr(env, "screenshot_size", None)
        if size is None:
            raise ValueError(f"{env.name} does not tell its screenshot size: pass screenshot_size")
        width, height = size
        self.env = env
        self.render_mode = render_mode
        self.observation_space = spaces.Dict({
            "screenshot": spaces.Box(0, 255, (height, width, 3), np.uint8),
            "url": AnyText(),
            "instruction": AnyText(),
        })
        self.action_space = AnyText()
        self._default_task = task
        self._task: Task | None = None
        self._max_steps = max_steps
        self._steps = 0
        self._last: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        task = (options or {}).get("task", self._default_task)
        if task is None:
            raise ValueError("reset needs options={'task': Task} or a task given to GymEnv")
        self._task = task if seed is None else dataclasses.replace(task, seed=seed)
        self._steps = 0
        obs = self.env.reset(self._task)
        return self._convert(obs), {"observation": obs}

    def step(
        self, action: str | Action
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._task is None:
            raise ValueError("call reset() before step()")
        result = self.env.step(parse_action(action))
        self._steps += 1
        limit = self._max_steps or self._task.max_steps
        truncated = not result.done and self._steps >= limit
        info = {**result.info, "observation": result.observation}
        return self._convert(result.observation), float(result.reward), result.done, truncated, info

    def render(self) -> np.ndarray | None:
        return self._last if self.render_mode == "rgb_array" else None

    def close(self) -> None:
        self.env.close()

    def _convert(self, obs: Observation) -> dict[str, Any]:
        shot = np.asarray(obs.screenshot.convert("RGB"), dtype=np.uint8)
        expected = self.observation_space["screenshot"].shape
        if shot.shape != expected:
            raise InvalidObservationError(
                f"screenshot is {shot.shape[1]}x{shot.shape[0]}, the observation space says"
                f" {expected[1]}x{expected[0]}: pass screenshot_size to GymEnv"
            )
        self._last = shot
        instruction = obs.instruction or (self._task.instruction if self._task else None) or ""
        return {"screenshot": shot, "url": obs.url or "", "instruction": instruction}
