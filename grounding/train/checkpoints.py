"""Resumable checkpoints: ``<output_dir>/checkpoints/step_0000040/`` holds accelerate's state
(model, optimizer, RNG, the scheduler registered for checkpointing) and ``trainer_state.json``
(step, batches consumed). ``trainer_state.json`` is written last, so a folder without it is a
checkpoint cut short by a kill and is ignored; only the newest ``keep`` complete ones stay."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "trainer_state.json"
PREFIX = "step_"


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


def save(accelerator: Any, out_dir: Path, state: TrainerState, keep: int) -> Path:
    path = checkpoint_dir(out_dir) / f"{PREFIX}{state.step:07d}"
    accelerator.wait_for_everyone()
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        tmp = path / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(state)))
        os.replace(tmp, path / STATE_FILE)
        for old in complete(out_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return path


def load(accelerator: Any, path: Path) -> TrainerState:
    accelerator.load_state(str(path))
    return TrainerState(**json.loads((path / STATE_FILE).read_text()))
