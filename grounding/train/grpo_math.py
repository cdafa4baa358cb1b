"""The arithmetic of GRPO, kept apart so it is tested on hand-made numbers.

* advantages: each completion's reward minus its group's mean, divided by the group's std
  (plus ``eps``) when ``scale``; a group of equal rewards gets zero advantages (nothing to learn);
* the PPO-style clipped surrogate per token with the log-probs of the policy that sampled;
* the k3 estimator of KL to a reference model (Schulman), added with weight ``beta``;
* token reduction: ``grpo`` averages over each sequence then over sequences, ``dapo`` over all
  tokens of the batch (TRL's default).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def group_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """``rewards``: (n_prompts * group_size,), the completions of one prompt adjacent."""
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    grouped = rewards.view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (grouped.std(dim=1, keepdim=True, unbiased=False) + eps)
    return centred.reshape(-1)


@dataclass
class PolicyLoss:
    loss: torch.Tensor  # what to backpropagate (already reduced)
    clip_fraction: torch.Tensor  # share of tokens where the clip was active
    kl: torch.Tensor  # mean per-token KL to the reference (0 without one)
    ratio_mean: torch.Tensor


def policy_loss(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                epsilon: float, epsilon_high: float | None = None, beta: float = 0.0,
                ref_logps: torch.Tensor | None = None, loss_type: str = "dapo",
                token_normaliser: float | None = None) -> PolicyLoss:
    """``logps``/``old_logps``/``ref_logps``/``mask``: (n, T) per completion token; ``advantages``:
    (n,). ``token_normaliser``: the token count ``dapo`` divides by (the whole batch's when
    the batch is split into micro-batches); default: this call's tokens."""
    mask = mask.to(logps.dtype)
    ratio = torch.exp(logps - old_logps)
    adv = advantages[:, None].to(logps.dtype)
    high = epsilon if epsilon_high is None else epsilon_high
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - epsilon, 1 + high) * adv
    per_token = -torch.min(unclipped, clipped)
    kl = torch.zeros_like(per_token)
    if beta and ref_logps is not None:
        delta = ref_logps - logps
        kl = torch.exp(delta) - delta - 1
        per_token = per_token + beta * kl
    tokens = mask.sum().clamp(min=1)
    if loss_type == "grpo":
        loss = ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
    elif loss_type == "dapo":
        loss = (per_token * mask).sum() / (token_normaliser or tokens)
    else:
        raise ValueError(f"unknown loss_type {loss_type!r}")
    was_clipped = (clipped < unclipped).to(logps.dtype)  # min picked the clipped branch
    return PolicyLoss(loss, (was_clipped * mask).sum() / tokens, (kl * mask).sum() / tokens,
                      (ratio.detach() * mask).sum() / tokens)


def token_logps(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Log-probs of ``targets`` (n, T) under ``logits`` (n, T, V), at the sampling temperature."""
    logits = logits.float() / temperature
    return torch.gather(logits.log_softmax(-1), 2, targets[..., None]).squeeze(-1)
