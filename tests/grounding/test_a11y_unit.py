"""The accessibility grounder's matching rules, on element lists shaped like real pages."""

from __future__ import annotations

from PIL import Image

from cua.core import Box, Observation, UIElement
from grounding import GROUNDERS
from grounding.targets import TargetQuery


def el(role: str, name: str, x: float, y: float, w: float = 40, h: float = 20, **kw) -> UIElement:
    return UIElement(role=role, name=name, box=Box.from_xywh(x, y, w, h), **kw)


PAGE = [
    el("StaticText", "Click on the \"yes\" button.", 0, 0, 160, 50),
    el("button", "no", 10, 60), el("StaticText", "no", 14, 62, 20, 12),
    el("button", "yes", 60, 60), el("StaticText", "yes", 64, 62, 20, 12),
    el("StaticText", "Username", 10, 100, 50, 15), el("textbox", "", 70, 98, 80, 20),
    el("StaticText", "Password", 10, 130, 50, 15), el("textbox", "", 70, 128, 80, 20),
    el("link", "Tab #1", 10, 160), el("link", "Tab #2", 60, 160),
]


def ground(instruction: str, elements=PAGE):
    obs = Observation(screenshot=Image.new("RGB", (200, 200)), elements=elements)
    return GROUNDERS.make("a11y").ground(obs.screenshot, instruction, obs)


def test_button_by_quoted_name_prefers_the_button_over_its_text():
    g = ground('the "yes" button')
    assert g.point is not None and g.box == Box.from_xywh(60, 60, 40, 20)
    assert g.model_space.kind == "screenshot"


def test_role_only_and_ordinal():
    assert ground("the 2nd textbox").box == Box.from_xywh(70, 128, 80, 20)
    assert ground("the textbox").box == Box.from_xywh(70, 98, 80, 20)
    assert ground("the last textbox").box == Box.from_xywh(70, 128, 80, 20)


def test_label_leads_to_its_field():
    assert ground("the password field").box == Box.from_xywh(70, 128, 80, 20)
    assert ground("the username field").box == Box.from_xywh(70, 98, 80, 20)


def test_partial_label():
    assert ground("Tab #2").box == Box.from_xywh(60, 160, 40, 20)


def test_refuses_when_nothing_matches():
    g = ground('the "Checkout" button')
    assert g.point is None and "no accessible element" in g.raw_text
    assert ground("anything", elements=[]).point is None


def test_target_query_parsing():
    q = TargetQuery.parse('the 3rd "Edit" link')
    assert (q.text, q.roles, q.ordinal) == ("edit", ("link",), 3)


# Element lists as MiniWoB's login-user, click-dialog and click-link pages give them
# (boxes in screenshot pixels at DSF 2, read from a real run).
LOGIN = [
    el("StaticText", "username", 93, 6, 94, 22), el("StaticText", "password", 39, 28, 94, 22),
    el("textbox", "", 14, 156, 256, 42), el("textbox", "", 14, 260, 216, 42),
    el("StaticText", "Username", 4, 124, 97, 22), el("StaticText", "Password", 4, 228, 94, 22),
    el("button", "Login", 4, 332, 173, 62),
]


def test_label_next_to_the_field_beats_the_word_in_the_instructions():
    assert ground("the username field", LOGIN).box == Box.from_xywh(14, 156, 256, 42)
    assert ground("the password field", LOGIN).box == Box.from_xywh(14, 260, 216, 42)


def test_icon_synonyms():
    page = [el("StaticText", 'Close the dialog box by clicking the "x".', 6, 6, 279, 44),
            el("button", "Close", 172, 175, 40, 40)]
    assert ground('the "x"', page).box == Box.from_xywh(172, 175, 40, 40)


def test_written_case_breaks_ties():
    page = [el("StaticText", "eget", 146, 104, 39, 22), el("StaticText", "Eget", 264, 148, 41, 22)]
    assert ground('the link "Eget"', page).box == Box.from_xywh(264, 148, 41, 22)


def test_role_aware_named_field():
    page = [el("StaticText", "Email", 10, 10, 40, 15), el("textbox", "Email", 60, 8, 120, 20),
            el("link", "Email us", 10, 200, 60, 15)]
    assert ground("the Email field", page).box == Box.from_xywh(60, 8, 120, 20)
    assert ground("the Email link", page).box == Box.from_xywh(10, 200, 60, 15)
