"""Exports of a small verified run: ScreenSpot layout, HF dataset in Qwen chat format,
multi-turn trajectories, RL specs; all deterministic and split by task id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from cua.core import Box, ModelSpace, Point
from cua.core.codecs import parse
from data_synth.env import make_task
from data_synth.export import export_hf_grounding, export_rl, export_screenspot, export_trajectories
from data_synth.export.grounding import QWEN3_VL, QWEN25_VL, chat_sample
from data_synth.pipeline import run
from data_synth.validators import Validator
from grounding.benchmarks import read_screenspot_json

from .conftest import require_chromium

HELD_OUT = ("auth-reset",)  # a whole template only in the test split


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_chromium()
    out = tmp_path_factory.mktemp("run")
    report = run(out, ["shop-cart-easy", "auth-reset-easy"], [1], workers=0, ablations=1, show_progress=False)
    assert report.verified == 2
    return out


def test_screenspot_layout_is_valid(run_dir: Path, tmp_path: Path) -> None:
    manifest = export_screenspot(run_dir, tmp_path, heldout=0.0, heldout_templates=HELD_OUT)
    assert manifest["tasks_per_split"] == {"test": 1, "train": 1}
    for split in ("train", "test"):
        path = tmp_path / "grounding" / split / f"synthetic_{split}.json"
        items = json.loads(path.read_text())
        assert isinstance(items, list) and items
        for item in items:
            assert {"img_filename", "bbox", "instruction", "data_type", "data_source"} <= set(item)
            assert item["data_type"] in ("text", "icon") and item["instruction"].strip()
            x, y, w, h = item["bbox"]
            with Image.open(path.parent / item["img_filename"]) as im:
                assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= im.width and y + h <= im.height
                assert list(im.size) == item["img_size"]
        assert len({i["id"] for i in items}) == len(items)
        assert {i["perspective"] for i in items} >= {"text", "function", "intent", "position"}
        bench = read_screenspot_json(path)  # the project's own reader takes it as a benchmark
        assert len(bench.samples) == len(items) and not bench.skipped
    assert manifest["samples_per_split"]["train"] == len(json.loads(
        (tmp_path / "grounding" / "train" / "synthetic_train.json").read_text()))
    again = tmp_path / "again"
    export_screenspot(run_dir, again, heldout=0.0, heldout_templates=HELD_OUT)
    assert (again / "grounding/train/synthetic_train.json").read_bytes() == \
        (tmp_path / "grounding/train/synthetic_train.json").read_bytes()


def test_chat_sample_points_in_each_space() -> None:
    box = Box(x1=100, y1=50, x2=300, y2=90)
    s25 = chat_sample((1280, 720), "the Save button", box, QWEN25_VL)
    space = ModelSpace.abs_resized(1280, 720, 28, 56 * 56, 12_845_056)
    assert s25["point"] == [round(200 * space.width / 1280), round(70 * space.height / 720)]
    s3 = chat_sample((1280, 720), "the Save button", box, QWEN3_VL)
    assert s3["point"] == [156, 97] and s3["box"] == [78, 69, 234, 125]
    assert '"coordinate": [156, 97]' in s3["messages"][-1]["content"][0]["text"]


def test_hf_dataset_loads_and_renders_in_a_qwen_chat_template(run_dir: Path, tmp_path: Path) -> None:
    import datasets  # the `data` extra: installed by `make test`, so a missing one fails
    path = export_hf_grounding(run_dir, tmp_path, QWEN3_VL, heldout=0.0, heldout_templates=HELD_OUT)
    ds = datasets.load_from_disk(str(path))
    assert set(ds) == {"train", "test"}
    row = ds["train"][0]
    assert isinstance(row["image"], Image.Image) and row["image"].size == (row["width"], row["height"])
    x1, y1, x2, y2 = row["box"]
    assert x1 <= row["point"][0] <= x2 and y1 <= row["point"][1] <= y2
    prompt = _qwen_tokenizer().apply_chat_template(row["messages"], tokenize=False)
    assert "<|vision_start|><|image_pad|><|vision_end|>" + row["instruction"] in prompt
    assert f'"coordinate": [{round(row["point"][0])}, {round(row["point"][1])}]' in prompt
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.")


def _qwen_tokenizer():
    """A tiny local tokenizer carrying Qwen2-VL's chat template (nothing from a hub)."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    template = (
        "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
        "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
        "{% else %}{% for content in message['content'] %}"
        "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
        "<|vision_start|><|image_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
        "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")),
                                  unk_token="<unk>")
    tok.chat_template = template
    return tok


def test_trajectories_are_multi_turn_in_the_chosen_codec(run_dir: Path, tmp_path: Path) -> None:
    manifest = export_trajectories(run_dir, tmp_path, codec="computer_use", space=lambda w, h: ModelSpace.rel_1000(),
                                   heldout=0.0, heldout_templates=HELD_OUT)
    assert manifest["tasks"] == 2
    lines = [json.loads(line) for split in ("train", "test")
             for line in (tmp_path / "trajectories" / f"{split}.jsonl").read_text().splitlines()]
    for conv in lines:
        roles = [m["role"] for m in conv["messages"]]
        assert roles[0] == "system" and roles[1::2] == ["user"] * (len(roles) // 2)
        assert sum(m["content"].count("<image>") for m in conv["messages"]) == len(conv["images"])
        assert all((tmp_path / "trajectories" / p).exists() for p in conv["images"])
        task = json.loads((run_dir / "tasks" / conv["id"] / "task.json").read_text())
        clicks = [g for g in task["grounded_plan"] if g["action"]["type"] == "click"]
        said = [parse(m["content"], "computer_use").actions[0] for m in conv["messages"] if m["role"] == "assistant"]
        assert said[-1].type == "done"
        for g, a in zip(clicks, [a for a in said if a.type == "click"]):
            w, h = Image.open(run_dir / "tasks" / conv["id"] / "episode" / g["screenshot"]).size
            p = ModelSpace.rel_1000().to_screenshot(Point(x=a.x, y=a.y), w, h)
            box = Box(**g["box"])
            assert box.x1 - 2 <= p.x <= box.x2 + 2 and box.y1 - 2 <= p.y <= box.y2 + 2


def test_rl_specs_reset_to_the_same_task_with_the_validator_as_reward(run_dir: Path, tmp_path: Path, env) -> None:
    export_rl(run_dir, tmp_path, heldout=0.0, heldout_templates=HELD_OUT)
    spec = json.loads((tmp_path / "rl" / "train.jsonl").read_text().splitlines()[0])
    reward = Validator.model_validate(spec["reward"])
    task = make_task(spec["name"])
    assert task.id == spec["task_id"] and task.config["synth"].validator == reward
    env.reset(task)
    assert reward(env.page) == 0.0


def test_export_command_writes_every_kind(run_dir: Path, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from data_synth.commands import select_names, synth_export_command

    app = typer.Typer()
    app.command()(synth_export_command)
    result = CliRunner().invoke(app, ["--run", str(run_dir), "--out", str(tmp_path), "--what", "grounding,trajectories,rl",
                                      "--codec", "uitars", "--space", "rel_1000", "--heldout-templates", "auth-reset"])
    assert result.exit_code == 0, result.output
    for part in ("grounding/manifest.json", "trajectories/train.jsonl", "rl/test.jsonl"):
        assert (tmp_path / part).exists()
    assert select_names("easy", "shop,mail-archive") == ["mail-archive-easy", "shop-cart-easy"]
