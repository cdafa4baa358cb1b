"""Grounding SFT data: ScreenSpot-v2 style JSON + images, and a Hugging Face dataset.

ScreenSpot layout (read back by ``cua ground-eval --bench screenspot-json``)::

    <out>/grounding/<split>/synthetic_<split>.json   [{img_filename, bbox [x, y, w, h] px,
                                                       instruction, data_type text|icon,
                                                       data_source, id, platform, ...}]
    <out>/grounding/<split>/images/<task>__step_0003.png

The Hugging Face dataset holds the image, the instruction, the target's point and box in a
model's coordinate space and the sample as a Qwen chat (``messages``), the format given by a
``GroundingFormat`` (the caller builds one from a grounding profile).
"""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cua.core import Box, ModelSpace, Point
from cua.core.store import atomic_write_bytes
from data_synth.export.records import VerifiedTask, place_image, verified_tasks, write_manifest
from data_synth.instructions import GroundingSample, Perspective


@dataclass(frozen=True)
class GroundingFormat:
    """How a sample is put to a model. ``space`` maps the image size to the model's coordinate
    space; ``user`` and ``answer`` are templates with ``{instruction}``, ``{x}``, ``{y}``,
    ``{x1}``, ``{y1}``, ``{x2}``, ``{y2}``, ``{width}``, ``{height}`` (the model space's extent),
    filled by plain replacement (JSON braces in them stay as they are)."""

    name: str
    space: Callable[[int, int], ModelSpace]
    answer: str
    user: str = "{instruction}"
    system: str | None = None


_TOOL_CALL = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [{x}, {y}]}}\n</tool_call>'
# Qwen2.5-VL family: absolute pixels of the smart-resized image (factor 28, 12,845,056 px max).
QWEN25_VL = GroundingFormat("qwen2.5-vl", lambda w, h: ModelSpace.abs_resized(w, h, 28, 56 * 56, 12_845_056), _TOOL_CALL)
# Qwen3-VL family: relative 0-1000.
QWEN3_VL = GroundingFormat("qwen3-vl", lambda w, h: ModelSpace.rel_1000(), _TOOL_CALL)
FORMATS = {f.name: f for f in (QWEN25_VL, QWEN3_VL)}


def fill(template: str, **values: Any) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    return template


def _num(v: float, space: ModelSpace) -> int | float:
    return round(v, 4) if space.kind == "rel_1" else round(v)


def xywh_inside(box: Box, size: tuple[int, int]) -> list[int] | None:
    """The box in whole pixels, grown to cover it and clipped to the image; None if empty."""
    w, h = size
    x1, y1 = max(0, math.floor(box.x1)), max(0, math.floor(box.y1))
    x2, y2 = min(w, math.ceil(box.x2)), min(h, math.ceil(box.y2))
    return [x1, y1, x2 - x1, y2 - y1] if x2 > x1 and y2 > y1 else None


def _selected(tasks: list[VerifiedTask], perspectives: tuple[Perspective, ...] | None
              ) -> Iterator[tuple[VerifiedTask, GroundingSample, int]]:
    for t in tasks:
        for i, s in enumerate(t.samples()):
            if perspectives is None or s.perspective in perspectives:
                yield t, s, i


def _image_name(t: VerifiedTask, s: GroundingSample) -> str:
    return f"{t.name}__{Path(s.screenshot).name}"


def export_screenspot(run_dir: Path, out: Path, heldout: float = 0.1, heldout_templates: tuple[str, ...] = (),
                      perspectives: tuple[Perspective, ...] | None = None) -> dict[str, Any]:
    """Write the ScreenSpot-layout splits under ``<out>/grounding/``; returns the manifest."""
    tasks = verified_tasks(run_dir, heldout, heldout_templates)
    items: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("samples_per_split", "samples_per_family",
                                                               "samples_per_perspective", "samples_per_element",
                                                               "samples_per_data_type")}
    root = Path(out) / "grounding"
    for t, s, i in _selected(tasks, perspectives):
        bbox = xywh_inside(s.box, s.image_size)
        if bbox is None:
            continue
        name = _image_name(t, s)
        place_image(t.folder / s.screenshot, root / t.split / "images" / name)
        items[t.split].append({
            "img_filename": f"images/{name}", "bbox": bbox, "instruction": s.instruction,
            "data_type": s.data_type, "data_source": f"synthetic-{t.outcome.family}", "id": f"{t.name}#{i}",
            "platform": "web", "perspective": s.perspective, "task_id": s.task_id, "element": s.kind,
            "img_size": list(s.image_size), "plan_target": s.plan_target,
        })
        for key, value in (("split", t.split), ("family", t.outcome.family), ("perspective", s.perspective),
                           ("element", s.kind), ("data_type", s.data_type)):
            counts[f"samples_per_{key}"][value] += 1
    for split, rows in items.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(root / split / f"synthetic_{split}.json", json.dumps(rows, indent=1).encode())
    return write_manifest(root / "manifest.json", "screenspot", tasks, counts,
                          {"heldout": heldout, "heldout_templates": list(heldout_templates),
                           "perspectives": list(perspectives) if perspectives else "all", "run": str(run_dir)})


