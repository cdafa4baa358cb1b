"""``cua train sft`` and ``cua train grpo`` end to end on CPU: a tiny local Qwen2.5-VL, a tiny
synthetic export, YAML configs in a temp folder; a config typo is one line naming the key."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

os.environ["HF_HUB_OFFLINE"] = "1"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_t_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GROUNDING_TESTS = Path(__file__).resolve().parents[1] / "grounding"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("torch")
    data = _load(GROUNDING_TESTS / "train" / "synth_data.py")
    tiny = _load(GROUNDING_TESTS / "tiny_models.py")
    root = tmp_path_factory.mktemp("train_cli")
    export = data.make_export(data.make_run(root / "run"), root / "export")
    return {"model": tiny.build_tiny_qwen2_5_vl(root / "tiny"), **export}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_sft_then_grpo_from_the_command_line(setup: dict[str, Path], tmp_path: Path) -> None:
    from cua.cli import app

    sft = _write(tmp_path / "sft.yaml", f"""
output_dir: {tmp_path / 'sft'}
model: {{path: {setup['model']}, profile: qwen2.5-vl, finetune: lora}}
data: {{train: {setup['train']}, max_samples: 4}}
optim: {{max_steps: 2, batch_size: 2, lr: 1.0e-3}}
eval: {{data: {setup['test']}, max_samples: 2, max_new_tokens: 8}}
logging: {{progress: false}}
""")
    result = CliRunner().invoke(app, ["train", "sft", "--config", str(sft)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "sft" / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["final_eval"]["samples"] == 2
    assert (tmp_path / "sft" / "final" / "config.json").exists()

    grpo = _write(tmp_path / "grpo.yaml", f"""
output_dir: {tmp_path / 'grpo'}
model: {{path: {tmp_path / 'sft' / 'final'}, profile: qwen2.5-vl, finetune: full}}
data: {{train: {setup['train']}, max_samples: 4}}
optim: {{max_steps: 2, batch_size: 2}}
grpo: {{num_generations: 2, max_new_tokens: 8, rewards: [{{name: format}}, {{name: gaussian}}]}}
logging: {{progress: false}}
""")
    result = CliRunner().invoke(app, ["train", "grpo", "--config", str(grpo)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in (tmp_path / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines if m["kind"] == "train"] == [1, 2]
    assert {"reward/format", "reward/gaussian", "clip_fraction", "kl"} <= set(lines[0])


def test_unknown_key_is_one_error_line(tmp_path: Path) -> None:
    from cua.cli import app

    bad = _write(tmp_path / "bad.yaml", "output_dir: o\nmodel: {path: m, profile: jedi}\ndata: {train: d}\n"
                 "grpo: {num_generations: 4, temprature: 0.7}\n")
    result = CliRunner().invoke(app, ["train", "grpo", "--config", str(bad)])
    assert result.exit_code == 2
    assert "unknown key 'grpo.temprature'" in result.output and "bad.yaml" in result.output


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "configs" / "train").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_configs_validate(path: Path) -> None:
    from grounding.train.config import GRPOConfig, SFTConfig, load_config

    kind = SFTConfig if path.name.startswith("sft_") else GRPOConfig
    cfg = load_config(path, kind)
    if path.name.endswith("_vllm.yaml"):
        assert cfg.generation.backend == "vllm_server"  # type: ignore[attr-defined]
