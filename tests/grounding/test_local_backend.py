"""The local transformers backend end to end on tiny random-init Qwen2.5-VL and Qwen3-VL
checkpoints: prompt → generate → parse → mapped point. The weights are random, so these tests
check the plumbing, never the answers."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from cua.core import ActionParseError, CuaError, Grounding, ModelSpace, Point
from grounding.base import GROUNDERS
from grounding.model_grounder import ModelGrounder
from grounding.profiles import get_profile, read_point_text

if not os.environ.get("CI"):  # in CI the `models` extra is installed: a missing torch fails
    pytest.importorskip("torch")
    pytest.importorskip("transformers")


def screenshot(size: tuple[int, int] = (320, 200)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).rectangle((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill="navy")
    return image


@pytest.fixture(params=["qwen2.5", "qwen3"])
def tiny(request: pytest.FixtureRequest):
    """(chat model, the profile of its family)."""
    if request.param == "qwen2.5":
        return request.getfixturevalue("tiny_qwen25"), get_profile("qwen2.5-vl")
    return request.getfixturevalue("tiny_qwen3"), get_profile("qwen3-vl")


def test_ground_runs_prompt_generate_parse(tiny) -> None:
    model, profile = tiny
    image = screenshot()
    g = ModelGrounder(profile, model, max_new_tokens=8).ground(image, "click the Save button")
    messages, space = profile.build_messages(image, "click the Save button")
    continuation = model.chat(messages, max_new_tokens=8)
    assert isinstance(g, Grounding) and g.grounder == f"model:{profile.name}" and g.latency_s > 0
    assert g.raw_text == profile.prefill + continuation and g.model_space == space
    try:  # whatever the random model said, the grounder reads it the way the profile does
        expected = profile.parse(g.raw_text, space, image.size).point
    except ActionParseError:
        expected = None
    assert g.point == expected


def test_a_forced_answer_comes_back_mapped_to_the_screenshot(tiny) -> None:
    """The answer sits in the prefill, so the random continuation (one token) cannot spoil it:
    this checks the whole path to a mapped point."""
    model, family = tiny
    answer = "(154, 98)" if family.space == "abs_resized" else "(500, 250)"
    profile = dataclasses.replace(family, parser=read_point_text, prefill=answer)
    image = screenshot((333, 211))
    g = ModelGrounder(profile, model, max_new_tokens=1).ground(image, "the navy box")
    w, h = profile.resized_size(*image.size)
    if family.space == "abs_resized":
        expected = Point(x=154 * 333 / w, y=98 * 211 / h)
    else:
        expected = Point(x=500 / 1000 * 333, y=250 / 1000 * 211)
    assert g.point == expected and g.raw_text.startswith(answer)
    assert g.chain(image.size) is not None and g.chain(image.size).model_point == g.model_point


def test_output_without_coordinates_is_a_refusal(tiny_qwen25) -> None:
    # One generated token cannot spell "(x, y)": the byte-level pre-tokenizer never merges
    # digits with punctuation.
    g = ModelGrounder("uground", tiny_qwen25, max_new_tokens=1).ground(screenshot(), "the navy box")
    assert g.point is None and g.model_space == ModelSpace.rel_1000()
    messages, _ = get_profile("uground").build_messages(screenshot(), "the navy box")
    assert g.raw_text == tiny_qwen25.chat(messages, max_new_tokens=1)


@pytest.mark.parametrize("name,size", [
    ("qwen2.5-vl", (320, 200)), ("jedi", (333, 211)),
    ("ui-tars-1.5", (120, 90)),  # upscaled: UI-TARS' min_pixels is 100*28*28
    ("infigui-g1", (200, 420)), ("qwen3-vl", (320, 200)), ("qwen3-vl", (333, 211)),
])
def test_the_model_sees_exactly_the_size_the_prompt_names(name: str, size: tuple[int, int],
                                                          tiny_qwen25, tiny_qwen3) -> None:
    profile = get_profile(name)
    model = tiny_qwen3 if profile.arch == "qwen3_vl" else tiny_qwen25
    messages, _ = profile.build_messages(screenshot(size), "the navy box")
    inputs = model.encode([messages])
    w, h = profile.resized_size(*size)
    t, gh, gw = inputs["image_grid_thw"][0].tolist()
    assert (t, gw * model.patch_size, gh * model.patch_size) == (1, w, h)
    tokens = gh * gw // 4  # merge 2x2
    image_pad = model.processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((inputs["input_ids"] == image_pad).sum()) == tokens
    # Without mm_token_type_ids Qwen2.5-VL silently drops M-RoPE: it must mark every image token.
    assert int(inputs["mm_token_type_ids"].sum()) == tokens


def test_images_without_a_size_are_smart_resized_by_the_backend(tiny_qwen25) -> None:
    raw = [{"role": "user", "content": [{"type": "image", "image": screenshot((1000, 700))},
                                        {"type": "text", "text": "describe"}]}]
    inputs = tiny_qwen25.encode([raw])
    _, gh, gw = inputs["image_grid_thw"][0].tolist()
    assert gw * gh * 14 * 14 <= tiny_qwen25.max_pixels and (gw * 14, gh * 14) == (532, 364)
    bad = [{"role": "user", "content": [{"type": "image", "image": screenshot(), "resized_width": 300,
                                         "resized_height": 200}]}]
    with pytest.raises(CuaError, match="not a multiple of the model's 28-pixel grid"):
        tiny_qwen25.encode([bad])


def test_a_profile_for_another_patch_grid_is_refused(tiny_qwen25, tiny_qwen3) -> None:
    with pytest.raises(CuaError, match="profile qwen3-vl resizes for a 32-pixel grid .* 28-pixel cells"):
        ModelGrounder("qwen3-vl", tiny_qwen25)
    with pytest.raises(CuaError, match="profile jedi resizes for a 28-pixel grid"):
        ModelGrounder("jedi", tiny_qwen3)


def test_text_only_chat_and_prefill(tiny_qwen3) -> None:
    out = tiny_qwen3.chat([{"role": "user", "content": "hello"}, {"role": "assistant", "content": "(1"}],
                          max_new_tokens=3)
    assert isinstance(out, str) and not out.startswith("(1")  # only the continuation comes back


def test_batched_equals_single_under_greedy_decoding(tiny) -> None:
    model, profile = tiny
    grounder = ModelGrounder(profile, model, max_new_tokens=6)
    items = [(screenshot((320, 200)), "the navy box"), (screenshot((200, 300)), "click Save"),
             (screenshot((450, 250)), "the third link in the left-hand menu")]
    batched = grounder.ground_batch(items)
    single = [grounder.ground(image, text) for image, text in items]
    assert [g.raw_text for g in batched] == [g.raw_text for g in single]
    assert [g.point for g in batched] == [g.point for g in single]
    assert grounder.ground_batch([]) == []


def test_missing_local_path_names_the_path(tmp_path: Path) -> None:
    from grounding.backends.local import LocalChatModel

    for path in ("/no/such/checkpoint", "./no-such-dir", str(tmp_path / "gone")):
        with pytest.raises(CuaError, match=f"model path {path} does not exist"):
            LocalChatModel(path)
    with pytest.raises(CuaError, match="no config.json"):
        LocalChatModel(str(tmp_path))


def test_unreachable_hub_id_asks_for_a_local_path_or_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    from grounding.backends.local import LocalChatModel

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CuaError, match="'nobody/no-such-model' is not a local checkpoint.*local path.*network"):
        LocalChatModel("nobody/no-such-model")


def test_the_model_grounder_is_registered(tiny_qwen25_dir: Path) -> None:
    import grounding.model_grounder  # noqa: F401  (registers "model")

    g = GROUNDERS.make(f"model:profile=jedi,path={tiny_qwen25_dir},device=cpu,dtype=float32,attn=sdpa")
    assert isinstance(g, ModelGrounder) and g.name == "model:jedi"
    assert g.chat_model.name == str(tiny_qwen25_dir)
    with pytest.raises(CuaError, match="unknown option.*colour"):
        GROUNDERS.make(f"model:profile=jedi,path={tiny_qwen25_dir},colour=red")
    with pytest.raises(CuaError, match="unknown model backend 'carrier-pigeon'"):
        GROUNDERS.make(f"model:profile=jedi,path={tiny_qwen25_dir},backend=carrier-pigeon")
    with pytest.raises(CuaError, match="model path /no/ckpt does not exist"):
        GROUNDERS.make("model:profile=jedi,path=/no/ckpt")


def test_importing_the_grounder_loads_neither_torch_nor_transformers() -> None:
    code = ("import sys, grounding, grounding.model_grounder, grounding.profiles; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
