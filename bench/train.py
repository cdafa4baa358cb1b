"""Training throughput: SFT and GRPO samples per second, the size of a resumable checkpoint
(LoRA keeps the adapter only), and peak memory on CUDA.

    python bench/train.py                                   # tiny random-init Qwen2.5-VL on CPU
    python bench/train.py --device cuda --arch qwen2.5-vl-3b  # the real 3B architecture, random weights

Data: synthetic screenshots drawn here (a white page with labelled buttons, 1280x720 by default,
the target box known), written in the ScreenSpot layout, so the bench needs neither a browser nor
a hub. Prints a table and writes JSON with the device it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from grounding.train.checkpoints import latest, size_on_disk  # noqa: E402
from grounding.train.config import GRPOConfig, SFTConfig  # noqa: E402
from grounding.train.grpo import train_grpo  # noqa: E402
from grounding.train.metrics import read_metrics  # noqa: E402
from grounding.train.sft import train_sft  # noqa: E402


def make_data(root: Path, n: int, size: tuple[int, int]) -> Path:
    rng = random.Random(0)
    (root / "images").mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        im = Image.new("RGB", size, "white")
        d = ImageDraw.Draw(im)
        boxes = []
        for j in range(6):
            x, y = rng.randrange(0, size[0] - 120), rng.randrange(0, size[1] - 40)
            d.rectangle([x, y, x + 110, y + 32], outline="black", fill=(200, 220, 255))
            d.text((x + 8, y + 10), f"Button {j}", fill="black")
            boxes.append((j, x, y))
        j, x, y = boxes[rng.randrange(len(boxes))]
        im.save(root / "images" / f"{i}.png")
        items.append({"img_filename": f"images/{i}.png", "bbox": [x, y, 110, 32], "instruction": f"click Button {j}"})
    (root / "data.json").write_text(json.dumps(items))
    return root / "data.json"


def build_model(arch: str, out: Path) -> Path:
    tests = Path(__file__).resolve().parents[1] / "tests" / "grounding" / "tiny_models.py"
    import importlib.util

    spec = importlib.util.spec_from_file_location("tiny_models", tests)
    assert spec and spec.loader
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    if arch == "tiny":
        return tiny.build_tiny_qwen2_5_vl(out)
    if arch != "qwen2.5-vl-3b":
        raise SystemExit(f"unknown --arch {arch}; known: tiny, qwen2.5-vl-3b")
    # Qwen2.5-VL-3B-Instruct's published architecture (config.json), random weights, the bench tokenizer.
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tok = tiny.build_tokenizer()
    ids = tiny._token_ids(tok)
    config = Qwen2_5_VLConfig(
        text_config={"hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
                     "num_attention_heads": 16, "num_key_value_heads": 2, "max_position_embeddings": 128000,
                     "rope_theta": 1_000_000.0, "tie_word_embeddings": True,
                     "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, **ids.pop("text")},
        vision_config={"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                       "out_hidden_size": 2048, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31]}, **ids)
    with torch.device("cpu"):
        model = Qwen2_5_VLForConditionalGeneration(config).to(torch.bfloat16)
    return tiny._save(model, tok, Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=12_845_056),
                      tiny.QWEN25_TEMPLATE, out)


def run(kind: str, model: Path, data: Path, out: Path, args: argparse.Namespace) -> dict:
    common = {"output_dir": str(out), "model": {"path": str(model), "profile": "qwen2.5-vl", "finetune": args.finetune,
                                                "gradient_checkpointing": args.device == "cuda"},
              "data": {"train": str(data)}, "logging": {"progress": False},
              "optim": {"max_steps": args.steps, "batch_size": args.batch_size,
                        "mixed_precision": "bf16" if args.device == "cuda" else "no"},
              "checkpoint": {"every": max(1, args.steps - 1), "keep": 1}}  # one resumable checkpoint, measured
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if kind == "sft":
        train_sft(SFTConfig.model_validate(common))
        rate_key = "samples_per_s"
    else:
        train_grpo(GRPOConfig.model_validate({**common, "grpo": {
            "num_generations": args.generations, "max_new_tokens": 24, "micro_batch_size": args.generations,
            "rewards": [{"name": "format", "weight": 0.1}, {"name": "gaussian"}]}}))
        rate_key = "completions_per_s"
    steps = [m for m in read_metrics(out) if m["kind"] == "train"][1:] or \
        [m for m in read_metrics(out) if m["kind"] == "train"]  # the first step pays warm-up
    rate = sum(m[rate_key] for m in steps) / len(steps)
    row = {"method": kind, "finetune": args.finetune, "rate": round(rate, 3), "unit": rate_key,
           "step_s": round(sum(m["step_s"] for m in steps) / len(steps), 3)}
    checkpoint = latest(out)
    row["checkpoint_mb"] = round(size_on_disk(checkpoint) / 2**20, 2) if checkpoint else None
    if args.device == "cuda":
        row["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--arch", default="tiny", help="tiny or qwen2.5-vl-3b")
    p.add_argument("--finetune", choices=["full", "lora"], default="lora")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--image", default="1280x720", help="screenshot size WxH")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # accelerate places the model on the device we measure
    w, h = (int(v) for v in args.image.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = make_data(root / "data", max(8, args.batch_size * args.steps), (w, h))
        model = build_model(args.arch, root / "model")
        rows = [run(kind, model, data, root / kind, args) for kind in ("sft", "grpo")]
    device = torch.cuda.get_device_name(0) if args.device == "cuda" else f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    result = {"device": device, "arch": args.arch, "image": args.image, "batch_size": args.batch_size,
              "generations": args.generations, "torch": torch.__version__, "results": rows}
    table = Table(title=f"bench/train.py · {args.arch} · {device}")
    cols = ("method", "finetune", "rate", "unit", "step_s", "checkpoint_mb",
            *(["peak_memory_gib"] if args.device == "cuda" else []))
    for col in cols:
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in cols))
    Console().print(table)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
