"""The VLM critic: its parser on answers in the real GUI-Critic-R1 / HiViG formats (malformed
ones included), the verdicts it makes of them, and a run end to end on a tiny random-init
Qwen2.5-VL through the real prompt, image and parse path."""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageDraw

from critic.base import ABSTAIN, ReviewContext, is_abstain
from critic.prompts import PROFILES, computer_use_call, infer_error_type, parse_answer
from critic.vlm import VLMCritic
from cua.core import (
    Attempt,
    Click,
    CuaError,
    Done,
    Intent,
    ModelSpace,
    Observation,
    StepRecord,
    Task,
    Type,
)

GUI_CRITIC_INCORRECT = """<thinking>
**Observation**: The screenshot shows a search results page with a 'Filters' panel on the left. The red circle is on an empty area below the 'Community features' dropdown.
**Possible Result**: Clicking there will not change anything on the page.
**Critique**: The decision is incorrect because the click lands on blank space instead of a checkbox option.
</thinking>
<score>
Incorrect
</score>
<suggestion>
Click on one of the checkbox options to filter the search based on community features.
</suggestion>"""
GUI_CRITIC_CORRECT = """<thinking>
**Observation**: The search bar is at the top; the red circle marks it.
**Possible Result**: The search bar gets focus and the keyboard opens.
**Critique**: Correct: the instruction needs a search first.
</thinking>
<score>
Correct
</score>
<suggestion>
Click the search bar to start typing the query.
</suggestion>"""
HIVIG_INCORRECT = """<thinking>
**Observation**: The marked point is 12 px below the Login button, on the page background.
**Possible Result**: Nothing happens.
**Critique**: Near miss of the Login button.
</thinking>
<score>Incorrect</score>
<error_type>off_target</error_type>
<suggestion>Click the Login button: {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [100, 200]}}</suggestion>"""


@pytest.mark.parametrize("text, correct, error", [
    (GUI_CRITIC_INCORRECT, False, None),
    (GUI_CRITIC_CORRECT, True, None),
    (HIVIG_INCORRECT, False, "off_target"),
    ("<think>looks fine</think><score>**Correct**</score>", True, None),  # markdown, <think>
    ("<thinking>x</thinking>\n<score>\nIncorrect", False, None),  # cut off after the score
    ("<score>incorrect</score><error_type>Near miss</error_type>", False, "off_target"),
    ("<score>Correct or Incorrect</score> <score>Incorrect</score>", False, None),  # last readable wins
    ("<score>Incorrect</score><error_type>banana</error_type>", False, None),  # unknown type dropped
])
def test_parser_reads_real_formats(text, correct, error):
    answer = parse_answer(text)
    assert answer.correct is correct and answer.format_error is None and answer.error_type == error


@pytest.mark.parametrize("text, why", [
    ("", "empty"),
    ("The action looks correct to me.", "no <score>"),
    ("<score>Correct or Incorrect</score>", "unreadable <score>"),  # the template echoed back
    ("<score>maybe</score>", "unreadable <score>"),
    ("<score></score>", "unreadable <score>"),
    ("x" * 200_001, "longer than"),
    ("ĠĠĠ<|im_start|>ð\x00 random tokens <score", "no <score>"),
])
def test_parser_flags_malformed_answers(text, why):
    answer = parse_answer(text)
    assert answer.correct is None and why in answer.format_error


def test_suggested_actions_are_parsed_never_run():
    assert parse_answer(HIVIG_INCORRECT).action == Click(x=100, y=200)
    tool = '<score>Incorrect</score><suggestion><tool_call>\n{"name": "computer_use", "arguments": ' \
           '{"action": "type", "text": "Bob"}}\n</tool_call></suggestion>'
    assert parse_answer(tool).action == Type(text="Bob")
    hostile = '<score>Incorrect</score><suggestion>{"name": "computer_use", "arguments": ' \
              '{"action": "__import__(\'os\').system(\'rm -rf /\')"}}</suggestion>'
    answer = parse_answer(hostile)
    assert answer.correct is False and answer.action is None
    assert parse_answer(GUI_CRITIC_INCORRECT).action is None  # words only: no action to take


def test_error_types_from_free_text():
    assert infer_error_type("the click lands on blank space instead of a checkbox") == "off_target"
    assert infer_error_type("The input box is not activated, typing does nothing") == "typing_without_focus"
    assert infer_error_type("The agent already clicked this, repeating it") == "repeated_loop"
    assert infer_error_type("It terminates although the task is not complete yet") == "premature_termination"
    assert infer_error_type("It should click the Settings icon") == "wrong_element"


