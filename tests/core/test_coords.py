"""The coordinate chain: model space ↔ screenshot ↔ screen, round trips within a pixel."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cua.core import Click, CoordChain, Drag, ModelSpace, Point, Scroll, smart_resize
from cua.core.coords import map_action, screen_to_screenshot, screenshot_to_screen

SIZES = st.tuples(st.integers(200, 3840), st.integers(200, 2160))


@pytest.mark.parametrize(
    ("h", "w", "factor", "max_pixels", "expected"),
    [
        # worked by hand from qwen_vl_utils.vision_process.smart_resize
        (1080, 1920, 28, 2700 * 28 * 28, (1092, 1932)),  # Jedi's max_pixels keeps 1080p nearly whole
        (1080, 1920, 28, 1280 * 28 * 28, (728, 1316)),  # floor branch: beta = 1.4375
        (100, 100, 28, 1280 * 28 * 28, (112, 112)),
    ],
)
def test_smart_resize_known_values(h, w, factor, max_pixels, expected):
    assert smart_resize(h, w, factor=factor, max_pixels=max_pixels) == expected


@given(st.tuples(st.integers(400, 3840), st.integers(400, 2160)), st.sampled_from([28, 32]))
def test_smart_resize_invariants(size, factor):
    # from 400 px up, rounding each side to the grid moves the aspect ratio by under 10%
    w, h = size
    rh, rw = smart_resize(h, w, factor=factor, min_pixels=56 * 56, max_pixels=16384 * 28 * 28)
    assert rh % factor == 0 and rw % factor == 0
    assert rh * rw <= 16384 * 28 * 28
    assert abs(rw / rh - w / h) / (w / h) < 0.1  # aspect kept


def test_smart_resize_rejects_degenerate():
    with pytest.raises(ValueError, match="positive"):
        smart_resize(0, 100)
    with pytest.raises(ValueError, match="aspect"):
        smart_resize(10, 5000)


SPACES = st.sampled_from(["abs_resized", "rel_1000", "rel_1", "screenshot"])


def _space(kind: str, w: int, h: int) -> ModelSpace:
    return {
        "abs_resized": lambda: ModelSpace.abs_resized(w, h, factor=28, max_pixels=2700 * 28 * 28),
        "rel_1000": ModelSpace.rel_1000,
        "rel_1": ModelSpace.rel_1,
        "screenshot": lambda: ModelSpace.screenshot(w, h),
    }[kind]()


@settings(max_examples=300)
@given(SIZES, SPACES, st.floats(0, 1), st.floats(0, 1))
def test_point_round_trip_within_one_pixel(size, kind, fx, fy):
    w, h = size
    space = _space(kind, w, h)
    p = Point(x=fx * w, y=fy * h)
    model = space.from_screenshot(p, w, h)
    # models write integers where their space is integral: round like they do
    if kind != "rel_1":
        model = Point(x=round(model.x), y=round(model.y))
    back = space.to_screenshot(model, w, h)
    tolerance = 1.0 if kind != "rel_1000" else max(w, h) / 1000 + 1e-9  # 0-1000 grid is coarser
    assert abs(back.x - p.x) <= max(1.0, tolerance) and abs(back.y - p.y) <= max(1.0, tolerance)


@given(st.floats(0, 4000), st.floats(0, 4000), st.sampled_from([1.0, 1.25, 1.5, 2.0, 3.0]))
def test_screen_round_trip(x, y, dsf):
    p = Point(x=x, y=y)
    back = screen_to_screenshot(screenshot_to_screen(p, dsf), dsf)
    assert back.x == pytest.approx(x) and back.y == pytest.approx(y)


def test_chain_records_every_stage():
    chain = CoordChain.from_model(Point(x=500, y=250), ModelSpace.rel_1000(), (2560, 1440),
                                  raw_text="click(start_box='(500,250)')")
    done = chain.executed(2.0)
    assert done.screenshot_point == Point(x=1280, y=360)
    assert done.screen_point == Point(x=640, y=180)
    assert done.raw_text.startswith("click(")
    # survives a JSON round trip (trajectories are read without the project's code)
    assert CoordChain.model_validate_json(done.model_dump_json()) == done


def test_map_action_maps_every_point():
    drag, chains = map_action(Drag(x=0, y=1000, to_x=1000, to_y=0), ModelSpace.rel_1000(), (400, 300))
    assert (drag.x, drag.y, drag.to_x, drag.to_y) == (0, 300, 400, 0)
    assert len(chains) == 2
    click, _ = map_action(Click(x=0.5, y=0.5), ModelSpace.rel_1(), (400, 300))
    assert (click.x, click.y) == (200, 150)
    scroll, chains = map_action(Scroll(direction="down"), ModelSpace.rel_1(), (400, 300))
    assert scroll.x is None and chains == []


# ---- parity with the authors' reference: qwen-vl-utils' smart_resize ------------------------------

@functools.cache
def _qwen_vl_utils_smart_resize():
    """qwen_vl_utils.vision_process.smart_resize, the authors' own function. The package imports
    torchvision at its top, which does not import on this CPU torch build, so the function and
    the helpers and constants it uses are taken from the installed package's source with ``ast``
    and compiled alone (the package's code, unchanged; nothing else of the module runs)."""
    import ast
    import importlib.util
    import math
    import typing
    from pathlib import Path

    spec = importlib.util.find_spec("qwen_vl_utils")
    assert spec is not None and spec.origin, "qwen-vl-utils is a dev dependency"
    source = (Path(spec.origin).parent / "vision_process.py").read_text()
    wanted = {"round_by_factor", "ceil_by_factor", "floor_by_factor", "smart_resize", "MAX_RATIO",
              "IMAGE_MIN_TOKEN_NUM", "IMAGE_MAX_TOKEN_NUM"}
    nodes = [n for n in ast.parse(source).body
             if (isinstance(n, ast.FunctionDef) and n.name in wanted)
             or (isinstance(n, ast.Assign) and any(getattr(t, "id", None) in wanted for t in n.targets))]
    namespace: dict = {"math": math, "Optional": typing.Optional, "Tuple": typing.Tuple}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), "qwen_vl_utils/vision_process.py", "exec"), namespace)  # noqa: S102 — the installed package's own source, never model text
    return namespace["smart_resize"]


