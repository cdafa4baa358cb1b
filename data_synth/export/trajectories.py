"""Trajectory SFT data: each verified episode as one multi-turn conversation.

One JSON line per episode, in the ``messages`` + ``images`` layout LLaMA-Factory and TRL read::

    {"id", "task_id", "instruction", "split", "codec", "space",
     "images": ["images/<task>__step_0000.png", ...],
     "messages": [{"role": "system", ...},
                  {"role": "user", "content": "<image>Task: ...\\nStep 1. What is the next action?"},
                  {"role": "assistant", "content": "<the action in the chosen codec>"}, ...],
     "steps": [{"instruction", "move"}]}

Each user turn shows that step's screenshot (the ``max_images`` latest keep theirs; older turns
say so in words) and the actions done so far; coordinates are mapped into the model's space
(``space``, from the image size) before ``cua.core.codecs.emit`` writes them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from cua.core import Action, Drag, ModelSpace
from cua.core.codecs import CodecName, emit
from cua.core.store import atomic_write_bytes
from data_synth.export.records import place_image, verified_tasks, write_manifest

DEFAULT_SYSTEM = ("You are a computer-use agent. You see a screenshot of a web app after each action and "
                  "answer with the next action only.")


def into_space(action: Action, space: ModelSpace, size: tuple[int, int]) -> Action:
    """The action with its screenshot-pixel points written in ``space`` (whole numbers, as
    models write them, except in the 0-1 space)."""
    points = [space.from_screenshot(p, *size) for p in action.points()]
    if not points:
        return action
    r = (lambda v: round(v, 4)) if space.kind == "rel_1" else round
    update = {"x": r(points[0].x), "y": r(points[0].y)}
    if isinstance(action, Drag):
        update.update(to_x=r(points[1].x), to_y=r(points[1].y))
    return action.model_copy(update=update)


def export_trajectories(run_dir: Path, out: Path, codec: CodecName = "pyautogui",
                        space: Callable[[int, int], ModelSpace] = ModelSpace.screenshot,
                        system: str = DEFAULT_SYSTEM, max_images: int | None = None, heldout: float = 0.1,
                        heldout_templates: tuple[str, ...] = ()) -> dict[str, Any]:
    """``<out>/trajectories/{train,test}.jsonl`` and images; returns the manifest."""
    tasks = verified_tasks(run_dir, heldout, heldout_templates)
    root = Path(out) / "trajectories"
    lines: dict[str, list[str]] = {"train": [], "test": []}
    counts: dict[str, Counter[str]] = {"turns_per_split": Counter(), "actions": Counter()}
    space_kind = ""
    for t in tasks:
        task = t.task()
        grounded = task["grounded_plan"]
        steps = [s for s in t.steps() if s.action is not None]
        images, messages = [], [{"role": "system", "content": system}]
        done_words: list[str] = []
        for k, step in enumerate(steps):
            shot = t.folder / "episode" / step.screenshot
            with Image.open(shot) as im:
                size = im.size
            model = space(*size)
            space_kind = model.kind
            mapped = into_space(step.action, model, size)
            keep_image = max_images is None or k >= len(steps) - max_images
            head = f"Task: {task['task']['instruction']}\n" if k == 0 else ""
            history = ("Done so far: " + "; ".join(done_words) + "\n") if done_words else ""
            if keep_image:
                name = f"{t.name}__{step.screenshot}"
                place_image(shot, root / "images" / name)
                images.append(f"images/{name}")
            seen = "<image>" if keep_image else "(screenshot not shown)\n"
            messages.append({"role": "user", "content": f"{seen}{head}{history}Step {k + 1}. What is the next action?"})
            messages.append({"role": "assistant", "content": emit(mapped, codec)})
            move = grounded[k]["move"] if k < len(grounded) else "Finish"
            done_words.append(move)
            counts["actions"][step.action.type] += 1
        counts["turns_per_split"][t.split] += len(steps)
        lines[t.split].append(json.dumps({
            "id": t.name, "task_id": t.outcome.task_id, "instruction": task["task"]["instruction"],
            "split": t.split, "codec": codec, "space": space_kind, "images": images, "messages": messages,
            "steps": [{"instruction": g["instruction"], "move": g["move"]} for g in grounded],
        }, ensure_ascii=False))
    root.mkdir(parents=True, exist_ok=True)
    for split, rows in lines.items():
        atomic_write_bytes(root / f"{split}.jsonl", ("\n".join(rows) + ("\n" if rows else "")).encode())
    return write_manifest(root / "manifest.json", "trajectories", tasks, counts,
                          {"codec": codec, "max_images": max_images, "heldout": heldout,
                           "heldout_templates": list(heldout_templates), "run": str(run_dir)})
