"""Qwen ``<tool_call>{"name": "computer_use", "arguments": {...}}</tool_call>`` calls (Qwen2.5-VL,
Qwen3-VL, Jedi, EvoCUA; UI-Ins, whose function is called ``grounding``).
"""

from __future__ import annotations

import json
import re
from typing import Any

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
    Move,
    RightClick,
    Scroll,
    TripleClick,
    Type,
    Wait,
)
from cua.core.codecs.common import (
    ParsedOutput,
    chord,
    drag_to,
    inexpressible,
    key,
    load_json,
    make,
    number,
    point,
    pointer,
    scroll,
)
from cua.core.errors import ActionParseError

_CU_FUNCTIONS = frozenset({"computer_use", "grounding"})  # grounding: UI-Ins
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)


def _think(head: str) -> tuple[str, int] | None:
    """The first ``<think>...</think>`` block: its text and where it ends (found with ``find``:
    a lazy regex would rescan the rest of the text from every ``<think>``)."""
    start = head.find("<think>")
    end = head.find("</think>", start + 7) if start >= 0 else -1
    return (head[start + 7:end], end + 8) if end >= 0 else None


def parse(text: str) -> ParsedOutput:
    start = text.find("<tool_call>")
    head = text if start < 0 else text[:start]
    think = _think(head)
    if start >= 0:
        bodies = _TOOL_CALL.findall(text, start)
        thought = (think[0] if think else head).strip() or None
    else:  # a bare {"name": ..., "arguments": ...} after the optional <think>
        bare = head[think[1]:] if think else head
        if not bare.strip().startswith("{"):
            raise ActionParseError("no <tool_call> found", text)
        bodies = [bare]
        thought = (think[0].strip() or None) if think else None
    out: list[Action] = []
    for body in bodies:
        call = load_json(body.strip(), body)
        if not isinstance(call, dict) or not isinstance(call.get("name"), str) or call["name"] not in _CU_FUNCTIONS:
            raise ActionParseError(f"expected a call to one of {sorted(_CU_FUNCTIONS)}", body)
        args = call.get("arguments")
        if isinstance(args, str):  # OpenAI-style APIs send arguments as a JSON string
            args = load_json(args, body)
        if not isinstance(args, dict):
            raise ActionParseError("arguments must be a JSON object", body)
        _cu_action(args, out, body.strip())
    return ParsedOutput(out, thought, text)


def _cu_action(args: dict[str, Any], out: list[Action], src: str) -> None:
    action = args.get("action")

    def coordinate(key: str = "coordinate") -> tuple[float, float]:
        if key not in args:
            raise ActionParseError(f"{action} needs {key}", src)
        return point(args[key], key, src)

    def text(key: str) -> str:
        value = args.get(key)
        if not isinstance(value, str):
            raise ActionParseError(f"{action} needs {key} as a string", src)
        return value

    match action:
        case "left_click" | "click":  # click: UI-Ins's action name
            x, y = coordinate()
            out.append(make(Click, src, x=x, y=y))
        case "right_click":
            x, y = coordinate()
            out.append(make(RightClick, src, x=x, y=y))
        case "middle_click":
            x, y = coordinate()
            out.append(make(Click, src, x=x, y=y, button="middle"))
        case "double_click":
            x, y = coordinate()
            out.append(make(DoubleClick, src, x=x, y=y))
        case "triple_click":
            x, y = coordinate()
            out.append(make(TripleClick, src, x=x, y=y))
        case "mouse_move":
            x, y = coordinate()
            out.append(make(Move, src, x=x, y=y))
        case "left_click_drag":  # drags from the pointer to coordinate
            to_x, to_y = coordinate("end_coordinate" if "end_coordinate" in args else "coordinate")
            if "start_coordinate" in args:
                x, y = coordinate("start_coordinate")
                out.append(make(Drag, src, x=x, y=y, to_x=to_x, to_y=to_y))
            else:
                out.append(drag_to(out, to_x, to_y, src))
        case "scroll" | "hscroll":
            if "pixels" not in args:
                raise ActionParseError(f"{action} needs pixels", src)
            at = coordinate() if "coordinate" in args else pointer(out)
            out.append(scroll(args["pixels"], action == "hscroll", at, src))
        case "type":
            out.append(make(Type, src, text=text("text")))
        case "key" | "key_down" | "key_up":  # key_down / key_up: EvoCUA's held keys
            keys = args.get("keys")
            chord_ = key(keys if isinstance(keys, list) else chord(keys, src), src)
            build = {"key": Key, "key_down": KeyDown, "key_up": KeyUp}[action]
            out.append(chord_ if build is Key else make(build, src, keys=chord_.keys))
        case "wait":
            seconds = number(args["time"], "time", src) if "time" in args else None
            out.append(make(Wait, src) if seconds is None else make(Wait, src, seconds=seconds))
        case "terminate":
            status = args.get("status")
            if status not in ("success", "failure"):
                raise ActionParseError(f"terminate status must be success or failure, got {status!r}", src)
            out.append(make(Done, src) if status == "success" else make(Fail, src))
        case "answer":
            out.append(make(Done, src, answer=text("text")))
        case _:
            raise ActionParseError(f"unknown computer_use action {action!r}", src)


def _tool_call(**arguments: Any) -> str:
    body = json.dumps({"name": "computer_use", "arguments": arguments}, ensure_ascii=False)
    # No '<' in the body, so text like "</tool_call>" or "<think>" inside a string stays inert.
    return "<tool_call>\n" + body.replace("<", "\\u003c") + "\n</tool_call>"


def _jnum(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


def emit(action: Action) -> str:
    def xy(x: float, y: float) -> list[int | float]:
        return [_jnum(x), _jnum(y)]

    match action:
        case Click(x=x, y=y, button=button):
            return _tool_call(action=f"{button}_click", coordinate=xy(x, y))
        case RightClick(x=x, y=y):
            return _tool_call(action="right_click", coordinate=xy(x, y))
        case DoubleClick(x=x, y=y):
            return _tool_call(action="double_click", coordinate=xy(x, y))
        case TripleClick(x=x, y=y):
            return _tool_call(action="triple_click", coordinate=xy(x, y))
        case Move(x=x, y=y):
            return _tool_call(action="mouse_move", coordinate=xy(x, y))
        case Drag(x=x, y=y, to_x=to_x, to_y=to_y):  # Qwen's drag starts at the pointer
            return (_tool_call(action="mouse_move", coordinate=xy(x, y)) + "\n"
                    + _tool_call(action="left_click_drag", coordinate=xy(to_x, to_y)))
        case Scroll(direction=direction, amount=amount, x=x, y=y):
            name = "hscroll" if direction in ("left", "right") else "scroll"
            pixels = amount if direction in ("up", "right") else -amount
            if x is not None and y is not None:
                return _tool_call(action=name, pixels=pixels, coordinate=xy(x, y))
            return _tool_call(action=name, pixels=pixels)
        case Type(text=text):
            return _tool_call(action="type", text=text)
        case Key(keys=keys):
            return _tool_call(action="key", keys=keys)
        case KeyDown(keys=keys) | KeyUp(keys=keys):
            return _tool_call(action=action.type, keys=keys)
        case Wait(seconds=seconds):
            return _tool_call(action="wait", time=_jnum(seconds))
        case Done(answer=None):
            return _tool_call(action="terminate", status="success")
        case Done(answer=answer):
            return _tool_call(action="answer", text=answer)
        case Fail():
            return _tool_call(action="terminate", status="failure")
    raise inexpressible("computer_use", action)
