"""``Profile.answer`` writes what ``Profile.parse`` reads: a trained model speaks the runtime's format."""

from __future__ import annotations

import pytest

from cua.core import Box, Point
from grounding.profiles import PROFILES, Profile, get_profile

SHOT = (1280, 720)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_answer_round_trips_through_the_runtime_parser(profile: Profile) -> None:
    _, space = profile.build_messages(_blank(), "the Save button")
    p = Point(x=space.width * 0.3137, y=space.height * 0.6021)
    text = profile.prefill + profile.answer(p)
    g = profile.parse(text, space, SHOT)
    tolerance = 1e-4 if profile.space == "rel_1" else 0.5  # whole numbers in pixel and 0-1000 spaces
    assert g.model_point is not None
    assert abs(g.model_point.x - p.x) <= tolerance and abs(g.model_point.y - p.y) <= tolerance
    assert g.point == space.to_screenshot(g.model_point, *SHOT)
    assert not profile.answer(p).startswith(profile.prefill) or not profile.prefill


@pytest.mark.parametrize("name", ["qwen2.5-vl", "qwen3-vl", "os-atlas", "ui-tars-1.5", "infigui-g1"])
def test_target_maps_a_screenshot_box_into_the_model_space(name: str) -> None:
    profile = get_profile(name)
    box = Box(x1=100, y1=50, x2=300, y2=90)
    centre, model_box, space = profile.target(box, SHOT)
    g = profile.parse(profile.prefill + profile.answer(centre, model_box), space, SHOT)
    assert g.point is not None and box.contains(g.point)
    assert abs(g.point.x - 200) < 3 and abs(g.point.y - 70) < 3


def test_exact_texts_of_some_formats() -> None:
    p = Point(x=412.4, y=88.6)
    assert get_profile("qwen2.5-vl").answer(p) == "412, 89]}}\n</tool_call>"
    assert get_profile("jedi").answer(p) == (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [412, 89]}}'
        "\n</tool_call>")
    assert get_profile("ui-ins").answer(p) == "412, 89]}}\n</tool_call>"
    assert get_profile("ui-tars-1.5").answer(p) == "Action: click(point='<point>412 89</point>')"
    assert get_profile("gta1").answer(p) == "(412,89)"
    assert get_profile("gta1-opencua").answer(p) == "pyautogui.click(x=412, y=89)"
    assert get_profile("uground").answer(p) == "(412, 89)"
    assert get_profile("os-atlas").answer(p, Box(x1=400, y1=80, x2=425, y2=97)) == \
        "<|box_start|>(400,80),(425,97)<|box_end|>"
    assert get_profile("infigui-g1").answer(p, thought="the icon") == \
        '<think>the icon</think>\n[{"point_2d": [412, 89]}]'


def _blank():
    from PIL import Image

    return Image.new("RGB", SHOT, "white")