def chat_sample(image_size: tuple[int, int], instruction: str, box: Box, fmt: GroundingFormat) -> dict[str, Any]:
    """Point, box (model space) and Qwen-style messages for one instruction on one image."""
    w, h = image_size
    space = fmt.space(w, h)
    c = space.from_screenshot(box.center, w, h)
    p1 = space.from_screenshot(Point(x=box.x1, y=box.y1), w, h)
    p2 = space.from_screenshot(Point(x=box.x2, y=box.y2), w, h)
    values = {"instruction": instruction, "x": _num(c.x, space), "y": _num(c.y, space),
              "x1": _num(p1.x, space), "y1": _num(p1.y, space), "x2": _num(p2.x, space), "y2": _num(p2.y, space),
              "width": _num(space.width, space), "height": _num(space.height, space)}
    messages: list[dict[str, Any]] = []
    if fmt.system:
        messages.append({"role": "system", "content": [{"type": "text", "text": fill(fmt.system, **values)}]})
    messages.append({"role": "user", "content": [{"type": "image", "text": None},
                                                  {"type": "text", "text": fill(fmt.user, **values)}]})
    messages.append({"role": "assistant", "content": [{"type": "text", "text": fill(fmt.answer, **values)}]})
    return {"point": [values["x"], values["y"]], "box": [values["x1"], values["y1"], values["x2"], values["y2"]],
            "space": space.kind, "messages": messages}


def export_hf_grounding(run_dir: Path, out: Path, fmt: GroundingFormat = QWEN25_VL, heldout: float = 0.1,
                        heldout_templates: tuple[str, ...] = (),
                        perspectives: tuple[Perspective, ...] | None = None) -> Path:
    """A ``datasets.DatasetDict`` (train, test) saved to ``<out>/hf_grounding``; load it with
    ``datasets.load_from_disk``. Needs the ``datasets`` package."""
    import datasets
    from datasets import Features, List, Value

    tasks = verified_tasks(run_dir, heldout, heldout_templates)
    text = Value("string")
    features = Features({
        "image": datasets.Image(), "instruction": text, "perspective": text, "data_type": text, "element": text,
        "family": text, "task_id": text, "width": Value("int32"), "height": Value("int32"), "space": text,
        "point": List(Value("float64")), "box": List(Value("float64")),
        "messages": List({"role": text, "content": List({"type": text, "text": text})}),
    })

    def rows(split: str) -> Iterator[dict[str, Any]]:
        for t, s, _ in _selected([t for t in tasks if t.split == split], perspectives):
            if xywh_inside(s.box, s.image_size) is None:
                continue
            path = t.folder / s.screenshot
            yield {"image": {"bytes": path.read_bytes(), "path": _image_name(t, s)}, "instruction": s.instruction,
                   "perspective": s.perspective, "data_type": s.data_type, "element": s.kind,
                   "family": t.outcome.family, "task_id": s.task_id, "width": s.image_size[0],
                   "height": s.image_size[1], **chat_sample(s.image_size, s.instruction, s.box, fmt)}

    target = Path(out) / "hf_grounding"
    cache = Path(out) / ".hf_cache"
    splits = {}
    for split in ("train", "test"):
        if any(t.split == split for t in tasks):
            splits[split] = datasets.Dataset.from_generator(
                rows, features=features, gen_kwargs={"split": split}, cache_dir=str(cache))
    if target.exists():
        shutil.rmtree(target)
    datasets.DatasetDict(splits).save_to_disk(str(target))
    shutil.rmtree(cache, ignore_errors=True)
    return target
