"""Action codecs: real model formats, hostile inputs, and emit/parse round trips."""

from __future__ import annotations

import ast
import builtins
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cua.core.actions import (
    KEY_NAMES, Action, Back, CallUser, Click, CloseTab, Done, DoubleClick, Drag, Fail, Forward, Goto, Key, KeyDown, KeyUp,
    MouseDown, MouseUp, Move, NewTab, RightClick, Scroll, SelectOption, SwitchTab, TripleClick, Type, Wait,
)
from cua.core.codecs.pyautogui import OPENCUA_WAIT_SECONDS
from cua.core.codecs import (
    CODECS, MAX_TEXT_CHARS, UITARS_WAIT_SECONDS, CodecName, ParsedOutput, detect_codec, emit,
    emit_all, parse,
)
from cua.core.errors import ActionParseError

FAST = settings(max_examples=60, deadline=None)


def actions(text: str, codec: CodecName) -> list[Action]:
    return parse(text, codec).actions


# ---- real formats -----------------------------------------------------------------------------

OSWORLD_RESPONSE = """I will type the query into the search box and submit it.
```python
import pyautogui
import time
pyautogui.click(x=512, y=384)
time.sleep(0.5)
pyautogui.typewrite('hello world', interval=0.05)
pyautogui.press('enter')
```"""

