"""Readers for GUI-grounding benchmarks in their official on-disk layouts.

Every reader turns a local folder into ``Sample``s whose target box is in screenshot pixels
(x1, y1, x2, y2). Layouts (field names from shared/reference/anchors-grounding.md §3, checked
against the public eval scripts named there):

* ``screenspot-v2`` — ``screenspot_{desktop,mobile,web}_v2.json`` + images in
  ``screenspotv2_image/``; items ``img_filename, bbox [x, y, w, h] px, instruction,
  data_type (text|icon), data_source``; the platform is the file's middle word.
* ``screenspot-pro`` — ``annotations/*.json`` (one per application) + ``images/``; items
  ``img_filename, bbox [x1, y1, x2, y2] px, instruction, instruction_cn, id, application,
  platform, img_size [w, h], ui_type (text|icon), group``.
* ``osworld-g`` — ``OSWorld-G.json`` (or ``OSWorld-G_refined.json``) + ``images/`` and an
  optional ``classification_result.json`` (``{"classified": {category: [{"id": ...}]}}``);
  items ``id, image_path, instruction, box_type, box_coordinates``: ``bbox`` = [x, y, w, h] px,
  ``polygon`` = flat [x1, y1, x2, y2, ...] px, ``refusal`` = the target does not exist
  (``Sample.box is None``: correct only when the grounder gives no point).
* ``mmbench-gui`` — ``L2_annotations.json`` + ``offline_images/<platform>/<image_path>``;
  items ``image_path, platform, instruction, bbox [x1, y1, x2, y2] normalised 0-1,
  image_size, grounding_type (basic|advanced)`` and, in the official eval, ``data_type,
  app_name``. Like the official eval, a box with any value above 1 is taken as pixels.
* ``screenspot-json`` — our generic layout (what the synthetic exporter writes): one JSON list,
  items as in ScreenSpot-v2 (``img_filename`` relative to the JSON file's folder, ``bbox``
  [x, y, w, h] px or ``null`` for a refusal item) plus optional ``id`` and ``platform``.

A file that cannot be read as JSON is a ``BenchmarkFormatError`` naming it; a single malformed
item becomes a ``Skip`` (recorded in the report) and the rest of the benchmark still runs. A
missing image is not the reader's business: the evaluator scores that sample as a miss.
The sequential task layout is described in ``grounding.evaluation``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

from cua.core import Box, CuaError, Point

BENCHES = ("screenspot-v2", "screenspot-pro", "osworld-g", "mmbench-gui", "screenspot-json")
SSV2_PLATFORMS = ("desktop", "mobile", "web")


class BenchmarkFormatError(CuaError):
    """A benchmark folder or file that is not in the layout its reader expects."""


class _BadItem(ValueError):
    """One annotation item that cannot be scored; becomes a Skip."""


@dataclass(frozen=True)
class Sample:
    """One grounding query. ``box is None`` marks a refusal item (no such element on screen)."""

    id: str
    image_path: Path
    instruction: str
    box: Box | None
    platform: str = ""
    element_type: str = ""  # "text" | "icon" | ... ("" when the benchmark has none)
    source: str = ""  # the app / site / data source
    extra: dict[str, Any] = field(default_factory=dict)  # "groups": [...], "polygon": [[x, y], ...]

    def target_contains(self, point: Point) -> bool:
        """Inclusive point-in-target test: the polygon when there is one, else the box."""
        if self.box is None:
            return False
        polygon = self.extra.get("polygon")
        if polygon:
            return point_in_polygon(point, polygon)
        return self.box.contains(point)


@dataclass(frozen=True)
class Skip:
    id: str
    file: str
    reason: str


@dataclass
class Benchmark:
    name: str
    root: Path
    samples: list[Sample]
    skipped: list[Skip] = field(default_factory=list)


@dataclass(frozen=True)
class SeqTask:
    """A multi-step task: its steps are grounded on successive screenshots, in order."""

    id: str
    steps: list[Sample]
    platform: str = ""
    source: str = ""


def point_in_polygon(point: Point, polygon: list[list[float]]) -> bool:
    """Ray casting (as OSWorld-G's judge does)."""
    inside = False
    n = len(polygon)
    for i in range(n):
        (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > point.y) != (y2 > point.y):
            x_cross = x1 + (point.y - y1) * (x2 - x1) / (y2 - y1)
            if point.x < x_cross:
                inside = not inside
    return inside


# ---- shared helpers ---------------------------------------------------------------------


def load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchmarkFormatError(f"missing annotation file {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BenchmarkFormatError(f"cannot read {path}: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise BenchmarkFormatError(
            f"{path} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
        ) from None


def _load_list(path: Path) -> list[Any]:
    data = load_json(path)
    if not isinstance(data, list):
        raise BenchmarkFormatError(f"{path} should hold a JSON list of samples, found {type(data).__name__}")
    return data


def _numbers(value: Any, what: str, count: int | None = 4) -> list[float]:
    if not isinstance(value, (list, tuple)) or (count is not None and len(value) != count):
        raise _BadItem(f"{what} should be a list of {count or 'some'} numbers, got {value!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise _BadItem(f"{what} has a value that is not a finite number: {value!r}")
    return [float(v) for v in value]


def _xyxy(value: Any) -> Box:
    x1, y1, x2, y2 = _numbers(value, "bbox")
    if x2 < x1 or y2 < y1:
        raise _BadItem(f"bbox has its corners swapped: {value!r}")
    return Box(x1=x1, y1=y1, x2=x2, y2=y2)


def _xywh(value: Any) -> Box:
    x, y, w, h = _numbers(value, "bbox")
    if w < 0 or h < 0:
        raise _BadItem(f"bbox has a negative size: {value!r}")
    return Box.from_xywh(x, y, w, h)


def _text(item: dict[str, Any], key: str, required: bool = False) -> str:
    value = item.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _BadItem(f"no {key!r}")
        return ""
    return str(value).strip()


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) read from the file's header; None when it cannot be read."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError):
        return None


def _first_dir(root: Path, names: Iterable[str]) -> Path:
    return next((root / n for n in names if (root / n).is_dir()), root)


def _read_items(
    path: Path, default_id: Callable[[int], str], parse: Callable[[str, dict[str, Any]], Sample],
) -> tuple[list[Sample], list[Skip]]:
    """Parse every item of the JSON list at ``path``; a malformed item becomes a Skip."""
    samples: list[Sample] = []
    skipped: list[Skip] = []
    for i, item in enumerate(_load_list(path)):
        sid = default_id(i)
        try:
            if not isinstance(item, dict):
                raise _BadItem(f"item is a {type(item).__name__}, not an object")
            samples.append(parse(sid, item))
        except _BadItem as e:
            named = item.get("id") if isinstance(item, dict) else None
            skipped.append(Skip(id=sid if named in (None, "") else str(named), file=str(path), reason=str(e)))
    return samples, skipped


def _unique(samples: list[Sample]) -> list[Sample]:
    """Resume keys on ids, so a repeated id gets a ``#n`` suffix instead of being merged."""
    seen: dict[str, int] = {}
    out = []
    for s in samples:
        n = seen.get(s.id, 0)
        seen[s.id] = n + 1
        out.append(s if n == 0 else replace(s, id=f"{s.id}#{n}"))
    return out


def _require_dir(root: Path, bench: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise BenchmarkFormatError(f"no {bench} folder at {root}")
    return root


# ---- readers ----------------------------------------------------------------------------


def read_screenspot_v2(root: Path) -> Benchmark:
    root = _require_dir(root, "ScreenSpot-v2")
    files = [(p, root / f"screenspot_{p}_v2.json") for p in SSV2_PLATFORMS]
    files = [(p, f) for p, f in files if f.exists()]
    if not files:
        raise BenchmarkFormatError(
            f"{root} has none of screenspot_desktop_v2.json, screenspot_mobile_v2.json, screenspot_web_v2.json"
        )
    images = _first_dir(root, ("screenspotv2_image", "images"))
    samples: list[Sample] = []
    skipped: list[Skip] = []
    for platform, path in files:
        def parse(sid: str, item: dict[str, Any], platform: str = platform) -> Sample:
            return Sample(
                id=sid, image_path=images / _text(item, "img_filename", required=True),
                instruction=_text(item, "instruction", required=True), box=_xywh(item.get("bbox")),
                platform=platform, element_type=_text(item, "data_type"),
                source=_text(item, "data_source"),
            )
        got, bad = _read_items(path, lambda i, p=platform: f"{p}/{i}", parse)
        samples += got
        skipped += bad
    return Benchmark("screenspot-v2", root, _unique(samples), skipped)


def read_screenspot_pro(root: Path) -> Benchmark:
    root = _require_dir(root, "ScreenSpot-Pro")
    ann_dir = root / "annotations"
    files = sorted(ann_dir.glob("*.json")) if ann_dir.is_dir() else []
    if not files:
        raise BenchmarkFormatError(f"{root} has no annotations/*.json (the ScreenSpot-Pro layout)")
    images = _first_dir(root, ("images",))
    samples: list[Sample] = []
    skipped: list[Skip] = []
    for path in files:
        def parse(sid: str, item: dict[str, Any], stem: str = path.stem) -> Sample:
            group = _text(item, "group")
            return Sample(
                id=f"{stem}/{item['id']}" if item.get("id") not in (None, "") else sid,
                image_path=images / _text(item, "img_filename", required=True),
                instruction=_text(item, "instruction", required=True), box=_xyxy(item.get("bbox")),
                platform=_text(item, "platform"), element_type=_text(item, "ui_type"),
                source=_text(item, "application"),
                extra={"groups": [group] if group else [], "img_size": item.get("img_size")},
            )
        got, bad = _read_items(path, lambda i, s=path.stem: f"{s}/{i}", parse)
        samples += got
        skipped += bad
    return Benchmark("screenspot-pro", root, _unique(samples), skipped)


def _polygon(value: Any) -> list[list[float]]:
    if isinstance(value, list) and value and all(isinstance(v, (list, tuple)) for v in value):
        flat = [c for pair in value for c in _numbers(pair, "polygon point", 2)]
    else:
        flat = _numbers(value, "polygon", None)
    if len(flat) < 6 or len(flat) % 2:
        raise _BadItem(f"polygon needs at least three x, y pairs, got {value!r}")
    return [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]


def read_osworld_g(root: Path, refined: bool = False) -> Benchmark:
    root = _require_dir(root, "OSWorld-G")
    name = "OSWorld-G_refined.json" if refined else "OSWorld-G.json"
    # The repo keeps its data under benchmark/; accept the repo root or that folder.
    base = next((d for d in (root, root / "benchmark") if (d / name).exists()), None)
    if base is None:
        raise BenchmarkFormatError(f"no {name} in {root} or {root / 'benchmark'}")
    path = base / name
    categories: dict[str, list[str]] = {}
    cls_path = base / "classification_result.json"
    if cls_path.exists():
        classified = load_json(cls_path)
        if not isinstance(classified, dict) or not isinstance(classified.get("classified"), dict):
            raise BenchmarkFormatError(f"{cls_path} should hold {{\"classified\": {{category: [items]}}}}")
        for category, entries in classified["classified"].items():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and "id" in entry:
                    categories.setdefault(str(entry["id"]), []).append(category)
    images = _first_dir(base, ("images",))

    def parse(sid: str, item: dict[str, Any]) -> Sample:
        data_id = _text(item, "id") or sid
        kind = _text(item, "box_type", required=True)
        coords = item.get("box_coordinates")
        extra: dict[str, Any] = {"groups": categories.get(data_id, []), "box_type": kind}
        if kind == "bbox":
            box: Box | None = _xywh(coords)
        elif kind == "polygon":
            extra["polygon"] = poly = _polygon(coords)
            xs, ys = [p[0] for p in poly], [p[1] for p in poly]
            box = Box(x1=min(xs), y1=min(ys), x2=max(xs), y2=max(ys))
        elif kind == "refusal":
            box = None
        else:
            raise _BadItem(f"unknown box_type {kind!r} (expected bbox, polygon or refusal)")
        return Sample(
            id=data_id, image_path=images / _text(item, "image_path", required=True),
            instruction=_text(item, "instruction", required=True), box=box, extra=extra,
        )

    samples, skipped = _read_items(path, str, parse)
    return Benchmark("osworld-g", root, _unique(samples), skipped)


def read_mmbench_gui(root: Path) -> Benchmark:
    root = _require_dir(root, "MMBench-GUI")
    path = root / "L2_annotations.json"
    if not path.exists():
        raise BenchmarkFormatError(f"no L2_annotations.json in {root} (the MMBench-GUI L2 layout)")
    images = _first_dir(root, ("offline_images", "MMBench-GUI-OfflineImages/offline_images"))

    def parse(sid: str, item: dict[str, Any]) -> Sample:
        platform = _text(item, "platform", required=True)
        image_path = images / platform / _text(item, "image_path", required=True)
        box = _xyxy(item.get("bbox"))
        extra: dict[str, Any] = {"groups": [g] if (g := _text(item, "grounding_type")) else []}
        if all(0 <= v <= 1 for v in (box.x1, box.y1, box.x2, box.y2)):  # normalised
            size = image_size(image_path)
            if size is None:  # the image is missing: its annotated size still places the box
                w, h = _numbers(item.get("image_size"), "image_size", 2)
                extra["size_from_annotation"] = True
            else:
                w, h = size
            box = box.scaled(w, h)
        return Sample(
            id=f"{platform}/{item.get('index', sid)}", image_path=image_path,
            instruction=_text(item, "instruction", required=True),
            box=box, platform=platform, element_type=_text(item, "data_type"),
            source=_text(item, "app_name"), extra=extra,
        )

    samples, skipped = _read_items(path, str, parse)
    return Benchmark("mmbench-gui", root, _unique(samples), skipped)


def _single_json(data: Path, what: str, preferred: str | None = None) -> Path:
    """``data`` itself when it is a file, else the one JSON file in that folder."""
    if data.is_file():
        return data
    if not data.is_dir():
        raise BenchmarkFormatError(f"no {what} at {data}")
    if preferred and (data / preferred).exists():
        return data / preferred
    found = sorted(data.glob("*.json"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise BenchmarkFormatError(f"{data} should hold exactly one {what} JSON file (found: {names})")
    return found[0]


def read_screenspot_json(data: Path) -> Benchmark:
    path = _single_json(Path(data), "screenspot-json")
    folder = path.parent

    def parse(sid: str, item: dict[str, Any]) -> Sample:
        bbox = item.get("bbox")
        return Sample(
            id=_text(item, "id") or sid, image_path=folder / _text(item, "img_filename", required=True),
            instruction=_text(item, "instruction", required=True),
            box=None if bbox is None else _xywh(bbox), platform=_text(item, "platform"),
            element_type=_text(item, "data_type"), source=_text(item, "data_source"),
        )

    samples, skipped = _read_items(path, str, parse)
    return Benchmark("screenspot-json", folder, _unique(samples), skipped)


READERS: dict[str, Callable[[Path], Benchmark]] = {
    "screenspot-v2": read_screenspot_v2,
    "screenspot-pro": read_screenspot_pro,
    "osworld-g": read_osworld_g,
    "mmbench-gui": read_mmbench_gui,
    "screenspot-json": read_screenspot_json,
}


def load_benchmark(name: str, data: Path) -> Benchmark:
    if name not in READERS:
        raise CuaError(f"unknown benchmark {name!r}; known: {', '.join(BENCHES)}")
    return READERS[name](Path(data))


def read_sequential(data: Path) -> tuple[list[SeqTask], list[Skip]]:
    """Tasks of the sequential layout (see ``grounding.evaluation``). A task with one bad step is
    skipped whole: strict scoring needs every step."""
    path = _single_json(Path(data), "sequential task", preferred="tasks.json")
    doc = load_json(path)
    tasks_raw = doc.get("tasks") if isinstance(doc, dict) else None
    if not isinstance(tasks_raw, list):
        raise BenchmarkFormatError(f"{path} should hold {{\"tasks\": [...]}}")
    tasks: list[SeqTask] = []
    skipped: list[Skip] = []
    seen: set[str] = set()
    for i, raw in enumerate(tasks_raw):
        tid = str(raw.get("id", i)) if isinstance(raw, dict) else str(i)
        try:
            if not isinstance(raw, dict):
                raise _BadItem(f"task is a {type(raw).__name__}, not an object")
            if tid in seen:
                raise _BadItem("repeated task id")
            steps_raw = raw.get("steps")
            if not isinstance(steps_raw, list) or not steps_raw:
                raise _BadItem("no steps")
            platform, source = _text(raw, "platform"), _text(raw, "source")
            steps = []
            for k, step in enumerate(steps_raw):
                if not isinstance(step, dict):
                    raise _BadItem(f"step {k} is not an object")
                try:
                    steps.append(Sample(
                        id=f"{tid}/{k}", image_path=path.parent / _text(step, "image", required=True),
                        instruction=_text(step, "instruction", required=True),
                        box=_xyxy(step.get("bbox")), platform=platform,
                        element_type=_text(step, "element_type"), source=source,
                    ))
                except _BadItem as e:
                    raise _BadItem(f"step {k}: {e}") from None
            tasks.append(SeqTask(id=tid, steps=steps, platform=platform, source=source))
            seen.add(tid)
        except _BadItem as e:
            skipped.append(Skip(id=tid, file=str(path), reason=str(e)))
    return tasks, skipped
