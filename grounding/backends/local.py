"""A local transformers checkpoint (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) as a ChatModel.

The processor is the model's own (``Qwen2_5_VLProcessor`` ...) minus its video processor,
which imports torchvision: on a CPU torch build where torchvision does not import, the image
processor falls back to ``Qwen2VLImageProcessorPil``. Images are shown at exactly the size the
caller resized them to (``resized_width``/``resized_height`` on the image part), or
smart-resized here when the caller did not, and always with ``do_resize=False`` so the
processor cannot resize them again; ``image_grid_thw`` is checked against that size.
Decoding is greedy unless ``temperature`` > 0 and otherwise keeps the checkpoint's generation
settings (Qwen's repetition_penalty 1.05), as the transformers-based reference evals do; batches
are left-padded; replies are cut at the first end-of-sequence token.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch
import transformers
from PIL import Image
from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor, BatchFeature
from transformers.utils import is_torchvision_available

from cua.core import CuaError, smart_resize
from grounding.backends.base import Completion, Message

_PROCESSORS = {"qwen2_vl": "Qwen2VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor",
               "qwen3_vl": "Qwen3VLProcessor"}
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def image_only(base: type) -> type:
    """``base`` (a Qwen-VL processor class) built from an image processor and a tokenizer
    only: ProcessorMixin reads its parts off ``__init__``'s signature, so leaving
    ``video_processor`` out there keeps the torchvision-only video processor from loading."""

    def __init__(self: Any, image_processor: Any = None, tokenizer: Any = None,
                 chat_template: str | None = None, **kwargs: Any) -> None:
        base.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    return type(f"ImageOnly{base.__name__}", (base,), {"__init__": __init__})


def load_processor(path: str, model_type: str) -> Any:
    if is_torchvision_available():
        return AutoProcessor.from_pretrained(path)
    return image_only(getattr(transformers, _PROCESSORS[model_type])).from_pretrained(path)


def _locate(spec: str) -> str:
    """A checkpoint directory, or a hub id left for transformers to resolve (from its cache
    when offline). Anything that looks like a path must exist: no hub lookup for typos."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CuaError(f"{spec}: no config.json there, so it is not a transformers checkpoint")
        return str(path)
    if path.exists() or spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise CuaError(f"model path {spec} does not exist (or is not a directory)")
    return spec


