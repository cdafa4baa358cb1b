"""The online environment reward: completions become clicks in a synthetic task's live page
(real Chromium), and the task's validator decides the reward; GRPO runs a step with it."""

from __future__ import annotations

from pathlib import Path

from cua.core import Point
from cua.training import OnlineEnvReward, run_grpo, training_rows
from grounding.profiles import get_profile
from grounding.train.config import GRPOConfig
from grounding.train.metrics import read_metrics
from grounding.train.types import RewardSample


def _cfg(out: Path, model: Path, run_dir: Path, rewards: list[dict]) -> GRPOConfig:
    return GRPOConfig.model_validate({
        "output_dir": str(out), "model": {"path": str(model), "profile": "qwen2.5-vl", "finetune": "lora"},
        "data": {"train": str(run_dir), "format": "synth_run", "max_samples": 2},
        "optim": {"max_steps": 1, "batch_size": 1},
        "grpo": {"num_generations": 2, "max_new_tokens": 8, "rewards": rewards},
        "logging": {"progress": False}})


def test_a_right_click_scores_and_a_wrong_one_does_not(tmp_path: Path, tiny_qwen25_dir: Path, synth_run: Path) -> None:
    rows = training_rows(_cfg(tmp_path, tiny_qwen25_dir, synth_run, [{"name": "online_env"}])).rows
    assert rows and all({"task_id", "seed", "step"} <= set(r.meta) for r in rows)
    profile = get_profile("qwen2.5-vl")
    row = rows[0]
    centre, _, space = profile.target(row.box, row.image_size)

    def sample(completion: str) -> RewardSample:
        return RewardSample(completion, profile, space, row.image_size, row.box, row.meta)

    right = sample(profile.answer(centre))
    wrong = sample(profile.answer(Point(x=space.width - 1, y=space.height - 1)))  # the bottom-right corner
    garbage = sample("not a tool call")
    reward = OnlineEnvReward()
    try:
        assert reward([right, wrong, garbage]) == [1.0, 0.0, 0.0]
        assert reward([right]) == [1.0]  # the same browser serves the next call
        assert reward.reward.stats.launches == 1
    finally:
        reward.close()


def test_grpo_step_with_the_online_reward(tmp_path: Path, tiny_qwen25_dir: Path, synth_run: Path) -> None:
    cfg = _cfg(tmp_path, tiny_qwen25_dir, synth_run, [{"name": "format", "weight": 0.1}, {"name": "online_env"}])
    summary = run_grpo(cfg)
    assert summary["steps"] == 1
    train = [m for m in read_metrics(tmp_path) if m["kind"] == "train"]
    assert "reward/online_env" in train[0] and 0.0 <= train[0]["reward/online_env"] <= 1.0
