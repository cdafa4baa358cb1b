"""The coordinate chain: model space ↔ screenshot ↔ screen, round trips within a pixel."""

from __future__ import annotations

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