def screen() -> Image.Image:
    img = Image.new("RGB", (660, 480), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((4, 332, 177, 394), outline="black", fill=(235, 235, 235))
    d.text((60, 355), "Login", fill="black")
    return img


def context(action=None) -> ReviewContext:
    history = [StepRecord(index=0, screenshot="step_0000.png", action=Click(x=142, y=177),
                          attempts=[Attempt(intent=Intent(target="the username field"), action=Click(x=142, y=177))]),
               StepRecord(index=1, screenshot="step_0001.png", action=Type(text="karrie"))]
    return ReviewContext(task=Task(id="miniwob/login-user", instruction='Enter the username "karrie" and press login.'),
                         observation=Observation(screenshot=screen()), action=action or Click(x=90, y=408),
                         intent=Intent(target="the login button"), history=history)


def test_verdicts_from_answers_map_suggestions_back_to_screenshot_pixels():
    critic = VLMCritic.__new__(VLMCritic)  # verdict() needs no model: the mapping alone
    critic.name, critic.format_errors = "vlm:hivig", 0
    ctx = context()
    space = ModelSpace(kind="abs_resized", width=330, height=240)  # the model saw half size
    v = critic.verdict(ctx, [parse_answer(HIVIG_INCORRECT)], [HIVIG_INCORRECT], space)
    assert not v.approve and v.error_type == "off_target" and v.suggestion == Click(x=200, y=400)
    assert "Near miss" in v.reason and v.score == 1.0
    v = critic.verdict(ctx, [parse_answer(GUI_CRITIC_INCORRECT)], [GUI_CRITIC_INCORRECT], space)
    assert not v.approve and v.error_type == "off_target" and v.suggestion is None
    answers = [parse_answer(t) for t in (GUI_CRITIC_CORRECT, GUI_CRITIC_CORRECT, "garbage")]
    v = critic.verdict(ctx, answers, [GUI_CRITIC_CORRECT, GUI_CRITIC_CORRECT, "garbage"], space)
    assert v.approve and v.score == pytest.approx(0.667, abs=1e-3)  # 2 of 3 samples agree
    v = critic.verdict(ctx, [parse_answer("no tags at all")], ["no tags at all"], space)
    assert is_abstain(v) and v.approve and v.error_type == ABSTAIN and critic.format_errors == 1
    far = HIVIG_INCORRECT.replace("[100, 200]", "[900, 200]")  # outside the model's image: dropped
    assert critic.verdict(ctx, [parse_answer(far)], [far], space).suggestion is None


def test_decisions_are_shown_as_gui_critic_r1_shows_them():
    assert computer_use_call(Click(x=410, y=325)) == \
        '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [410, 325]}}'
    assert computer_use_call(Done()) == '{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}'


def test_end_to_end_on_a_tiny_model(tiny_qwen25):
    for profile, images in (("hivig", 2), ("gui-critic-r1", 1)):
        critic = VLMCritic(tiny_qwen25, profile, max_new_tokens=24, max_pixels=448 * 448)
        ctx = context()
        messages, space = critic.messages(ctx)
        parts = messages[1]["content"]
        assert sum(p["type"] == "image" for p in parts) == images
        text = next(p["text"] for p in parts if p["type"] == "text")
        assert "karrie" in text
        assert re.search(r'Action: \{"name": "computer_use", "arguments": \{[^{}]*\}\}\n', text) or \
            re.search(r'Raw action: \{"name": "computer_use", "arguments": \{[^{}]*\}\}\n', text)
        assert not re.search(r"\{(instruction|history|macro|recent|intent|action|images|size)\}", text)
        if profile == "hivig":
            assert "typed 'karrie' into username" in text and parts[-1]["type"] == "text"
            assert space.kind == "abs_resized" and f"{space.width:g}x{space.height:g} pixels" in text
            assert "Image 2 enlarges the marked area" in text
        else:
            assert text.startswith("<image>\nThere is a multimodal agent") and parts[0]["type"] == "text"
            assert "Step 1: click 'username'\nStep 2: type 'karrie'" in text
        verdict = critic.review(ctx)  # the real chat template, processor, generate and parser
        assert verdict.critic == critic.name and ctx.evidence is not None
        assert is_abstain(verdict) or verdict.error_type != ABSTAIN
    sampled = VLMCritic(tiny_qwen25, "hivig", max_new_tokens=16, samples=2, max_pixels=448 * 448)
    verdict = sampled.review(context(Type(text="AU")))
    assert verdict.score is not None and sampled.calls == 1


def test_profile_must_match_the_model_grid(tiny_qwen25):
    with pytest.raises(CuaError, match="wrong profile"):
        VLMCritic(tiny_qwen25, PROFILES["hivig-qwen3"])
