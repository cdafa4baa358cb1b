"""Small synthetic training data for the trainer tests (shared with tests/cua/test_train_cli.py)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

SCALE = 4


def require_chromium() -> None:
    if not shutil.which(os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")) and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (CI fails instead of skipping)")


def downscale_split(src: Path, dst: Path, scale: int = SCALE) -> Path:
    """A ScreenSpot-layout split with every image and box ``scale`` times smaller."""
    items = json.loads(next(src.glob("*.json")).read_text())
    (dst / "images").mkdir(parents=True, exist_ok=True)
    for item in items:
        with Image.open(src / item["img_filename"]) as im:
            im.resize((im.width // scale, im.height // scale), Image.Resampling.BICUBIC).save(dst / item["img_filename"])
        item["bbox"] = [v / scale for v in item["bbox"]]
        item["img_size"] = [v // scale for v in item["img_size"]]
    path = dst / f"{dst.name}.json"
    path.write_text(json.dumps(items))
    return path


def make_run(out: Path) -> Path:
    """A verified synthetic run of two easy templates (one seed each)."""
    require_chromium()
    from data_synth.pipeline import run

    report = run(out, ["shop-cart-easy", "settings-toggle-easy"], [1], workers=0, ablations=1, show_progress=False)
    assert report.verified == 2
    return out


def make_export(run_dir: Path, root: Path) -> dict[str, Path]:
    """{"train": json, "test": json} in the ScreenSpot layout, 4x smaller: train from one
    template, test from the other."""
    from data_synth.export import export_screenspot

    export_screenspot(run_dir, root / "full", heldout=0.0, heldout_templates=("settings-toggle",))
    return {split: downscale_split(root / "full" / "grounding" / split, root / "small" / split)
            for split in ("train", "test")}


def load_helper(name: str):
    """A module from tests/grounding by file name (importlib mode puts no test folder on sys.path)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_helper_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