JEDI_PLANNER = """Observation: The Files window is open.

Thought: Open the File menu.

```python
# The 'File' menu at the top-left corner
pyautogui.click(x=23, y=45)
```"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (OSWORLD_RESPONSE, [Click(x=512, y=384), Wait(seconds=0.5), Type(text="hello world"),
                            Key(keys=["enter"])]),
        (JEDI_PLANNER, [Click(x=23, y=45)]),
        ("pyautogui.click(100, 200)", [Click(x=100, y=200)]),
        ("pyautogui.click(x=100, y=200, clicks=2)", [DoubleClick(x=100, y=200)]),
        ("pyautogui.click(x=100, y=200, button='right')", [Click(x=100, y=200, button="right")]),
        ("pyautogui.click((7, 8))", [Click(x=7, y=8)]),
        ("pyautogui.doubleClick(10, 20)", [DoubleClick(x=10, y=20)]),
        ("pyautogui.rightClick(x=10, y=20)", [RightClick(x=10, y=20)]),
        ("pyautogui.middleClick(10, 20)", [Click(x=10, y=20, button="middle")]),
        ("pyautogui.moveTo(5.5, -3)", [Move(x=5.5, y=-3)]),
        ("pyautogui.moveTo(100, 200)\npyautogui.dragTo(300, 400, duration=0.5)",
         [Drag(x=100, y=200, to_x=300, to_y=400)]),
        ("pyautogui.moveTo(1, 2); pyautogui.dragTo(x=3, y=4, button='left')", [Drag(x=1, y=2, to_x=3, to_y=4)]),
        ("pyautogui.click(5, 6); pyautogui.dragTo(7, 8)", [Click(x=5, y=6), Drag(x=5, y=6, to_x=7, to_y=8)]),
        ("pyautogui.moveTo(9, 9)\npyautogui.click()", [Move(x=9, y=9), Click(x=9, y=9)]),
        ("pyautogui.scroll(-5)", [Scroll(direction="down", amount=5)]),
        ("pyautogui.scroll(3, x=10, y=20)", [Scroll(direction="up", amount=3, x=10, y=20)]),
        ("pyautogui.moveTo(4, 4)\npyautogui.scroll(-2)", [Move(x=4, y=4), Scroll(direction="down", amount=2, x=4, y=4)]),
        ("pyautogui.scroll(-500)", [Scroll(direction="down", amount=100)]),
        ("pyautogui.hscroll(4)", [Scroll(direction="right", amount=4)]),
        ("pyautogui.write('a\\nb')", [Type(text="a\nb")]),
        ("pyautogui.typewrite(['a', 'enter'])", [Key(keys=["a"]), Key(keys=["enter"])]),
        ("pyautogui.press(['tab', 'tab'])", [Key(keys=["tab"]), Key(keys=["tab"])]),
        ("pyautogui.press('esc', presses=2)", [Key(keys=["escape"]), Key(keys=["escape"])]),
        ("pyautogui.hotkey('ctrl', 'c')", [Key(keys=["ctrl", "c"])]),
        ("pyautogui.hotkey('ctrlleft', 'shift', 'T')", [Key(keys=["ctrl", "shift", "T"])]),
        ("pyautogui.hotkey(['win', 'd'])", [Key(keys=["meta", "d"])]),
        ("pyautogui.press('\\n')", [Key(keys=["enter"])]),
        ("import pyautogui, time\ntime.sleep(2)", [Wait(seconds=2)]),
        ("WAIT", [Wait()]),
        ("```\nDONE\n```", [Done()]),
        ("FAIL", [Fail()]),
        ("'''\nObservation: x\n'''\npyautogui.press('f5')", [Key(keys=["f5"])]),
    ],
)
def test_pyautogui_formats(text: str, expected: list[Action]) -> None:
    assert actions(text, "pyautogui") == expected


def test_pyautogui_thought_is_the_prose_around_the_fence() -> None:
    assert parse(OSWORLD_RESPONSE, "pyautogui").thought == (
        "I will type the query into the search box and submit it."
    )
    assert parse("pyautogui.press('a')", "pyautogui").thought is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thought: I need to click the search box.\n"
         "Action: click(start_box='<|box_start|>(235,512)<|box_end|>')", [Click(x=235, y=512)]),
        ("Thought: ok\nAction: click(start_box='(235,512)')", [Click(x=235, y=512)]),
        ("Thought: ok\nAction: click(point='<point>100 200</point>')", [Click(x=100, y=200)]),
        ("Action: click(start_box='(10,20,30,40)')", [Click(x=20, y=30)]),
        ("Action: click(start_box='<|box_start|>(10,20),(30,40)<|box_end|>')", [Click(x=20, y=30)]),
        ("Action: left_double(start_box='(1,2)')", [DoubleClick(x=1, y=2)]),
        ("Action: right_single(point='<point>3 4</point>')", [RightClick(x=3, y=4)]),
        ("Action: drag(start_box='(1,2)', end_box='(3,4)')", [Drag(x=1, y=2, to_x=3, to_y=4)]),
        ("Action: drag(start_point='<point>1 2</point>', end_point='<point>3 4</point>')",
         [Drag(x=1, y=2, to_x=3, to_y=4)]),
        ("Action: hotkey(key='ctrl c')", [Key(keys=["ctrl", "c"])]),
        ("Action: hotkey(key='arrowdown')", [Key(keys=["down"])]),
        ("Action: type(content='hello')", [Type(text="hello")]),
        ("Action: type(content='hello\\n')", [Type(text="hello"), Key(keys=["enter"])]),
        ("Action: type(content='\\n')", [Key(keys=["enter"])]),
        ("Action: type(content='it's a \"test\"')", [Type(text="it's a \"test\"")]),
        ("Action: type(content='two\nlines\n')", [Type(text="two\nlines"), Key(keys=["enter"])]),
        ("Action: scroll(start_box='(5,6)', direction='down')", [Scroll(direction="down", x=5, y=6)]),
        ("Action: scroll(point='<point>5 6</point>', direction='left')", [Scroll(direction="left", x=5, y=6)]),
        ("Action: scroll(direction='up')", [Scroll(direction="up")]),
        ("Action: wait()", [Wait(seconds=UITARS_WAIT_SECONDS)]),
        ("Action: finished(content='The answer is 42.')", [Done(answer="The answer is 42.")]),
        ("Action: finished()", [Done()]),
        ("Action: call_user()", [CallUser()]),
        ("Action: navigate(content='http://a.test/x')\n\nnavigate_back()", [Goto(url="http://a.test/x"), Back()]),
        ("Action: press(key='ctrl')\n\nrelease(key='ctrl')", [KeyDown(keys=["ctrl"]), KeyUp(keys=["ctrl"])]),
        ("Thought: two steps\nAction: click(start_box='(1,2)')\n\ntype(content='x')",
         [Click(x=1, y=2), Type(text="x")]),
        ("click(start_box='(1,2)')", [Click(x=1, y=2)]),
    ],
)
def test_uitars_formats(text: str, expected: list[Action]) -> None:
    assert actions(text, "uitars") == expected


def test_uitars_thought_headers() -> None:
    assert parse("Thought: find the box\nAction: wait()", "uitars").thought == "find the box"
    reflective = "Reflection: the click missed\nAction_Summary: click again\nAction: wait()"
    assert parse(reflective, "uitars").thought == "Reflection: the click missed\nAction_Summary: click again"
    summary = parse("Action_Summary: submit\nAction: hotkey(key='enter')", "uitars")
    assert summary.thought == "Action_Summary: submit" and summary.actions == [Key(keys=["enter"])]


def _tool(args: str, name: str = "computer_use") -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {args}}}\n</tool_call>'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [960, 540]}}</tool_call>',
         [Click(x=960, y=540)]),
        ('<think>The search button is at the top right.</think>\n<tool_call>\n{"name": "grounding", '
         '"arguments": {"action": "click", "coordinate": [1203, 88]}}\n</tool_call>', [Click(x=1203, y=88)]),
        (_tool('{"action": "left_click", "coordinate": [10, 20, 30, 40]}'), [Click(x=20, y=30)]),
        (_tool('{"action": "right_click", "coordinate": [1, 2]}'), [RightClick(x=1, y=2)]),
        (_tool('{"action": "middle_click", "coordinate": [1, 2]}'), [Click(x=1, y=2, button="middle")]),
        (_tool('{"action": "double_click", "coordinate": [1.5, 2]}'), [DoubleClick(x=1.5, y=2)]),
        (_tool('{"action": "mouse_move", "coordinate": [1, 2]}'), [Move(x=1, y=2)]),
        (_tool('{"action": "mouse_move", "coordinate": [1, 2]}') + "\n"
         + _tool('{"action": "left_click_drag", "coordinate": [3, 4]}'), [Drag(x=1, y=2, to_x=3, to_y=4)]),
        (_tool('{"action": "left_click_drag", "start_coordinate": [1, 2], "coordinate": [3, 4]}'),
         [Drag(x=1, y=2, to_x=3, to_y=4)]),
        (_tool('{"action": "scroll", "pixels": -300}'), [Scroll(direction="down", amount=100)]),
        (_tool('{"action": "scroll", "pixels": 5, "coordinate": [7, 8]}'), [Scroll(direction="up", amount=5, x=7, y=8)]),
        (_tool('{"action": "type", "text": "hi\\nthere"}'), [Type(text="hi\nthere")]),
        (_tool('{"action": "key", "keys": ["ctrl", "Return"]}'), [Key(keys=["ctrl", "enter"])]),
        (_tool('{"action": "key", "keys": "ctrl+s"}'), [Key(keys=["ctrl", "s"])]),
        (_tool('{"action": "wait", "time": 2}'), [Wait(seconds=2)]),
        (_tool('{"action": "wait"}'), [Wait()]),
        (_tool('{"action": "terminate", "status": "success"}'), [Done()]),
        (_tool('{"action": "terminate", "status": "failure"}'), [Fail()]),
        (_tool('{"action": "answer", "text": "42"}'), [Done(answer="42")]),
        (_tool('"{\\"action\\": \\"left_click\\", \\"coordinate\\": [1, 2]}"'), [Click(x=1, y=2)]),
        ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [5, 6]}}',
         [Click(x=5, y=6)]),
        ('{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [5, 6]}}', [Click(x=5, y=6)]),
    ],
)
def test_computer_use_formats(text: str, expected: list[Action]) -> None:
    assert actions(text, "computer_use") == expected


def test_computer_use_thought() -> None:
    text = '<think>\nThe button.\n</think>\n' + _tool('{"action": "left_click", "coordinate": [1, 2]}')
    assert parse(text, "computer_use").thought == "The button."
    assert parse("I will click.\n" + _tool('{"action": "wait"}'), "computer_use").thought == "I will click."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "click", "x": 1, "y": 2}', [Click(x=1, y=2)]),
        ('[{"type": "key", "keys": ["Ctrl", "c"]}, {"type": "done", "answer": "ok"}]',
         [Key(keys=["ctrl", "c"]), Done(answer="ok")]),
        ('Next:\n```json\n{"type": "scroll", "direction": "down"}\n```', [Scroll(direction="down")]),
    ],
)
def test_json_formats(text: str, expected: list[Action]) -> None:
    assert actions(text, "json") == expected


# ---- rejected input ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("codec", "text", "quoted"),
    [
        ("pyautogui", "__import__('os').system('x')", "__import__"),
        ("pyautogui", "pyautogui.click(x=os.getpid(), y=1)", "os.getpid()"),
        ("pyautogui", "exec('print(1)')", "exec"),
        ("pyautogui", "eval('1')", "eval"),
        ("pyautogui", "os.system('ls')", "os.system"),
        ("pyautogui", "import os", "import os"),
        ("pyautogui", "from pyautogui import click", "from pyautogui"),
        ("pyautogui", "import pyautogui as pg", "import pyautogui as pg"),
        ("pyautogui", "pyautogui.click(x=f'{1}', y=2)", "f'{1}'"),
        ("pyautogui", "pyautogui.click(x=[i for i in (1,)], y=2)", "[i for i in (1,)]"),
        ("pyautogui", "pyautogui.click(x=(lambda: 1)(), y=2)", "lambda"),
        ("pyautogui", "pyautogui.click(x=1+1, y=2)", "1+1"),
        ("pyautogui", "pyautogui.click(x=[1][0], y=2)", "[1][0]"),
        ("pyautogui", "pyautogui.click(x=pyautogui.size()[0], y=1)", "pyautogui.size()[0]"),
        ("pyautogui", "pyautogui.click(**{'x': 1})", "**{'x': 1}"),
        ("pyautogui", "pyautogui.click(*[1, 2])", "*[1, 2]"),
        ("pyautogui", "pyautogui.FAILSAFE = False", "FAILSAFE"),
        ("pyautogui", "x = 1", "x = 1"),
        ("pyautogui", "pyautogui.screenshot()", "pyautogui.screenshot"),
        ("pyautogui", "pyautogui.tripleClick(1, 2, button='right')", "triple"),
        ("pyautogui", "pyautogui.keyDown()", "needs a key"),
        ("pyautogui", "computer.terminate(status='success')", "unsupported call computer.terminate"),
        ("pyautogui", "pyautogui.click(1, 2, 3, 4, 'left', 0, 7)", "at most"),
        ("pyautogui", "pyautogui.click(x=1, y=2, clicks=4)", "clicks=4"),
        ("pyautogui", "pyautogui.click(x=1)", "pyautogui.click(x=1)"),
        ("pyautogui", "pyautogui.click(x='1', y=2)", "'1'"),
        ("pyautogui", "pyautogui.click(x=True, y=2)", "True"),
        ("pyautogui", "pyautogui.click(x=1e999, y=2)", "finite"),
        ("pyautogui", "pyautogui.click(x=1, y=2, foo=3)", "foo"),
        ("pyautogui", "pyautogui.click(x=1, y=2, button='left2')", "left2"),
        ("pyautogui", "pyautogui.click()", "no x, y"),
        ("pyautogui", "pyautogui.dragTo(3, 4)", "start point"),
        ("pyautogui", "pyautogui.moveTo()", "needs x and y"),
        ("pyautogui", "pyautogui.scroll(0)", "0"),
        ("pyautogui", "pyautogui.press('nosuchkey')", "nosuchkey"),
        ("pyautogui", "pyautogui.press('a', presses=100000)", "presses"),
        ("pyautogui", "pyautogui.typewrite('unbalanced)", "not valid Python"),
        ("pyautogui", "time.sleep(9999)", "seconds"),
        ("pyautogui", "```python\npyautogui.click(1, 2)", "unclosed"),
        ("pyautogui", "import pyautogui", "no action"),
        ("pyautogui", "", "no action"),
        ("uitars", "Action: click(start_box=__import__('os').system('x'))", "__import__"),
        ("uitars", "Action: open_app(app_name='Settings')", "open_app"),
        ("uitars", "Action: click(start_box='(1,2,3)')", "3"),
        ("uitars", "Action: click(start_box='(a,b)')", "(a,b)"),
        ("uitars", "Action: click()", "start_box"),
        ("uitars", "Action: click('(1,2)')", "keyword"),
        ("uitars", "Action: click(start_box='(1,2)', bogus=1)", "bogus"),
        ("uitars", "Action: scroll(direction='sideways')", "sideways"),
        ("uitars", "Action: pyautogui.click(1, 2)", "pyautogui.click"),
        ("uitars", "Thought: no action here", "UI-TARS"),
        ("computer_use", "<tool_call>{not json}</tool_call>", "invalid JSON"),
        ("computer_use", _tool('{"action": "launch_rockets"}'), "launch_rockets"),
        ("computer_use", _tool('{"action": "left_click"}'), "coordinate"),
        ("computer_use", _tool('{"action": "left_click", "coordinate": [1]}'), "got 1"),
        ("computer_use", _tool('{"action": "left_click", "coordinate": ["1", 2]}'), "'1'"),
        ("computer_use", _tool('{"action": "left_click_drag", "coordinate": [1, 2]}'), "start point"),
        ("computer_use", _tool('{"action": "terminate", "status": "maybe"}'), "maybe"),
        ("computer_use", _tool('{"action": "scroll", "pixels": NaN}'), "finite"),
        ("computer_use", _tool('{"action": "wait"}', name="bash"), "expected a call"),
        ("computer_use", "just text", "no <tool_call>"),
        ("json", '{"type": "exec", "code": "x"}', "exec"),
        ("json", '{"type": "click", "x": 1}', "y"),
        ("json", '{"type": "click", "x": 1, "y": 2, "extra": 3}', "extra"),
        ("json", '{"type": "click", "x": Infinity, "y": 2}', "finite"),
        ("json", "[" * 50_000 + "]" * 50_000, "nested"),
        ("json", "[]", "no action"),
    ],
)
def test_rejected_with_a_reason_quoting_the_text(codec: CodecName, text: str, quoted: str) -> None:
    with pytest.raises(ActionParseError) as info:
        parse(text, codec)
    assert quoted in str(info.value)


@pytest.mark.parametrize("codec", CODECS)
def test_oversized_and_non_text_input(codec: CodecName) -> None:
    with pytest.raises(ActionParseError, match="longer than"):
        parse("pyautogui.press('a')\n" * (MAX_TEXT_CHARS // 10), codec)
    with pytest.raises(ActionParseError, match="must be a string"):
        parse(None, codec)  # type: ignore[arg-type]


def test_deep_nesting_is_refused_not_crashing() -> None:
    for text in ["pyautogui.click(x=" + "-" * 50_000 + "1, y=1)",
                 "pyautogui.click(x=" + "(" * 500 + "1" + ")" * 500 + ", y=1)",
                 "pyautogui.press(" + "[" * 300 + "]" * 300 + ")"]:
        with pytest.raises(ActionParseError):
            parse(text, "pyautogui")


def test_unknown_codec_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown codec"):
        parse("WAIT", "osworld")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("codec", "action"),
    [("uitars", Move(x=1, y=2)), ("uitars", Click(x=1, y=2, button="middle"))],
)
def test_inexpressible_actions_raise(codec: CodecName, action: Action) -> None:
    with pytest.raises(ActionParseError, match="cannot express"):
        emit(action, codec)


# ---- nothing is ever executed -----------------------------------------------------------------

@contextmanager
def no_execution() -> Iterator[list[str]]:
    """Trap every way parsing could run code; ast.parse's own compile(..., PyCF_ONLY_AST) passes."""
    calls: list[str] = []
    real_compile = builtins.compile

    def trap(name: str):
        def refuse(*args: object, **kwargs: object) -> None:
            calls.append(name)
            raise AssertionError(f"{name} called while parsing")
        return refuse

    def ast_only_compile(source, filename, mode, flags=0, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not flags & ast.PyCF_ONLY_AST:
            return trap("compile")()
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builtins, "exec", trap("exec"))
        mp.setattr(builtins, "eval", trap("eval"))
        mp.setattr(builtins, "compile", ast_only_compile)
        mp.setattr(builtins, "__import__", _import_guard(builtins.__import__, calls))
        mp.setattr(os, "system", trap("os.system"))
        mp.setattr(os, "popen", trap("os.popen"))
        mp.setattr(subprocess, "Popen", trap("subprocess.Popen"))
        yield calls


