"""SFT on a tiny random-init Qwen-VL and a small synthetic export: the loss falls, full and LoRA
models save and reload through the runtime's grounding backend, a killed run resumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from cua.core import CuaError
from grounding.train.config import SFTConfig, load_config
from grounding.train.data import from_screenspot
from grounding.train.metrics import read_metrics
from grounding.train.sft import train_sft


def _cfg(out: Path, ckpt: Path, export: dict[str, Path], **over: Any) -> SFTConfig:
    data: dict[str, Any] = {
        "output_dir": str(out),
        "model": {"path": str(ckpt), "profile": "qwen2.5-vl", "finetune": "full"},
        "data": {"train": str(export["train"]), "max_samples": 4},
        "optim": {"lr": 5e-3, "max_steps": 2, "batch_size": 2, "scheduler": "constant"},
        "logging": {"progress": False},
    }
    for key, value in over.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return SFTConfig.model_validate(data)


def test_loss_falls_when_overfitting_four_samples(tmp_path: Path, tiny_qwen25_dir: Path,
                                                  small_export: dict[str, Path]) -> None:
    cfg = _cfg(tmp_path, tiny_qwen25_dir, small_export, optim={"max_steps": 12, "batch_size": 4, "lr": 1e-2},
               eval={"data": str(small_export["test"]), "every": 6, "max_samples": 2, "max_new_tokens": 8})
    summary = train_sft(cfg)
    train = [m for m in read_metrics(tmp_path) if m["kind"] == "train"]
    losses = [m["loss"] for m in train]
    assert len(losses) == 12 and summary["steps"] == 12
    assert losses[-1] < 0.6 * losses[0], losses
    evals = [m for m in read_metrics(tmp_path) if m["kind"] == "eval"]
    assert [e["step"] for e in evals] == [6, 12]  # every 6 steps and at the end
    assert all(e["samples"] == 2 and 0 <= e["accuracy"] <= 1 for e in evals)
    assert (tmp_path / "eval" / "step_0000012" / "samples.jsonl").exists()  # ground-eval's own records


@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_saved_model_reloads_through_the_grounding_backend(tmp_path: Path, tiny_qwen25_dir: Path,
                                                           small_export: dict[str, Path], finetune: str) -> None:
    from grounding.backends.local import LocalChatModel
    from grounding.model_grounder import ModelGrounder

    summary = train_sft(_cfg(tmp_path, tiny_qwen25_dir, small_export, model={"finetune": finetune},
                             optim={"lr": 1e-2}))
    final = Path(summary["model_dir"])
    assert final == tmp_path / "final"
    chat = LocalChatModel(str(final))
    grounder = ModelGrounder("qwen2.5-vl", chat, max_new_tokens=8)
    first = json.loads(small_export["test"].read_text())[0]
    with Image.open(small_export["test"].parent / first["img_filename"]) as im:
        g = grounder.ground(im.convert("RGB"), "the Save button")
    assert g.raw_text.startswith(grounder.profile.prefill) and g.grounder == "model:qwen2.5-vl"
    base = LocalChatModel(str(tiny_qwen25_dir))
    trained = dict(chat.model.named_parameters())
    changed = [n for n, p in base.model.named_parameters() if not torch.equal(p, trained[n])]
    assert changed and not any(".visual." in f".{n}" for n in changed)  # the vision tower stayed frozen
    if finetune == "lora":
        from peft import PeftModel

        assert (tmp_path / "final" / "adapter" / "adapter_config.json").exists()
        adapted = PeftModel.from_pretrained(base.model, str(tmp_path / "final" / "adapter"))
        inputs = chat.encode([grounder.profile.build_messages(Image.new("RGB", (300, 200), "white"), "ok")[0]])
        with torch.no_grad():
            a = adapted(**inputs).logits
            b = chat.model(**inputs).logits
        assert torch.allclose(a, b, atol=1e-4)  # the adapter on the base is the merged model


@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path: Path, tiny_qwen25_dir: Path,
                                                     small_export: dict[str, Path], finetune: str) -> None:
    over = {"optim": {"max_steps": 4, "batch_size": 2, "lr": 1e-2}, "data": {"max_samples": 6},
            "checkpoint": {"every": 2, "keep": 1}, "model": {"finetune": finetune}}
    straight = train_sft(_cfg(tmp_path / "straight", tiny_qwen25_dir, small_export, **over))

    def kill_at_3(step: int, _: dict[str, Any]) -> None:
        if step == 3:
            raise KeyboardInterrupt

    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        train_sft(_cfg(cut, tiny_qwen25_dir, small_export, **over), on_step=kill_at_3)
    assert [p.name for p in (cut / "checkpoints").iterdir()] == ["step_0000002"]
    assert (cut / "checkpoints" / "step_0000002" / "trainable_only.json").exists() == (finetune == "lora")
    resumed = train_sft(_cfg(cut, tiny_qwen25_dir, small_export, **{**over, "checkpoint": {"every": 2, "resume": True}}))
    assert resumed["steps"] == 4 and resumed["resumed_from"].endswith("step_0000002")
    steps = [m["step"] for m in read_metrics(cut) if m["kind"] == "train"]
    assert steps == [1, 2, 3, 3, 4]  # step 3 ran twice: once before the kill, once after resuming
    from safetensors.torch import load_file

    a = load_file(str(tmp_path / "straight" / "final" / "model.safetensors"))
    b = load_file(str(cut / "final" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert straight["samples_seen"] == resumed["samples_seen"] == 8


def test_lora_checkpoint_holds_the_adapter_not_the_base(tmp_path: Path, tiny_qwen25_dir: Path,
                                                         small_export: dict[str, Path]) -> None:
    from safetensors.torch import load_file

    from grounding.train.checkpoints import size_on_disk

    over = {"optim": {"max_steps": 2, "batch_size": 1}, "data": {"max_samples": 2},
            "checkpoint": {"every": 1}, "lora": {"r": 2, "alpha": 4}, "eval": {}}
    sizes, keys = {}, {}
    for finetune in ("full", "lora"):
        train_sft(_cfg(tmp_path / finetune, tiny_qwen25_dir, small_export, **over, model={"finetune": finetune}))
        step = tmp_path / finetune / "checkpoints" / "step_0000001"
        sizes[finetune] = size_on_disk(step)
        keys[finetune] = set(load_file(str(step / "model.safetensors")))
    # Bytes on disk: the full checkpoint holds every weight and its two Adam moments, the LoRA one
    # the r=2 adapter and its moments.
    print(f"checkpoint bytes: {sizes}")
    assert sizes["lora"] < 0.1 * sizes["full"], sizes
    assert keys["lora"] and all(".lora_A." in k or ".lora_B." in k for k in keys["lora"])
    base_bytes = size_on_disk(tiny_qwen25_dir / "model.safetensors")
    assert size_on_disk(tmp_path / "lora" / "checkpoints" / "step_0000001" / "model.safetensors") < 0.1 * base_bytes


def test_qwen3_vl_trains_in_its_own_space(tmp_path: Path, tiny_qwen3_dir: Path,
                                          small_export: dict[str, Path]) -> None:
    summary = train_sft(_cfg(tmp_path, tiny_qwen3_dir, small_export, model={"profile": "qwen3-vl"}))
    assert summary["steps"] == 2 and summary["profile"] == "qwen3-vl"


def test_wrong_profile_for_the_model_is_an_error(tmp_path: Path, tiny_qwen3_dir: Path,
                                                 small_export: dict[str, Path]) -> None:
    with pytest.raises(CuaError, match="28-pixel grid"):
        train_sft(_cfg(tmp_path, tiny_qwen3_dir, small_export))


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    Image.new("RGB", (100, 80), "white").save(tmp_path / "images" / "a.png")
    items = [
        {"img_filename": "images/a.png", "bbox": [10, 10, 20, 20], "instruction": "ok"},
        {"img_filename": "images/missing.png", "bbox": [10, 10, 20, 20], "instruction": "no image"},
        {"img_filename": "images/a.png", "bbox": [90, 70, 30, 30], "instruction": "box outside"},
        {"img_filename": "images/a.png", "bbox": None, "instruction": "refusal"},
        {"img_filename": "images/a.png", "bbox": "nonsense", "instruction": "malformed"},
    ]
    (tmp_path / "data.json").write_text(json.dumps(items))
    rows = from_screenspot(tmp_path / "data.json")
    assert [r.instruction for r in rows.rows] == ["ok"]
    assert rows.skipped == {"missing_image": 1, "box_outside_image": 1, "no_box": 1, "malformed_item": 1}


def test_unknown_config_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "sft.yaml"
    path.write_text("output_dir: out\nmodel: {path: m, profile: jedi}\ndata: {train: d}\noptim: {lrr: 0.1}\n")
    with pytest.raises(CuaError, match=r"unknown key 'optim.lrr'") as e:
        load_config(path, SFTConfig)
    assert str(path) in str(e.value)
    as_json = tmp_path / "sft.json"
    as_json.write_text('{"output_dir": "out", "model": {"path": "m", "profile": "jedi"}, "data": {"train": "d"}}')
    cfg = load_config(as_json, SFTConfig)
    assert cfg.learning_rate("sft") == 2e-4 and cfg.learning_rate("grpo") == 1e-5  # LoRA recipe defaults


def test_full_finetune_holds_fp32_weights_so_small_steps_are_not_rounded_away(
        tmp_path: Path, tiny_qwen25_dir: Path, small_export: dict[str, Path]) -> None:
    """AdamW steps the weights in place: in bf16 a step of lr ~1e-6 on a weight ~0.02 rounds
    away. Full fine-tuning holds fp32 weights (bf16 compute via optim.mixed_precision) and
    refuses bf16 weights where nothing keeps fp32 master copies. (Mixed precision itself is not
    switched on here: accelerate fixes it once per process.)"""
    from safetensors.torch import load_file

    from grounding.train.config import ModelSection
    from grounding.train.modeling import weights_dtype

    cuda = torch.device("cuda")  # only a name here: which dtype a GPU run would load
    full = ModelSection(path="m", profile="qwen2.5-vl", finetune="full")
    assert weights_dtype(full, cuda) == torch.float32
    assert weights_dtype(full, cuda, fp32_masters=True) == torch.bfloat16  # DeepSpeed keeps the masters
    assert weights_dtype(ModelSection(path="m", profile="qwen2.5-vl", finetune="lora"), cuda) == torch.bfloat16
    with pytest.raises(CuaError, match="round every optimizer step away"):
        train_sft(_cfg(tmp_path / "bf16", tiny_qwen25_dir, small_export, model={"dtype": "bfloat16"}))

    summary = train_sft(_cfg(tmp_path / "mixed", tiny_qwen25_dir, small_export,
                             optim={"lr": 1e-6, "max_steps": 1}))
    base = load_file(str(tiny_qwen25_dir / "model.safetensors"))
    final = load_file(str(Path(summary["model_dir"]) / "model.safetensors"))
    name = next(k for k in final if k.endswith("layers.0.mlp.down_proj.weight") and ".visual." not in f".{k}")
    assert final[name].dtype == torch.float32
    changed = (final[name] != base[name].float()).float().mean().item()
    assert changed > 0.9, changed  # one step of lr 1e-6 moved (nearly) every element


def test_a_micro_batch_whose_rows_are_all_too_long_still_steps(tmp_path: Path, tiny_qwen25: Any,
                                                                tiny_qwen25_dir: Path) -> None:
    """Row 0 is longer than max_length: the first micro-batch of step 1 has nothing to train on,
    yet it still makes its (zero-loss) backward pass, so accumulation stays in phase: both
    steps update the weights and log a gradient norm."""
    from cua.core import Box
    from grounding.profiles import get_profile
    from grounding.train.batches import encode_example
    from grounding.train.data import Row, Rows

    def row(size: tuple[int, int]) -> Row:
        return Row(Image.new("RGB", size, "white"), "the Save button", Box(x1=5, y1=5, x2=30, y2=20), size)

    rows = Rows([row((448, 448)), row((64, 64)), row((64, 64)), row((70, 64))])
    lengths = [encode_example(tiny_qwen25, get_profile("qwen2.5-vl"), r).length for r in rows.rows]
    assert lengths[0] > max(lengths[1:]) + 2
    cfg = _cfg(tmp_path, tiny_qwen25_dir, {"train": tmp_path / "unused.json"},
               optim={"batch_size": 1, "grad_accum": 2, "max_steps": 2, "lr": 1e-2},
               data={"shuffle": False}, max_length=(lengths[0] + max(lengths[1:])) // 2)
    summary = train_sft(cfg, rows=rows)
    assert summary["steps"] == 2 and summary["skipped"] == {"longer_than_max_length": 1}
    train = [m for m in read_metrics(tmp_path) if m["kind"] == "train"]
    assert [m["step"] for m in train] == [1, 2]
    assert all(m["grad_norm"] > 0 and m["loss"] == m["loss"] for m in train)  # finite loss, a real step
    assert summary["samples_seen"] == 3  # the skipped row is not counted as seen
