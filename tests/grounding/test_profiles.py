"""Profiles: prompts carry the resized size, every family's real output format parses, malformed
answers fail clearly, and model-space points map back onto the screenshot within the model's
own resolution."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cua.core import (
    ActionParseError,
    CuaError,
    Grounding,
    ModelSpace,
    Point,
    smart_resize,
)
from cua.core.codecs import MAX_TEXT_CHARS
from grounding.profiles import PROFILES, Profile, get_profile, read_point_text

NAMES = {p.name for p in PROFILES}
TOOL = '<tool_call>\n{{"name": "{fn}", "arguments": {{"action": "{action}", "coordinate": [{x}, {y}]}}}}\n</tool_call>'


def answer(p: Profile, x: float, y: float) -> str:
    """What the model writes for (x, y) in its own space, after the profile's prefill."""
    return {
        "qwen2.5-vl": f"{x}, {y}]}}}}\n</tool_call>",
        "ui-ins": f"{x}, {y}]}}}}\n</tool_call>",
        "qwen3-vl": TOOL.format(fn="computer_use", action="left_click", x=x, y=y),
        "jedi": TOOL.format(fn="computer_use", action="left_click", x=x, y=y),
        "ui-tars-1.5": f"Action: click(start_box='({x},{y})')",
        "gta1": f"({x},{y})",
        "gta1-opencua": f"pyautogui.click(x={x}, y={y})",
        "uground": f"({x}, {y})",
        "os-atlas": f"<|object_ref_start|>it<|object_ref_end|><|box_start|>({x},{y}),({x},{y})<|box_end|>",
        "infigui-g1": f'<think>The target sits there.</think>\n[{{"point_2d": [{x}, {y}]}}]',
    }[p.name]


def space_for(p: Profile, width: int, height: int) -> ModelSpace:
    return p.model_space(*p.resized_size(width, height))


def test_the_required_families_are_in_the_table() -> None:
    assert {"qwen2.5-vl", "qwen3-vl", "jedi", "ui-ins", "ui-tars-1.5", "gta1", "uground", "os-atlas",
            "infigui-g1"} <= NAMES
    for p in PROFILES:
        assert p.source and all(s.source and s.value > 0 for s in p.scores)
        answer(p, 1, 2)  # every profile has a real-format answer in these tests


@pytest.mark.parametrize("key,name", [
    ("jedi", "jedi"), ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen2.5-vl"), ("QWEN3-VL", "qwen3-vl"),
    ("/models/Jedi-7B-1080p/", "jedi"), ("osunlp/UGround-V1-7B", "uground"), ("uitars", "ui-tars-1.5"),
])
def test_lookup_by_name_alias_hub_id_or_path(key: str, name: str) -> None:
    assert get_profile(key).name == name


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(CuaError, match="unknown grounding profile 'gpt-9'.*qwen2.5-vl"):
        get_profile("gpt-9")


# ---- prompts ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(NAMES))
@pytest.mark.parametrize("size", [(1280, 800), (390, 844), (3840, 2160)])
def test_prompt_shows_the_resized_image_and_names_its_size(name: str, size: tuple[int, int]) -> None:
    p = get_profile(name)
    instruction = 'the "Save" button, not {width} or {"a": 1}'
    messages, space = p.build_messages(Image.new("RGB", size, "white"), instruction)
    w, h = p.resized_size(*size)
    assert (h, w) == smart_resize(size[1], size[0], p.resize.factor, p.resize.min_pixels, p.resize.max_pixels)
    assert w % p.resize.factor == 0 and h % p.resize.factor == 0
    image_parts = [c for m in messages for c in m["content"] if c["type"] == "image"]
    assert len(image_parts) == 1 and image_parts[0]["image"].size == (w, h)
    assert (image_parts[0]["resized_width"], image_parts[0]["resized_height"]) == (w, h)
    user = messages[-2 if p.prefill else -1]
    assert user["role"] == "user" and user["content"][0]["type"] == "image"  # image, then text
    assert instruction in user["content"][1]["text"]
    texts = [c["text"] for m in messages for c in m["content"] if c["type"] == "text"]
    templates = [*p.system, p.user]
    if any("{width}" in t for t in templates):
        joined = "\n".join(texts)
        assert f"{w}x{h}" in joined or f"height {h} and width {w}" in joined
    assert not any(marker in t.replace(instruction, "") for t in texts
                   for marker in ("{width}", "{height}", "{instruction}"))
    if p.prefill:
        assert messages[-1] == {"role": "assistant", "content": [{"type": "text", "text": p.prefill}]}
    expected = {"abs_resized": (w, h), "rel_1000": (1000, 1000), "rel_1": (1, 1)}[p.space]
    assert (space.kind, space.width, space.height) == (p.space, *expected)


