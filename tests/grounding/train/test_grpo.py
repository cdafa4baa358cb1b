"""GRPO: the advantage and loss arithmetic on hand-made numbers, and a few real steps on a tiny
Qwen2.5-VL with every reward function, the rewards read from replies as the runtime reads them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from grounding.model_grounder import ModelGrounder
from grounding.train.config import GRPOConfig, RewardSpec
from grounding.train.grpo import RewardTerm, build_rewards, train_grpo
from grounding.train.grpo_math import group_advantages, policy_loss
from grounding.train.metrics import read_metrics
from grounding.train.types import RewardSample

REWARDS = ["format", "point_in_box", "gaussian", "distance_hit", "multi_answer", "iou"]


def test_advantages_are_zero_mean_per_group_and_zero_for_equal_rewards() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5, 3.0, 1.0, 2.0, 0.0])
    adv = group_advantages(rewards, 4)
    groups = adv.view(3, 4)
    assert torch.allclose(groups.mean(1), torch.zeros(3), atol=1e-6)
    assert torch.equal(groups[1], torch.zeros(4))  # nothing to learn from a tie
    assert torch.allclose(groups[0], torch.tensor([1.0, -1.0, -1.0, 1.0]), atol=1e-3)  # std-normalised
    assert torch.allclose(group_advantages(rewards, 4, scale=False).view(3, 4)[2], torch.tensor([1.5, -0.5, 0.5, -1.5]))
    with pytest.raises(ValueError):
        group_advantages(rewards, 5)


def test_clipped_surrogate_and_kl() -> None:
    old = torch.zeros(2, 3)
    new = torch.log(torch.tensor([[1.5, 1.0, 0.5], [1.0, 1.0, 1.0]]))
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    adv = torch.tensor([1.0, -1.0])
    out = policy_loss(new, old, adv, mask, epsilon=0.2)
    # row 0 (A=1): ratios 1.5→clipped 1.2, 1.0, 0.5 (min keeps 0.5); row 1 (A=-1): ratio 1 → 1
    expected = (-(1.2 + 1.0 + 0.5) + 1.0 + 1.0) / 5
    assert out.loss.item() == pytest.approx(expected, abs=1e-6)
    assert out.clip_fraction.item() == pytest.approx(1 / 5)
    seq = policy_loss(new, old, adv, mask, epsilon=0.2, loss_type="grpo")
    assert seq.loss.item() == pytest.approx((-(2.7) / 3 + 1.0) / 2, abs=1e-6)
    ref = torch.zeros(2, 3)
    kl = policy_loss(new, old, adv, mask, epsilon=0.2, beta=0.5, ref_logps=ref)
    d = (ref - new)
    k3 = ((torch.exp(d) - d - 1) * mask).sum() / 5
    assert kl.kl.item() == pytest.approx(k3.item(), abs=1e-6)
    assert kl.loss.item() == pytest.approx(expected + 0.5 * k3.item(), abs=1e-6)


def test_grpo_steps_with_every_reward_read_as_the_runtime_reads(tmp_path: Path, tiny_qwen25_dir: Path,
                                                                 small_export: dict[str, Path]) -> None:
    seen: list[RewardSample] = []

    def recording(samples: Sequence[RewardSample]) -> list[float]:
        seen.extend(samples)
        return [float(len(s.completion) % 3) for s in samples]  # varies, so advantages are not all zero

    cfg = GRPOConfig.model_validate({
        "output_dir": str(tmp_path), "model": {"path": str(tiny_qwen25_dir), "profile": "qwen2.5-vl",
                                               "finetune": "lora"},
        "data": {"train": str(small_export["train"]), "max_samples": 4},
        "optim": {"lr": 1e-3, "max_steps": 2, "batch_size": 2},
        "grpo": {"num_generations": 4, "max_new_tokens": 10, "micro_batch_size": 4, "iterations": 2, "beta": 0.04,
                 "rewards": [{"name": n} for n in REWARDS]},
        "logging": {"progress": False}})
    terms = build_rewards(cfg.grpo.rewards) + [RewardTerm("recording", 1.0, recording)]
    summary = train_grpo(cfg, rewards=terms)
    assert summary["steps"] == 2
    metrics = [m for m in read_metrics(tmp_path) if m["kind"] == "train"]
    assert len(metrics) == 2
    for name in REWARDS:
        assert isinstance(metrics[0][f"reward/{name}"], float)
    second = metrics[1]  # iterations=2: the second update reuses the batch, so the ratio moved off 1
    assert second["ratio"] != pytest.approx(1.0, abs=1e-9) and 0 <= second["clip_fraction"] <= 1
    assert metrics[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # LoRA starts at the reference
    assert len(seen) == 8  # one generation batch: 2 prompts x 4 completions
    grounder = ModelGrounder("qwen2.5-vl", _NoChat())
    for s in seen:  # the reward saw exactly what the runtime's grounder reads from this reply
        runtime = grounder._read(s.completion, s.space, s.image_size, 0.0)
        mine = s.grounding()
        assert (mine.point if mine else None) == runtime.point
    assert (tmp_path / "final" / "adapter" / "adapter_config.json").exists()


def test_unknown_reward_is_an_error() -> None:
    from cua.core import CuaError

    with pytest.raises((CuaError, KeyError, ValueError)):
        build_rewards([RewardSpec(name="no_such_reward")])


class _NoChat:
    name = "none"

    def chat(self, *a, **k):  # pragma: no cover - only _read is used
        raise AssertionError

    chat_batch = chat


class _ClosableReward:
    """A reward that holds something to release (as online_env holds a browser)."""

    def __init__(self) -> None:
        self.closed = 0

    def __call__(self, samples: Sequence[RewardSample]) -> list[float]:
        return [float(len(s.completion) % 3) for s in samples]  # varies, so the policy moves

    def close(self) -> None:
        self.closed += 1


def _full_cfg(out: Path, ckpt: Path, export: dict[str, Path], **over: object) -> GRPOConfig:
    data = {"output_dir": str(out), "model": {"path": str(ckpt), "profile": "qwen2.5-vl", "finetune": "full"},
            "data": {"train": str(export["train"]), "max_samples": 4},
            "optim": {"lr": 1e-2, "max_steps": 4, "batch_size": 1, "scheduler": "constant"},
            "grpo": {"num_generations": 2, "max_new_tokens": 6, "iterations": 2, "beta": 0.5,
                     "rewards": [{"name": "format"}]},
            "checkpoint": {"every": 1, "keep": 5}, "logging": {"progress": False}, **over}
    return GRPOConfig.model_validate(data)


def test_full_grpo_resume_keeps_the_base_as_reference_and_checkpoints_between_batches(
        tmp_path: Path, tiny_qwen25_dir: Path, small_export: dict[str, Path]) -> None:
    import json

    reward = _ClosableReward()

    def kill_at_3(step: int, _: dict) -> None:
        if step == 3:
            raise KeyboardInterrupt

    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        train_grpo(_full_cfg(cut, tiny_qwen25_dir, small_export), rewards=[RewardTerm("r", 1.0, reward)],
                   on_step=kill_at_3)
    assert reward.closed == 1  # released although training failed
    # iterations=2: steps 1-2 use batch 0, steps 3-4 batch 1. Checkpoints due at steps 1 and 3
    # (mid-batch) wait for the batch's end, so a resume never skips a batch's remaining updates.
    assert [p.name for p in (cut / "checkpoints").iterdir()] == ["step_0000002"]
    state = json.loads((cut / "checkpoints" / "step_0000002" / "trainer_state.json").read_text())
    assert state["step"] == 2 and state["batch_index"] == 1
    before = {m["step"]: m for m in read_metrics(cut) if m["kind"] == "train"}
    assert before[1]["kl"] == pytest.approx(0.0, abs=1e-7) and before[3]["kl"] > 1e-6  # the policy moved

    again = _ClosableReward()
    resumed = train_grpo(_full_cfg(cut, tiny_qwen25_dir, small_export, checkpoint={"every": 1, "resume": True}),
                         rewards=[RewardTerm("r", 1.0, again)])
    assert resumed["steps"] == 4 and resumed["resumed_from"].endswith("step_0000002") and again.closed == 1
    after = [m for m in read_metrics(cut) if m["kind"] == "train"]
    assert [m["step"] for m in after] == [1, 2, 3, 3, 4]
    # The resumed step 3 scores batch 1 against the base model, as the uninterrupted run did; a
    # reference copied from the resumed policy would give a KL of exactly 0 here.
    assert after[3]["kl"] == pytest.approx(before[3]["kl"], rel=1e-3)


def test_fewer_rows_than_one_batch_is_an_error(tmp_path: Path, tiny_qwen25_dir: Path,
                                               small_export: dict[str, Path]) -> None:
    from cua.core import CuaError

    cfg = _full_cfg(tmp_path, tiny_qwen25_dir, small_export, data={"train": str(small_export["train"]),
                                                                   "max_samples": 1},
                    optim={"batch_size": 2, "max_steps": 2})
    reward = _ClosableReward()
    with pytest.raises(CuaError, match="cannot fill one batch of 2"):
        train_grpo(cfg, rewards=[RewardTerm("r", 1.0, reward)])
    assert reward.closed == 1