REFERENCE_SETTINGS = [
    (28, 3136, 12_845_056),  # Qwen2.5-VL / UI-TARS / OpenCUA
    (28, 100 * 28 * 28, 16384 * 28 * 28),  # UI-TARS-1.5
    (28, 3136, 1_003_520),  # OSWorld's Qwen2.5-VL agent
    (32, 3136, 13_107_200),  # Qwen3-VL / EvoCUA
    (28, 784, 2_116_800),  # UI-Ins
]


@pytest.mark.parametrize(("factor", "min_pixels", "max_pixels"), REFERENCE_SETTINGS)
@settings(max_examples=400, deadline=None)
@given(size=st.tuples(st.integers(16, 8000), st.integers(16, 8000)))
def test_smart_resize_equals_qwen_vl_utils(factor, min_pixels, max_pixels, size):
    reference = _qwen_vl_utils_smart_resize()
    w, h = size
    if max(w, h) / min(w, h) > 200:
        with pytest.raises(ValueError):
            smart_resize(h, w, factor, min_pixels, max_pixels)
        return
    theirs = reference(h, w, factor, min_pixels, max_pixels)
    ours = smart_resize(h, w, factor, min_pixels, max_pixels)
    if min(theirs) > 0:
        assert ours == theirs
    else:  # theirs can floor a side to 0 on extreme aspect ratios; ours keeps one grid cell
        assert min(ours) == factor


@pytest.mark.parametrize(("w", "h"), [(1920, 1080), (1280, 800), (1366, 768), (2560, 1440), (1920, 1200), (160, 210)])
@pytest.mark.parametrize(("factor", "min_pixels", "max_pixels"), REFERENCE_SETTINGS)
def test_smart_resize_equals_qwen_vl_utils_on_screens(w, h, factor, min_pixels, max_pixels):
    assert smart_resize(h, w, factor, min_pixels, max_pixels) == _qwen_vl_utils_smart_resize()(
        h, w, factor, min_pixels, max_pixels)
