"""GRPO for grounding models with verifiable (and online environment) rewards.

Why our own loop and not TRL's ``GRPOTrainer``: for a VLM it needs a ``ProcessorMixin`` it can
rebuild with ``AutoProcessor``, which cannot be built for Qwen-VL without torchvision, and it
would render prompts and resize images its own way (see ``grounding.train.sft``).

One step: ``batch_size`` prompts per process, ``num_generations`` sampled completions each
(by the policy itself, or by a vLLM server that gets the policy's weights after every update:
``generation.backend: vllm_server``);
every reward function scores the completions as the runtime reads them (``RewardSample``); the
weighted sum gives group-normalised advantages; then ``iterations`` optimizer steps on the
clipped surrogate (with a k3 KL term when ``beta`` > 0), in micro-batches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from rich.console import Console

from cua.core import CuaError
from grounding.train.batches import encode_prompt, to_device
from grounding.train.config import GRPOConfig, RewardSpec
from grounding.train.data import Rows, batches, load_rows
from grounding.train.grpo_math import group_advantages, policy_loss
from grounding.train.modeling import InMemoryChatModel, load_reference
from grounding.train.rollout import (
    Rollout,
    completion_logps,
    sample,
    sample_from_server,
    scoring_inputs,
)
from grounding.train.session import Session, StepHook, open_session
from grounding.train.sft import _progress
from grounding.train.types import RewardFn, RewardSample
from grounding.train.vllm_server import NcclChannel, VllmServer, WeightChannel
from grounding.train.weight_sync import PolicyWeights

RewardFactory = Callable[[str], RewardFn]  # a spec ("gaussian:sigma_scale=0.5") → a reward function


@dataclass(frozen=True)
class RewardTerm:
    name: str
    weight: float
    fn: RewardFn


def build_rewards(specs: Sequence[RewardSpec], extra: Mapping[str, RewardFactory] | None = None) -> list[RewardTerm]:
    """Reward functions by spec: ``extra`` (the cua layer's ``online_env``) first, then the
    registry in ``grounding.train.rewards``."""
    terms = []
    for spec in specs:
        base = spec.name.split(":", 1)[0]
        if extra and base in extra:
            fn = extra[base](spec.name)
        else:
            from grounding.train.rewards import make_reward

            fn = make_reward(spec.name)
        terms.append(RewardTerm(spec.name, spec.weight, fn))
    return terms


def score(terms: Sequence[RewardTerm], samples: Sequence[RewardSample]) -> tuple[torch.Tensor, dict[str, float]]:
    """(weighted total per completion, per-term mean/std for the log)."""
    total = torch.zeros(len(samples))
    logged: dict[str, float] = {}
    for term in terms:
        values = term.fn(samples)
        if len(values) != len(samples):
            raise CuaError(f"reward {term.name} returned {len(values)} values for {len(samples)} completions")
        r = torch.tensor([float(v) for v in values])
        if not torch.isfinite(r).all():
            raise CuaError(f"reward {term.name} returned a non-finite value")
        total += term.weight * r
        logged[f"reward/{term.name}"] = float(r.mean())
        logged[f"reward/{term.name}/std"] = float(r.std(unbiased=False))
    return total, logged


def train_grpo(cfg: GRPOConfig, rows: Rows | None = None, rewards: Sequence[RewardTerm] | None = None,
               console: Console | None = None, on_step: StepHook | None = None,
               weight_channel: WeightChannel | None = None) -> dict[str, Any]:
    """``weight_channel``: how weights reach a ``generation.backend: vllm_server`` server
    (default: vLLM's NCCL weight transfer, ``NcclChannel``)."""
    g = cfg.grpo
    if cfg.optim.grad_accum != 1:
        raise CuaError("grpo: optim.grad_accum must be 1 (raise optim.batch_size or grpo.micro_batch_size)")
    if rows is None:
        rows = load_rows(cfg.data.format, cfg.data.train, cfg.data.split, cfg.data.max_samples)
    terms = list(rewards) if rewards is not None else build_rewards(g.rewards)
    server: VllmServer | None = None
    try:  # the server connection and the rewards' browsers close however training ends
        n_seq = cfg.optim.batch_size * g.num_generations
        micro = min(g.micro_batch_size, n_seq)
        n_micro = math.ceil(n_seq / micro)
        # Every batch holds batch_size prompts per process: n_micro (accelerate's accumulation
        # count) is sized for them, and a short batch would shift the optimizer steps.
        s = open_session(cfg, "grpo", len(rows.rows), cfg.optim.batch_size / g.iterations, console, on_step,
                         micro_steps=n_micro, batch_rows=cfg.optim.batch_size)
        acc = s.accelerator
        unwrapped = acc.unwrap_model(s.model)
        chat = InMemoryChatModel(unwrapped, s.processor)
        reference = _reference(s, unwrapped)
        synced = acc.num_processes > 1 and acc.distributed_type.name in ("DEEPSPEED", "FSDP")
        server = _connect(cfg, s, weight_channel) if cfg.generation.backend == "vllm_server" else None
        policy = PolicyWeights(unwrapped) if server is not None else None
        pushed_at: int | None = None  # the step whose weights the server holds
        global_batch = cfg.optim.batch_size * acc.num_processes
        stream = batches(len(rows.rows), global_batch, cfg.optim.seed, cfg.data.shuffle,
                         start=s.state.batch_index)
        s.model.train()
        with _progress(console if acc.is_main_process and cfg.logging.progress else None) as bar:
            task = bar.add_task("grpo", total=s.total_steps, completed=s.state.step)
            while s.state.step < s.total_steps:
                t0 = time.perf_counter()
                sync_s = 0.0
                if server is not None and pushed_at != s.state.step:
                    sync_s, pushed_at = _push(s, server, policy), s.state.step
                index, ids = next(stream)
                mine = [rows.rows[i] for i in ids[acc.process_index::acc.num_processes]]
                prompts = [encode_prompt(chat, s.profile, r, keep_images=server is not None) for r in mine]
                if server is not None:
                    rollout = sample_from_server(server, chat, prompts, g.num_generations, g.temperature,
                                                 g.max_new_tokens)
                else:
                    rollout = sample(chat, prompts, g.num_generations, g.temperature, g.max_new_tokens, synced)
                samples = [RewardSample(text, s.profile, p.space, p.row.image_size, p.row.box, p.row.meta)
                           for text, p in zip(rollout.texts, rollout.prompts)]
                total, logged = score(terms, samples)
                adv = group_advantages(total, g.num_generations, g.scale_rewards)
                s.state.samples_seen += len(mine) * acc.num_processes
                old = None if g.iterations == 1 else _logps(s, chat, rollout, micro)
                ref = None if reference is None else _logps(s, chat, rollout, micro, reference)
                grouped = total.view(-1, g.num_generations)
                gen_s = time.perf_counter() - t0
                for iteration in range(g.iterations):
                    if s.state.step >= s.total_steps:
                        break
                    t1 = time.perf_counter()
                    stats = _update(s, chat, rollout, adv, old, ref, micro, n_micro, cfg)
                    s.scheduler.step()
                    s.state.step += 1
                    last = iteration == g.iterations - 1
                    if last:  # the batch is used up: a resume (or checkpoint) starts at the next one
                        s.state.batch_index = index + 1
                    values = {"reward": float(total.mean()), "reward_std": float(total.std(unbiased=False)),
                              **logged, **stats,
                              "zero_std_groups": float((grouped.std(1, unbiased=False) == 0).float().mean()),
                              "completion_tokens": float(rollout.mask.sum(1).float().mean()),
                              "generation_s": gen_s, "weight_sync_s": sync_s,
                              "step_s": time.perf_counter() - t1 + gen_s,
                              "completions_per_s": len(rollout) / (time.perf_counter() - t1 + gen_s)}
                    gen_s = sync_s = 0.0
                    s.after_step(values, batch_done=last)
                    bar.update(task, advance=1)
        if server is not None and pushed_at != s.state.step:  # the server ends holding the final policy
            _push(s, server, policy)
    except BaseException:
        _close(server, terms, raise_errors=False)  # the training error is the one to report
        raise
    _close(server, terms)
    return s.finish({"rows": len(rows.rows), "skipped": dict(rows.skipped), "generation": cfg.generation.backend,
                     "rewards": [{"name": t.name, "weight": t.weight} for t in terms]})


def _close(server: VllmServer | None, terms: Sequence[RewardTerm], raise_errors: bool = True) -> None:
    """Close the server connection and every reward that holds something (online_env's browser);
    one failing close does not keep the others open."""
    closers = [server.close] if server is not None else []
    closers += [c for c in (getattr(t.fn, "close", None) for t in terms) if callable(c)]
    errors = []
    for close in closers:
        try:
            close()
        except Exception as e:  # noqa: BLE001 - the rest must still close; the first error is raised
            errors.append(e)
    if errors and raise_errors:
        raise errors[0]


def _connect(cfg: GRPOConfig, s: Session, channel: WeightChannel | None) -> VllmServer:
    """Every process generates its own prompts through the server; the main one pushes weights.
    The weights are read whole on the main process, so they must not be sharded there."""
    acc = s.accelerator
    plugin = getattr(acc.state, "deepspeed_plugin", None)
    if acc.distributed_type.name == "FSDP" or (plugin is not None and plugin.zero_stage == 3):
        raise CuaError("generation.backend vllm_server reads the policy's weights on the main process: use one "
                       "device, DDP or DeepSpeed ZeRO-1/2 (ZeRO-3 and FSDP shard them)")
    gen = cfg.generation
    server = VllmServer(gen.host, gen.port, gen.timeout, gen.request_timeout, gen.group_port)
    try:
        if acc.is_main_process:
            server.connect_weights(channel if channel is not None else NcclChannel(acc.device))
        acc.wait_for_everyone()
    except BaseException:
        server.close()
        raise
    return server


def _push(s: Session, server: VllmServer, policy: PolicyWeights | None) -> float:
    """The policy's current weights into the server (main process); everyone waits for it."""
    t0 = time.perf_counter()
    if s.accelerator.is_main_process and policy is not None:
        server.push_weights(policy.specs, iter(policy))
    s.accelerator.wait_for_everyone()
    return time.perf_counter() - t0


def _reference(s: Session, unwrapped: Any) -> Any:
    """The frozen reference for the KL term: the adapter switched off for LoRA (no copy), the
    base model read again from ``model.path`` for full fine-tuning (the policy may hold resumed
    weights already); None without a KL term."""
    if not s.cfg.grpo.beta:
        return None
    if hasattr(unwrapped, "disable_adapter"):
        return "adapter-off"
    plugin = getattr(s.accelerator.state, "deepspeed_plugin", None)
    if plugin is not None and plugin.zero_stage == 3:
        raise CuaError("grpo.beta > 0 with finetune: full needs a second, frozen copy of the model, which "
                       "ZeRO-3 would partition outside its engine: use ZeRO-2, LoRA, or grpo.beta: 0")
    return load_reference(s.cfg.model, s.float_dtype, s.accelerator.device)


@torch.no_grad()
def _logps(s: Session, chat: InMemoryChatModel, rollout: Rollout, micro: int, reference: Any = None) -> torch.Tensor:
    unwrapped = s.accelerator.unwrap_model(s.model)
    parts = []
    for start in range(0, len(rollout), micro):
        rows = slice(start, start + micro)
        batch = to_device(scoring_inputs(chat, rollout, rows), s.accelerator.device, s.float_dtype)
        completion = rollout.completion_ids[rows]
        if reference == "adapter-off":
            with unwrapped.disable_adapter():
                parts.append(completion_logps(unwrapped, batch, completion, s.cfg.grpo.temperature).cpu())
        else:
            model = reference if reference is not None else s.model
            with s.accelerator.autocast():  # the reference computes as the policy does (mixed precision)
                parts.append(completion_logps(model, batch, completion, s.cfg.grpo.temperature).cpu())
    return torch.cat(parts)


def _update(s: Session, chat: InMemoryChatModel, rollout: Rollout, adv: torch.Tensor, old: torch.Tensor | None,
            ref: torch.Tensor | None, micro: int, n_micro: int, cfg: GRPOConfig) -> dict[str, float]:
    g, acc = cfg.grpo, s.accelerator
    total_tokens = float(rollout.mask.sum().clamp(min=1))
    clip, kl, ratio = [], [], []
    for start in range(0, len(rollout), micro):
        rows = slice(start, start + micro)
        batch = to_device(scoring_inputs(chat, rollout, rows), acc.device, s.float_dtype)
        completion, mask = rollout.completion_ids[rows], rollout.mask[rows].to(acc.device)
        with acc.accumulate(s.model):
            logps = completion_logps(s.model, batch, completion, g.temperature)
            out = policy_loss(logps, logps.detach() if old is None else old[rows].to(acc.device),
                              adv[rows].to(acc.device), mask, g.epsilon, g.epsilon_high, g.beta,
                              None if ref is None else ref[rows].to(acc.device), g.loss_type, total_tokens)
            share = len(completion) / len(rollout) if g.loss_type == "grpo" else 1.0
            acc.backward(out.loss * share * n_micro)  # accelerate divides by the micro-step count
            if acc.sync_gradients and cfg.optim.max_grad_norm:
                acc.clip_grad_norm_(s.trainable(), cfg.optim.max_grad_norm)
            s.optimizer.step()
            s.optimizer.zero_grad()
        clip.append(float(out.clip_fraction.detach()))
        kl.append(float(out.kl.detach()))
        ratio.append(float(out.ratio_mean.detach()))
    return {"clip_fraction": sum(clip) / len(clip), "kl": sum(kl) / len(kl), "ratio": sum(ratio) / len(ratio)}
