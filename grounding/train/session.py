"""What SFT and GRPO share: the accelerate setup, optimizer and schedule, resuming, the
per-step bookkeeping (metrics, checkpoints, the evaluation hook) and the final save.

The same code runs as ``python -m`` / ``cua train`` on one device and under ``accelerate
launch`` with the DDP, DeepSpeed ZeRO-2/3 or FSDP configs in ``configs/accelerate/``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from rich.console import Console

from cua.core import CuaError
from grounding.profiles import Profile, get_profile
from grounding.train import checkpoints
from grounding.train.checkpoints import TrainerState
from grounding.train.config import TrainConfig
from grounding.train.eval_hook import eval_samples, run_eval
from grounding.train.metrics import MetricsLog, trackers
from grounding.train.modeling import load_model, save_final, trainable_summary

StepHook = Callable[[int, dict[str, Any]], None]  # (step, metrics) after every optimizer step


@dataclass
class Session:
    cfg: TrainConfig
    method: Literal["sft", "grpo"]
    accelerator: Any
    model: Any
    optimizer: Any
    scheduler: Any
    processor: Any
    profile: Profile
    out: Path
    total_steps: int
    state: TrainerState
    metrics: MetricsLog
    console: Console | None
    on_step: StepHook | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    resumed_from: str | None = None
    checkpoint_due: bool = False  # a checkpoint step passed mid-batch: saved at the batch's end

    @property
    def trainable_only(self) -> bool:
        """Checkpoints hold the adapter, not the frozen base (``checkpoints.keep_trainable_only``)."""
        return self.cfg.model.finetune in ("lora", "qlora")

    @property
    def float_dtype(self) -> torch.dtype:
        return next(p.dtype for p in self.accelerator.unwrap_model(self.model).parameters())

    def trainable(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def after_step(self, values: dict[str, Any], batch_done: bool = True) -> None:
        """Bookkeeping after optimizer step ``state.step``: log, checkpoint, evaluate.
        ``batch_done``: False while more updates on the current batch follow (GRPO's
        ``iterations``); a checkpoint due then waits for the batch's last update, since a
        resume starts at the next batch (``state.batch_index``)."""
        step = self.state.step
        values = {**values, "lr": self.scheduler.get_last_lr()[0]}
        self.metrics.log(step, values)
        self.history.append({"step": step, **values})
        ck = self.cfg.checkpoint
        self.checkpoint_due = self.checkpoint_due or bool(ck.every and step % ck.every == 0)
        if self.checkpoint_due and batch_done and step < self.total_steps:
            checkpoints.save(self.accelerator, self.out, self.state, ck.keep, self.trainable_only)
            self.checkpoint_due = False
        if self.cfg.eval.every and step % self.cfg.eval.every == 0 and step < self.total_steps:
            self.evaluate()
        if self.on_step is not None:
            self.on_step(step, values)

    def evaluate(self) -> dict[str, float] | None:
        samples = eval_samples(self.cfg.eval)
        if not samples:
            return None
        result = run_eval(self.accelerator, self.model, self.processor, self.profile, samples,
                          self.out / "eval" / f"step_{self.state.step:07d}", self.cfg.eval)
        self.metrics.log(self.state.step, result, kind="eval", force=True)
        return result

    def finish(self, info: dict[str, Any]) -> dict[str, Any]:
        """The final evaluation, the runtime-loadable model in ``<output_dir>/final``, a summary."""
        final_eval = self.evaluate()
        self.accelerator.wait_for_everyone()
        final = self.out / "final"
        summary = {"method": self.method, "steps": self.state.step, "samples_seen": self.state.samples_seen,
                   "duration_s": round(time.perf_counter() - self.started, 3), "final_eval": final_eval,
                   "resumed_from": self.resumed_from, "profile": self.profile.name,
                   "finetune": self.cfg.model.finetune, **info}
        if self.accelerator.is_main_process:
            unwrapped = self.accelerator.unwrap_model(self.model)
            path = save_final(unwrapped, self.processor, final, self.cfg.lora.merge,
                              {**summary, "base_model": self.cfg.model.path})
            summary["model_dir"] = str(path)
            (self.out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
        self.accelerator.wait_for_everyone()
        self.accelerator.end_training()
        return summary


def open_session(cfg: TrainConfig, method: Literal["sft", "grpo"], n_rows: int, prompts_per_step: float,
                 console: Console | None, on_step: StepHook | None = None,
                 micro_steps: int = 1, batch_rows: int | None = None) -> Session:
    """``prompts_per_step``: rows one optimizer step consumes on each process;
    ``micro_steps``: backward passes accumulated into one optimizer step (per process);
    ``batch_rows``: when set, rows every process needs in each batch (fewer is an error)."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import get_scheduler

    if n_rows == 0:
        raise CuaError("no usable training rows (see the skipped counts)")
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_with = trackers(cfg.logging)
    accelerator = Accelerator(gradient_accumulation_steps=micro_steps, mixed_precision=cfg.optim.mixed_precision,
                              log_with=log_with or None, project_dir=str(out))
    if batch_rows is not None and n_rows < batch_rows * accelerator.num_processes:
        raise CuaError(f"{n_rows} training rows cannot fill one batch of {batch_rows} per process x "
                       f"{accelerator.num_processes} process(es): add rows or lower optim.batch_size")
    set_seed(cfg.optim.seed)
    profile = get_profile(cfg.model.profile)
    model, processor, _ = load_model(cfg.model, cfg.lora, accelerator.device, keeps_fp32_masters(accelerator))
    ip = processor.image_processor
    if ip.patch_size * ip.merge_size != profile.resize.factor:
        raise CuaError(f"profile {profile.name} resizes for a {profile.resize.factor}-pixel grid but {cfg.model.path} "
                       f"sees in {ip.patch_size * ip.merge_size}-pixel cells: wrong profile for this model?")
    if cfg.model.finetune != "qlora":
        model.to(accelerator.device)
    lr = cfg.learning_rate(method)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.optim.weight_decay)
    if cfg.optim.max_steps:
        total = cfg.optim.max_steps
    else:
        total = max(1, math.ceil(cfg.optim.epochs * n_rows / (prompts_per_step * accelerator.num_processes)))
    scheduler = get_scheduler(cfg.optim.scheduler, optimizer, num_warmup_steps=int(cfg.optim.warmup_ratio * total),
                              num_training_steps=total)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    trainable_only = cfg.model.finetune in ("lora", "qlora")
    if trainable_only:
        checkpoints.keep_trainable_only(accelerator)
    if log_with:
        accelerator.init_trackers(cfg.logging.project, config=_flat(cfg.model_dump(mode="json")))
    state, resumed = TrainerState(), None
    if cfg.checkpoint.resume:
        path = checkpoints.latest(out)
        if path is not None:
            state, resumed = checkpoints.load(accelerator, path, trainable_only), str(path)
    if accelerator.is_main_process:
        (out / f"{method}_config.json").write_text(cfg.model_dump_json(indent=1))
    metrics = MetricsLog(out, accelerator, cfg.logging, console if accelerator.is_main_process else None,
                         resume=resumed is not None)
    session = Session(cfg, method, accelerator, model, optimizer, scheduler, processor, profile, out, total, state,
                      metrics, console, on_step, resumed_from=resumed)
    if console is not None and accelerator.is_main_process:
        sizes = trainable_summary(model)
        console.print(f"{method} · {cfg.model.path} ({cfg.model.finetune}, profile {profile.name}) · "
                      f"{sizes['trainable_params']:,}/{sizes['params']:,} trainable · {total} steps · lr {lr:g} · "
                      f"{accelerator.num_processes} process(es) on {accelerator.device}"
                      + (f" · resumed from {resumed} at step {state.step}" if resumed else ""), highlight=False)
    return session


def keeps_fp32_masters(accelerator: Any) -> bool:
    """Whether the distributed backend steps fp32 copies of 16-bit weights: DeepSpeed does
    (bf16/fp16 engines and ZeRO), and accelerate's FSDP upcasts them when mixed precision is on."""
    kind = accelerator.distributed_type.name
    return kind == "DEEPSPEED" or (kind == "FSDP" and accelerator.mixed_precision != "no")


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
    return out
