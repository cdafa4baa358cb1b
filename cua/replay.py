"""Re-execute a recorded episode in a fresh env and report where it diverges.

The recorded actions are replayed as they were executed (screenshot pixels); at each step
the fresh screen is compared with the recorded one, and the rewards are compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from cua.core import CuaError, Task
from cua.core.store import Episode, load_episode
from cua.suites import get_suite
from envs.base import Env


def screen_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute pixel difference in [0, 1]; 1.0 when the sizes differ."""
    if a.size != b.size:
        return 1.0
    x = np.asarray(a.convert("RGB"), dtype=np.int16)
    y = np.asarray(b.convert("RGB"), dtype=np.int16)
    return float(np.abs(x - y).mean() / 255.0)


@dataclass
class StepComparison:
    index: int
    screen_diff: float
    recorded_reward: float
    replayed_reward: float
    screen_diverged: bool
    reward_diverged: bool


@dataclass
class ReplayReport:
    episode: Path
    task_id: str
    steps: list[StepComparison] = field(default_factory=list)
    recorded_score: float | None = None
    replayed_score: float | None = None

    @property
    def first_divergence(self) -> StepComparison | None:
        return next((s for s in self.steps if s.screen_diverged or s.reward_diverged), None)

    @property
    def score_matches(self) -> bool:
        return self.recorded_score is None or self.recorded_score == self.replayed_score


def replay_episode(
    episode: Episode | Path | str, env: Env | None = None, screen_threshold: float = 0.02,
) -> ReplayReport:
    ep = episode if isinstance(episode, Episode) else load_episode(episode)
    if ep.result is None:
        raise CuaError(f"{ep.folder} has no result.json: the episode did not finish, nothing to compare")
    task_id, seed = ep.result.task_id, ep.result.seed
    suite = get_suite(task_id.split("/", 1)[0])
    task: Task = suite.make_task(task_id.split("/", 1)[1], seed)
    own_env = env is None
    env = env or suite.make_env()
    report = ReplayReport(episode=ep.folder, task_id=task_id, recorded_score=ep.result.reward)
    try:
        obs = env.reset(task)
        for step in ep.steps:
            diff = screen_difference(obs.screenshot, ep.screenshot(step))
            replayed_reward = 0.0
            if step.action is not None:
                stepped = env.step(step.action)
                obs, replayed_reward = stepped.observation, stepped.reward
            report.steps.append(StepComparison(
                index=step.index, screen_diff=diff, recorded_reward=step.reward,
                replayed_reward=replayed_reward, screen_diverged=diff > screen_threshold,
                # MiniWoB's reward decays with time: compare signs, not values
                reward_diverged=np.sign(step.reward) != np.sign(replayed_reward)))
        report.replayed_score = float(env.evaluate())
    finally:
        if own_env:
            env.close()
    return report
