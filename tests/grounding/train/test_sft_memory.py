"""Memory stays bounded on large datasets: rows hold paths or dataset indices, never pixels; an
SFT example (its pixel tensor) lives only while its micro-batch does; the eval hook and GRPO
decode images batch by batch. Counted with weak references to every PIL image and every
example's pixel tensor, sampled at each decode, each encode and each step (gc first, so only
objects something still holds count). And the length filter's text-only token count equals
the real encoded length."""

from __future__ import annotations

import gc
import io
import json
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import grounding.evaluation
import grounding.train.examples
from cua.core import Box
from grounding.profiles import get_profile
from grounding.train.batches import encode_example, example_length
from grounding.train.config import GRPOConfig, SFTConfig
from grounding.train.data import DatasetImage, Row, from_hf
from grounding.train.metrics import read_metrics
from grounding.train.sft import train_sft

N_ROWS = 12
SIZE = (96, 72)


class Alive:
    """Objects still alive, by weak reference (PIL images are unhashable: no WeakSet)."""

    def __init__(self) -> None:
        self.refs: dict[int, weakref.ref[Any]] = {}

    def add(self, obj: Any) -> None:
        key = id(obj)
        self.refs[key] = weakref.ref(obj, lambda _, k=key: self.refs.pop(k, None))

    def __len__(self) -> int:
        return sum(r() is not None for r in self.refs.values())


