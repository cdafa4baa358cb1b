"""Model inputs for training, built by the runtime's own prompt encoder.

A prompt is encoded exactly as at inference: ``Profile.build_messages`` (smart-resize with the
profile's bounds, its system prompt and prefill) then ``LocalChatModel.encode`` (chat template,
``do_resize=False``). The target is ``Profile.answer`` for the box centre in the profile's
coordinate space, tokenised on its own and appended, then the end-of-turn token: the model
learns to continue the very token sequence it will be given at inference. Labels are -100 on
the prompt and image tokens, so the loss is on the answer only.

Nothing here is kept across a run: an example (pixels included) is encoded when its batch is
built. ``example_length`` gives an example's token count without decoding its image, for the
``max_length`` filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from cua.core import CuaError, ModelSpace
from grounding.backends.local import LocalChatModel
from grounding.profiles import Profile
from grounding.train.data import Row

IGNORE = -100


@dataclass
class Prompt:
    inputs: dict[str, torch.Tensor]  # one unpadded prompt: input_ids (1, L), pixel_values, ...
    space: ModelSpace
    row: Row
    images: tuple[Image.Image, ...] = ()  # the images exactly as the model sees them (resized)


@dataclass
class Example:
    prompt: Prompt
    answer_ids: list[int]
    answer: str

    @property
    def length(self) -> int:
        return int(self.prompt.inputs["input_ids"].shape[1]) + len(self.answer_ids)


def end_of_turn_id(chat: LocalChatModel) -> int:
    """The first end-of-sequence id of the generation config: where ``LocalChatModel`` stops."""
    eos = chat.model.generation_config.eos_token_id
    eos = eos[0] if isinstance(eos, list) else eos
    if eos is None:
        raise CuaError("the checkpoint's generation config has no eos_token_id: cannot teach it to stop")
    return int(eos)


def stop_token_ids(chat: LocalChatModel) -> list[int]:
    """Every id a reply ends at: all of the generation config's end-of-sequence ids (``generate``
    stops at any of them) and the pad id (what follows a finished row), as ``_decode`` reads it."""
    eos = chat.model.generation_config.eos_token_id
    stops = [*(eos if isinstance(eos, list) else [eos]), chat.processor.tokenizer.pad_token_id]
    return sorted({int(t) for t in stops if t is not None})


def encode_prompt(chat: LocalChatModel, profile: Profile, row: Row, keep_images: bool = False) -> Prompt:
    """``keep_images``: also keep the resized images (what a generation server is sent)."""
    messages, space = profile.build_messages(row.load_image(), row.instruction)
    inputs = chat.encode([messages])
    images = tuple(chat._sized(part) for m in messages if not isinstance(m.get("content"), str)
                   for part in m.get("content") or () if part.get("type") == "image") if keep_images else ()
    return Prompt({k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)}, space, row, images)


def encode_example(chat: LocalChatModel, profile: Profile, row: Row) -> Example:
    answer, ids = answer_ids(chat, profile, row)
    return Example(encode_prompt(chat, profile, row), ids, answer)


def answer_ids(chat: LocalChatModel, profile: Profile, row: Row) -> tuple[str, list[int]]:
    """The target reply (without the prefill) and its ids, end-of-turn token included."""
    centre, box, _ = profile.target(row.box, row.image_size)
    answer = profile.answer(centre, box)
    ids = chat.processor.tokenizer(answer, add_special_tokens=False)["input_ids"]
    return answer, [*ids, end_of_turn_id(chat)]


class _SizeOnly:
    """What ``Profile.build_messages`` reads of a screenshot (its size, a resize) without pixels."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size

    def resize(self, size: tuple[int, int], *_: Any) -> _SizeOnly:
        return _SizeOnly(size)


