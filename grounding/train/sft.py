"""Supervised fine-tuning of a grounding model on (screenshot, instruction, box) rows.

Why a loop of our own and not TRL's ``SFTTrainer``: its VLM collator renders the chat and
runs the processor itself, with the processor's resize (not the profile's smart-resize bounds)
and without the profile's prefill, so a model trained by it would see other pixels and other
tokens than the runtime gives it. Here prompts go through the runtime's encoder
(``grounding.train.batches``) and the rest is a plain transformers + accelerate loop.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from grounding.train.batches import collate_sft, to_device
from grounding.train.config import SFTConfig
from grounding.train.data import Rows, batches, load_rows
from grounding.train.examples import SFTExamples
from grounding.train.modeling import InMemoryChatModel
from grounding.train.session import StepHook, open_session


def train_sft(cfg: SFTConfig, rows: Rows | None = None, console: Console | None = None,
              on_step: StepHook | None = None) -> dict[str, Any]:
    """Train, checkpoint, evaluate, save ``<output_dir>/final``; returns the run summary."""
    if rows is None:
        rows = load_rows(cfg.data.format, cfg.data.train, cfg.data.split, cfg.data.max_samples)
    per_step = cfg.optim.batch_size * cfg.optim.grad_accum
    s = open_session(cfg, "sft", len(rows.rows), per_step, console, on_step, micro_steps=cfg.optim.grad_accum)
    acc = s.accelerator
    per_step *= acc.num_processes
    chat = InMemoryChatModel(acc.unwrap_model(s.model), s.processor)
    pad_id = s.processor.tokenizer.pad_token_id
    skipped = Counter(rows.skipped)
    # Encoded when their micro-batch is built, never cached: pixels for every row do not fit.
    examples = SFTExamples(chat, s.profile, rows.rows, cfg.max_length, skipped)
    global_batch = cfg.optim.batch_size * acc.num_processes
    stream = batches(len(rows.rows), global_batch, cfg.optim.seed, cfg.data.shuffle, start=s.state.batch_index)
    s.model.train()
    with _progress(console if acc.is_main_process and cfg.logging.progress else None) as bar:
        task = bar.add_task("sft", total=s.total_steps, completed=s.state.step)
        while s.state.step < s.total_steps:
            t0 = time.perf_counter()
            losses, tokens, seen, grad_norm = [], 0, 0, None
            for _ in range(cfg.optim.grad_accum):
                index, ids = next(stream)
                mine = examples.micro_batch(ids[acc.process_index::acc.num_processes])
                n_mine = len(mine)
                s.state.batch_index = index + 1
                batch = to_device(collate_sft(mine or [examples.stand_in()], pad_id), acc.device, s.float_dtype)
                del mine  # the batch holds the pixels now: the examples' copies go at once
                with acc.accumulate(s.model):
                    loss = s.model(**batch).loss
                    acc.backward(loss if n_mine else loss * 0.0)
                    if acc.sync_gradients and cfg.optim.max_grad_norm:
                        grad_norm = acc.clip_grad_norm_(s.trainable(), cfg.optim.max_grad_norm)
                    s.optimizer.step()
                    s.optimizer.zero_grad()
                if n_mine:
                    losses.append(loss.detach())
                    tokens += int((batch["labels"] != -100).sum())
                    seen += n_mine
            s.scheduler.step()
            s.state.step += 1
            s.state.samples_seen += seen * acc.num_processes
            took = time.perf_counter() - t0
            values: dict[str, Any] = {"loss": _mean_loss(acc, losses), "answer_tokens": tokens,
                                      "samples_per_s": seen * acc.num_processes / took, "step_s": took}
            if grad_norm is not None:
                values["grad_norm"] = float(grad_norm)
            s.after_step(values)
            bar.update(task, advance=1)
    return s.finish({"rows": len(rows.rows), "skipped": dict(skipped)})


def _mean_loss(acc: Any, losses: list[torch.Tensor]) -> float:
    """The mean micro-batch loss over every process (each joins the gather, losses or not)."""
    local = torch.tensor([[float(sum(losses)) if losses else 0.0, float(len(losses))]], device=acc.device)
    total, count = acc.gather(local).sum(0).tolist()
    return total / count if count else float("nan")


def _progress(console: Console | None) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, disable=console is None, transient=True)
