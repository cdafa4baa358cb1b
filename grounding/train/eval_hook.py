"""The evaluation hook: ``ground-eval``'s machinery on a held-out ScreenSpot-layout set, with
the model being trained behind the runtime's own grounder (same prompt, same parser), so the
curve in ``metrics.jsonl`` is the accuracy the runtime would get from this checkpoint.

Under several processes each rank grounds its share of the samples (generation on sharded
weights needs every rank) and the counts are summed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from grounding.benchmarks import Sample, read_screenspot_json
from grounding.evaluation import evaluate
from grounding.model_grounder import ModelGrounder
from grounding.profiles import Profile
from grounding.train.config import EvalSection
from grounding.train.modeling import InMemoryChatModel


def eval_samples(cfg: EvalSection) -> list[Sample]:
    if not cfg.data:
        return []
    samples = [s for s in read_screenspot_json(Path(cfg.data)).samples]
    return samples[:cfg.max_samples] if cfg.max_samples else samples


def run_eval(accelerator: Any, model: Any, processor: Any, profile: Profile, samples: list[Sample],
             out_dir: Path, cfg: EvalSection) -> dict[str, float]:
    mine = samples[accelerator.process_index::accelerator.num_processes]
    unwrapped = accelerator.unwrap_model(model)
    was_training = unwrapped.training
    unwrapped.eval()
    correct = 0
    try:
        if mine:
            chat = InMemoryChatModel(unwrapped, processor)
            grounder = ModelGrounder(profile, chat, max_new_tokens=cfg.max_new_tokens)
            where = out_dir if accelerator.num_processes == 1 else out_dir / f"rank_{accelerator.process_index}"
            report = evaluate(grounder, mine, where, batch_size=cfg.batch_size, resume=False, progress=False,
                              bench="heldout", max_consecutive_errors=0)
            correct = report.overall.correct
    finally:
        unwrapped.train(was_training)
    counts = torch.tensor([correct, len(mine)], dtype=torch.long, device=accelerator.device)
    total = accelerator.reduce(counts, reduction="sum") if accelerator.num_processes > 1 else counts
    ok, n = int(total[0]), int(total[1])
    return {"accuracy": ok / n if n else 0.0, "correct": ok, "samples": n}