def test_the_exact_qwen25_tool_prompt() -> None:
    messages, _ = get_profile("qwen2.5-vl").build_messages(Image.new("RGB", (1280, 800)), "Save")
    system = "".join(c["text"] for c in messages[0]["content"])
    assert system.startswith("You are a helpful assistant.\n\n\n# Tools\n\nYou may call one or more functions")
    assert "* The screen's resolution is 1288x812.\\n* Whenever you intend" in system
    assert system.endswith('<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>')
    assert messages[-1]["content"][0]["text"].endswith('"coordinate": [')


def test_qwen3_speaks_0_to_1000_and_says_so() -> None:
    messages, space = get_profile("qwen3-vl").build_messages(Image.new("RGB", (1920, 1080)), "Save")
    assert "* The screen's resolution is 1000x1000." in messages[0]["content"][1]["text"]
    assert messages[1]["content"][0]["image"].size == (1920, 1088)  # factor 32
    assert space == ModelSpace.rel_1000()


def test_screenshots_that_cannot_be_resized_are_clear_errors() -> None:
    with pytest.raises(CuaError, match="cannot resize a 5000x10 screenshot"):
        get_profile("jedi").build_messages(Image.new("RGB", (5000, 10)), "x")


# ---- parsing real outputs -----------------------------------------------------------------

SHOT = (1280, 800)


def parsed(name: str, reply: str) -> Grounding:
    p = get_profile(name)
    return p.parse(p.prefill + reply, space_for(p, *SHOT), SHOT)


@pytest.mark.parametrize("name,reply,model_point", [
    ("qwen2.5-vl", "644, 406]}}\n</tool_call>", (644, 406)),
    ("qwen2.5-vl", "600, 400, 688, 412]}}\n</tool_call>", (644, 406)),  # a box: its centre
    ("jedi", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [644, 406]}}\n</tool_call>', (644, 406)),
    ("ui-ins", "644, 406]}}\n</tool_call>", (644, 406)),
    ("qwen3-vl", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 500]}}\n</tool_call>', (500, 500)),
    ("ui-tars-1.5", "Action: click(start_box='(644,406)')", (644, 406)),
    ("ui-tars-1.5", "Thought: The Save button.\nAction: click(start_box='<|box_start|>(644,406)<|box_end|>')", (644, 406)),
    ("ui-tars-1.5", "Action: click(point='<point>644 406</point>')", (644, 406)),
    ("gta1", "(644,406)", (644, 406)),
    ("gta1-opencua", "pyautogui.click(x=644, y=406)", (644, 406)),
    ("uground", "(500, 500)", (500, 500)),
    ("uground", " [500, 500] ", (500, 500)),
    ("uground", "500, 500", (500, 500)),
    ("os-atlas", "<|object_ref_start|>Save 2<|object_ref_end|><|box_start|>(450,480),(550,520)<|box_end|>", (500, 500)),
    ("os-atlas", "(450,480),(550,520)", (500, 500)),  # box tokens stripped by a decoder
    ("infigui-g1", '<think>Save is [top] right (2 buttons).</think>\n[{"point_2d": [644, 406]}]', (644, 406)),
])
def test_real_output_formats_land_in_the_middle_of_the_screen(name: str, reply: str, model_point: tuple) -> None:
    g = parsed(name, reply)
    assert g.model_point == Point(x=model_point[0], y=model_point[1])
    assert g.point is not None and math.isclose(g.point.x, 640, abs_tol=1.1) and math.isclose(g.point.y, 400, abs_tol=1.1)
    assert g.raw_text == get_profile(name).prefill + reply and g.model_space == space_for(get_profile(name), *SHOT)


def test_the_ui_ins_thinking_format_without_prefill() -> None:
    p = dataclasses.replace(get_profile("ui-ins"), prefill="")
    text = ('<think>\nThe instruction asks for Save; it is the floppy icon.\n</think>\n<tool_call>\n'
            '{"name": "grounding", "arguments": {"action": "click", "coordinate": [644, 406]}}\n</tool_call>')
    assert p.parse(text, space_for(p, *SHOT), SHOT).model_point == Point(x=644, y=406)


def test_os_atlas_keeps_the_box_in_screenshot_pixels() -> None:
    g = parsed("os-atlas", "<|box_start|>(100,200),(300,400)<|box_end|>")
    assert g.box is not None and (g.box.x1, g.box.y1, g.box.x2, g.box.y2) == (128, 160, 384, 320)
    assert g.point == Point(x=256, y=240)


def test_infigui_keeps_the_other_candidates() -> None:
    g = parsed("infigui-g1", '<think>two look alike</think>[{"point_2d": [322, 203]}, {"point_2d": [966, 609]}]')
    w, h = get_profile("infigui-g1").resized_size(*SHOT)
    assert g.point == Point(x=322 * 1280 / w, y=203 * 800 / h)
    assert g.candidates == [Point(x=966 * 1280 / w, y=609 * 800 / h)]


