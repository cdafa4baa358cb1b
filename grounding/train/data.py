"""Training rows: (screenshot, instruction, target box in screenshot pixels) from a
ScreenSpot-layout JSON, a Hugging Face dataset, or rows a caller built (a synthetic run).

A row holds where its image is (a file path, or an index into the HF dataset), never the
decoded pixels: a 50k-row dataset of 1080p screenshots would not fit in memory. The image is
decoded when the row's batch is built (``Row.load_image``); its size is read from the file
header when the rows are listed.

Bad rows never reach the trainer: a missing or unreadable image, a box outside the image, an
empty box or a refusal item (no box) is skipped and counted by reason, and the counts are
reported with the run.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, UnidentifiedImageError

from cua.core import Box, CuaError, ModelSpace, smart_resize
from grounding.benchmarks import image_size, read_screenspot_json

# Our HF export (data_synth/export/grounding.py) writes boxes in the model space; its
# abs_resized space is Qwen2.5-VL's smart_resize with these bounds.
_EXPORT_RESIZE = (28, 56 * 56, 12_845_056)


class ImageSource(Protocol):
    """An image decoded on demand (a row of a dataset)."""

    def load(self) -> Image.Image: ...


@dataclass(frozen=True, eq=False)
class DatasetImage:
    """Row ``index`` of an HF dataset's image column, decoded by the column's own feature on
    each ``load`` (the dataset itself stays memory-mapped Arrow)."""

    dataset: Any  # the dataset with the column cast to ``Image(decode=False)``: {"bytes", "path"}
    column: str
    index: int
    feature: Any  # the column's ``datasets.Image`` feature (decoding on)

    def load(self) -> Image.Image:
        image = self.feature.decode_example(self.dataset[self.index][self.column])
        if not isinstance(image, Image.Image):
            raise CuaError(f"dataset row {self.index}: column {self.column!r} is not an image")
        return image


@dataclass(frozen=True)
class Row:
    image: Path | Image.Image | ImageSource  # a PIL image only in rows a caller built in memory
    instruction: str
    box: Box  # the target, screenshot pixels
    image_size: tuple[int, int]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def load_image(self) -> Image.Image:
        if isinstance(self.image, Image.Image):
            return self.image.convert("RGB")
        if isinstance(self.image, (str, Path)):
            with Image.open(self.image) as im:
                image = im.convert("RGB")
        else:
            image = self.image.load().convert("RGB")
        if image.size != tuple(self.image_size):  # the box is in the size read when the rows were listed
            raise CuaError(f"image {self.image} is {image.size[0]}x{image.size[1]} now, "
                           f"{self.image_size[0]}x{self.image_size[1]} when the rows were read")
        return image


@dataclass
class Rows:
    rows: list[Row]
    skipped: Counter[str] = field(default_factory=Counter)


def check_box(box: Box | None, size: tuple[int, int]) -> str | None:
    """Why a target cannot train a model, or None when it can."""
    if box is None:
        return "no_box"
    if not (box.x2 > box.x1 and box.y2 > box.y1):
        return "empty_box"
    w, h = size
    if box.x1 < 0 or box.y1 < 0 or box.x2 > w or box.y2 > h:
        return "box_outside_image"
    return None


def from_screenspot(path: Path) -> Rows:
    bench = read_screenspot_json(path)
    out = Rows([], Counter({"malformed_item": len(bench.skipped)} if bench.skipped else {}))
    for s in bench.samples:
        size = image_size(s.image_path)
        if size is None:
            out.skipped["missing_image"] += 1
            continue
        if why := check_box(s.box, size):
            out.skipped[why] += 1
            continue
        assert s.box is not None
        out.rows.append(Row(s.image_path, s.instruction, s.box, size, {"id": s.id}))
    return out


def from_dicts(items: Iterable[Mapping[str, Any]]) -> Rows:
    """Rows as ``data_synth.online.online_rows`` writes them: ``image`` (a path), ``instruction``,
    ``box`` [x1, y1, x2, y2] screenshot px, ``image_size`` [w, h], ``meta``."""
    out = Rows([])
    for item in items:
        path = Path(str(item.get("image", "")))
        size = image_size(path) if path.name else None
        if size is None:
            out.skipped["missing_image"] += 1
            continue
        try:
            box = Box(**dict(zip(("x1", "y1", "x2", "y2"), (float(v) for v in item["box"]), strict=True)))
        except (KeyError, TypeError, ValueError):
            out.skipped["malformed_item"] += 1
            continue
        if why := check_box(box, size):
            out.skipped[why] += 1
            continue
        out.rows.append(Row(path, str(item.get("instruction", "")), box, size, dict(item.get("meta") or {})))
    return out


def from_hf(name: str, split: str) -> Rows:
    """A dataset folder (``datasets.load_from_disk``) or hub name, with ``image`` and
    ``instruction`` and either ScreenSpot's ``bbox`` [x, y, w, h] px or our export's ``box``
    [x1, y1, x2, y2] in the ``space`` it names."""
    try:
        import datasets
    except ImportError:
        raise CuaError("HF datasets need the `datasets` package (the train extra)") from None
    if Path(name).is_dir():
        loaded = datasets.load_from_disk(name)
        ds = loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
    else:
        ds = datasets.load_dataset(name, split=split)
    out = Rows([])
    feature = ds.features.get("image")
    if not isinstance(feature, datasets.Image):
        out.skipped["missing_image"] += len(ds)
        return out
    # Undecoded, the column holds the file bytes (or path): the size comes from the header,
    # and each row keeps an index, not pixels.
    raw = ds.cast_column("image", datasets.Image(decode=False))
    for i, item in enumerate(raw):
        size = _encoded_image_size(item.get("image"))
        if size is None:
            out.skipped["missing_image"] += 1
            continue
        box = _hf_box(item, size)
        if why := check_box(box, size):
            out.skipped[why] += 1
            continue
        assert box is not None
        out.rows.append(Row(DatasetImage(raw, "image", i, feature), str(item.get("instruction") or ""), box, size,
                            {"id": str(item.get("id") or f"{split}#{i}")}))
    return out


_TRANSPOSED = {5, 6, 7, 8}  # EXIF orientations that swap width and height (as exif_transpose applies them)


def _encoded_image_size(value: Any) -> tuple[int, int] | None:
    """(width, height) of an undecoded HF image ({"bytes", "path"}) from its header alone, as
    ``datasets.Image`` will decode it (EXIF orientation applied); None when unreadable."""
    if not isinstance(value, Mapping):
        return None
    source: Any = io.BytesIO(value["bytes"]) if value.get("bytes") else value.get("path")
    if not source:
        return None
    try:
        with Image.open(source) as im:
            w, h = im.size
            rotated = im.getexif().get(Image.ExifTags.Base.Orientation) in _TRANSPOSED
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return (h, w) if rotated else (w, h)


def _hf_box(item: Mapping[str, Any], size: tuple[int, int]) -> Box | None:
    try:
        if item.get("bbox") is not None:
            x, y, w, h = (float(v) for v in item["bbox"])
            return Box(x1=x, y1=y, x2=x + w, y2=y + h)
        if item.get("box") is None:
            return None
        x1, y1, x2, y2 = (float(v) for v in item["box"])
    except (TypeError, ValueError):
        return None
    space = {"rel_1000": ModelSpace.rel_1000, "rel_1": ModelSpace.rel_1}.get(str(item.get("space")))
    if space is not None:
        s = space()
    elif item.get("space") == "abs_resized":
        h, w = smart_resize(size[1], size[0], *_EXPORT_RESIZE)
        s = ModelSpace(kind="abs_resized", width=w, height=h)
    else:
        s = ModelSpace.screenshot(*size)
    sx, sy = size[0] / s.width, size[1] / s.height
    return Box(x1=x1 * sx, y1=y1 * sy, x2=x2 * sx, y2=y2 * sy)


def load_rows(fmt: str, source: str, split: str = "train", max_samples: int | None = None) -> Rows:
    if fmt == "screenspot":
        rows = from_screenspot(Path(source))
    elif fmt == "hf":
        rows = from_hf(source, split)
    else:
        raise CuaError(f"data format {fmt!r} needs rows from the cua layer (`cua train ...`)")
    return limit(rows, max_samples)


def limit(rows: Rows, max_samples: int | None) -> Rows:
    if max_samples is not None:
        rows.rows = rows.rows[:max_samples]
    return rows


def epoch_order(n: int, epoch: int, seed: int, shuffle: bool) -> list[int]:
    """The row order of one epoch: a fixed function of (seed, epoch), so a resumed run sees
    exactly the batches an uninterrupted one would."""
    order = list(range(n))
    if shuffle:
        random.Random(seed * 100_003 + epoch).shuffle(order)
    return order


def batches(n: int, batch_size: int, seed: int, shuffle: bool, start: int = 0) -> Iterator[tuple[int, list[int]]]:
    """Endless (global batch index, row indices) from batch ``start``; the last partial batch
    of an epoch is dropped when there is at least one full one."""
    per_epoch = max(n // batch_size, 1)
    index = start
    while True:
        epoch, k = divmod(index, per_epoch)
        order = epoch_order(n, epoch, seed, shuffle)
        yield index, order[k * batch_size:(k + 1) * batch_size]
        index += 1


def shard(items: Sequence[Any], rank: int, world: int) -> list[Any]:
    return list(items[rank::world])
