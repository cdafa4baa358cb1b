"""The instruction-list planner on real MiniWoB++ utterances (copied from the pages)."""

from __future__ import annotations

from PIL import Image

from cua.core import Done, Intent, Observation, StepRecord, Task, Type
from cua.planners import PLANNERS, InstructionListPlanner, split_instruction


def _targets(utterance: str) -> list[str]:
    return [s.target if isinstance(s, Intent) else f"type:{s.text}" for s in split_instruction(utterance)]


def test_click_utterances():
    assert _targets('Click on the "okay" button.') == ['the "okay" button']
    assert _targets('Click on the link "Eget".') == ['the link "Eget"']
    assert _targets("Click on Tab #2.") == ["Tab #2"]
    assert _targets("Click button ONE, then click button TWO.") == ["button ONE", "button TWO"]
    assert _targets('Click the button in the dialog box labeled "Cancel".') == ['the button labeled "Cancel"']
    assert _targets('Close the dialog box by clicking the "x".') == ['the "x"']


def test_typing_utterances():
    assert _targets('Enter "Agustina" into the text field and press Submit.') == [
        "the text field", "type:Agustina", "Submit"]
    assert _targets('Type "agustina" in all upper case letters in the text input and press Submit.') == [
        "the text input", "type:AGUSTINA", "Submit"]
    assert _targets('Enter the username "karrie" and the password "AU" into the text fields and press login.') == [
        "the username field", "type:karrie", "the password field", "type:AU", "login"]


def test_select_utterances():
    assert _targets("Select nb, 8qiSp3m, pKybC69 and click Submit.") == ["nb", "8qiSp3m", "pKybC69", "Submit"]
    assert _targets("Focus into the 3rd input textbox.") == ["the 3rd input textbox"]


def test_planner_walks_the_plan_then_says_done():
    planner = PLANNERS.make("instructions")
    assert isinstance(planner, InstructionListPlanner)
    task = Task(id="t", instruction='Enter "Bob" into the text field and press Submit.')
    obs = Observation(screenshot=Image.new("RGB", (10, 10)))
    history: list[StepRecord] = []
    proposals = []
    for i in range(4):
        p = planner.propose(task, history, obs)
        proposals.append(p)
        history.append(StepRecord(index=i, screenshot="x.png", action=Type(text="x")))
    assert isinstance(proposals[1], Type) and proposals[1].text == "Bob"
    assert isinstance(proposals[3], Done)


def test_vetoed_step_is_proposed_again():
    planner = InstructionListPlanner()
    task = Task(id="t", reference_plan=["Click OK", "Click Cancel"])
    obs = Observation(screenshot=Image.new("RGB", (10, 10)))
    vetoed = StepRecord(index=0, screenshot="x.png", action=None, error="no action approved")
    assert planner.propose(task, [vetoed], obs, critique="wrong element") == Intent(target="OK")
