"""OSWorld-style pyautogui code (``pyautogui.click(x=10, y=20)``, ``WAIT``/``DONE``/``FAIL``),
read with ``ast`` against a whitelist and never run. With ``computer=True`` (the OpenCUA / EvoCUA
dialect) the ``computer.triple_click / wait / terminate`` functions of their prompts are read too.

A call without coordinates acts where the pointer is: ``moveTo(a); dragTo(b)`` is one Drag a -> b.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Callable

from cua.core.actions import (
    Action,
    Click,
    Done,
    DoubleClick,
    Drag,
    Fail,
    Key,
    KeyDown,
    KeyUp,
    MouseButton,
    MouseDown,
    MouseUp,
    Move,
    RightClick,
    Scroll,
    TripleClick,
    Type,
    Wait,
)
from cua.core.codecs.common import (
    MAX_ACTIONS,
    ParsedOutput,
    call_args,
    drag_to,
    fmt,
    inexpressible,
    key,
    make,
    number,
    parse_python,
    pointer,
    quote,
    scroll,
    unfence,
)
from cua.core.errors import ActionParseError

# Parameters in pyautogui's own order, so positional calls bind as they would at run time. Only
# the ones we read or may safely ignore (duration, interval) are listed; others are refused.
_PG_PARAMS: dict[str, tuple[str, ...]] = {
    "click": ("x", "y", "clicks", "interval", "button", "duration"),
    "doubleClick": ("x", "y", "interval", "button", "duration"),
    "tripleClick": ("x", "y", "interval", "button", "duration"),
    "rightClick": ("x", "y", "duration"),
    "middleClick": ("x", "y", "duration"),
    "moveTo": ("x", "y", "duration"),
    "dragTo": ("x", "y", "duration", "tween", "button"),
    "scroll": ("clicks", "x", "y"),
    "hscroll": ("clicks", "x", "y"),
    "typewrite": ("message", "interval"),
    "write": ("message", "interval"),
    "press": ("keys", "presses", "interval"),
    "hotkey": ("interval",),  # keys come as *args
    "mouseDown": ("x", "y", "button", "duration"),
    "mouseUp": ("x", "y", "button", "duration"),
    "keyDown": ("key",),
    "keyUp": ("key",),
}
# OpenCUA / EvoCUA: the functions their prompts add next to pyautogui.
_COMPUTER_PARAMS: dict[str, tuple[str, ...]] = {
    "triple_click": ("x", "y"), "wait": ("seconds",), "terminate": ("status", "answer"),
}
OPENCUA_WAIT_SECONDS = 20.0  # "Make the computer wait for 20 seconds for installation, running code, etc."
_PG_CODES: dict[str, Callable[[], Action]] = {"WAIT": Wait, "DONE": Done, "FAIL": Fail}
_PG_BUTTONS: dict[str, MouseButton] = {
    "left": "left", "primary": "left", "right": "right", "secondary": "right", "middle": "middle",
}
# pyautogui key spellings normalize_key does not know, and ours -> pyautogui's for emitting.
_PG_KEY_ALIASES = {
    "ctrlleft": "ctrl", "ctrlright": "ctrl", "shiftleft": "shift", "shiftright": "shift",
    "altleft": "alt", "altright": "alt", "optionleft": "alt", "optionright": "alt",
    "winleft": "meta", "winright": "meta", "apps": "contextmenu", "\n": "enter", "\r": "enter",
    "\t": "tab",
}
_PG_KEY_NAMES = {"meta": "win", "contextmenu": "apps"}


def parse(text: str, computer: bool = False) -> ParsedOutput:
    code, thought = unfence(text, "python3?|py|code")
    tree = parse_python(code, code)
    lines = re.split(r"\r\n?|\n", code)  # line breaks as ast counts them (not str.splitlines)
    out: list[Action] = []
    for stmt in tree.body:
        # Whole source lines are cheap to slice; exact segments are only computed for errors.
        src = "\n".join(lines[stmt.lineno - 1:stmt.end_lineno]).strip()
        if isinstance(stmt, ast.Import) and all(
            a.name in ("pyautogui", "time") and a.asname is None for a in stmt.names
        ):
            continue
        value = stmt.value if isinstance(stmt, ast.Expr) else None
        if isinstance(value, ast.Name) and value.id in _PG_CODES:
            out.append(_PG_CODES[value.id]())
        elif isinstance(value, ast.Constant) and isinstance(value.value, str):
            continue  # a bare string is a comment (UI-TARS's own converter writes them)
        elif isinstance(value, ast.Call):
            _pg_call(value, code, out, src, computer)
        else:
            raise ActionParseError("only pyautogui calls, time.sleep, WAIT, DONE, FAIL are allowed", src)
        if len(out) > MAX_ACTIONS:
            raise ActionParseError(f"more than {MAX_ACTIONS} actions", src)
    return ParsedOutput(out, thought, text)


def _pg_call(call: ast.Call, code: str, out: list[Action], src: str, computer: bool) -> None:
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        raise ActionParseError("only pyautogui.<function>(...) calls are allowed", src)
    module, name = func.value.id, func.attr
    if (module, name) == ("time", "sleep"):
        args = _pg_bind("time.sleep", ("secs",), call, code, src)
        out.append(make(Wait, src, seconds=number(args.get("secs"), "seconds", src)))
        return
    if computer and module == "computer" and name in _COMPUTER_PARAMS:
        _computer_call(name, _pg_bind(f"computer.{name}", _COMPUTER_PARAMS[name], call, code, src), out, src)
        return
    if module != "pyautogui" or name not in _PG_PARAMS:
        raise ActionParseError(f"unsupported call {module}.{name}", src)
    args = _pg_bind(name, _PG_PARAMS[name], call, code, src)
    _PG_HANDLERS[name](name, args, out, src)


def _computer_call(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    if name == "triple_click":
        x, y = _pg_at(args, out, src) or (None, None)
        if x is None:
            raise ActionParseError("computer.triple_click() needs x and y", src)
        out.append(make(TripleClick, src, x=x, y=y))
    elif name == "wait":
        seconds = args.get("seconds")
        out.append(make(Wait, src, seconds=OPENCUA_WAIT_SECONDS if seconds is None
                        else number(seconds, "seconds", src)))
    else:  # terminate: "fail"/"failure" is FAIL, "success" is DONE, anything else FAIL (OpenCUA's agent)
        status, answer = args.get("status"), args.get("answer")
        if answer is not None and not isinstance(answer, str):
            raise ActionParseError("terminate answer must be a string", src)
        if isinstance(status, str) and status.strip().lower() == "success":
            out.append(make(Done, src, answer=answer))
        else:
            out.append(make(Fail, src, reason=None if status is None else f"terminate(status={status!r})"))


def _pg_bind(name: str, params: tuple[str, ...], call: ast.Call, code: str, src: str) -> dict[str, Any]:
    """Bind literal arguments to parameter names as Python would (hotkey takes *keys)."""
    pos, kwargs = call_args(call, code)
    if name == "hotkey":
        bound: dict[str, Any] = {"keys": pos}
    elif len(pos) > len(params):
        raise ActionParseError(f"{name}() takes at most {len(params)} positional arguments", src)
    else:
        bound = dict(zip(params, pos))
    for arg, value in kwargs.items():
        if arg not in params:
            raise ActionParseError(f"{name}() got an unexpected argument {arg!r}", src)
        if arg in bound:
            raise ActionParseError(f"{name}() got {arg!r} twice", src)
        bound[arg] = value
    return bound


def _pg_at(args: dict[str, Any], out: list[Action], src: str) -> tuple[float, float] | None:
    """The point a call names. pyautogui also takes (x, y) as one tuple; a call without
    coordinates acts where the pointer is (None if this output never placed it)."""
    x, y = args.get("x"), args.get("y")
    if isinstance(x, list) and y is None:
        if len(x) != 2:
            raise ActionParseError("x as a tuple must be (x, y)", src)
        x, y = x
    if x is None and y is None:
        return pointer(out)
    return number(x, "x", src), number(y, "y", src)


def _pg_button(value: Any, src: str) -> MouseButton:
    if isinstance(value, str) and value in _PG_BUTTONS:
        return _PG_BUTTONS[value]
    raise ActionParseError(f"unknown mouse button {value!r}", src)


def _pg_click(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    at = _pg_at(args, out, src)
    if at is None:
        raise ActionParseError(f"{name}() has no x, y and no earlier moveTo to act at", src)
    x, y = at
    button = _pg_button(args.get("button", "left"), src)
    clicks = number(args.get("clicks", 1), "clicks", src)
    if name == "rightClick":
        out.append(make(RightClick, src, x=x, y=y))
    elif name == "middleClick":
        out.append(make(Click, src, x=x, y=y, button="middle"))
    elif name == "tripleClick" or clicks == 3:
        if button != "left":
            raise ActionParseError("only left triple clicks are supported", src)
        out.append(make(TripleClick, src, x=x, y=y))
    elif name == "doubleClick" or clicks == 2:
        if button != "left":
            raise ActionParseError("only left double clicks are supported", src)
        out.append(make(DoubleClick, src, x=x, y=y))
    elif clicks == 1:
        out.append(make(Click, src, x=x, y=y, button=button))
    else:
        raise ActionParseError(f"clicks={clicks:g} is not supported (1, 2 or 3 only)", src)


def _pg_move(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    at = _pg_at(args, [], src)  # no pointer to fall back on: moving needs a target
    if at is None:
        raise ActionParseError(f"{name}() needs x and y", src)
    x, y = at
    if name == "moveTo":
        out.append(make(Move, src, x=x, y=y))
    elif _pg_button(args.get("button", "left"), src) != "left":
        raise ActionParseError("only left-button drags are supported", src)
    else:
        out.append(drag_to(out, x, y, src))


def _pg_scroll(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    if "clicks" not in args:
        raise ActionParseError(f"{name}() needs the number of clicks", src)
    out.append(scroll(args["clicks"], name == "hscroll", _pg_at(args, out, src), src))


def _pg_type(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    message = args.get("message")
    if isinstance(message, str):
        out.append(make(Type, src, text=message))
    elif isinstance(message, list):  # a list is a sequence of key names
        out.extend(key([k], src, _PG_KEY_ALIASES) for k in message)
    else:
        raise ActionParseError(f"{name}() needs a string or a list of keys", src)


def _pg_press(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    keys = args.get("keys")
    keys = keys if isinstance(keys, list) else [keys]
    presses = args.get("presses", 1)
    if isinstance(presses, bool) or not isinstance(presses, int) or presses < 1:
        raise ActionParseError(f"presses must be a positive integer, got {presses!r}", src)
    if presses * len(keys) > MAX_ACTIONS:
        raise ActionParseError(f"more than {MAX_ACTIONS} key presses", src)
    out.extend(key([k], src, _PG_KEY_ALIASES) for _ in range(presses) for k in keys)


def _pg_hotkey(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    keys = args["keys"]
    if len(keys) == 1 and isinstance(keys[0], list):  # hotkey(['ctrl', 'c'])
        keys = keys[0]
    out.append(key(keys, src, _PG_KEY_ALIASES))


def _pg_button_press(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    """mouseDown / mouseUp at a point, or where the pointer is (no point: the env's pointer)."""
    at = _pg_at(args, out, src)
    x, y = at if at is not None else (None, None)
    build = MouseDown if name == "mouseDown" else MouseUp
    out.append(make(build, src, x=x, y=y, button=_pg_button(args.get("button", "left"), src)))


def _pg_hold(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    if "key" not in args:
        raise ActionParseError(f"{name}() needs a key", src)
    held = key([args["key"]], src, _PG_KEY_ALIASES)
    out.append(make(KeyDown if name == "keyDown" else KeyUp, src, keys=held.keys))


_PG_HANDLERS: dict[str, Callable[[str, dict[str, Any], list[Action], str], None]] = {
    "click": _pg_click, "doubleClick": _pg_click, "rightClick": _pg_click, "middleClick": _pg_click,
    "tripleClick": _pg_click, "mouseDown": _pg_button_press, "mouseUp": _pg_button_press,
    "keyDown": _pg_hold, "keyUp": _pg_hold,
    "moveTo": _pg_move, "dragTo": _pg_move, "scroll": _pg_scroll, "hscroll": _pg_scroll,
    "typewrite": _pg_type, "write": _pg_type, "press": _pg_press, "hotkey": _pg_hotkey,
}


def emit(action: Action) -> str:
    def xy(x: float, y: float) -> str:
        return f"x={fmt(x)}, y={fmt(y)}"

    def lit(s: str) -> str:  # a ``` inside a string would end OSWorld's code fence
        return quote(s).replace("`", "\\x60")

    def key_name(k: str) -> str:
        return lit(_PG_KEY_NAMES.get(k, k))

    match action:
        case Click(x=x, y=y, button=button):
            return f"pyautogui.click({xy(x, y)}{'' if button == 'left' else f', button={button!r}'})"
        case DoubleClick(x=x, y=y):
            return f"pyautogui.doubleClick({xy(x, y)})"
        case TripleClick(x=x, y=y):
            return f"pyautogui.tripleClick({xy(x, y)})"
        case MouseDown(x=x, y=y, button=button) | MouseUp(x=x, y=y, button=button):
            fn = "mouseDown" if isinstance(action, MouseDown) else "mouseUp"
            parts = ([xy(x, y)] if x is not None and y is not None else []) + (
                [f"button={button!r}"] if button != "left" else [])
            return f"pyautogui.{fn}({', '.join(parts)})"
        case KeyDown(keys=keys) | KeyUp(keys=keys):
            fn = "keyDown" if isinstance(action, KeyDown) else "keyUp"
            return "\n".join(f"pyautogui.{fn}({key_name(k)})" for k in keys)
        case RightClick(x=x, y=y):
            return f"pyautogui.rightClick({xy(x, y)})"
        case Move(x=x, y=y):
            return f"pyautogui.moveTo({xy(x, y)})"
        case Drag(x=x, y=y, to_x=to_x, to_y=to_y):
            # Many toolkits miss an instant drag, hence the duration OSWorld agents also write.
            return f"pyautogui.moveTo({xy(x, y)})\npyautogui.dragTo({xy(to_x, to_y)}, duration=0.5)"
        case Scroll(direction=direction, amount=amount, x=x, y=y):
            fn = "hscroll" if direction in ("left", "right") else "scroll"
            sign = "" if direction in ("up", "right") else "-"
            at = f", {xy(x, y)}" if x is not None and y is not None else ""
            return f"pyautogui.{fn}({sign}{amount}{at})"
        case Type(text=text):
            return f"pyautogui.typewrite({lit(text)})"
        case Key(keys=[single]):
            return f"pyautogui.press({key_name(single)})"
        case Key(keys=keys):
            return f"pyautogui.hotkey({', '.join(key_name(k) for k in keys)})"
        case Wait(seconds=seconds):
            return f"time.sleep({fmt(seconds)})"
        case Done():
            return "DONE"
        case Fail():
            return "FAIL"
    raise inexpressible("pyautogui", action)