@pytest.mark.parametrize("name,reply", [
    ("qwen3-vl", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "failure"}}\n</tool_call>'),
    ("jedi", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 2}}\n</tool_call>'),
    ("ui-tars-1.5", "Action: finished(content='There is no Save button.')"),
    ("gta1-opencua", "FAIL"),
    ("infigui-g1", "<think>Nothing like that here.</think>\n[]"),
    ("uground", "(-1, -1)"),  # all-negative: the OSWorld-G refusal
    ("qwen2.5-vl", "-1, -1]}}\n</tool_call>"),
])
def test_answers_without_a_point_are_refusals_that_keep_the_text(name: str, reply: str) -> None:
    g = parsed(name, reply)
    assert g.point is None and g.raw_text == get_profile(name).prefill + reply


@pytest.mark.parametrize("name", sorted(NAMES))
@pytest.mark.parametrize("reply", ["", "I cannot find it.", "The button is near the top.", "```\n```"])
def test_prose_and_empty_answers_are_parse_errors(name: str, reply: str) -> None:
    with pytest.raises(ActionParseError):
        parsed(name, reply)


@pytest.mark.parametrize("name,reply,why", [
    ("uground", "(12, 34) or maybe (56, 78)", "found 2"),
    ("gta1", "(12, 34)\n(56, 78)", "found 2"),
    ("uground", "(nan, 3)", "one \\(x, y\\) point"),
    ("uground", "(1" + "0" * 400 + ", 3)", "finite"),
    ("uground", "(1200, 5)", "outside"),
    ("gta1", "(-3, 40)", "outside"),
    ("qwen3-vl", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1001, 5]}}\n</tool_call>', "outside"),
    ("jedi", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [5]}}\n</tool_call>', "2 numbers"),
    ("jedi", '<tool_call>\n{"name": "os.system", "arguments": {"action": "left_click", "coordinate": [5, 5]}}\n</tool_call>', "expected a call"),
    ("qwen2.5-vl", "12, 3", "JSON"),  # generation cut off mid-call
    ("gta1-opencua", "__import__('os').system('rm -rf /')", "only pyautogui"),
    ("ui-tars-1.5", "Action: exec(start_box='(1,2)')", "unknown UI-TARS action"),
    ("infigui-g1", '<think>unfinished [{"point_2d": [1, 2]}]', "unfinished <think>"),
    ("infigui-g1", '[{"point_2d": [1]}]', "two numbers"),
    ("infigui-g1", '[{"point_2d": [true, 2]}]', "two numbers"),
    ("infigui-g1", '[{"point_2d": [1, 2]}', "not valid JSON"),
    ("infigui-g1", '{"point_2d": [1, 2]}', "each item must be"),
    ("infigui-g1", "<think>no list at all</think> 1, 2", "no \\[\\{"),
    ("infigui-g1", "[" * 40_000 + "]" * 40_000, "not valid JSON"),
    ("uground", "(1, 2)" + " " * MAX_TEXT_CHARS, "longer than"),
])
def test_malformed_and_adversarial_answers_are_parse_errors(name: str, reply: str, why: str) -> None:
    with pytest.raises(ActionParseError, match=why):
        parsed(name, reply)


def test_digits_in_the_echoed_element_name_are_not_coordinates() -> None:
    reading = read_point_text("<|object_ref_start|>Tab (3, 4)<|object_ref_end|><|box_start|>(10,20),(30,40)<|box_end|>")
    assert reading.point == Point(x=20, y=30)


# ---- coordinate round trips ---------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(NAMES))
@settings(max_examples=60, deadline=None)
@given(width=st.integers(320, 3840), height=st.integers(240, 2400),
       u=st.floats(0, 1, exclude_max=True), v=st.floats(0, 1, exclude_max=True))
def test_a_point_survives_the_trip_through_model_space(name: str, width: int, height: int, u: float, v: float) -> None:
    p = get_profile(name)
    if max(width, height) / min(width, height) > 200:
        return
    space = space_for(p, width, height)
    target = Point(x=u * width, y=v * height)
    written = space.from_screenshot(target, width, height)  # where the model would point
    x, y = round(written.x), round(written.y)  # ... as the integers it writes
    g = p.parse(p.prefill + answer(p, x, y), space, (width, height))
    # The model's resolution on the screenshot: one unit of its space, in screenshot pixels.
    unit_x, unit_y = width / space.width, height / space.height
    assert g.point is not None
    assert abs(g.point.x - target.x) <= max(1.0, unit_x / 2) + 1e-9
    assert abs(g.point.y - target.y) <= max(1.0, unit_y / 2) + 1e-9


@pytest.mark.parametrize("name", ["qwen2.5-vl", "ui-ins", "ui-tars-1.5", "gta1", "infigui-g1"])
@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768), (2560, 1440), (1280, 800), (412, 915)])
def test_pixel_spaces_are_within_one_pixel_on_common_screens(name: str, size: tuple[int, int]) -> None:
    p = get_profile(name)
    space = space_for(p, *size)
    for tx in range(0, size[0], 37):
        target = Point(x=tx + 0.5, y=size[1] * tx / size[0])
        written = space.from_screenshot(target, *size)
        g = p.parse(p.prefill + answer(p, round(written.x), round(written.y)), space, size)
        assert g.point is not None and abs(g.point.x - target.x) <= 1 and abs(g.point.y - target.y) <= 1
