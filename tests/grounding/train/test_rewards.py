"""Reward functions on hand-written completions in each profile's real output format: hit,
miss, near miss, malformed, out of space, refusal items, several answers. Every completion is
read by the runtime's own parser (``RewardSample.grounding``), so these also pin that a reward
sees exactly what the runtime would execute."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cua.core import Box, CuaError, Point
from grounding.profiles import get_profile
from grounding.train.rewards import (
    REWARDS,
    bhattacharyya_coverage,
    box_iou,
    combine,
    make_reward,
)
from grounding.train.types import RewardSample

SHOT = (1280, 720)
TARGET = Box(x1=400, y1=300, x2=480, y2=340)  # a button, screenshot pixels


def sample(profile: str, completion: str, box: Box | None = TARGET, size: tuple[int, int] = SHOT) -> RewardSample:
    p = get_profile(profile)
    space = p.model_space(*p.resized_size(*size))
    return RewardSample(completion=completion, profile=p, space=space, image_size=size, box=box)


def model_xy(profile: str, x: float, y: float, size: tuple[int, int] = SHOT) -> tuple[int, int]:
    """Screenshot pixels → the integers the model would write in its own space."""
    p = get_profile(profile)
    m = p.model_space(*p.resized_size(*size)).from_screenshot(Point(x=x, y=y), *size)
    return round(m.x), round(m.y)


def tool_call(x: int, y: int) -> str:
    return ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
            f'"coordinate": [{x}, {y}]}}}}\n</tool_call>')


def reply(profile: str, x: float, y: float) -> str:
    """A one-point answer at screenshot (x, y), in ``profile``'s exact format."""
    mx, my = model_xy(profile, x, y)
    if profile == "qwen2.5-vl":  # the prefill holds everything up to the first number
        return f"{mx}, {my}]}}}}\n</tool_call>"
    if profile in ("qwen3-vl", "jedi"):
        return tool_call(mx, my)
    if profile == "ui-tars-1.5":
        return f"Action: click(point='<point>{mx} {my}</point>')"
    if profile == "infigui-g1":
        return f'<think>The button is in the middle.</think>\n[{{"point_2d": [{mx}, {my}]}}]'
    if profile == "gta1":
        return f"({mx},{my})"
    raise AssertionError(profile)


def atlas_box(b: Box) -> str:
    x1, y1 = model_xy("os-atlas", b.x1, b.y1)
    x2, y2 = model_xy("os-atlas", b.x2, b.y2)
    return f"<|object_ref_start|>the Save button<|object_ref_end|><|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"


def infigui(*points: tuple[float, float]) -> str:
    items = ", ".join('{"point_2d": [%d, %d]}' % model_xy("infigui-g1", x, y) for x, y in points)  # noqa: UP031
    return f"<think>Several places could be it.</think>\n[{items}]"


def score(name: str, *samples: RewardSample) -> list[float]:
    return make_reward(name)(list(samples))


POINT_PROFILES = ["qwen2.5-vl", "qwen3-vl", "jedi", "ui-tars-1.5", "infigui-g1", "gta1"]
CENTER = (440.0, 320.0)
FAR = (1200.0, 40.0)
NEAR = (485.0, 320.0)  # 5 px right of the box


@pytest.mark.parametrize("profile", POINT_PROFILES)
def test_hit_miss_and_near_miss_in_each_format(profile: str) -> None:
    hit, near, far = (sample(profile, reply(profile, *xy)) for xy in (CENTER, NEAR, FAR))
    assert hit.grounding() is not None  # the completion is what the runtime reads
    assert score("format", hit, near, far) == [1.0, 1.0, 1.0]
    assert score("point_in_box", hit, near, far) == [1.0, 0.0, 0.0]
    g_hit, g_near, g_far = score("gaussian", hit, near, far)
    assert g_hit > 0.97 and g_far < 1e-6 and g_far < g_near < g_hit  # the shaping orders them
    d_hit, d_near, d_far = score("distance_hit", hit, near, far)
    assert d_hit > 1.99 and 0.9 < d_near < 1.0 and d_far < d_near
    assert score("multi_answer", hit, far) == [2.0, 0.0]  # one answer: 1 + 1/√1, 1 − 1/1


