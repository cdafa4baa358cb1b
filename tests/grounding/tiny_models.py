"""Tiny random-init Qwen2.5-VL and Qwen3-VL checkpoints, built offline in about a second.

Each is a real checkpoint directory (config, safetensors weights, tokenizer, image processor
config, chat template) that loads through the same code path as a downloaded one. The
tokenizer is a byte-level BPE trained here with Qwen's special tokens; the image processor
is ``Qwen2VLImageProcessorPil`` (no torchvision).
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    PreTrainedTokenizerFast, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from grounding.profiles import PROFILES

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
           "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
           "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
PLAIN_ADDED = ["<tool_call>", "</tool_call>", "<think>", "</think>"]  # added, not special, as in Qwen's

# Qwen2-VL / Qwen2.5-VL's template: a default system prompt when none is given.
QWEN25_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Qwen3-VL's renders content the same way and adds no default system prompt.
QWEN3_TEMPLATE = QWEN25_TEMPLATE.replace(
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant."
    "<|im_end|>\n{% endif %}", "")

SMALL_PIXELS = {"min_pixels": 56 * 56, "max_pixels": 448 * 448}


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on the profiles' prompts, so prompts stay a few hundred tokens."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [part for p in PROFILES for part in (*p.system, p.user, p.prefill)] + [
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [12, 34]}}',
        "(123, 456) [7, 8] 0123456789", "click the Save button"]
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=1024, special_tokens=SPECIAL, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in PLAIN_ADDED])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def _token_ids(tok: PreTrainedTokenizerFast) -> dict[str, int]:
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_end|>")}
    special = {"image_token_id": "<|image_pad|>", "video_token_id": "<|video_pad|>",
               "vision_start_token_id": "<|vision_start|>", "vision_end_token_id": "<|vision_end|>"}
    return {"text": {"vocab_size": len(tok), "bos_token_id": ids["<|endoftext|>"],
                     "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"]},
            **{k: tok.convert_tokens_to_ids(v) for k, v in special.items()}}


_TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2}
_VISION = {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 4, "out_hidden_size": 32,
           "spatial_merge_size": 2, "temporal_patch_size": 2}


def _save(model: torch.nn.Module, tok: PreTrainedTokenizerFast, images: Qwen2VLImageProcessorPil,
          template: str, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    images.save_pretrained(out)
    (out / "chat_template.jinja").write_text(template)  # where processors keep it on the hub
    return out


def build_tiny_qwen2_5_vl(out: Path, seed: int = 0) -> Path:
    tok = build_tokenizer()
    ids = _token_ids(tok)
    config = Qwen2_5_VLConfig(
        text_config={**_TEXT, **ids.pop("text"),
                     "rope_scaling": {"type": "mrope", "mrope_section": [2, 1, 1]}},
        vision_config={**_VISION, "patch_size": 14, "fullatt_block_indexes": [1]}, **ids)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    return _save(model, tok, Qwen2VLImageProcessorPil(**SMALL_PIXELS), QWEN25_TEMPLATE, out)


def build_tiny_qwen3_vl(out: Path, seed: int = 0) -> Path:
    tok = build_tokenizer()
    ids = _token_ids(tok)
    config = Qwen3VLConfig(
        text_config={**_TEXT, **ids.pop("text"), "head_dim": 8, "rope_scaling": {
            "rope_type": "default", "mrope_section": [2, 1, 1], "mrope_interleaved": True}},
        vision_config={**_VISION, "patch_size": 16, "num_position_embeddings": 64,
                       "deepstack_visual_indexes": [1]},
        **ids)
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config)
    images = Qwen2VLImageProcessorPil(patch_size=16, image_mean=[0.5] * 3, image_std=[0.5] * 3,
                                      **SMALL_PIXELS)
    return _save(model, tok, images, QWEN3_TEMPLATE, out)