def _import_guard(real_import, calls: list[str]):  # type: ignore[no-untyped-def]
    def guarded(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.split(".")[0] in {"os", "subprocess", "shutil", "socket", "ctypes"}:
            calls.append(f"import {name}")
            raise AssertionError(f"import {name} while parsing")
        return real_import(name, *args, **kwargs)
    return guarded


def test_the_trap_catches_execution() -> None:
    with no_execution() as calls:
        for run in (lambda: exec("1"), lambda: eval("1"), lambda: compile("1", "<s>", "exec"),
                    lambda: os.system("true"), lambda: __import__("subprocess")):
            with pytest.raises(AssertionError):
                run()
        ast.parse("x = 1")  # ast.parse's own compile(..., PyCF_ONLY_AST) still works
    assert calls == ["exec", "eval", "compile", "os.system", "import subprocess"]


def parse_or_reject(text: str, codec: CodecName) -> ParsedOutput | None:
    """Parse under the trap: the only allowed outcomes are actions or an ActionParseError."""
    with no_execution() as calls:
        try:
            result: ParsedOutput | None = parse(text, codec)
        except ActionParseError:
            result = None
    assert calls == []
    return result


_FRAGMENTS = [
    "pyautogui.", "click", "doubleClick", "dragTo", "moveTo", "scroll", "press", "hotkey",
    "typewrite", "keyDown", "time.sleep", "(", ")", "x=", "y=", "100", "-5", "1e999", "2.5", ",",
    "'", '"', "\n", "\n\n", ";", " ", "__import__('os')", ".system('echo pwned')", "os", "exec(",
    "eval(", "compile(", "lambda: 0", "[i for i in range(3)]", "f'{x}'", "**{}", "*[1]",
    "import os", "import pyautogui", "WAIT", "DONE", "FAIL", "```python\n", "```", "Thought: ",
    "Action: ", "start_box='", "point='", "<point>", "</point>", "<|box_start|>", "<|box_end|>",
    "type(content='", "hotkey(key='ctrl c')", "finished(", "<tool_call>", "</tool_call>", "<think>",
    "</think>", '{"name": "computer_use", "arguments": ', '{"action": "left_click", "coordinate": [',
    '"type": "click"', "{", "}", "[", "]", "globals()", "open('/etc/passwd')", "\\", "\\n", "0",
    "x", ":", "=", "button='right'", "clicks=2",
]
near_miss = st.lists(st.sampled_from(_FRAGMENTS), max_size=25).map("".join)


@FAST
@given(text=st.text(max_size=200) | near_miss)
def test_arbitrary_text_never_executes(text: str) -> None:
    for codec in CODECS:
        result = parse_or_reject(text, codec)
        assert result is None or (result.actions and result.raw_text == text)


@pytest.mark.parametrize("codec", CODECS)
def test_payloads_do_nothing(codec: CodecName, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payloads = [
        f"pyautogui.click(x=__import__('os').system('touch {marker}'), y=1)",
        f"__import__('os').system('touch {marker}')",
        f"Action: type(content=__import__('os').system('touch {marker}'))",
        f"Action: type(content='x')\n\n__import__('os').system('touch {marker}')",
        _tool(f'{{"action": "type", "text": "__import__(\'os\').system(\'touch {marker}\')"}}'),
        f"pyautogui.typewrite(open('{marker}', 'w').write('x'))",
    ]
    for text in payloads:
        result = parse_or_reject(text, codec)
        assert result is None or all(isinstance(a, Type) for a in result.actions)
    assert not marker.exists()


# ---- round trips ------------------------------------------------------------------------------

coords = st.integers(-50, 4000).map(float)
reals = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
key_names = st.sampled_from(sorted(KEY_NAMES)) | st.characters(exclude_categories=("Cs",)).filter(lambda c: c.isprintable() and not c.isspace())
keys = st.lists(key_names, min_size=1, max_size=3).map(lambda ks: Key(keys=ks))
texts = st.text(max_size=30)
seconds = st.floats(0, 60, allow_nan=False)


def action_strategy(codec: CodecName, c: st.SearchStrategy[float], point_scrolls: bool = False) -> st.SearchStrategy[Action]:
    """Actions ``codec`` can express (the others raise on emit: see test_inexpressible...)."""
    maybe_point = st.tuples(c, c) if point_scrolls else st.none() | st.tuples(c, c)
    scroll = st.builds(
        lambda d, n, p: Scroll(direction=d, amount=n, x=p and p[0], y=p and p[1]),
        st.sampled_from(["up", "down", "left", "right"]), st.integers(1, 100), maybe_point,
    )
    buttons = ["left", "right"] if codec == "uitars" else ["left", "right", "middle"]
    common = [
        st.builds(Click, x=c, y=c, button=st.sampled_from(buttons)),
        st.builds(DoubleClick, x=c, y=c),
        st.builds(RightClick, x=c, y=c),
        st.builds(Drag, x=c, y=c, to_x=c, to_y=c),
        scroll,
        st.builds(Type, text=texts),
        keys,
        st.builds(Wait, seconds=seconds),
        st.builds(Done, answer=st.none() | texts),
    ]
    held = st.lists(key_names, min_size=1, max_size=2 if codec != "uitars" else 1)
    if codec != "uitars":
        common += [st.builds(Move, x=c, y=c), st.builds(TripleClick, x=c, y=c),
                   st.builds(Fail, reason=st.none() | texts)]
    if codec in ("uitars", "json"):
        common += [st.builds(CallUser), st.builds(Goto, url=st.just("http://a.test/p?q=1")), st.builds(Back)]
    if codec != "json":
        common += [st.builds(KeyDown, keys=held), st.builds(KeyUp, keys=held)]
    if codec in ("pyautogui", "opencua", "json"):
        # Like scrolls: a button action without a point acts where the pointer is.
        common += [st.builds(lambda p, b, cls=cls: cls(x=p and p[0], y=p and p[1], button=b), maybe_point,
                             st.sampled_from(["left", "right", "middle"])) for cls in (MouseDown, MouseUp)]
    if codec == "json":
        common += [st.builds(SelectOption, x=c, y=c, values=st.lists(texts, min_size=1, max_size=3)),
                   st.builds(NewTab, url=st.none() | st.just("http://a.test/")), st.builds(SwitchTab, index=st.integers(0, 9)),
                   st.builds(CloseTab), st.builds(Forward), st.builds(KeyDown, keys=held)]
    return st.one_of(common)


def expected_after(action: Action, codec: CodecName) -> list[Action]:
    """What ``codec`` can carry of ``action`` (its format has no slot for the rest)."""
    match codec, action:
        case "pyautogui", Done() | Fail():
            return [type(action)()]
        case "pyautogui" | "opencua", KeyDown(keys=keys) | KeyUp(keys=keys) if len(keys) > 1:
            return [type(action)(keys=[k]) for k in keys]
        case "opencua", Fail():
            return [Fail(reason="terminate(status='failure')")]
        case "opencua", Wait():
            return [Wait(seconds=OPENCUA_WAIT_SECONDS)]
        case "uitars", KeyDown(keys=keys) | KeyUp(keys=keys):
            return [type(action)(keys=keys[0].split() if keys[0] != " " and len(keys[0]) > 1 else keys)]
        case "uitars", Click(button="right"):
            return [RightClick(x=action.x, y=action.y)]
        case "uitars", Scroll():
            return [action.model_copy(update={"amount": 3})]
        case "uitars", Wait():
            return [Wait(seconds=UITARS_WAIT_SECONDS)]
        case "uitars", Type(text=text) if text.endswith("\n"):
            return ([Type(text=text[:-1])] if text[:-1] else []) + [Key(keys=["enter"])]
        case "computer_use", Click(button="right"):
            return [RightClick(x=action.x, y=action.y)]
        case "computer_use", Fail():
            return [Fail()]
    return [action]


@pytest.mark.parametrize("codec", CODECS)
@FAST
@given(data=st.data())
def test_emit_then_parse_round_trips(codec: CodecName, data: st.DataObject) -> None:
    c = reals if codec in ("pyautogui", "json") else coords
    action = data.draw(action_strategy(codec, c))
    text = emit(action, codec)
    assert actions(text, codec) == expected_after(action, codec)
    # OpenCUA code is pyautogui plus computer.*: plain calls read as pyautogui.
    assert detect_codec(text) in ((codec, "pyautogui") if codec == "opencua" else (codec,))


@pytest.mark.parametrize("codec", CODECS)
@FAST
@given(data=st.data())
def test_sequences_round_trip_and_are_stable(codec: CodecName, data: st.DataObject) -> None:
    # Scrolls carry their point: a pointless scroll after a click scrolls at the click, by design.
    seq = data.draw(st.lists(action_strategy(codec, coords, point_scrolls=True), min_size=1, max_size=6))
    first = actions(emit_all(seq, codec), codec)
    assert first == [a for action in seq for a in expected_after(action, codec)]
    assert actions(emit_all(first, codec), codec) == first


REAL_OUTPUTS: list[tuple[CodecName, str]] = [
    ("pyautogui", OSWORLD_RESPONSE),
    ("pyautogui", JEDI_PLANNER),
    ("pyautogui", "pyautogui.moveTo(100, 200)\npyautogui.dragTo(300, 400, duration=0.5)"),
    ("uitars", "Thought: a\nAction: click(start_box='<|box_start|>(235,512)<|box_end|>')\n\ntype(content='hi\\n')"),
    ("uitars", "Action: drag(start_point='<point>1 2</point>', end_point='<point>3 4</point>')"),
    ("computer_use", '<think>x</think>\n' + _tool('{"action": "key", "keys": ["ctrl", "s"]}')),
    ("computer_use", _tool('{"action": "mouse_move", "coordinate": [1, 2]}')
     + _tool('{"action": "left_click_drag", "coordinate": [3, 4]}')),
    ("json", '[{"type": "click", "x": 1.5, "y": 2}, {"type": "wait", "seconds": 3}]'),
]


@pytest.mark.parametrize(("codec", "text"), REAL_OUTPUTS)
def test_real_outputs_parse_emit_parse_is_stable(codec: CodecName, text: str) -> None:
    assert detect_codec(text) == codec
    first = actions(text, codec)
    assert actions(emit_all(first, codec), codec) == first


def test_emitted_formats_look_like_the_models() -> None:
    assert emit(Click(x=235, y=512), "uitars") == "click(point='<point>235 512</point>')"
    assert emit(Click(x=960, y=540), "computer_use") == (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [960, 540]}}\n</tool_call>'
    )
    assert emit(Click(x=1, y=2.5), "pyautogui") == "pyautogui.click(x=1, y=2.5)"
    assert emit(Key(keys=["meta", "d"]), "pyautogui") == "pyautogui.hotkey('win', 'd')"
    assert emit(Scroll(direction="down", amount=5, x=1, y=2), "pyautogui") == "pyautogui.scroll(-5, x=1, y=2)"
    assert emit_all([Done(answer="x")], "json") == '[{"type":"done","answer":"x"}]'


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("pyautogui.typewrite('<tool_call>')", "pyautogui"),
        ("type(content='pyautogui.click(1, 2)')", "uitars"),
        ('[{"type": "type", "text": "<tool_call>"}]', "json"),
        ("Thought: x\nAction: wait()", "uitars"),
        ("I am not sure what to do next.", None),
    ],
)
def test_detect_codec(text: str, codec: CodecName | None) -> None:
    assert detect_codec(text) == codec


# ---- hostile sizes: linear work (the timeout is a guard; the assertions are about behaviour) ----

@pytest.mark.timeout(20)
def test_a_flood_of_uitars_actions_is_refused_after_the_limit() -> None:
    text = "Action: " + "wait()\n" * 14_000  # 98k characters
    with pytest.raises(ActionParseError, match="more than 1000 actions"):
        parse(text, "uitars")


@pytest.mark.timeout(20)
@pytest.mark.parametrize("text", ["<think>" * 14_000 + '{"name": "x"}', "\n" * 99_000 + "x"])
def test_think_floods_and_blank_floods_read_in_linear_time(text: str) -> None:
    with pytest.raises(ActionParseError):
        parse(text, "computer_use")
    assert detect_codec(text) is None


def test_a_tool_call_whose_name_is_not_a_string_is_a_parse_error() -> None:
    with pytest.raises(ActionParseError, match="expected a call"):
        parse('<tool_call>{"name": ["computer_use"], "arguments": {}}</tool_call>', "computer_use")