def test_gaussian_and_distance_values_match_the_published_formulas() -> None:
    # qwen3-vl's 0-1000 on a 1280x720 shot: (350, 444) → (448, 319.68); recompute by hand.
    s = sample("qwen3-vl", tool_call(350, 444))
    g = s.grounding()
    assert g is not None and g.point is not None
    px, py = g.point.x, g.point.y
    assert (px, py) == pytest.approx((448, 319.68))
    sx, sy = 0.5 * 80, 0.5 * 40
    expected = math.exp(-0.5 * (((px - 440) / sx) ** 2 + ((py - 320) / sy) ** 2))
    assert score("gaussian", s) == [pytest.approx(expected)]
    assert score("gaussian:sigma_scale=0.25", s)[0] < expected  # a tighter Gaussian
    # SE-GUI: hit + 1 − (d/max_d)², all in coordinates normalised by the image size
    cx, cy = 440 / 1280, 320 / 720
    max_d = math.hypot(1 - cx, 1 - cy)
    d = math.hypot(px / 1280 - cx, py / 720 - cy)
    assert score("distance_hit", s) == [pytest.approx(1 + 1 - (d / max_d) ** 2)]


@pytest.mark.parametrize("profile,completion", [
    ("qwen2.5-vl", "the Save button]}}\n</tool_call>"),
    ("qwen3-vl", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click"\n</tool_call>'),
    ("gta1", "(440,320) or maybe (10,10)"),  # two answers are ambiguous: the runtime refuses them
    ("infigui-g1", '<think>unfinished [{"point_2d": [440, 320]}]'),
    ("ui-tars-1.5", "I would click the button."),
])
def test_malformed_replies_earn_the_format_penalty(profile: str, completion: str) -> None:
    s = sample(profile, completion)
    assert s.grounding() is None
    for name in ("format", "point_in_box", "gaussian", "gaussian_coverage", "distance_hit", "iou"):
        assert score(name, s) == [0.0], name
    assert score("multi_answer", s) == [-1.0]


def test_points_outside_the_model_space_do_not_parse() -> None:
    outside = [
        sample("qwen3-vl", tool_call(1200, 500)),  # 0-1000 space
        sample("qwen2.5-vl", "1400, 300]}}\n</tool_call>"),  # resized image is 1288 wide
        sample("infigui-g1", '<think>a</think>[{"point_2d": [440, 320]}, {"point_2d": [5000, 20]}]'),
    ]
    assert score("format", *outside) == [0.0, 0.0, 0.0]
    assert score("point_in_box", *outside) == [0.0, 0.0, 0.0]
    assert score("multi_answer", *outside) == [-1.0, -1.0, -1.0]


def test_refusal_items_reward_refusing() -> None:
    refusals = [sample("qwen2.5-vl", "-1, -1]}}\n</tool_call>", box=None),  # OSWorld-G: negative coordinates
                sample("infigui-g1", "<think>nothing matches</think>\n[]", box=None)]
    points = [sample("qwen3-vl", reply("qwen3-vl", *CENTER), box=None),
              sample("infigui-g1", infigui(CENTER, FAR), box=None)]
    assert score("point_in_box", *refusals, *points) == [1.0, 1.0, 0.0, 0.0]
    assert score("gaussian", *refusals, *points) == [1.0, 1.0, 0.0, 0.0]
    assert score("distance_hit", *refusals, *points) == [2.0, 2.0, 0.0, 0.0]
    assert score("iou", *refusals, *points) == [1.0, 1.0, 0.0, 0.0]
    assert score("multi_answer", *refusals, *points) == [2.0, 2.0, 0.0, 0.5]
    # ...and a refusal where there is a target earns nothing
    refused = sample("qwen2.5-vl", "-1, -1]}}\n</tool_call>")
    assert score("format", refused) == [1.0]
    assert score("point_in_box", refused) + score("gaussian", refused) + score("distance_hit", refused) == [0, 0, 0]
    assert score("multi_answer", refused) == [0.0]


def test_multi_answer_adaptive_exploration_reward() -> None:
    first = sample("infigui-g1", infigui(CENTER, FAR))
    second = sample("infigui-g1", infigui(FAR, CENTER, (100, 650)))
    none = sample("infigui-g1", infigui(FAR, (100, 650)))
    # a scan along one line, written in the model's own pixels (the penalty is on what it wrote)
    line = sample("infigui-g1", '<think>scan</think>[{"point_2d": [100, 100]}, {"point_2d": [442, 322]}, '
                                '{"point_2d": [784, 544]}]')
    bent = sample("infigui-g1", '<think>scan</think>[{"point_2d": [100, 100]}, {"point_2d": [442, 323]}, '
                                '{"point_2d": [784, 544]}]')
    g = second.grounding()
    assert g is not None and len(g.candidates) == 2  # the runtime reads the other answers too
    got = score("multi_answer", first, second, none, line)
    assert got == [pytest.approx(1 + 1 / math.sqrt(2 * 1)), pytest.approx(1 + 1 / math.sqrt(3 * 2)),
                   pytest.approx(1 - 1 / 2), -1.0]
    assert line.grounding() is not None and TARGET.contains(line.grounding().candidates[0])
    assert score("multi_answer", bent) == [pytest.approx(1 + 1 / math.sqrt(3 * 2))]  # one pixel off the line
    assert score("point_in_box", first, second) == [1.0, 0.0]  # only the first answer is executed


def test_box_answers_iou_and_gaussian_coverage() -> None:
    exact = sample("os-atlas", atlas_box(TARGET))
    shifted = sample("os-atlas", atlas_box(Box(x1=440, y1=300, x2=520, y2=340)))  # half overlaps
    wide = sample("os-atlas", atlas_box(Box(x1=300, y1=250, x2=600, y2=400)))  # covers it, much larger
    point_only = sample("qwen3-vl", reply("qwen3-vl", *CENTER))
    ious = score("iou", exact, shifted, wide, point_only)
    assert ious[0] > 0.93 and ious[1] == pytest.approx(1 / 3, abs=0.03) and 0 < ious[2] < 0.1 and ious[3] == 0.0
    assert score("iou:point_answers=0.5", point_only) == [0.5]
    cover = score("gaussian_coverage", exact, shifted, wide, point_only)
    assert cover[0] > 0.95 and cover[1] < cover[0] and cover[2] < cover[0] and cover[3] == 0.0
    assert score("point_in_box", exact, shifted, wide) == [1.0, 1.0, 1.0]  # the point is the box centre


def test_bhattacharyya_coverage_matches_the_closed_form() -> None:
    a, b = Box(x1=0, y1=0, x2=10, y2=20), Box(x1=4, y1=2, x2=20, y2=26)
    # by hand: σ = 0.5·size, Σ = (Σa + Σb)/2, D = ⅛ Δᵀ Σ⁻¹ Δ + ½ ln(|Σ| / √(|Σa||Σb|))
    sa, sb = (5.0, 10.0), (8.0, 12.0)
    sig = ((sa[0] ** 2 + sb[0] ** 2) / 2, (sa[1] ** 2 + sb[1] ** 2) / 2)
    dx, dy = 12 - 5, 14 - 10
    dist = (dx ** 2 / sig[0] + dy ** 2 / sig[1]) / 8 + 0.5 * math.log(
        sig[0] * sig[1] / math.sqrt(sa[0] ** 2 * sa[1] ** 2 * sb[0] ** 2 * sb[1] ** 2))
    assert bhattacharyya_coverage(a, b) == pytest.approx(math.exp(-dist))
    assert bhattacharyya_coverage(a, a) == pytest.approx(1.0)
    assert bhattacharyya_coverage(Box(x1=1, y1=1, x2=1, y2=5), a) == 0.0  # degenerate
    assert box_iou(a, b) == pytest.approx((6 * 18) / (200 + 384 - 6 * 18))
    assert box_iou(a, Box(x1=10, y1=0, x2=20, y2=20)) == 0.0  # touching edges do not overlap


def test_make_reward_specs_and_errors() -> None:
    assert set(REWARDS) == {"format", "point_in_box", "gaussian", "gaussian_coverage", "distance_hit",
                            "multi_answer", "iou"}
    assert make_reward(" gaussian : sigma_scale = 0.25 ").__name__ == "gaussian"
    with pytest.raises(CuaError, match=r"unknown reward 'gausian'; known: format, point_in_box"):
        make_reward("gausian")
    with pytest.raises(CuaError, match=r"no option 'sigma'; known options: sigma_scale"):
        make_reward("gaussian:sigma=1")
    with pytest.raises(CuaError, match=r"option sigma_scale='wide' is not a valid float"):
        make_reward("gaussian:sigma_scale=wide")
    with pytest.raises(CuaError, match=r"sigma_scale must be positive"):
        make_reward("gaussian:sigma_scale=0")
    with pytest.raises(CuaError, match=r"no option 'x'; known options: none"):
        make_reward("format:x=1")
    with pytest.raises(CuaError, match=r"needs a value"):
        make_reward("iou:point_answers")


def test_combine_weights_each_reward() -> None:
    hit, far, bad = (sample("qwen3-vl", reply("qwen3-vl", *CENTER)), sample("qwen3-vl", reply("qwen3-vl", *FAR)),
                     sample("qwen3-vl", "no idea"))
    mix = combine([(make_reward("format"), 0.2), (make_reward("point_in_box"), 0.8)])  # GUI-R1's mix
    assert mix([hit, far, bad]) == [pytest.approx(1.0), pytest.approx(0.2), 0.0]
    assert mix.__name__ == "0.2*format+0.8*point_in_box"
    with pytest.raises(CuaError, match="at least one"):
        combine([])


# ---- properties ------------------------------------------------------------------------------

coords = st.floats(min_value=0, max_value=1000, allow_nan=False)
boxes = st.tuples(st.floats(0, 1200), st.floats(0, 650), st.floats(2, 300), st.floats(2, 200)).map(
    lambda t: Box(x1=t[0], y1=t[1], x2=min(1280, t[0] + t[2]), y2=min(720, t[1] + t[3])))
RANGES = {"format": (0, 1), "point_in_box": (0, 1), "gaussian": (0, 1), "gaussian_coverage": (0, 1),
          "distance_hit": (0, 2), "multi_answer": (-1, 2), "iou": (0, 1)}


@settings(max_examples=60, deadline=None)
@given(x=coords, y=coords, box=boxes, refusal_item=st.booleans())
def test_every_reward_stays_in_its_range(x: float, y: float, box: Box, refusal_item: bool) -> None:
    s = sample("qwen3-vl", tool_call(round(x), round(y)), box=None if refusal_item else box)
    for name, (lo, hi) in RANGES.items():
        (v,) = score(name, s)
        assert lo <= v <= hi, (name, v)


def exact(x: float, y: float, box: Box) -> RewardSample:
    """A qwen3-vl answer naming screenshot (x, y) exactly (0-1000 with decimals)."""
    return sample("qwen3-vl", tool_call(0, 0).replace("[0, 0]", f"[{x / 1.28:.6f}, {y / 0.72:.6f}]"), box=box)


@settings(max_examples=60, deadline=None)
@given(box=boxes, angle=st.floats(0, 2 * math.pi), t1=st.floats(0, 300), t2=st.floats(0, 300))
def test_gaussian_and_distance_fall_with_distance_along_a_ray(box: Box, angle: float, t1: float, t2: float) -> None:
    c = box.center
    ux, uy = math.cos(angle), math.sin(angle)
    near, far = sorted((t1, t2))
    points = [(c.x + ux * t, c.y + uy * t) for t in (near, far)]
    if not all(0 <= x <= 1280 and 0 <= y <= 720 for x, y in points):
        return  # off the screenshot: the runtime refuses it (tested above)
    for name in ("gaussian", "distance_hit", "point_in_box"):
        v_near, v_far = score(name, *(exact(x, y, box) for x, y in points))
        assert v_near >= v_far - 1e-9, name
