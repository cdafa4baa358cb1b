"""What each environment says it can do, the refusal of what it cannot, the OSWorld command for
each action, and the browser subclasses (MiniWoB++, synthetic) with the new actions, in real
Chromium on their real pages."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from cua.core import (
    ACTION_TYPES, BASIC_ACTIONS, CallUser, Click, CloseTab, Done, EnvError, Fail, Goto, Key, KeyDown, KeyUp,
    MouseDown, MouseUp, NewTab, Observation, SelectOption, SwitchTab, TripleClick, Type,
    UnsupportedActionError, Wait,
)
from data_synth.env import SyntheticEnv
from data_synth.env import make_task as synth_task
from envs.asyncenv import AsyncEnv
from envs.base import POINTER_KEYBOARD_ACTIONS, StepResult, Task, check_supported, supported_actions
from envs.browser import BrowserEnv
from envs.desktop import DesktopEnv, PointerKeyboardEnv
from envs.miniwob import MiniWoBEnv
from envs.miniwob import make_task as miniwob_task
from envs.osworld.env import OSWorldLocalEnv
from envs.osworld.vm import OSWorldVMEnv, to_osworld_action
from envs.vnc import VNCDesktopEnv
from envs.webarena.env import WebArenaEnv

CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                    reason=f"no Chromium at {CHROMIUM} (in CI this fails instead)")
BROWSER_ONLY = {"goto", "back", "forward", "new_tab", "switch_tab", "close_tab", "select_option"}


class PluginEnv:
    """A user's env that predates the declaration: it is held to the basic actions."""

    name = "plugin"

    def reset(self, task: Task) -> Observation: ...  # type: ignore[empty-body]

    def step(self, action: Any) -> StepResult:
        check_supported(self, action)
        raise AssertionError("not reached in these tests")

    def evaluate(self) -> float:
        return 0.0

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("env_class", "expected"), [
    (BrowserEnv, ACTION_TYPES), (MiniWoBEnv, ACTION_TYPES), (SyntheticEnv, ACTION_TYPES),
    (WebArenaEnv, ACTION_TYPES), (DesktopEnv, POINTER_KEYBOARD_ACTIONS),
    (PointerKeyboardEnv, POINTER_KEYBOARD_ACTIONS), (VNCDesktopEnv, POINTER_KEYBOARD_ACTIONS),
    (OSWorldLocalEnv, POINTER_KEYBOARD_ACTIONS), (OSWorldVMEnv, POINTER_KEYBOARD_ACTIONS),
], ids=lambda v: getattr(v, "__name__", ""))
def test_every_env_declares_its_actions(env_class: type, expected: frozenset[str]) -> None:
    assert env_class.supported_actions == expected
    assert BASIC_ACTIONS <= env_class.supported_actions <= ACTION_TYPES


def test_the_pointer_keyboard_envs_do_everything_but_the_browser_actions() -> None:
    assert POINTER_KEYBOARD_ACTIONS == ACTION_TYPES - BROWSER_ONLY


def test_an_env_without_a_declaration_gets_the_basic_actions() -> None:
    plugin = PluginEnv()
    assert supported_actions(plugin) == BASIC_ACTIONS
    with pytest.raises(UnsupportedActionError) as caught:
        plugin.step(TripleClick(x=1, y=2))
    message = str(caught.value)
    assert message.startswith("plugin cannot do 'triple_click' (it can: ")
    assert "\n" not in message and "click, done, double_click" in message
    assert not isinstance(caught.value, EnvError)  # the agent's request, not infrastructure


def test_wrappers_report_the_wrapped_envs_actions() -> None:
    desktop = DesktopEnv()
    wrapped = AsyncEnv(desktop)
    try:
        assert supported_actions(wrapped) == POINTER_KEYBOARD_ACTIONS
        with pytest.raises(UnsupportedActionError, match="^desktop cannot do 'goto'"):
            check_supported(wrapped, Goto(url="http://127.0.0.1/"))
    finally:
        wrapped._worker.shutdown(wait=True)  # nothing was started: no env to close


def test_osworld_local_refuses_before_recording_the_action() -> None:
    env = OSWorldLocalEnv()  # nothing starts before reset
    with pytest.raises(UnsupportedActionError, match="^osworld-local cannot do 'select_option'"):
        env.step(SelectOption(x=1, y=1, values=["a"]))
    assert env._actions == []
    env.close()


# ---- OSWorld's commands for the actions -----------------------------------------------------


