"""Training configs: one strict section per concern, read from YAML or JSON.

Every section forbids unknown keys, so a typo (``optim.lrr``) is an error naming the key and the
file instead of a silently ignored setting. Defaults follow the published recipes
(shared/reference/anchors-grounding.md §4): SFT lr 2e-5 full / 2e-4 LoRA, GRPO lr 1e-6 full /
1e-5 LoRA, 8 rollouts per prompt, no KL term.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cua.core import CuaError

Finetune = Literal["full", "lora", "qlora"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(Section):
    path: str  # a checkpoint folder or a hub id
    profile: str  # the grounding profile whose prompt, answer format and resize policy it speaks
    finetune: Finetune = "lora"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  # auto: bf16 on cuda, fp32 on cpu
    attn_implementation: str | None = None  # e.g. flash_attention_2, sdpa
    freeze_vision: bool = True  # vision tower and merger (UI-Ins, GTA1 freeze them)
    gradient_checkpointing: bool = False


class LoraSection(Section):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    merge: bool = True  # also write the merged model (what `--grounder model:path=...` loads)


class DataSection(Section):
    train: str  # a ScreenSpot-layout JSON (or its folder), an HF dataset folder or hub name, a synthetic run
    format: Literal["screenspot", "hf", "synth_run"] = "screenspot"
    split: str = "train"  # HF dataset split; synthetic run split
    heldout: float = Field(0.0, ge=0, le=1)  # synth_run: share of task ids in the test split
    max_samples: int | None = Field(None, ge=1)
    shuffle: bool = True


class OptimSection(Section):
    lr: float | None = Field(None, gt=0)  # None: the recipe default for the method and finetune mode
    weight_decay: float = Field(0.0, ge=0)
    scheduler: Literal["constant", "linear", "cosine"] = "cosine"
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    batch_size: int = Field(1, ge=1)  # prompts per device per micro-step
    grad_accum: int = Field(1, ge=1)
    max_steps: int | None = Field(None, ge=1)  # optimizer steps; None: `epochs` passes over the data
    epochs: float = Field(1.0, gt=0)
    max_grad_norm: float | None = Field(1.0, gt=0)
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    seed: int = 0


class RewardSpec(Section):
    name: str  # a reward spec: "gaussian", "gaussian:sigma_scale=0.5", "online_env"
    weight: float = 1.0


class GrpoSection(Section):
    num_generations: int = Field(8, ge=2)  # G completions per prompt
    temperature: float = Field(1.0, gt=0)
    max_new_tokens: int = Field(64, ge=1)
    rewards: tuple[RewardSpec, ...] = (RewardSpec(name="format", weight=0.1), RewardSpec(name="point_in_box"))
    epsilon: float = Field(0.2, gt=0)  # clip range below 1
    epsilon_high: float | None = Field(None, gt=0)  # clip range above 1 (DAPO's clip-higher); None: epsilon
    beta: float = Field(0.0, ge=0)  # KL to the reference model; 0 as in the published recipes
    iterations: int = Field(1, ge=1)  # policy updates per generation batch (ratio != 1 after the first)
    scale_rewards: bool = True  # divide group advantages by the group std (GUI-G1 turns this off)
    loss_type: Literal["grpo", "dapo"] = "dapo"  # per-sequence mean, or token mean over the batch (TRL's default)
    micro_batch_size: int = Field(8, ge=1)  # sequences per forward pass when scoring


class GenerationSection(Section):
    """Where GRPO's rollouts come from: the policy itself (``model``), or a vLLM server started
    with ``trl vllm-serve --model <model.path>`` (``vllm_server``; see grounding.train.vllm_server),
    which gets the policy's weights after every update."""

    backend: Literal["model", "vllm_server"] = "model"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    timeout: float = Field(240.0, gt=0)  # seconds to wait for the server to come up (TRL's default)
    request_timeout: float = Field(600.0, gt=0)  # seconds one HTTP request may take
    group_port: int = Field(51216, ge=1, le=65535)  # the NCCL weight-transfer rendezvous port (TRL's default)


class EvalSection(Section):
    data: str | None = None  # a held-out ScreenSpot-layout JSON (or its folder)
    every: int = Field(0, ge=0)  # steps between evaluations; 0: only at the end
    max_samples: int | None = Field(None, ge=1)
    batch_size: int = Field(4, ge=1)
    max_new_tokens: int = Field(64, ge=1)


class CheckpointSection(Section):
    every: int = Field(0, ge=0)  # steps between checkpoints; 0: only the final model
    keep: int = Field(2, ge=1)  # newest checkpoints kept
    resume: bool = False  # continue from the newest checkpoint in output_dir


class LoggingSection(Section):
    every: int = Field(1, ge=1)
    tensorboard: bool = False
    wandb: bool = False
    project: str = "cua-train"
    progress: bool = True


class TrainConfig(Section):
    output_dir: str
    model: ModelSection
    data: DataSection
    lora: LoraSection = LoraSection()
    optim: OptimSection = OptimSection()
    eval: EvalSection = EvalSection()
    checkpoint: CheckpointSection = CheckpointSection()
    logging: LoggingSection = LoggingSection()

    def learning_rate(self, method: Literal["sft", "grpo"]) -> float:
        if self.optim.lr is not None:
            return self.optim.lr
        full = self.model.finetune == "full"
        return {"sft": 2e-5 if full else 2e-4, "grpo": 1e-6 if full else 1e-5}[method]


class SFTConfig(TrainConfig):
    max_length: int | None = Field(None, ge=16)  # longer samples are skipped, never truncated (images)


class GRPOConfig(TrainConfig):
    grpo: GrpoSection = GrpoSection()
    generation: GenerationSection = GenerationSection()

    @model_validator(mode="after")
    def _check(self) -> "GRPOConfig":
        if not self.grpo.rewards:
            raise ValueError("grpo.rewards must name at least one reward")
        return self


def load_config(path: Path | str, kind: type[TrainConfig], overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read ``path`` (.yaml/.yml/.json) into ``kind``. ``overrides`` maps dotted keys
    (``optim.max_steps``) to values, applied before validation."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CuaError(f"cannot read config {path}: {e.strerror or e}") from None
    data = _parse(text, path)
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    try:
        return kind.model_validate(data)
    except ValidationError as e:
        raise CuaError(f"config {path}: " + "; ".join(_describe(err) for err in e.errors())) from None


def _parse(text: str, path: Path) -> dict[str, Any]:
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise CuaError(f"config {path} is not valid JSON ({e.msg} at line {e.lineno})") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise CuaError(f"config {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise CuaError(f"config {path} must be a mapping of sections, found {type(data).__name__}")
    return data


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    if err["type"] == "missing":
        return f"missing key {where!r}"
    return f"{where or 'config'}: {err['msg']}"