def example_length(chat: LocalChatModel, profile: Profile, row: Row) -> int:
    """``encode_example(...).length`` from the text and the image size alone (no decoding): the
    prompt rendered as ``LocalChatModel.encode`` renders it, each image placeholder counting the
    (h / factor) x (w / factor) tokens the processor expands it to."""
    messages, _ = profile.build_messages(_SizeOnly(row.image_size), row.instruction)  # type: ignore[arg-type]
    prefill = ""
    if messages[-1].get("role") == "assistant":
        prefill = "".join(p.get("text", "") for p in messages[-1]["content"])
        messages = messages[:-1]
    text = chat.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + prefill
    n_text = len(chat.processor.tokenizer(text)["input_ids"])
    images = [p for m in messages if not isinstance(m.get("content"), str) for p in m["content"]
              if p.get("type") == "image"]
    # Each image is one placeholder token in the text, expanded to its merged patch count.
    n_image = sum((p["resized_width"] // chat.factor) * (p["resized_height"] // chat.factor) - 1 for p in images)
    return n_text + n_image + len(answer_ids(chat, profile, row)[1])


def collate_sft(examples: Sequence[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded prompt+answer sequences; labels only on the answer (and its end token)."""
    seqs, labels, types = [], [], []
    for ex in examples:
        p = ex.prompt.inputs
        answer = torch.tensor(ex.answer_ids, dtype=torch.long)
        seqs.append(torch.cat([p["input_ids"][0], answer]))
        labels.append(torch.cat([torch.full_like(p["input_ids"][0], IGNORE), answer]))
        types.append(torch.cat([p["mm_token_type_ids"][0], torch.zeros_like(answer)]))
    batch = _right_pad(seqs, labels, types, pad_id)
    batch.update(_images([ex.prompt.inputs for ex in examples]))
    return batch


def _right_pad(seqs: list[torch.Tensor], labels: list[torch.Tensor], types: list[torch.Tensor],
               pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(s) for s in seqs)
    n = len(seqs)
    out = {"input_ids": torch.full((n, width), pad_id, dtype=torch.long),
           "attention_mask": torch.zeros((n, width), dtype=torch.long),
           "labels": torch.full((n, width), IGNORE, dtype=torch.long),
           "mm_token_type_ids": torch.zeros((n, width), dtype=torch.long)}
    for i, (s, lab, t) in enumerate(zip(seqs, labels, types)):
        out["input_ids"][i, :len(s)] = s
        out["attention_mask"][i, :len(s)] = 1
        out["labels"][i, :len(s)] = lab
        out["mm_token_type_ids"][i, :len(s)] = t
    return out


def _images(prompts: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    with_images = [p for p in prompts if "pixel_values" in p]
    if not with_images:
        return {}
    return {"pixel_values": torch.cat([p["pixel_values"] for p in with_images]),
            "image_grid_thw": torch.cat([p["image_grid_thw"] for p in with_images])}


def collate_prompts(chat: LocalChatModel, prompts: Sequence[Prompt]) -> dict[str, torch.Tensor]:
    """Left-padded prompts (what generation takes, and what the completions are scored after)."""
    pad_id = chat.processor.tokenizer.pad_token_id
    width = max(int(p.inputs["input_ids"].shape[1]) for p in prompts)
    n = len(prompts)
    out = {"input_ids": torch.full((n, width), pad_id, dtype=torch.long),
           "attention_mask": torch.zeros((n, width), dtype=torch.long),
           "mm_token_type_ids": torch.zeros((n, width), dtype=torch.long)}
    for i, p in enumerate(prompts):
        length = int(p.inputs["input_ids"].shape[1])
        out["input_ids"][i, width - length:] = p.inputs["input_ids"][0]
        out["attention_mask"][i, width - length:] = 1
        out["mm_token_type_ids"][i, width - length:] = p.inputs["mm_token_type_ids"][0]
    out.update(_images([p.inputs for p in prompts]))
    return out


def to_device(batch: dict[str, Any], device: torch.device, float_dtype: torch.dtype) -> dict[str, Any]:
    moved = {k: v.to(device) for k, v in batch.items()}
    if "pixel_values" in moved:
        moved["pixel_values"] = moved["pixel_values"].to(float_dtype)
    return moved
