"""Loading a grounding checkpoint for training (full, LoRA, QLoRA) and saving what it learned
so that the runtime loads it unchanged (``LocalChatModel`` + ``ModelGrounder``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForImageTextToText

from cua.core import CuaError
from grounding.backends.local import _PROCESSORS, LocalChatModel, _locate, load_processor
from grounding.train.config import LoraSection, ModelSection

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
VISION_PREFIX = "visual"  # Qwen2/2.5/3-VL keep the vision tower and merger under model.visual


class InMemoryChatModel(LocalChatModel):
    """The runtime's ``LocalChatModel`` around a model that is being trained: the same prompt
    encoding, generation settings and decoding as inference, without a round trip to disk."""

    def __init__(self, model: Any, processor: Any, name: str = "training") -> None:  # noqa: D107
        self.name, self.model, self.processor = name, model, processor
        self.processor.tokenizer.padding_side = "left"
        ip = processor.image_processor
        self.patch_size, self.factor = ip.patch_size, ip.patch_size * ip.merge_size
        self.min_pixels, self.max_pixels = ip.size["shortest_edge"], ip.size["longest_edge"]


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return _DTYPES[name]


def weights_dtype(cfg: ModelSection, device: torch.device, fp32_masters: bool = False) -> torch.dtype:
    """The dtype the trained weights are held in. Full fine-tuning steps the weights in place
    with AdamW: in bf16 a step of lr ~1e-5 on a weight ~0.02 is below half a unit in the last
    place and rounds away, so the model never changes. So full fine-tuning holds fp32 weights
    (optim.mixed_precision: bf16 computes in bf16) unless ``fp32_masters``: the backend keeps
    fp32 master copies itself (DeepSpeed; FSDP with mixed precision). LoRA adapters are fp32
    whatever the base's dtype (peft upcasts them)."""
    if cfg.finetune != "full" or fp32_masters:
        return resolve_dtype(cfg.dtype, device)
    if cfg.dtype == "auto":
        return torch.float32
    dtype = _DTYPES[cfg.dtype]
    if dtype != torch.float32:
        raise CuaError(f"model.dtype {cfg.dtype} with finetune: full would round every optimizer step away "
                       "(no fp32 master weights here): use dtype: float32 or auto with optim.mixed_precision: "
                       "bf16, or train under DeepSpeed (configs/accelerate/zero*.yaml), which keeps fp32 masters")
    return dtype


def load_model(cfg: ModelSection, lora: LoraSection, device: torch.device,
               fp32_masters: bool = False) -> tuple[Any, Any, str]:
    """(model ready for training, processor, model_type). ``fp32_masters``: see ``weights_dtype``."""
    source = _locate(cfg.path)
    try:
        config = AutoConfig.from_pretrained(source)
    except OSError as e:
        raise CuaError(f"cannot load the config of {cfg.path!r} ({type(e).__name__}); pass a local checkpoint "
                       "folder or allow the hub") from None
    if config.model_type not in _PROCESSORS:
        raise CuaError(f"{cfg.path}: model type {config.model_type!r} cannot be trained here; expected one of "
                       f"{', '.join(_PROCESSORS)}")
    kwargs: dict[str, Any] = {"dtype": weights_dtype(cfg, device, fp32_masters)}
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    if cfg.finetune == "qlora":
        kwargs["quantization_config"] = _four_bit(device)
        kwargs["device_map"] = {"": device}
    model = AutoModelForImageTextToText.from_pretrained(source, **kwargs)
    processor = load_processor(source, config.model_type)
    if cfg.freeze_vision:
        for name, param in model.named_parameters():
            if _is_vision(name):
                param.requires_grad_(False)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    if cfg.finetune in ("lora", "qlora"):
        model = _with_lora(model, cfg, lora)
    return model, processor, config.model_type


def load_reference(cfg: ModelSection, dtype: torch.dtype, device: torch.device) -> Any:
    """The untrained model at ``cfg.path``, frozen: the KL reference of full fine-tuning. Read
    from disk rather than copied from the policy, which may already hold resumed weights."""
    kwargs: dict[str, Any] = {"dtype": dtype}
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    ref = AutoModelForImageTextToText.from_pretrained(_locate(cfg.path), **kwargs).to(device).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def _is_vision(name: str) -> bool:
    return f".{VISION_PREFIX}." in f".{name}"


def _four_bit(device: torch.device) -> Any:
    if device.type != "cuda":
        raise CuaError("QLoRA loads the model in 4 bits with bitsandbytes, which needs a CUDA GPU; "
                       "use finetune: lora on this machine")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise CuaError("QLoRA needs the bitsandbytes package (pip install bitsandbytes)") from None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)


def _with_lora(model: Any, cfg: ModelSection, lora: LoraSection) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.finetune == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:
        model.enable_input_require_grads()  # checkpointed blocks need an input that carries grad
    names = "|".join(lora.target_modules)
    # A regex (peft full-matches it): the language model's projections, and the vision tower's
    # only when it trains too (Qwen2.5-VL's vision MLP reuses the gate/up/down names).
    target = rf"^(?!(?:.*\.)?{VISION_PREFIX}\.).*\.(?:{names})$" if cfg.freeze_vision else rf"^.*\.(?:{names})$"
    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=target,
                        bias="none")
    model = get_peft_model(model, config)
    if not any(p.requires_grad for p in model.parameters()):
        raise CuaError(f"no module matches lora.target_modules {list(lora.target_modules)}")
    return model


def trainable_summary(model: Any) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"params": total, "trainable_params": trainable}


def save_final(model: Any, processor: Any, out: Path, merge: bool, info: dict[str, Any]) -> Path:
    """Write ``out`` as a checkpoint the runtime loads: a full model (LoRA merged in when
    ``merge``) with its processor files. A LoRA run also keeps the adapter in ``out/adapter``.
    ``model`` is the unwrapped model; the merge happens in place (no second copy in memory),
    so call this last, on the main process only."""
    out.mkdir(parents=True, exist_ok=True)
    is_peft = hasattr(model, "peft_config")
    if is_peft:
        model.save_pretrained(out / "adapter")
        processor.save_pretrained(out / "adapter")
        if not merge:
            _write_info(out, {**info, "adapter_only": True})
            return out / "adapter"
        model.merge_and_unload().save_pretrained(out)
    else:
        model.save_pretrained(out)
    processor.save_pretrained(out)
    _write_info(out, info)
    return out


def _write_info(out: Path, info: dict[str, Any]) -> None:
    (out / "training_info.json").write_text(json.dumps(info, indent=1, default=str))