class LocalChatModel:
    """``device``: cpu, cuda or auto (cuda when available); ``dtype`` defaults to bfloat16 on
    cuda and float32 on cpu; ``device_map`` (needs accelerate) places a model across devices;
    ``min_pixels``/``max_pixels`` bound images that arrive without a size (default: the
    checkpoint's image processor)."""

    def __init__(self, path_or_hub_id: str, device: str = "cpu", dtype: str | None = None,
                 device_map: str | dict | None = None, attn_implementation: str | None = None,
                 min_pixels: int | None = None, max_pixels: int | None = None) -> None:
        self.name = path_or_hub_id
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
        if dtype not in _DTYPES:
            raise CuaError(f"unknown dtype {dtype!r}; expected one of {', '.join(_DTYPES)}")
        source = _locate(path_or_hub_id)
        try:
            config = AutoConfig.from_pretrained(source)
        except OSError as e:
            from huggingface_hub.constants import is_offline_mode

            why = "the hub is off (HF_HUB_OFFLINE)" if is_offline_mode() else "the hub could not be reached"
            raise CuaError(f"{path_or_hub_id!r} is not a local checkpoint directory and {why}: pass a local "
                           f"path, or allow network access to download it ({type(e).__name__})") from None
        if config.model_type not in _PROCESSORS:
            raise CuaError(f"{path_or_hub_id}: model type {config.model_type!r} is not supported locally; "
                           f"expected one of {', '.join(_PROCESSORS)}")
        self.model = AutoModelForImageTextToText.from_pretrained(
            source, dtype=_DTYPES[dtype], device_map=device_map, attn_implementation=attn_implementation)
        if device_map is None:
            self.model.to(device)
        self.model.eval()
        self.processor = load_processor(source, config.model_type)
        self.processor.tokenizer.padding_side = "left"  # generation continues on the right
        ip = self.processor.image_processor
        self.patch_size, self.factor = ip.patch_size, ip.patch_size * ip.merge_size
        self.min_pixels = min_pixels or ip.size["shortest_edge"]
        self.max_pixels = max_pixels or ip.size["longest_edge"]

    # ---- ChatModel ----------------------------------------------------------------------

    def chat(self, messages: list[Message], *, max_new_tokens: int = 256, temperature: float = 0.0) -> str:
        return self.chat_batch([messages], max_new_tokens=max_new_tokens, temperature=temperature)[0]

    def complete(self, messages: list[Message], *, max_new_tokens: int = 256, temperature: float = 0.0,
                 deadline: float | None = None) -> Completion:
        """One reply with its token counts (the prompt's, and the reply's up to its end token);
        generation stops at ``deadline`` (``time.monotonic()``) with what it has."""
        max_time = None if deadline is None else max(deadline - time.monotonic(), 0.01)
        ((text, completion_tokens),), prompt_tokens = self._generate([messages], max_new_tokens, temperature, max_time)
        return Completion(text, prompt_tokens=prompt_tokens[0], completion_tokens=completion_tokens)

    def chat_batch(self, conversations: list[list[Message]], *, max_new_tokens: int = 256,
                   temperature: float = 0.0) -> list[str]:
        if not conversations:
            return []
        return [text for text, _ in self._generate(conversations, max_new_tokens, temperature)[0]]

    def _generate(self, conversations: list[list[Message]], max_new_tokens: int, temperature: float,
                  max_time: float | None = None) -> tuple[list[tuple[str, int]], list[int]]:
        inputs = self.encode(conversations).to(self.model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        generation = self._generation(max_new_tokens, temperature)
        generation.max_time = max_time
        with torch.inference_mode():
            out = self.model.generate(**inputs, generation_config=generation)
        prompt_tokens = [int(n) for n in inputs["attention_mask"].sum(dim=1).tolist()]
        return self._replies(out[:, inputs["input_ids"].shape[1]:]), prompt_tokens

    # ---- steps --------------------------------------------------------------------------

    def encode(self, conversations: list[list[Message]]) -> BatchFeature:
        """Prompt text and images → model inputs (input_ids, attention_mask, mm_token_type_ids,
        pixel_values, image_grid_thw). A trailing assistant message is a prefill."""
        texts, images = [], []
        for messages in conversations:
            prefill = ""
            if messages and messages[-1].get("role") == "assistant":
                prefill = "".join(p.get("text", "") for p in _parts(messages[-1]))
                messages = messages[:-1]
            prompt = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            texts.append(prompt + prefill)
            images += [self._sized(p) for m in messages for p in _parts(m) if p.get("type") == "image"]
        inputs = self.processor(text=texts, images=images or None, do_resize=False, padding=True,
                                return_tensors="pt")
        for image, thw in zip(images, inputs.get("image_grid_thw", [])):
            seen = (int(thw[2]) * self.patch_size, int(thw[1]) * self.patch_size)
            if seen != image.size:
                raise CuaError(f"the model would see a {seen[0]}x{seen[1]} image instead of "
                               f"{image.size[0]}x{image.size[1]}: its coordinates would not match the prompt")
        return inputs

    def _sized(self, part: dict[str, Any]) -> Image.Image:
        image = part.get("image")
        if not isinstance(image, Image.Image):
            raise CuaError(f"image parts must hold a PIL image, got {type(image).__name__}")
        w, h = part.get("resized_width"), part.get("resized_height")
        if not (w and h):
            h, w = smart_resize(image.height, image.width, self.factor, self.min_pixels, self.max_pixels)
        if w % self.factor or h % self.factor:
            raise CuaError(f"image size {w}x{h} is not a multiple of the model's {self.factor}-pixel grid")
        image = image.convert("RGB")
        return image if image.size == (w, h) else image.resize((w, h), Image.Resampling.BICUBIC)

    def _generation(self, max_new_tokens: int, temperature: float) -> transformers.GenerationConfig:
        gen = copy.deepcopy(self.model.generation_config)
        gen.max_new_tokens, gen.do_sample = max_new_tokens, temperature > 0
        if temperature > 0:
            gen.temperature = temperature
        else:  # the library's neutral values: the checkpoint's sampling knobs only draw warnings here
            gen.temperature, gen.top_p, gen.top_k = 1.0, 1.0, 50
        if gen.pad_token_id is None:
            gen.pad_token_id = self.processor.tokenizer.pad_token_id
        return gen

    def _decode(self, new_tokens: torch.Tensor) -> list[str]:
        return [text for text, _ in self._replies(new_tokens)]

    def _replies(self, new_tokens: torch.Tensor) -> list[tuple[str, int]]:
        """Each reply's text up to its first end token, and how many tokens that is."""
        eos = self.model.generation_config.eos_token_id
        stops = {*(eos if isinstance(eos, list) else [eos]), self.processor.tokenizer.pad_token_id} - {None}
        texts = []
        for row in new_tokens.tolist():
            end = next((i for i, t in enumerate(row) if t in stops), len(row))
            # Special tokens stay in: OS-Atlas answers inside <|box_start|>...<|box_end|>.
            texts.append((self.processor.tokenizer.decode(row[:end], skip_special_tokens=False), end))
        return texts


def _parts(message: Message) -> list[dict[str, Any]]:
    content = message.get("content")
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
