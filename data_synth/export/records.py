"""The verified tasks of a run, each with its split, in a fixed order."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cua.core import StepRecord
from cua.core.store import load_episode, write_json
from data_synth.instructions import GroundingSample
from data_synth.pipeline import TASKS_DIR, finished
from data_synth.rng import stable_fraction
from data_synth.verify import EPISODE_DIR, GROUNDING_FILE, TASK_FILE, Outcome

Split = Literal["train", "test"]
SPLIT_SALT = "synthetic-heldout-v1"


def split_of(task_id: str, heldout: float = 0.1, heldout_templates: frozenset[str] = frozenset()) -> Split:
    """``test`` for a fixed ``heldout`` share of task ids (by hash, so adding tasks never moves
    one) and for every task of a held-out template (``shop-checkout``: unseen in training)."""
    name = task_id.split("/", 1)[-1]
    if any(name.startswith(t + "-") for t in heldout_templates):
        return "test"
    return "test" if stable_fraction(SPLIT_SALT, task_id) < heldout else "train"


@dataclass(frozen=True)
class VerifiedTask:
    name: str
    folder: Path
    outcome: Outcome
    split: Split

    def task(self) -> dict[str, Any]:
        return json.loads((self.folder / TASK_FILE).read_text())

    def samples(self) -> list[GroundingSample]:
        return [GroundingSample.model_validate(s) for s in json.loads((self.folder / GROUNDING_FILE).read_text())]

    def steps(self) -> list[StepRecord]:
        return load_episode(self.folder / EPISODE_DIR).steps


def verified_tasks(run_dir: Path, heldout: float = 0.1, heldout_templates: tuple[str, ...] = ()
                   ) -> list[VerifiedTask]:
    held = frozenset(heldout_templates)
    return [VerifiedTask(name, Path(run_dir) / TASKS_DIR / name, o, split_of(o.task_id, heldout, held))
            for name, o in sorted(finished(Path(run_dir)).items()) if o.status == "verified"]


def place_image(src: Path, dst: Path) -> None:
    """A hard link where the file system allows it (screenshots are large), else a copy."""
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_manifest(path: Path, what: str, tasks: list[VerifiedTask], counts: dict[str, Counter[str]],
                   settings: dict[str, Any]) -> dict[str, Any]:
    manifest = {
        "export": what, "settings": settings, "tasks": len(tasks),
        "tasks_per_split": dict(sorted(Counter(t.split for t in tasks).items())),
        "tasks_per_family": dict(sorted(Counter(t.outcome.family for t in tasks).items())),
        "tasks_per_level": dict(sorted(Counter(t.outcome.level for t in tasks).items())),
        **{k: dict(sorted(v.items())) for k, v in counts.items()},
    }
    write_json(path, manifest)
    return manifest
