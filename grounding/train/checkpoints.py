"""Resumable checkpoints: ``<output_dir>/checkpoints/step_0000040/`` holds accelerate's state
(model, optimizer, RNG, the scheduler registered for checkpointing) and ``trainer_state.json``
(step, batches consumed). ``trainer_state.json`` is written last, so a folder without it is a
checkpoint cut short by a kill and is ignored; only the newest ``keep`` complete ones stay.

LoRA / QLoRA runs keep only what training changes (``keep_trainable_only``): the adapter's
weights, the optimizer (which holds state for trainable parameters only anyway), scheduler, RNG
and step. The frozen base weights are read again from ``model.path`` on resume, so a checkpoint
of a 3B model shrinks from ~7 GB of base weights to the adapter's tens of MB.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from cua.core import CuaError

STATE_FILE = "trainer_state.json"
PREFIX = "step_"
TRAINABLE_ONLY_FILE = "trainable_only.json"  # marks a checkpoint without the frozen weights


@dataclass
class TrainerState:
    step: int = 0  # optimizer steps done
    batch_index: int = 0  # global batches consumed (the data position)
    samples_seen: int = 0


def checkpoint_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "checkpoints"


def complete(out_dir: Path) -> list[Path]:
    root = checkpoint_dir(out_dir)
    found = [p for p in root.glob(f"{PREFIX}*") if (p / STATE_FILE).is_file()] if root.is_dir() else []
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def latest(out_dir: Path) -> Path | None:
    found = complete(out_dir)
    return found[-1] if found else None


def _is_deepspeed(accelerator: Any) -> bool:
    return accelerator.distributed_type.name == "DEEPSPEED"


def keep_trainable_only(accelerator: Any) -> None:
    """Make ``save_state`` / ``load_state`` skip the frozen parameters (call once, after
    ``prepare``). How each backend does it:

    * one device, DDP, multi-GPU without sharding: accelerate's save/load pre-hooks. The save
      hook drops every frozen tensor from the state dict accelerate is about to write; the load
      hook loads that partial state dict itself (``strict=False``, after checking that exactly
      the trainable parameters are there) and takes the model off accelerate's own loading;
    * DeepSpeed (ZeRO-2 and ZeRO-3): the engine's ``save_checkpoint(exclude_frozen_parameters=
      True)`` and ``load_checkpoint(load_module_strict=False)`` (see ``save`` / ``load``);
      ZeRO-3's partitioned optimizer files hold the trainable parameters' fp32 copies only;
    * FSDP: not reduced. FSDP flattens frozen and trainable weights of a wrapped block into one
      flat parameter, so accelerate's ``save_fsdp_model`` writes every parameter (sharded
      across ranks with ``SHARDED_STATE_DICT``); resume works as before, the size does not drop.
    """
    if accelerator.distributed_type.name in ("DEEPSPEED", "FSDP"):
        return

    def save_hook(models: list[Any], weights: list[dict[str, torch.Tensor]], output_dir: str) -> None:
        for model, state in zip(models, weights):
            trainable = _trainable_names(model)
            for key in [k for k in state if k not in trainable]:
                del state[key]
        if accelerator.is_main_process:
            (Path(output_dir) / TRAINABLE_ONLY_FILE).write_text(json.dumps({"models": len(weights)}))

    def load_hook(models: list[Any], input_dir: str) -> None:
        if not (Path(input_dir) / TRAINABLE_ONLY_FILE).is_file():
            return  # a full checkpoint (written before this change): accelerate loads it strictly
        for i, model in enumerate(models):
            _load_trainable(model, Path(input_dir), i)
        models.clear()  # loaded here: accelerate must not load them again strictly

    accelerator.register_save_state_pre_hook(save_hook)
    accelerator.register_load_state_pre_hook(load_hook)


def _trainable_names(model: Any) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def _load_trainable(model: Any, folder: Path, index: int) -> None:
    from accelerate.utils.constants import MODEL_NAME, SAFE_MODEL_NAME

    ending = f"_{index}" if index else ""
    safe = folder / f"{SAFE_MODEL_NAME}{ending}.safetensors"
    if safe.is_file():
        from safetensors.torch import load_file

        state = load_file(str(safe))
    else:
        state = torch.load(folder / f"{MODEL_NAME}{ending}.bin", map_location="cpu", weights_only=True)
    wanted = _trainable_names(model)
    missing, extra = wanted - set(state), set(state) - wanted
    if missing or extra:
        raise CuaError(f"checkpoint {folder} does not fit this model's trainable parameters "
                       f"({len(missing)} missing, e.g. {sorted(missing)[:2]}; {len(extra)} unexpected, "
                       f"e.g. {sorted(extra)[:2]}): other lora settings or another finetune mode?")
    model.load_state_dict(state, strict=False)


def save(accelerator: Any, out_dir: Path, state: TrainerState, keep: int, trainable_only: bool = False) -> Path:
    path = checkpoint_dir(out_dir) / f"{PREFIX}{state.step:07d}"
    accelerator.wait_for_everyone()
    if trainable_only and _is_deepspeed(accelerator):
        accelerator.save_state(str(path), exclude_frozen_parameters=True)
    else:
        accelerator.save_state(str(path))
    if accelerator.is_main_process:
        tmp = path / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(state)))
        os.replace(tmp, path / STATE_FILE)
        for old in complete(out_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return path


def load(accelerator: Any, path: Path, trainable_only: bool = False) -> TrainerState:
    if trainable_only and _is_deepspeed(accelerator):
        accelerator.load_state(str(path), load_module_strict=False)
    else:
        accelerator.load_state(str(path))
    return TrainerState(**json.loads((path / STATE_FILE).read_text()))


def size_on_disk(path: Path) -> int:
    """Bytes of ``path``, or of the files under it (what a checkpoint costs)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
