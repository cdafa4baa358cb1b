"""The take-over panel's actions and the proposal overlay."""

from __future__ import annotations

import pytest
from PIL import Image
from ui_helpers import grounding, near

from cua.core import CuaError, Verdict
from cua.core.actions import Click, Done, Drag, Key, Scroll, Type
from cua.core.geometry import Point
from cua.ui import render
from cua.ui.human import moved, user_action


def test_user_actions_from_the_panel():
    assert user_action("click", 10, 20.5) == Click(x=10, y=20.5)
    assert user_action("type", None, None, "hello") == Type(text="hello")
    assert user_action("key", None, None, "ctrl+a") == Key(keys=["ctrl", "a"])
    assert user_action("scroll", 5, 6, "up") == Scroll(direction="up", x=5, y=6)
    assert user_action("done", None, None, "") == Done()


@pytest.mark.parametrize(("kind", "x", "text", "message"), [
    ("click", None, "", "needs a point"), ("type", 1, "", "text to type"), ("key", None, "nosuchkey", "bad key"),
    ("scroll", None, "sideways", "direction"), ("exec", 1, "", "unknown action kind")])
def test_incomplete_user_actions_say_what_is_missing(kind, x, text, message):
    with pytest.raises(CuaError, match=message):
        user_action(kind, x, 1 if x is not None else None, text)


def test_moved_keeps_the_action_and_a_drag_vector():
    assert moved(Click(x=1, y=2, button="right"), 30, 40) == Click(x=30, y=40, button="right")
    assert moved(Drag(x=0, y=0, to_x=10, to_y=5), 100, 100) == Drag(x=100, y=100, to_x=110, to_y=105)
    with pytest.raises(CuaError):
        moved(Type(text="x"), 1, 1)


def test_proposal_overlay_shows_proposed_and_moved_points():
    img = Image.new("RGB", (660, 480), (128, 128, 128))
    out = render.annotate_proposal(img, Click(x=100, y=100), grounding(100, 100), Verdict(approve=False,
                                   error_type="wrong_element"), edited=Point(x=400, y=300))
    assert near(out, 100, 100, render.PENDING)
    assert near(out, 400, 300, render.EDITED)
    assert near(out, 250, 200, render.EDITED, r=4)  # the arrow from the proposal to the user's point
    assert near(out, 650, 12, render.VETOED, r=3)  # the critic vetoed: red badge
    assert img.getpixel((400, 300)) == (128, 128, 128)  # the original is untouched
