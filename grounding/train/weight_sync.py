"""The policy's weights as a vLLM server names them, for pushing after each GRPO update.

Only what training changes travels (the server must serve ``model.path``, whose frozen weights
never change): with LoRA / QLoRA the weight of every adapted module with the adapter merged in
(``W + scale * B @ A``, computed aside: the training model is never merged in place, so no
merge/unmerge rounding drifts into the base weights), with full fine-tuning every parameter
that requires grad. Names are the base model's own (``model.language_model.layers.0.mlp.up_proj
.weight``): peft's ``base_model.model.`` prefix and ``.base_layer`` are dropped, as TRL does.
QLoRA's 4-bit base weights are dequantised before the merge, so the server gets the NF4
approximation of the layers that have an adapter (TRL's behaviour too).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from cua.core import CuaError


@dataclass(frozen=True)
class WeightSpec:
    name: str  # the server's name
    dtype: str  # vLLM style: "bfloat16", not "torch.bfloat16"
    shape: tuple[int, ...]


def server_name(name: str) -> str:
    name = name.removeprefix("base_model.model.").replace(".base_layer", "")
    for wrapper in ("_checkpoint_wrapped_module.", "_orig_mod.", "modules_to_save.default."):
        name = name.replace(wrapper, "")
    return name


class PolicyWeights:
    """``model``: the unwrapped training model (a peft model or a plain transformers one)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.is_peft = hasattr(model, "peft_config")
        # (parameter name, owning LoRA module or None), in the order they are streamed
        self._sources: list[tuple[str, Any]] = []
        if self.is_peft:
            from peft.tuners.lora import LoraLayer

            for module_name, module in model.named_modules():
                if isinstance(module, LoraLayer) and module.active_adapters:
                    if any(module.use_dora.get(a, False) for a in module.active_adapters):
                        raise CuaError("pushing weights to a vLLM server does not support DoRA adapters")
                    self._sources.append((f"{module_name}.base_layer.weight", module))
        else:
            self._sources = [(n, None) for n, p in model.named_parameters() if p.requires_grad]
        if not self._sources:
            raise CuaError("nothing to push to the vLLM server: the model has no trainable weights")
        self.specs = [self._spec(name, module) for name, module in self._sources]

    def _spec(self, name: str, module: Any) -> WeightSpec:
        if module is None:
            p = dict(self.model.named_parameters())[name]
            return WeightSpec(server_name(name), _dtype_name(p.dtype), tuple(p.shape))
        base = module.get_base_layer()
        dtype = _merged_dtype(base)
        return WeightSpec(server_name(name), _dtype_name(dtype), (base.out_features, base.in_features))

    def __iter__(self) -> Iterator[tuple[str, torch.Tensor]]:
        params = dict(self.model.named_parameters()) if not self.is_peft else {}
        with torch.no_grad():
            for (name, module), spec in zip(self._sources, self.specs):
                tensor = params[name].detach() if module is None else _merged(module)
                yield spec.name, tensor


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _merged_dtype(base: Any) -> torch.dtype:
    weight = base.weight
    if weight.dtype in (torch.uint8, torch.int8):  # bitsandbytes: the layer computes in compute_dtype
        return getattr(base, "compute_dtype", None) or torch.bfloat16
    return weight.dtype


def _merged(module: Any) -> torch.Tensor:
    """The adapted module's weight with every active adapter added, as a new tensor."""
    base = module.get_base_layer()
    weight = base.weight
    if weight.dtype in (torch.uint8, torch.int8):
        from peft.utils.integrations import dequantize_module_weight

        weight = dequantize_module_weight(base)
    dtype = _merged_dtype(base)
    merged = weight.detach().to(dtype).clone()
    for adapter in module.active_adapters:
        if adapter in module.lora_A:
            merged += module.get_delta_weight(adapter).to(dtype)
    return merged
