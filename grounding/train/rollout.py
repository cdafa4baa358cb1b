"""GRPO rollouts: G sampled completions per prompt from the model being trained, decoded and
read exactly as the runtime reads a reply, and the per-token log-probs of those completions.

Sampling uses the plain softmax at ``temperature`` (no top-k / top-p / repetition penalty), so
the log-probs computed afterwards are those of the distribution that sampled.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from cua.core import ModelSpace
from grounding.train.batches import Prompt, collate_prompts, end_of_turn_id
from grounding.train.grpo_math import token_logps
from grounding.train.modeling import InMemoryChatModel


@dataclass
class Rollout:
    prompts: list[Prompt]  # one per completion (each prompt repeated G times, adjacent)
    completion_ids: torch.Tensor  # (n, T), padded after the end token
    mask: torch.Tensor  # (n, T): 1 up to and including the end token
    texts: list[str]  # the runtime's decoding of each completion (cut at the end token)

    @property
    def spaces(self) -> list[ModelSpace]:
        return [p.space for p in self.prompts]

    def __len__(self) -> int:
        return len(self.prompts)


def _repeat_images(batch: dict[str, torch.Tensor], times: int) -> dict[str, torch.Tensor]:
    out = {k: v.repeat_interleave(times, 0) for k, v in batch.items() if k not in ("pixel_values", "image_grid_thw")}
    if "pixel_values" in batch:
        chunks = batch["pixel_values"].split([int(t.prod()) for t in batch["image_grid_thw"]])
        out["pixel_values"] = torch.cat([c for c in chunks for _ in range(times)])
        out["image_grid_thw"] = batch["image_grid_thw"].repeat_interleave(times, 0)
    return out


@torch.no_grad()
def sample(chat: InMemoryChatModel, prompts: Sequence[Prompt], group_size: int, temperature: float,
           max_new_tokens: int, synced_gpus: bool = False) -> Rollout:
    model = chat.model
    batch = collate_prompts(chat, prompts)
    inputs = {k: v.to(model.device) for k, v in _repeat_images(batch, group_size).items()}
    inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
    gen = copy.deepcopy(model.generation_config)
    gen.do_sample, gen.temperature, gen.max_new_tokens = True, temperature, max_new_tokens
    gen.top_k, gen.top_p, gen.repetition_penalty = None, 1.0, 1.0
    gen.pad_token_id = chat.processor.tokenizer.pad_token_id
    # A sampled image/video placeholder would make the scoring pass expect image features it
    # does not have (an untrained model does sample them): never sample the vision tokens.
    config = model.config
    gen.suppress_tokens = [int(t) for t in (getattr(config, k, None) for k in (
        "image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")) if t is not None]
    was_training = model.training
    model.eval()
    try:
        out = model.generate(**inputs, generation_config=gen, synced_gpus=synced_gpus)
    finally:
        model.train(was_training)
    completion = out[:, inputs["input_ids"].shape[1]:].cpu()
    eos = end_of_turn_id(chat)
    is_end = completion == eos
    first_end = torch.where(is_end.any(1), is_end.float().argmax(1), torch.full((len(completion),), completion.shape[1]))
    mask = (torch.arange(completion.shape[1])[None, :] <= first_end[:, None]).long()
    completion = torch.where(mask.bool(), completion, torch.full_like(completion, gen.pad_token_id))
    return Rollout([p for p in prompts for _ in range(group_size)], completion, mask, chat._decode(completion))


def scoring_inputs(chat: InMemoryChatModel, rollout: Rollout, rows: slice) -> dict[str, Any]:
    """Model inputs for completions ``rows`` of ``rollout``: the left-padded prompt followed by
    the completion, as generation saw them."""
    prompts = rollout.prompts[rows]
    batch = collate_prompts(chat, prompts)
    completion, mask = rollout.completion_ids[rows], rollout.mask[rows]
    batch["input_ids"] = torch.cat([batch["input_ids"], completion], 1)
    batch["attention_mask"] = torch.cat([batch["attention_mask"], mask], 1)
    batch["mm_token_type_ids"] = torch.cat([batch["mm_token_type_ids"], torch.zeros_like(completion)], 1)
    return batch


def completion_logps(model: Any, batch: dict[str, torch.Tensor], completion: torch.Tensor,
                     temperature: float) -> torch.Tensor:
    """(n, T) log-probs of the completion tokens (the last T of ``input_ids``)."""
    t = completion.shape[1]
    logits = model(**batch, logits_to_keep=t + 1, use_cache=False).logits[:, :-1]
    return token_logps(logits, completion.to(logits.device), temperature)
