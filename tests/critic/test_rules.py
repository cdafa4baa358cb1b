"""Rule checks of the CPU critic on real pages in Chromium, and OCR evidence on a rendered
page whose accessibility tree is withheld (as on a desktop without one)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from critic.base import (
    CRITICS,
    OFF_TARGET,
    OUT_OF_BOUNDS,
    PREMATURE_TERMINATION,
    REPEATED_LOOP,
    TYPING_WITHOUT_FOCUS,
    WRONG_ELEMENT,
    ReviewContext,
)
from critic.cpu import CPUCritic
from critic.rules import task_goals
from cua.core import Attempt, Click, Done, Intent, Observation, StepRecord, Task, Type

from .conftest import require_chromium

PAGE = """<!doctype html><html><head><title>Form</title><style>
body { margin: 0; font: 20px sans-serif; }
#save { position: absolute; left: 60px; top: 60px; width: 120px; height: 44px; }
#cancel { position: absolute; left: 320px; top: 60px; width: 120px; height: 44px; }
#name { position: absolute; left: 60px; top: 180px; width: 240px; height: 32px; font: 20px sans-serif; }
#flip { position: absolute; left: 60px; top: 260px; }
#remember { position: absolute; left: 320px; top: 180px; }
</style></head><body>
<label id="remember"><input type="checkbox"> Remember me</label>
<button id="save">Save</button><button id="cancel">Cancel</button>
<input id="name" aria-label="Name">
<button id="flip" onclick="this.textContent = this.textContent === 'On' ? 'Off' : 'On'">On</button>
</body></html>"""


@pytest.fixture(scope="module")
def env(serve, tmp_path_factory):
    require_chromium()
    from envs.browser import BrowserConfig, BrowserEnv

    site = tmp_path_factory.mktemp("page")
    (site / "form.html").write_text(PAGE)
    base = serve(site)
    env = BrowserEnv(BrowserConfig(viewport=(520, 320), allowed_origins=[base]))
    env.start = base + "form.html"
    yield env
    env.close()


def fresh(env) -> tuple[Task, Observation]:
    task = Task(id="page/form", instruction="Type a name and save.", start_url=env.start)
    return task, env.reset(task)


def box(obs: Observation, name: str):
    return next(e.box for e in obs.elements if e.name == name)


def ctx(task, obs, action, target=None, history=(), frames=None) -> ReviewContext:
    intent = Intent(kind="click", target=target) if target else None
    return ReviewContext(task=task, observation=obs, action=action, intent=intent, history=list(history),
                         frames=frames or {})


def test_click_on_blank_space_next_to_a_button_is_a_near_miss(env):
    task, obs = fresh(env)
    save = box(obs, "Save")
    v = CRITICS.make("rules").review(ctx(task, obs, Click(x=save.x2 + 8, y=save.center.y), 'the "Save" button'))
    assert not v.approve and v.error_type == OFF_TARGET and "near miss" in v.reason
    assert save.contains(v.suggestion.points()[0])
    ok = CRITICS.make("rules").review(ctx(task, obs, Click(x=save.center.x, y=save.center.y), 'the "Save" button'))
    assert ok.approve and ok.score >= 0.8
    # A direct action (no intent) right next to a control is caught too.
    bare = CRITICS.make("rules").review(ctx(task, obs, Click(x=save.x2 + 8, y=save.center.y)))
    assert not bare.approve and bare.error_type == OFF_TARGET


def test_click_on_the_wrong_button_is_the_wrong_element(env):
    task, obs = fresh(env)
    cancel = box(obs, "Cancel")
    v = CRITICS.make("rules").review(ctx(task, obs, Click(x=cancel.center.x, y=cancel.center.y), 'the "Save" button'))
    assert not v.approve and v.error_type == WRONG_ELEMENT and box(obs, "Save").contains(v.suggestion.points()[0])


def test_typing_with_nothing_focused_then_after_clicking_the_field(env):
    task, obs = fresh(env)
    critic = CRITICS.make("rules")
    v = critic.review(ctx(task, obs, Type(text="Ada")))
    assert not v.approve and v.error_type == TYPING_WITHOUT_FOCUS and "nothing is focused" in v.reason
    field = box(obs, "Name")
    focused = env.step(Click(x=field.center.x, y=field.center.y)).observation
    assert critic.review(ctx(task, focused, Type(text="Ada"))).approve
    on_button = env.step(Click(x=box(obs, "Save").center.x, y=box(obs, "Save").center.y)).observation
    v = critic.review(ctx(task, on_button, Type(text="Ada")))
    assert not v.approve and "button 'Save'" in v.reason  # focus on a button is no text field
    assert CRITICS.make("rules:focus=off").review(ctx(task, obs, Type(text="Ada"))).approve


def test_repeated_action_on_an_unchanged_screen_is_a_loop(env):
    task, obs = fresh(env)
    critic = CRITICS.make("rules")
    blank = Click(x=470, y=290)
    after = env.step(blank).observation
    ran = StepRecord(index=0, screenshot="step_0000.png", action=blank, attempts=[Attempt(action=blank)])
    v = critic.review(ctx(task, after, blank, history=[ran], frames={0: obs.screenshot}))
    assert not v.approve and v.error_type == REPEATED_LOOP
    # The same click on a toggle changes the screen: clicking it again is no loop.
    flip = box(after, "On")
    toggle = Click(x=flip.center.x, y=flip.center.y)
    toggled = env.step(toggle).observation
    ran = StepRecord(index=1, screenshot="step_0001.png", action=toggle)
    v = critic.review(ctx(task, toggled, toggle, 'the "Off" button', history=[ran], frames={1: after.screenshot}))
    assert v.approve
    assert CRITICS.make("rules:repeat=off,elements=off").review(
        ctx(task, after, blank, history=[ran.model_copy(update={"action": blank, "index": 0})],
            frames={0: obs.screenshot})).approve


def test_point_outside_the_screenshot(env):
    task, obs = fresh(env)
    v = CRITICS.make("rules").review(ctx(task, obs, Click(x=obs.width + 3, y=10)))
    assert not v.approve and v.error_type == OUT_OF_BOUNDS and v.score == 1.0


def test_ocr_evidence_catches_the_wrong_button_without_an_accessibility_tree(env):
    task, obs = fresh(env)
    save, cancel = box(obs, "Save"), box(obs, "Cancel")
    bare = replace(obs, elements=[])  # what a desktop without an a11y tree gives the critic
    critic = CPUCritic()
    v = critic.review(ctx(task, bare, Click(x=cancel.center.x, y=cancel.center.y), 'the "Save" button'))
    assert not v.approve and v.error_type == WRONG_ELEMENT and "OCR reads 'Save'" in v.reason
    assert save.contains(v.suggestion.points()[0])
    right = critic.review(ctx(task, bare, Click(x=save.center.x, y=save.center.y), 'the "Save" button'))
    assert right.approve and "OCR reads 'Save' at the point" in right.reason
    assert critic.ocr.crops == 2 and critic.ocr.screens == 1  # the right click needed only the crop
    near = critic.review(ctx(task, bare, Click(x=save.center.x, y=save.y2 + 14), 'the "Save" button'))
    assert not near.approve and near.error_type == OFF_TARGET
    # A checkbox's box is drawn left of its label: a click on the box is on the target.
    check = next(e.box for e in obs.elements if e.role == "checkbox")
    box_click = critic.review(ctx(task, bare, Click(x=check.center.x, y=check.center.y), 'the "Remember me" checkbox'))
    assert box_click.approve, box_click.reason
    off = CPUCritic(ocr="off").review(ctx(task, bare, Click(x=cancel.center.x, y=cancel.center.y), 'the "Save" button'))
    assert off.approve and off.reason == "no check objects"


def test_done_rules():
    instruction = 'Enter the username "karrie" and the password "AU" into the text fields and press login.'
    assert [(g.text, g.kind) for g in task_goals(instruction)] == [
        ("karrie", "enter"), ("AU", "enter"), ("login", "target")]
    assert [g.text for g in task_goals("Select kT0, ZhW and click Submit.")] == ["kT0", "ZhW", "Submit"]
    assert [g.text for g in task_goals("Click button ONE, then click button TWO.")] == ["button ONE", "button TWO"]
    assert task_goals("What amenities are included for rentals in Chicago?") == []
    from PIL import Image

    task = Task(id="t", instruction=instruction)
    obs = Observation(screenshot=Image.new("RGB", (64, 64), "white"))
    steps = [StepRecord(index=0, screenshot="s", action=Click(x=1, y=1),
                        attempts=[Attempt(intent=Intent(target="the username field"), action=Click(x=1, y=1))]),
             StepRecord(index=1, screenshot="s", action=Type(text="karrie"))]
    critic = CPUCritic(ocr="off", evidence="off")
    v = critic.review(ReviewContext(task=task, observation=obs, action=Done()))
    assert not v.approve and v.error_type == PREMATURE_TERMINATION and "before any action" in v.reason
    v = critic.review(ReviewContext(task=task, observation=obs, action=Done(), history=steps))
    assert not v.approve and "'AU', 'login'" in v.reason
    done = [*steps, StepRecord(index=2, screenshot="s", action=Type(text="AU")),
            StepRecord(index=3, screenshot="s", action=Click(x=1, y=1),
                       attempts=[Attempt(intent=Intent(target="login"), action=Click(x=1, y=1))])]
    assert critic.review(ReviewContext(task=task, observation=obs, action=Done(), history=done)).approve
