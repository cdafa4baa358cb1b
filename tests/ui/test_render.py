"""render.py draws the right colour at the right place, on small and large screenshots."""

from __future__ import annotations

import pytest
from PIL import Image
from ui_helpers import grounding, near

from cua.core import Attempt, Intent, ModelSpace, StepRecord, Verdict
from cua.core.actions import Click, Drag
from cua.core.coords import CoordChain
from cua.core.geometry import Box, Point
from cua.ui import render

SIZES = [(660, 480), (2560, 1440)]


def badge_xy(size):
    pad = round(5 * max(1.0, min(size) / 480))
    return size[0] - pad - 4, pad + 3


def grey(size):
    return Image.new("RGB", size, (128, 128, 128))


def step(attempts, action=None, **kw) -> StepRecord:
    return StepRecord(index=0, screenshot="step_0000.png", attempts=attempts, action=action, **kw)


@pytest.mark.parametrize("size", SIZES)
def test_point_is_a_crosshair_and_circle(size):
    img = grey(size)
    x, y = size[0] / 2, size[1] / 2
    render.draw_point(img, Point(x=x, y=y), render.APPROVED)
    r = round(11 * render.scale(img))
    assert near(img, x, y, render.APPROVED)  # centre dot
    assert near(img, x + r, y, render.APPROVED)  # circle
    assert near(img, x - r - 4 * render.scale(img), y, render.APPROVED)  # crosshair arm
    assert near(img, x, y - r - 4 * render.scale(img), render.APPROVED)
    assert img.getpixel((10, 10)) == (128, 128, 128)  # nothing far away


@pytest.mark.parametrize("size", SIZES)
def test_box_and_dashed_crop(size):
    img = grey(size)
    render.draw_box(img, Box(x1=100, y1=100, x2=300, y2=200))
    render.draw_dashed_rect(img, Box(x1=50, y1=250, x2=450, y2=400))
    assert near(img, 100, 150, render.BOX, r=1) and near(img, 200, 200, render.BOX, r=1)
    assert not near(img, 200, 150, render.BOX, r=5)  # outline only
    top = [near(img, x, 250, render.CROP, r=0) for x in range(60, 440)]
    assert any(top) and not all(top)  # dashed: on and off along the edge


@pytest.mark.parametrize("size", SIZES)
def test_drag_path_is_an_arrow(size):
    img = grey(size)
    render.draw_arrow(img, Point(x=100, y=100), Point(x=400, y=100))
    assert near(img, 250, 100, render.DRAG)  # the shaft
    assert near(img, 400 - 6, 104, render.DRAG)  # the head is wider than the shaft
    assert not near(img, 250, 130, render.DRAG)


@pytest.mark.parametrize("size", SIZES)
def test_approved_step_overlay(size):
    g = grounding(200, 150, box=Box(x1=150, y1=120, x2=250, y2=180), crops=[Box(x1=20, y1=20, x2=420, y2=320)])
    a = Click(x=200, y=150)
    rec = step([Attempt(intent=Intent(target="OK"), action=a, grounding=g,
                        verdict=Verdict(approve=True, critic="rules"))], action=a)
    out = render.annotate_step(grey(size), rec)
    assert near(out, 200, 150, render.APPROVED)
    assert near(out, 150, 130, render.BOX, r=1)
    assert near(out, 30, 20, render.CROP, r=2)  # first dash of the top edge
    assert near(out, *badge_xy(size), render.APPROVED, r=2)  # badge, top right
    assert render.step_outcome(rec) == "approved"
    assert render.badge_for(rec)[0] == "APPROVED"


@pytest.mark.parametrize("size", SIZES)
def test_vetoed_then_replanned_step(size):
    bad, good = Click(x=100, y=100), Click(x=400, y=300)
    rec = step([
        Attempt(intent=Intent(target="OK"), action=bad, grounding=grounding(100, 100),
                verdict=Verdict(approve=False, error_type="wrong_element", reason="that is Cancel")),
        Attempt(intent=Intent(target="OK"), action=good, grounding=grounding(400, 300),
                verdict=Verdict(approve=True)),
    ], action=good)
    out = render.annotate_step(grey(size), rec)
    assert near(out, 100, 100, render.VETOED)
    assert near(out, 400, 300, render.APPROVED)
    assert render.is_vetoed(rec) and not render.is_failed(rec)
    assert "wrong_element" in render.badge_for(rec)[0]


@pytest.mark.parametrize("size", SIZES)
def test_blocked_step_has_red_badge(size):
    bad = Click(x=100, y=100)
    rec = step([Attempt(intent=Intent(target="OK"), action=bad, grounding=grounding(100, 100),
                        verdict=Verdict(approve=False, error_type="off_target"))],
               error="no action approved: off target")
    out = render.annotate_step(grey(size), rec)
    assert near(out, 100, 100, render.VETOED)
    assert near(out, *badge_xy(size), render.VETOED, r=2)
    assert render.badge_for(rec) == ("VETOED: off_target", render.VETOED)
    assert render.is_failed(rec) and render.step_outcome(rec) == "blocked"


def test_drag_step_draws_arrow_and_start_point():
    d = Drag(x=100, y=100, to_x=400, to_y=100)
    rec = step([Attempt(action=d, verdict=Verdict(approve=True))], action=d)
    out = render.annotate_step(grey((660, 480)), rec)
    assert near(out, 250, 100, render.DRAG)
    assert near(out, 100, 100 - 11, render.APPROVED)


def test_chain_text_and_markdown():
    a = Click(x=200, y=150)
    space = ModelSpace.rel_1000()
    chain = CoordChain.from_model(Point(x=303, y=312.5), space, (660, 480), raw_text="click(303, 312)").executed(2.0)
    rec = step([Attempt(intent=Intent(target="OK", thought="the dialog wants OK"), action=a,
                        verdict=Verdict(approve=True, reason="fine"))],
               action=a, chains=[chain], timings={"planner": 0.012, "grounder": 0.5})
    text = render.chain_text(rec)
    assert "rel_1000" in text and "(303.0, 312.5)" in text and "(200.0, 150.0)" in text and "(100.0, 75.0)" in text
    md = render.step_markdown(rec)
    assert "OK" in md and "approved" in md and "planner 12 ms" in md and "grounder 500 ms" in md
    assert render.step_row(rec)[3] == "APPROVED"


def test_playground_colours_per_grounder():
    out = render.annotate_groundings(grey((660, 480)), {"a": grounding(100, 100), "b": grounding(400, 300),
                                                          "broken": None})
    assert near(out, 100, 100, render.PALETTE[0])
    assert near(out, 400, 300, render.PALETTE[1])