class Census:
    """Weak references to every PIL image created and every example pixel tensor encoded, and
    the most of each alive at any sampled moment."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.images, self.pixels = Alive(), Alive()
        self.peak_images = self.peak_pixels = self.encoded = self.decoded = 0
        self.encoded_at_step: list[int] = []
        census = self
        original_init = Image.Image.__init__

        def init(image: Image.Image, *a: Any, **k: Any) -> None:
            original_init(image, *a, **k)
            census.images.add(image)

        monkeypatch.setattr(Image.Image, "__init__", init)
        original_load = Row.load_image

        def load_image(row: Row) -> Image.Image:
            image = original_load(row)
            census.decoded += 1
            census.sample()
            return image

        monkeypatch.setattr(Row, "load_image", load_image)
        original_encode = grounding.train.examples.encode_example

        def encode(*a: Any, **k: Any) -> Any:
            ex = original_encode(*a, **k)
            census.pixels.add(ex.prompt.inputs["pixel_values"])
            census.encoded += 1
            census.sample()
            return ex

        monkeypatch.setattr(grounding.train.examples, "encode_example", encode)
        original_open = grounding.evaluation._open_image

        def open_image(path: Path) -> Any:
            image = original_open(path)
            census.decoded += 1
            census.sample()
            return image

        monkeypatch.setattr(grounding.evaluation, "_open_image", open_image)

    def sample(self) -> None:
        gc.collect()
        self.peak_images = max(self.peak_images, len(self.images))
        self.peak_pixels = max(self.peak_pixels, len(self.pixels))

    def on_step(self, step: int, _: dict[str, Any]) -> None:
        self.sample()
        self.encoded_at_step.append(self.encoded)


def _png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", SIZE, (20 * i % 256, 255 - 20 * i % 256, 90)).save(buf, format="PNG")
    return buf.getvalue()


def _screenspot(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    items = []
    for i in range(N_ROWS):
        (root / "images" / f"{i}.png").write_bytes(_png(i))
        items.append({"img_filename": f"images/{i}.png", "bbox": [5 + i, 6, 30, 20], "instruction": f"button {i}",
                      "id": f"s{i}"})
    path = root / "data.json"
    path.write_text(json.dumps(items))
    return path


def _hf(root: Path, extra: list[dict[str, Any]] | None = None) -> Path:
    import datasets

    items = [{"image": {"bytes": _png(i), "path": None}, "instruction": f"button {i}", "bbox": [5 + i, 6, 30, 20]}
             for i in range(N_ROWS)] + (extra or [])
    features = datasets.Features({"image": datasets.Image(), "instruction": datasets.Value("string"),
                                  "bbox": datasets.Sequence(datasets.Value("float32"))})
    ds = datasets.Dataset.from_list(items, features=features)
    ds.save_to_disk(str(root / "hf"))
    return root / "hf"


@pytest.fixture
def census(monkeypatch: pytest.MonkeyPatch) -> Iterator[Census]:
    Image.init()  # every format plugin imported now: one keeps a module-level image
    gc.collect()
    yield Census(monkeypatch)


@pytest.mark.parametrize("source", ["screenspot", "hf"])
def test_sft_holds_one_micro_batch_of_images_at_a_time(tmp_path: Path, tiny_qwen25_dir: Path, census: Census,
                                                       source: str) -> None:
    eval_json = _screenspot(tmp_path / "shots")
    train = eval_json if source == "screenspot" else _hf(tmp_path)
    batch_size, accum, steps = 2, 2, 3  # 3 steps x 2 micro-batches x 2 rows: every row once
    cfg = SFTConfig.model_validate({
        "output_dir": str(tmp_path / "out"),
        "model": {"path": str(tiny_qwen25_dir), "profile": "qwen2.5-vl", "finetune": "lora"},
        "data": {"train": str(train), "format": source},
        "optim": {"lr": 1e-3, "max_steps": steps, "batch_size": batch_size, "grad_accum": accum},
        "eval": {"data": str(eval_json), "every": 2, "batch_size": 2, "max_new_tokens": 2},
        "logging": {"progress": False}, "max_length": 10_000})
    summary = train_sft(cfg, on_step=census.on_step)
    assert summary["steps"] == steps and summary["rows"] == N_ROWS
    per_step = batch_size * accum
    # Encoded as each micro-batch is built: nothing ahead, nothing kept for a later epoch.
    assert census.encoded_at_step == [per_step * k for k in range(1, steps + 1)]
    evals = [m for m in read_metrics(tmp_path / "out") if m["kind"] == "eval"]
    assert [e["samples"] for e in evals] == [N_ROWS, N_ROWS]  # every eval image was decoded, twice
    assert census.decoded == steps * per_step + 2 * N_ROWS  # training once each, eval at step 2 and the end
    print(f"{source}: peak live PIL images {census.peak_images}, example pixel tensors {census.peak_pixels} "
          f"over {census.decoded} decodes")
    # A whole dataset's worth would be N_ROWS; one micro-batch (or one eval batch) is the bound.
    assert census.peak_pixels <= batch_size
    assert census.peak_images <= 2 * batch_size


def test_hf_rows_hold_dataset_indices_and_read_sizes_from_headers(tmp_path: Path, census: Census) -> None:
    # A JPEG whose EXIF says "rotate 90": datasets decodes it transposed, and so must its size read.
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (80, 40), "white").save(buf, format="JPEG", exif=exif)
    rotated = {"image": {"bytes": buf.getvalue(), "path": None}, "instruction": "tall", "bbox": [1, 50, 10, 10]}
    broken = {"image": {"bytes": b"not an image", "path": None}, "instruction": "broken", "bbox": [1, 1, 2, 2]}
    rows = from_hf(str(_hf(tmp_path, [rotated, broken])), "train")
    census.sample()
    assert census.peak_images == 0  # listing the rows decoded no image
    assert len(rows.rows) == N_ROWS + 1 and rows.skipped == {"missing_image": 1}
    assert all(isinstance(r.image, DatasetImage) for r in rows.rows)
    assert [r.image_size for r in rows.rows] == [SIZE] * N_ROWS + [(40, 80)]  # box y2=60 fits only if rotated
    first = rows.rows[0].load_image()
    assert first.size == SIZE and first.getpixel((0, 0)) == (0, 255, 90)
    assert rows.rows[-1].load_image().size == (40, 80)


@pytest.mark.parametrize("model", ["qwen2.5-vl", "qwen3-vl"])
def test_text_only_length_equals_the_encoded_length(model: str, tiny_qwen25: Any, tiny_qwen3: Any) -> None:
    chat = tiny_qwen25 if model == "qwen2.5-vl" else tiny_qwen3
    profile = get_profile(model)
    sizes = [(64, 64), (96, 72), (333, 217), (700, 90), (30, 500), (1280, 800)]
    instructions = ["ok", "the Save button", "  spaces, ünïcode and 123 digits  "]
    for (w, h), instruction in zip(sizes, instructions * 2):
        row = Row(Image.new("RGB", (w, h), "gray"), instruction, Box(x1=1, y1=2, x2=w - 1, y2=h - 2), (w, h))
        assert example_length(chat, profile, row) == encode_example(chat, profile, row).length, (w, h, instruction)


def test_grpo_decodes_one_batch_of_images_at_a_time(tmp_path: Path, tiny_qwen25_dir: Path, census: Census) -> None:
    from grounding.train.grpo import train_grpo

    cfg = GRPOConfig.model_validate({
        "output_dir": str(tmp_path / "out"),
        "model": {"path": str(tiny_qwen25_dir), "profile": "qwen2.5-vl", "finetune": "lora"},
        "data": {"train": str(_hf(tmp_path)), "format": "hf"},
        "optim": {"lr": 1e-3, "max_steps": 3, "batch_size": 2},
        "grpo": {"num_generations": 2, "max_new_tokens": 3, "micro_batch_size": 4, "rewards": [{"name": "format"}]},
        "logging": {"progress": False}})
    summary = train_grpo(cfg, on_step=census.on_step)
    assert summary["steps"] == 3 and census.decoded == 6
    print(f"grpo: peak live PIL images {census.peak_images}")
    assert census.peak_images <= 2
