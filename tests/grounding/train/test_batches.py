"""The tensors training sees, on the tiny Qwen2.5-VL's real tokenizer and processor: SFT labels
cover the answer and its end token only, and a GRPO rollout's mask ends at the first stop token
(any end-of-sequence id, or the pad id) exactly where the runtime's decoding ends."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from PIL import Image

from cua.core import Box
from grounding.profiles import get_profile
from grounding.train.batches import IGNORE, collate_sft, encode_example, stop_token_ids
from grounding.train.data import Row
from grounding.train.rollout import _rollout


def _row(size: tuple[int, int], instruction: str) -> Row:
    return Row(Image.new("RGB", size, "white"), instruction, Box(x1=10, y1=10, x2=40, y2=30), size)


def test_sft_labels_are_the_answer_and_its_end_token_only(tiny_qwen25: Any) -> None:
    profile = get_profile("qwen2.5-vl")
    tok = tiny_qwen25.processor.tokenizer
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    image_pad = tiny_qwen25.model.config.image_token_id
    examples = [encode_example(tiny_qwen25, profile, _row((120, 90), "the Save button")),
                encode_example(tiny_qwen25, profile, _row((64, 64), "ok"))]
    assert examples[0].length != examples[1].length  # so one row is right-padded
    batch = collate_sft(examples, tok.pad_token_id)
    width = max(e.length for e in examples)
    assert batch["labels"].shape == batch["input_ids"].shape == (2, width)
    for i, ex in enumerate(examples):
        n_prompt = int(ex.prompt.inputs["input_ids"].shape[1])
        labels, ids = batch["labels"][i], batch["input_ids"][i]
        assert (labels[:n_prompt] == IGNORE).all()  # system, user text, image tokens, prefill
        assert (ids[:n_prompt] == image_pad).sum() > 0  # the prompt does hold the image tokens
        answer = labels[n_prompt:ex.length].tolist()
        assert answer == ex.answer_ids and answer[-1] == im_end
        assert answer == ids[n_prompt:ex.length].tolist()  # labels are the input ids (the model shifts)
        assert tok.decode(answer[:-1]) == ex.answer == profile.answer(*profile.target(ex.prompt.row.box,
                                                                                      ex.prompt.row.image_size)[:2])
        assert (labels[ex.length:] == IGNORE).all() and (batch["attention_mask"][i, ex.length:] == 0).all()
    assert int((batch["labels"] != IGNORE).sum()) == sum(len(e.answer_ids) for e in examples)


@pytest.mark.parametrize("eos", ["both", "im_end_only"])
def test_rollout_mask_ends_at_the_first_stop_token(tiny_qwen25: Any, monkeypatch: pytest.MonkeyPatch,
                                                   eos: str) -> None:
    tok = tiny_qwen25.processor.tokenizer
    end, pad = tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id  # <|endoftext|>, as in Qwen2.5-VL
    # Qwen2.5-VL's generation config stops at <|im_end|> and at <|endoftext|>, which is also its pad.
    monkeypatch.setattr(tiny_qwen25.model.generation_config, "eos_token_id", [end, pad] if eos == "both" else end)
    assert stop_token_ids(tiny_qwen25) == sorted({end, pad})
    a, b, c = (tok.convert_tokens_to_ids(t) for t in ("a", "b", "c"))
    completion = torch.tensor([
        [a, pad, pad, pad, pad],  # ended on the second eos id, then padded by generate()
        [a, b, end, pad, pad],  # ended on <|im_end|>
        [a, b, c, a, b],  # ran out of max_new_tokens
        [end, pad, pad, pad, pad],  # ended at once
        [a, b, end, c, pad],  # anything after the first stop is not the model's reply
    ])
    rollout = _rollout(tiny_qwen25, [None] * 5, completion)
    assert rollout.mask.tolist() == [[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0],
                                     [1, 1, 1, 0, 0]]
    assert rollout.completion_ids[4].tolist() == [a, b, end, pad, pad]  # masked tokens become pads
    assert rollout.texts == tiny_qwen25._decode(completion)  # the same cut as the runtime's reading
    assert rollout.texts[0] == "a" and rollout.texts[2] == "abcab"


def test_rollout_mask_stops_at_the_generated_length(tiny_qwen25: Any) -> None:
    """A server's rows are padded to the longest: ``lengths`` ends the ones that stopped on no token."""
    tok = tiny_qwen25.processor.tokenizer
    pad = tok.pad_token_id
    a, b = (tok.convert_tokens_to_ids(t) for t in ("a", "b"))
    rollout = _rollout(tiny_qwen25, [None] * 2, torch.tensor([[a, b, a], [a, pad, pad]]), torch.tensor([3, 1]))
    assert rollout.mask.tolist() == [[1, 1, 1], [1, 0, 0]]