def test_osworld_commands_for_the_new_actions() -> None:
    assert to_osworld_action(TripleClick(x=10, y=20.5)) == "pyautogui.tripleClick(x=10, y=20.5)"
    assert to_osworld_action(MouseDown()) == "pyautogui.mouseDown(button='left')"
    assert to_osworld_action(MouseDown(x=1, y=2, button="right")) == "pyautogui.mouseDown(x=1, y=2, button='right')"
    assert to_osworld_action(MouseUp(x=3, y=4)) == "pyautogui.mouseUp(x=3, y=4, button='left')"
    assert to_osworld_action(KeyDown(keys=["shift", "cmd"])) == "pyautogui.keyDown('shift')\npyautogui.keyDown('win')"
    assert to_osworld_action(KeyUp(keys=["shift", "cmd"])) == "pyautogui.keyUp('win')\npyautogui.keyUp('shift')"
    assert to_osworld_action(Done(answer="x")) == "DONE"
    assert to_osworld_action(Fail()) == "FAIL"
    assert to_osworld_action(Fail(by="runtime")) == "DONE"  # no infeasibility claim
    assert to_osworld_action(CallUser(question="?")) is None  # nothing goes to the guest
    assert to_osworld_action(Wait()) == "WAIT"
    assert to_osworld_action(Type(text="plain ascii")) == "pyautogui.typewrite('plain ascii')"


@pytest.mark.parametrize("text", ["café 東京 😀", "it's `code` \\ é\n", "ÀÉ\"'\n\n", "é\tx\ny"])
def test_non_ascii_text_is_pasted_exactly(text: str) -> None:
    code = to_osworld_action(Type(text=text))
    assert code is not None and "`" not in code
    tree = ast.parse(code)  # valid Python, and the clipboard gets exactly the text
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    copied = next(c for c in calls if ast.unparse(c.func) == "pyperclip.copy")
    assert ast.literal_eval(copied.args[0]) + "\n" * (len(text) - len(text.rstrip("\n"))) == text
    assert code.startswith("import pyperclip\npyperclip.copy(")
    assert "pyautogui.hotkey('ctrl', 'v')" in code
    assert code.count("pyautogui.press('enter')") == len(text) - len(text.rstrip("\n"))


# ---- the browser subclasses -----------------------------------------------------------------


@pytest.fixture(scope="module")
def miniwob() -> Iterator[MiniWoBEnv]:
    if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    env = MiniWoBEnv()
    yield env
    env.close()


def _element(obs: Observation, role: str, name: str | None = None) -> dict[str, float]:
    found = next(e for e in obs.elements if e.role == role and (name is None or e.name == name))
    return {"x": found.box.center.x, "y": found.box.center.y}


@needs_chromium
def test_miniwob_choose_list_with_select_option(miniwob: MiniWoBEnv) -> None:
    obs = miniwob.reset(miniwob_task("choose-list", 1))
    wanted = re.match(r"Select (.+) from the list", obs.instruction or "").group(1)  # type: ignore[union-attr]
    result = miniwob.step(SelectOption(**_element(obs, "combobox"), values=[wanted]))
    assert result.info["selected"] == [wanted] and not result.done
    result = miniwob.step(Click(**_element(obs, "button", "Submit")))
    assert result.done and result.info["raw_reward"] > 0 and miniwob.evaluate() == 1.0


@needs_chromium
def test_miniwob_reads_its_task_tab_whatever_tab_is_active(miniwob: MiniWoBEnv) -> None:
    obs = miniwob.reset(miniwob_task("choose-list", 2))
    result = miniwob.step(NewTab())
    assert [t["active"] for t in result.observation.extra["tabs"]] == [False, True]
    assert not result.done and result.info["episode_done"] is False  # the state of the task tab
    result = miniwob.step(SwitchTab(index=0))
    assert result.observation.title == obs.title
    result = miniwob.step(CloseTab())  # the task's own tab
    assert result.done and result.info["reason"] == "the task's tab was closed"
    assert miniwob.evaluate() == 0.0
    obs = miniwob.reset(miniwob_task("choose-list", 3))  # a reset brings back one tab
    assert [t["active"] for t in obs.extra["tabs"]] == [True]
    assert miniwob.step(Key(keys=["tab"])).done is False


@needs_chromium
def test_synthetic_env_scores_its_app_tab(tmp_path: Any) -> None:
    env = SyntheticEnv()
    try:
        obs = env.reset(synth_task("auth-login-easy", 0))
        assert obs.extra["tabs"][0]["active"]
        env.step(NewTab())
        assert env.evaluate() == 0.0  # the app's state, read from its own tab
        env.step(SwitchTab(index=0))
        with env.observing("screenshot"):
            shot = env.step(Wait(seconds=0)).observation
        assert shot.size == obs.size
    finally:
        env.close()
