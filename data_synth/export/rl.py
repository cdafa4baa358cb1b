"""RL task specs: a task id the env resets to, with its validator as the reward.

One JSON line per verified task: ``SyntheticEnv().reset(make_task(name))`` rebuilds the same
app from ``task_id`` alone, and ``reward.checks`` is the validator as data
(``data_synth.validators.Validator.model_validate(reward)`` reads it back), so the reward can
be computed from ``window.__app.state`` by any trainer.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from cua.core.store import atomic_write_bytes
from data_synth.export.records import verified_tasks, write_manifest


def export_rl(run_dir: Path, out: Path, heldout: float = 0.1, heldout_templates: tuple[str, ...] = ()
              ) -> dict[str, Any]:
    tasks = verified_tasks(run_dir, heldout, heldout_templates)
    root = Path(out) / "rl"
    lines: dict[str, list[str]] = {"train": [], "test": []}
    counts: dict[str, Counter[str]] = {"reference_steps": Counter()}
    for t in tasks:
        task = t.task()["task"]
        lines[t.split].append(json.dumps({
            "task_id": task["id"], "env": "synthetic", "name": t.name, "family": task["family"],
            "template": task["template"], "level": task["level"], "seed": task["seed"],
            "instruction": task["instruction"], "max_steps": max(15, 3 * len(task["plan"]) + 5),
            "reference_steps": t.outcome.actions, "viewport": task["viewport"],
            "device_scale_factor": task["device_scale_factor"], "digest": t.outcome.digest,
            "reward": {"type": "validator", "state": "window.__app.state", **task["validator"]},
        }, ensure_ascii=False))
        counts["reference_steps"][str(t.outcome.actions)] += 1
    root.mkdir(parents=True, exist_ok=True)
    for split, rows in lines.items():
        atomic_write_bytes(root / f"{split}.jsonl", ("\n".join(rows) + ("\n" if rows else "")).encode())
    return write_manifest(root / "manifest.json", "rl", tasks, counts,
                          {"heldout": heldout, "heldout_templates": list(heldout_templates), "run": str(run_dir)})
