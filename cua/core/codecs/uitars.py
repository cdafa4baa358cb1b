"""UI-TARS ``Thought: ... / Action: click(start_box='(x,y)')`` text (also the
``point='<point>x y</point>'`` and ``<|box_start|>`` forms), several actions per turn.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Iterator

from cua.core.actions import (
    Action,
    Back,
    CallUser,
    Click,
    Done,
    DoubleClick,
    Drag,
    Goto,
    Key,
    KeyDown,
    KeyUp,
    RightClick,
    Scroll,
    Type,
    Wait,
)
from cua.core.codecs.common import (
    MAX_ACTIONS,
    ParsedOutput,
    call_args,
    chord,
    fmt,
    inexpressible,
    key,
    make,
    parse_python,
    point,
    pointer,
    quote,
)
from cua.core.errors import ActionParseError

UITARS_WAIT_SECONDS = 5.0  # UI-TARS prompt: "wait() #Sleep for 5s and take a screenshot"

# Action name -> keyword parameters (after renaming the point forms to start_box / end_box).
ACTION_PARAMS: dict[str, frozenset[str]] = {
    "click": frozenset({"start_box"}),
    "left_double": frozenset({"start_box"}),
    "right_single": frozenset({"start_box"}),
    "drag": frozenset({"start_box", "end_box"}),
    "select": frozenset({"start_box", "end_box"}),  # UI-TARS's own parser treats it as drag
    "hotkey": frozenset({"key"}),
    "type": frozenset({"content"}),
    "scroll": frozenset({"start_box", "direction"}),
    "wait": frozenset(),
    "finished": frozenset({"content"}),
    "call_user": frozenset(),
    # UI-TARS-desktop's browser operator (prompts.ts): navigation and held keys.
    "navigate": frozenset({"content"}),
    "navigate_back": frozenset(),
    "press": frozenset({"key"}),
    "release": frozenset({"key"}),
}
_UITARS_RENAMES = {"point": "start_box", "start_point": "start_box", "end_point": "end_box"}
_UITARS_ACTION_MARK = re.compile(r"(?m)^[ \t]*Action:[ \t]*")
_BOX_TOKENS = re.compile(r"<\|box_start\|>|<\|box_end\|>|</?point>|</?bbox>")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def parse(text: str) -> ParsedOutput:
    marks = list(_UITARS_ACTION_MARK.finditer(text))
    if marks:  # the header is Thought: or Reflection:/Action_Summary:, kept as written
        head, block = text[:marks[-1].start()], text[marks[-1].end():]
        thought = re.sub(r"^\s*Thought:", "", head, count=1).strip() or None
    else:
        thought, block = None, text
    out: list[Action] = []
    for call, code, src in _uitars_calls(block.strip()):
        _uitars_action(call, code, src, out)
        if len(out) > MAX_ACTIONS:
            raise ActionParseError(f"more than {MAX_ACTIONS} actions", src)
    return ParsedOutput(out, thought, text)


def _uitars_calls(block: str) -> Iterator[tuple[ast.Call, str, str]]:
    """The calls in an action block, each with its source lines. Clean text parses as it is;
    otherwise split it into actions on ')' + blank line and repair each, as UI-TARS's own
    parser does. (Whole source lines are sliced: exact segments cost a pass over the code each.)"""
    try:
        pieces = [(block, parse_python(block, block))]
    except ActionParseError:
        pieces = [_uitars_repaired(p) for p in re.split(r"(?<=\))[ \t\r]*\n[ \t\r]*\n\s*", block)]
    for code, tree in pieces:
        lines = re.split(r"\r\n?|\n", code)  # line breaks as ast counts them
        for stmt in tree.body:
            src = "\n".join(lines[stmt.lineno - 1:stmt.end_lineno]).strip()
            if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
                    and isinstance(stmt.value.func, ast.Name)):
                raise ActionParseError("expected a UI-TARS action call like click(start_box='(x,y)')", src)
            yield stmt.value, code, src


def _uitars_repaired(piece: str) -> tuple[str, ast.Module]:
    """Models write raw newlines and unescaped quotes inside content='...'; escape them."""
    flat = piece.strip().replace("\r\n", "\\n").replace("\n", "\\n")
    candidates = [piece.strip(), flat]
    m = re.fullmatch(r"(type|finished)\(content=(['\"])(.*)\2\)", flat)
    if m:
        mark = m.group(2)
        body = re.sub(rf"(?<!\\){mark}", "\\" + mark, m.group(3))
        candidates.append(f"{m.group(1)}(content={mark}{body}{mark})")
    for code in candidates:
        try:
            return code, parse_python(code, code)
        except ActionParseError:
            continue
    raise ActionParseError("not a UI-TARS action call", piece)


def _uitars_box(value: Any, what: str, src: str) -> tuple[float, float]:
    """'(x,y)', '<|box_start|>(x,y)<|box_end|>', '<point>x y</point>' or a 4-number box."""
    if not isinstance(value, str):
        return point(value, what, src)
    tokens = [t for t in re.split(r"[\s,()\[\]]+", _BOX_TOKENS.sub(" ", value)) if t]
    if not all(_NUMBER.fullmatch(t) for t in tokens):
        raise ActionParseError(f"{what} is not a point or a box", src)
    return point([float(t) for t in tokens], what, src)


def _uitars_action(call: ast.Call, code: str, src: str, out: list[Action]) -> None:
    name = call.func.id if isinstance(call.func, ast.Name) else ""
    if name not in ACTION_PARAMS:
        raise ActionParseError(f"unknown UI-TARS action {name!r}", src)
    pos, raw = call_args(call, code)
    if pos:
        raise ActionParseError(f"{name}() takes keyword arguments only", src)
    args: dict[str, Any] = {}
    for given, value in raw.items():
        arg = _UITARS_RENAMES.get(given, given)
        if arg not in ACTION_PARAMS[name] or arg in args:
            raise ActionParseError(f"{name}() got an unexpected argument {arg!r}", src)
        args[arg] = value

    def need(key: str) -> Any:
        if key not in args:
            raise ActionParseError(f"{name}() needs {key}=", src)
        return args[key]

    def text_arg(key: str) -> str | None:
        value = args.get(key)
        if value is not None and not isinstance(value, str):
            raise ActionParseError(f"{key} must be a string", src)
        return value

    match name:
        case "click" | "left_double" | "right_single":
            x, y = _uitars_box(need("start_box"), "start_box", src)
            build = {"click": Click, "left_double": DoubleClick, "right_single": RightClick}[name]
            out.append(make(build, src, x=x, y=y))
        case "drag" | "select":
            x, y = _uitars_box(need("start_box"), "start_box", src)
            to_x, to_y = _uitars_box(need("end_box"), "end_box", src)
            out.append(make(Drag, src, x=x, y=y, to_x=to_x, to_y=to_y))
        case "hotkey":
            out.append(key(chord(need("key"), src), src))
        case "type":
            content = text_arg("content") or ""
            enter = content.endswith("\n")  # UI-TARS: a trailing \n submits
            typed = content[:-1] if enter else content
            if typed or not enter:
                out.append(make(Type, src, text=typed))
            if enter:
                out.append(make(Key, src, keys=["enter"]))
        case "scroll":
            direction = need("direction")
            if not isinstance(direction, str) or direction.strip().lower() not in ("up", "down", "left", "right"):
                raise ActionParseError(f"scroll direction must be up, down, left or right, got {direction!r}", src)
            at = _uitars_box(args["start_box"], "start_box", src) if "start_box" in args else pointer(out)
            x, y = at if at is not None else (None, None)
            out.append(make(Scroll, src, direction=direction.strip().lower(), x=x, y=y))
        case "wait":
            out.append(make(Wait, src, seconds=UITARS_WAIT_SECONDS))
        case "finished":
            out.append(make(Done, src, answer=text_arg("content")))
        case "call_user":
            out.append(make(CallUser, src))
        case "navigate":
            url = text_arg("content")
            if not url:
                raise ActionParseError("navigate() needs content='<url>'", src)
            out.append(make(Goto, src, url=url.strip()))
        case "navigate_back":
            out.append(make(Back, src))
        case "press" | "release":
            held = key(chord(need("key"), src), src)
            out.append(make(KeyDown if name == "press" else KeyUp, src, keys=held.keys))


def emit(action: Action) -> str:
    def pt(x: float, y: float) -> str:
        return f"'<point>{fmt(x)} {fmt(y)}</point>'"

    match action:
        case Click(x=x, y=y, button="left"):
            return f"click(point={pt(x, y)})"
        case Click(x=x, y=y, button="right") | RightClick(x=x, y=y):
            return f"right_single(point={pt(x, y)})"
        case DoubleClick(x=x, y=y):
            return f"left_double(point={pt(x, y)})"
        case Drag(x=x, y=y, to_x=to_x, to_y=to_y):
            return f"drag(start_point={pt(x, y)}, end_point={pt(to_x, to_y)})"
        case Scroll(direction=direction, x=x, y=y):
            at = f"point={pt(x, y)}, " if x is not None and y is not None else ""
            return f"scroll({at}direction='{direction}')"
        case Type(text=text):
            return f"type(content={quote(text)})"
        case Key(keys=keys):
            return f"hotkey(key={quote(' '.join(keys))})"
        case Wait():
            return "wait()"
        case Done(answer=answer):
            return "finished()" if answer is None else f"finished(content={quote(answer)})"
        case CallUser():
            return "call_user()"
        case Goto(url=url):
            return f"navigate(content={quote(url)})"
        case Back():
            return "navigate_back()"
        case KeyDown(keys=keys):
            return f"press(key={quote(' '.join(keys))})"
        case KeyUp(keys=keys):
            return f"release(key={quote(' '.join(keys))})"
    raise inexpressible("uitars", action)
