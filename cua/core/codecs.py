"""Action codecs: model output text <-> typed actions.

One parser and one emitter per codec:

* ``pyautogui``: OSWorld-style Python (``pyautogui.click(x=10, y=20)``, ``WAIT``/``DONE``/``FAIL``),
  read with ``ast`` against a whitelist and never run;
* ``uitars``: UI-TARS ``Thought: ... / Action: click(start_box='(x,y)')`` text;
* ``computer_use``: Qwen2.5-VL ``<tool_call>{"name": "computer_use", ...}</tool_call>`` (Jedi; also
  UI-Ins, whose function is called ``grounding``);
* ``json``: the project's own action JSON (``cua.core.actions.ACTION_ADAPTER``).

Coordinates come back exactly as the model wrote them (its own space); ``cua.core.coords.map_action``
maps them to screenshot pixels. Every rejected input raises ``ActionParseError`` quoting the text.

A call without coordinates acts where the pointer is: ``moveTo(a); dragTo(b)`` is one Drag a -> b,
and a scroll with no point scrolls at the last point this output touched (if any).

Emitting is lossy where a format has no slot: pyautogui's ``DONE``/``FAIL`` carry no text; UI-TARS
has no scroll amount, wait length or failure reason; computer_use has no failure reason. Actions a
codec cannot express at all (UI-TARS: Move, middle click) raise ``ActionParseError``.
"""

from __future__ import annotations

import ast
import json
import math
import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal, Sequence, get_args

from pydantic import ValidationError

from cua.core.actions import (
    ACTION_ADAPTER, Action, Click, Done, DoubleClick, Drag, Fail, Key, MouseButton, Move,
    RightClick, Scroll, Type, Wait,
)
from cua.core.errors import ActionParseError

CodecName = Literal["pyautogui", "uitars", "computer_use", "json"]
CODECS: tuple[CodecName, ...] = get_args(CodecName)

MAX_TEXT_CHARS = 100_000  # real outputs are a few kB; far more is a runaway generation or an attack
MAX_ACTIONS = 1_000  # bounds the work one output can cause (press(presses=n), long key lists)
UITARS_WAIT_SECONDS = 5.0  # UI-TARS prompt: "wait() #Sleep for 5s and take a screenshot"


@dataclass(frozen=True)
class ParsedOutput:
    actions: list[Action]
    thought: str | None
    raw_text: str


def parse(text: str, codec: CodecName) -> ParsedOutput:
    """Read the actions in one model output. Coordinates stay in the model's space, as written."""
    if not isinstance(text, str):
        raise ActionParseError(f"model output must be a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ActionParseError(f"model output is longer than {MAX_TEXT_CHARS} characters", text)
    parsed = _PARSERS[_known(codec)](text)
    if not parsed.actions:
        raise ActionParseError("no action found", text)
    if len(parsed.actions) > MAX_ACTIONS:
        raise ActionParseError(f"more than {MAX_ACTIONS} actions", text)
    return parsed


def emit(action: Action, codec: CodecName) -> str:
    """The text a model speaking ``codec`` would write for ``action`` (``parse`` reads it back)."""
    return _EMITTERS[_known(codec)](action)


def emit_all(actions: Sequence[Action], codec: CodecName) -> str:
    if _known(codec) == "json":
        return "[" + ", ".join(_emit_json(a) for a in actions) + "]"
    return _SEPARATORS[codec].join(emit(a, codec) for a in actions)


def detect_codec(text: str) -> CodecName | None:
    """Best-effort guess of the codec an output is written in (for ``--codec auto``)."""
    if len(text) > MAX_TEXT_CHARS:
        return None
    if text.lstrip().startswith(("{", "[")):  # whole-text JSON: a bare tool call or ours
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and {"name", "arguments"} <= data.keys():
            return "computer_use"
        if data is not None:
            return "json"
    if re.search(r"(?m)^\s*<tool_call>", text):
        return "computer_use"
    if re.search(r"(?m)^\s*(pyautogui\.|time\.sleep\(|import pyautogui|(WAIT|DONE|FAIL)\s*$)", text):
        return "pyautogui"
    if re.search(r"(?m)^\s*Action:", text) or re.search(rf"(?m)^\s*({'|'.join(_UITARS_PARAMS)})\(", text):
        return "uitars"
    if "<tool_call>" in text:
        return "computer_use"
    if text.lstrip().startswith("```json"):
        return "json"
    return None


def _known(codec: str) -> CodecName:
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; expected one of {', '.join(CODECS)}")
    return codec  # type: ignore[return-value]


# ---- shared helpers ----------------------------------------------------------------------------

def _make(build: Callable[..., Action], src: str, *args: Any, **fields: Any) -> Action:
    """Build an action; pydantic's complaint becomes an ActionParseError quoting the source."""
    try:
        action = build(*args, **fields)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ActionParseError(f"{where}: {err['msg']}" if where else err["msg"], src) from None
    if not all(math.isfinite(p.x) and math.isfinite(p.y) for p in action.points()):
        raise ActionParseError("coordinates must be finite numbers", src)
    return action


def _number(value: Any, what: str, src: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ActionParseError(f"{what} must be a number, got {value!r}", src)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ActionParseError(f"{what} must be a finite number", src)
    return number


def _point(values: Any, what: str, src: str) -> tuple[float, float]:
    """Two numbers are a point; four are a box (x1, y1, x2, y2), which means its centre."""
    if not isinstance(values, (list, tuple)):
        raise ActionParseError(f"{what} must be a list of numbers, got {values!r}", src)
    nums = [_number(v, what, src) for v in values]
    if len(nums) == 2:
        return nums[0], nums[1]
    if len(nums) == 4:
        return (nums[0] + nums[2]) / 2, (nums[1] + nums[3]) / 2
    raise ActionParseError(f"{what} needs 2 numbers (a point) or 4 (a box), got {len(nums)}", src)


def _pointer(done: list[Action]) -> tuple[float, float] | None:
    """Where the mouse is after ``done``: the last point of the latest action that moved it."""
    for action in reversed(done):
        if points := action.points():
            return points[-1].x, points[-1].y
    return None


def _drag_to(done: list[Action], x: float, y: float, src: str) -> Action:
    """A drag to (x, y) from the pointer. A Move right before it is the drag's start, so it is
    taken off ``done`` (``moveTo(a); dragTo(b)`` is one Drag)."""
    if done and isinstance(done[-1], Move):
        start = done.pop()
        return _make(Drag, src, x=start.x, y=start.y, to_x=x, to_y=y)
    here = _pointer(done)
    if here is None:
        raise ActionParseError("drag has no start point (move the mouse there first)", src)
    return _make(Drag, src, x=here[0], y=here[1], to_x=x, to_y=y)


def _scroll(amount: Any, horizontal: bool, at: tuple[float, float] | None, src: str) -> Action:
    """Scroll by a signed amount: positive is up (or right), as in pyautogui and Qwen."""
    n = _number(amount, "scroll amount", src)
    if n == 0:
        raise ActionParseError("scroll amount must not be 0", src)
    direction = ("right" if n > 0 else "left") if horizontal else ("up" if n > 0 else "down")
    # Scroll allows 1..100 notches; models that think in pixels write far larger numbers.
    notches = min(max(round(abs(n)), 1), 100)
    x, y = at if at is not None else (None, None)
    return _make(Scroll, src, direction=direction, amount=notches, x=x, y=y)


def _key(names: Sequence[Any], src: str, aliases: dict[str, str] | None = None) -> Action:
    """A Key chord; names are normalised by Key itself (after codec-specific ``aliases``)."""
    keys = []
    for name in names:
        if not isinstance(name, str) or not name:
            raise ActionParseError(f"key names must be non-empty strings, got {name!r}", src)
        lookup = name.lower() if len(name) > 1 else name
        keys.append((aliases or {}).get(lookup, name))
    return _make(Key, src, keys=keys)


def _chord(text: Any, src: str) -> list[str]:
    """'ctrl c' (UI-TARS) or 'ctrl+c' -> ['ctrl', 'c']."""
    if not isinstance(text, str) or not text.strip():
        raise ActionParseError(f"keys must be a non-empty string, got {text!r}", src)
    parts = text.split()
    if len(parts) == 1 and len(parts[0]) > 1 and "+" in parts[0].strip("+"):
        parts = parts[0].split("+")
    return parts


_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote(s: str) -> str:
    """A single-quoted Python string literal, the form UI-TARS and OSWorld prompts show."""
    return "'" + "".join(
        _ESCAPES.get(c) or (c if c.isprintable() else repr(c)[1:-1]) for c in s
    ) + "'"


def _fmt(v: float) -> str:
    """Whole numbers as integers (what models write), others exactly."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _unfence(text: str, lang: str) -> tuple[str, str | None]:
    """The code inside ``` fences and the prose around it; text without fences is all code."""
    if "```" not in text:
        return text, None
    fence = re.compile(rf"```(?:(?:{lang})\b)?[ \t]*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
    blocks = fence.findall(text)
    if not blocks:
        raise ActionParseError("unclosed ``` code fence", text)
    return "\n".join(blocks), fence.sub("", text).strip() or None


def _parse_python(code: str, src: str) -> ast.Module:
    try:
        with warnings.catch_warnings():  # e.g. "invalid escape sequence" in a model's string
            warnings.simplefilter("ignore")
            return ast.parse(code, mode="exec")
    except (SyntaxError, ValueError) as e:
        raise ActionParseError(f"not valid Python ({getattr(e, 'msg', e)})", src) from None
    except (RecursionError, MemoryError):
        raise ActionParseError("expression nested too deeply", src) from None


def _literal(node: ast.expr, code: str, nested: bool = False) -> Any:
    """The value of a literal argument. Anything that would need evaluating (names, calls,
    attributes, f-strings, operators, comprehensions...) is refused; lists only one level deep."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float)):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, (ast.List, ast.Tuple)) and not nested:
        return [_literal(e, code, nested=True) for e in node.elts]
    raise ActionParseError("only literal arguments are allowed", ast.get_source_segment(code, node) or code)


def _call_args(call: ast.Call, code: str) -> tuple[list[Any], dict[str, Any]]:
    kwargs: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise ActionParseError("**kwargs are not allowed", ast.get_source_segment(code, kw) or code)
        kwargs[kw.arg] = _literal(kw.value, code)
    return [_literal(a, code) for a in call.args], kwargs


def _json(body: str, src: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as e:  # JSONDecodeError, or an integer with too many digits
        raise ActionParseError(f"invalid JSON ({getattr(e, 'msg', e)})", src) from None
    except RecursionError:
        raise ActionParseError("JSON nested too deeply", src) from None


def _inexpressible(codec: str, action: Action) -> ActionParseError:
    return ActionParseError(f"the {codec} codec cannot express this action", _emit_json(action))


# ---- pyautogui (OSWorld) ------------------------------------------------------------------------

# Parameters in pyautogui's own order, so positional calls bind as they would at run time. Only
# the ones we read or may safely ignore (duration, interval) are listed; others are refused.
_PG_PARAMS: dict[str, tuple[str, ...]] = {
    "click": ("x", "y", "clicks", "interval", "button", "duration"),
    "doubleClick": ("x", "y", "interval", "button", "duration"),
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
}
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


def _parse_pyautogui(text: str) -> ParsedOutput:
    code, thought = _unfence(text, "python3?|py")
    tree = _parse_python(code, code)
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
            _pg_call(value, code, out, src)
        else:
            raise ActionParseError("only pyautogui calls, time.sleep, WAIT, DONE, FAIL are allowed", src)
        if len(out) > MAX_ACTIONS:
            raise ActionParseError(f"more than {MAX_ACTIONS} actions", src)
    return ParsedOutput(out, thought, text)


def _pg_call(call: ast.Call, code: str, out: list[Action], src: str) -> None:
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        raise ActionParseError("only pyautogui.<function>(...) calls are allowed", src)
    module, name = func.value.id, func.attr
    if (module, name) == ("time", "sleep"):
        args = _pg_bind("time.sleep", ("secs",), call, code, src)
        out.append(_make(Wait, src, seconds=_number(args.get("secs"), "seconds", src)))
        return
    if module != "pyautogui" or name not in _PG_PARAMS:
        hint = "; hold keys with pyautogui.hotkey(...)" if name in ("keyDown", "keyUp") else ""
        raise ActionParseError(f"unsupported call {module}.{name}{hint}", src)
    args = _pg_bind(name, _PG_PARAMS[name], call, code, src)
    _PG_HANDLERS[name](name, args, out, src)


def _pg_bind(name: str, params: tuple[str, ...], call: ast.Call, code: str, src: str) -> dict[str, Any]:
    """Bind literal arguments to parameter names as Python would (hotkey takes *keys)."""
    pos, kwargs = _call_args(call, code)
    if name == "hotkey":
        bound: dict[str, Any] = {"keys": pos}
    elif len(pos) > len(params):
        raise ActionParseError(f"{name}() takes at most {len(params)} positional arguments", src)
    else:
        bound = dict(zip(params, pos))
    for key, value in kwargs.items():
        if key not in params:
            raise ActionParseError(f"{name}() got an unexpected argument {key!r}", src)
        if key in bound:
            raise ActionParseError(f"{name}() got {key!r} twice", src)
        bound[key] = value
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
        return _pointer(out)
    return _number(x, "x", src), _number(y, "y", src)


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
    clicks = _number(args.get("clicks", 1), "clicks", src)
    if name == "rightClick":
        out.append(_make(RightClick, src, x=x, y=y))
    elif name == "middleClick":
        out.append(_make(Click, src, x=x, y=y, button="middle"))
    elif name == "doubleClick" or clicks == 2:
        if button != "left":
            raise ActionParseError("only left double clicks are supported", src)
        out.append(_make(DoubleClick, src, x=x, y=y))
    elif clicks == 1:
        out.append(_make(Click, src, x=x, y=y, button=button))
    else:
        raise ActionParseError(f"clicks={clicks:g} is not supported (1 or 2 only)", src)


def _pg_move(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    at = _pg_at(args, [], src)  # no pointer to fall back on: moving needs a target
    if at is None:
        raise ActionParseError(f"{name}() needs x and y", src)
    x, y = at
    if name == "moveTo":
        out.append(_make(Move, src, x=x, y=y))
    elif _pg_button(args.get("button", "left"), src) != "left":
        raise ActionParseError("only left-button drags are supported", src)
    else:
        out.append(_drag_to(out, x, y, src))


def _pg_scroll(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    if "clicks" not in args:
        raise ActionParseError(f"{name}() needs the number of clicks", src)
    out.append(_scroll(args["clicks"], name == "hscroll", _pg_at(args, out, src), src))


def _pg_type(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    message = args.get("message")
    if isinstance(message, str):
        out.append(_make(Type, src, text=message))
    elif isinstance(message, list):  # a list is a sequence of key names
        out.extend(_key([k], src, _PG_KEY_ALIASES) for k in message)
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
    out.extend(_key([k], src, _PG_KEY_ALIASES) for _ in range(presses) for k in keys)


def _pg_hotkey(name: str, args: dict[str, Any], out: list[Action], src: str) -> None:
    keys = args["keys"]
    if len(keys) == 1 and isinstance(keys[0], list):  # hotkey(['ctrl', 'c'])
        keys = keys[0]
    out.append(_key(keys, src, _PG_KEY_ALIASES))


_PG_HANDLERS: dict[str, Callable[[str, dict[str, Any], list[Action], str], None]] = {
    "click": _pg_click, "doubleClick": _pg_click, "rightClick": _pg_click, "middleClick": _pg_click,
    "moveTo": _pg_move, "dragTo": _pg_move, "scroll": _pg_scroll, "hscroll": _pg_scroll,
    "typewrite": _pg_type, "write": _pg_type, "press": _pg_press, "hotkey": _pg_hotkey,
}


def _emit_pyautogui(action: Action) -> str:
    def xy(x: float, y: float) -> str:
        return f"x={_fmt(x)}, y={_fmt(y)}"

    def lit(s: str) -> str:  # a ``` inside a string would end OSWorld's code fence
        return _quote(s).replace("`", "\\x60")

    def key(k: str) -> str:
        return lit(_PG_KEY_NAMES.get(k, k))

    match action:
        case Click(x=x, y=y, button=button):
            return f"pyautogui.click({xy(x, y)}{'' if button == 'left' else f', button={button!r}'})"
        case DoubleClick(x=x, y=y):
            return f"pyautogui.doubleClick({xy(x, y)})"
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
            return f"pyautogui.press({key(single)})"
        case Key(keys=keys):
            return f"pyautogui.hotkey({', '.join(key(k) for k in keys)})"
        case Wait(seconds=seconds):
            return f"time.sleep({_fmt(seconds)})"
        case Done():
            return "DONE"
        case Fail():
            return "FAIL"
    raise _inexpressible("pyautogui", action)


# ---- UI-TARS ------------------------------------------------------------------------------------

# Action name -> keyword parameters (after renaming the point forms to start_box / end_box).
_UITARS_PARAMS: dict[str, frozenset[str]] = {
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
}
_UITARS_RENAMES = {"point": "start_box", "start_point": "start_box", "end_point": "end_box"}
_UITARS_ACTION_MARK = re.compile(r"(?m)^[ \t]*Action:[ \t]*")
_BOX_TOKENS = re.compile(r"<\|box_start\|>|<\|box_end\|>|</?point>|</?bbox>")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _parse_uitars(text: str) -> ParsedOutput:
    marks = list(_UITARS_ACTION_MARK.finditer(text))
    if marks:  # the header is Thought: or Reflection:/Action_Summary:, kept as written
        head, block = text[:marks[-1].start()], text[marks[-1].end():]
        thought = re.sub(r"^\s*Thought:", "", head, count=1).strip() or None
    else:
        thought, block = None, text
    out: list[Action] = []
    for call, code in _uitars_calls(block.strip()):
        _uitars_action(call, code, out)
    return ParsedOutput(out, thought, text)


def _uitars_calls(block: str) -> Iterator[tuple[ast.Call, str]]:
    """The calls in an action block. Clean text parses as it is; otherwise split it into
    actions on ')' + blank line and repair each, as UI-TARS's own parser does."""
    try:
        pieces = [(block, _parse_python(block, block))]
    except ActionParseError:
        pieces = [_uitars_repaired(p) for p in re.split(r"(?<=\))\s*\n\s*\n\s*", block)]
    for code, tree in pieces:
        for stmt in tree.body:
            src = ast.get_source_segment(code, stmt) or code
            if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
                    and isinstance(stmt.value.func, ast.Name)):
                raise ActionParseError("expected a UI-TARS action call like click(start_box='(x,y)')", src)
            yield stmt.value, code


def _uitars_repaired(piece: str) -> tuple[str, ast.Module]:
    """Models write raw newlines and unescaped quotes inside content='...'; escape them."""
    flat = piece.strip().replace("\r\n", "\\n").replace("\n", "\\n")
    candidates = [piece.strip(), flat]
    m = re.fullmatch(r"(type|finished)\(content=(['\"])(.*)\2\)", flat)
    if m:
        quote = m.group(2)
        body = re.sub(rf"(?<!\\){quote}", "\\" + quote, m.group(3))
        candidates.append(f"{m.group(1)}(content={quote}{body}{quote})")
    for code in candidates:
        try:
            return code, _parse_python(code, code)
        except ActionParseError:
            continue
    raise ActionParseError("not a UI-TARS action call", piece)


def _uitars_box(value: Any, what: str, src: str) -> tuple[float, float]:
    """'(x,y)', '<|box_start|>(x,y)<|box_end|>', '<point>x y</point>' or a 4-number box."""
    if not isinstance(value, str):
        return _point(value, what, src)
    tokens = [t for t in re.split(r"[\s,()\[\]]+", _BOX_TOKENS.sub(" ", value)) if t]
    if not all(_NUMBER.fullmatch(t) for t in tokens):
        raise ActionParseError(f"{what} is not a point or a box", src)
    return _point([float(t) for t in tokens], what, src)


def _uitars_action(call: ast.Call, code: str, out: list[Action]) -> None:
    src = ast.get_source_segment(code, call) or code
    name = call.func.id if isinstance(call.func, ast.Name) else ""
    if name not in _UITARS_PARAMS:
        raise ActionParseError(f"unknown UI-TARS action {name!r}", src)
    pos, raw = _call_args(call, code)
    if pos:
        raise ActionParseError(f"{name}() takes keyword arguments only", src)
    args: dict[str, Any] = {}
    for key, value in raw.items():
        key = _UITARS_RENAMES.get(key, key)
        if key not in _UITARS_PARAMS[name] or key in args:
            raise ActionParseError(f"{name}() got an unexpected argument {key!r}", src)
        args[key] = value

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
            out.append(_make(build, src, x=x, y=y))
        case "drag" | "select":
            x, y = _uitars_box(need("start_box"), "start_box", src)
            to_x, to_y = _uitars_box(need("end_box"), "end_box", src)
            out.append(_make(Drag, src, x=x, y=y, to_x=to_x, to_y=to_y))
        case "hotkey":
            out.append(_key(_chord(need("key"), src), src))
        case "type":
            content = text_arg("content") or ""
            enter = content.endswith("\n")  # UI-TARS: a trailing \n submits
            typed = content[:-1] if enter else content
            if typed or not enter:
                out.append(_make(Type, src, text=typed))
            if enter:
                out.append(_make(Key, src, keys=["enter"]))
        case "scroll":
            direction = need("direction")
            if not isinstance(direction, str) or direction.strip().lower() not in ("up", "down", "left", "right"):
                raise ActionParseError(f"scroll direction must be up, down, left or right, got {direction!r}", src)
            at = _uitars_box(args["start_box"], "start_box", src) if "start_box" in args else _pointer(out)
            x, y = at if at is not None else (None, None)
            out.append(_make(Scroll, src, direction=direction.strip().lower(), x=x, y=y))
        case "wait":
            out.append(_make(Wait, src, seconds=UITARS_WAIT_SECONDS))
        case "finished":
            out.append(_make(Done, src, answer=text_arg("content")))
        case "call_user":
            out.append(_make(Fail, src, reason="call_user"))


def _emit_uitars(action: Action) -> str:
    def pt(x: float, y: float) -> str:
        return f"'<point>{_fmt(x)} {_fmt(y)}</point>'"

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
            return f"type(content={_quote(text)})"
        case Key(keys=keys):
            return f"hotkey(key={_quote(' '.join(keys))})"
        case Wait():
            return "wait()"
        case Done(answer=answer):
            return "finished()" if answer is None else f"finished(content={_quote(answer)})"
        case Fail():
            return "call_user()"
    raise _inexpressible("uitars", action)


# ---- Qwen computer_use tool calls --------------------------------------------------------------

_CU_FUNCTIONS = frozenset({"computer_use", "grounding"})  # grounding: UI-Ins
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def _parse_computer_use(text: str) -> ParsedOutput:
    start = text.find("<tool_call>")
    head = text if start < 0 else text[:start]
    think = _THINK.search(head)
    if start >= 0:
        bodies = _TOOL_CALL.findall(text, start)
        thought = (think.group(1) if think else head).strip() or None
    else:  # a bare {"name": ..., "arguments": ...} after the optional <think>
        bare = head[think.end():] if think else head
        if not bare.strip().startswith("{"):
            raise ActionParseError("no <tool_call> found", text)
        bodies = [bare]
        thought = (think.group(1).strip() or None) if think else None
    out: list[Action] = []
    for body in bodies:
        call = _json(body.strip(), body)
        if not isinstance(call, dict) or call.get("name") not in _CU_FUNCTIONS:
            raise ActionParseError(f"expected a call to one of {sorted(_CU_FUNCTIONS)}", body)
        args = call.get("arguments")
        if isinstance(args, str):  # OpenAI-style APIs send arguments as a JSON string
            args = _json(args, body)
        if not isinstance(args, dict):
            raise ActionParseError("arguments must be a JSON object", body)
        _cu_action(args, out, body.strip())
    return ParsedOutput(out, thought, text)


def _cu_action(args: dict[str, Any], out: list[Action], src: str) -> None:
    action = args.get("action")

    def coordinate(key: str = "coordinate") -> tuple[float, float]:
        if key not in args:
            raise ActionParseError(f"{action} needs {key}", src)
        return _point(args[key], key, src)

    def text(key: str) -> str:
        value = args.get(key)
        if not isinstance(value, str):
            raise ActionParseError(f"{action} needs {key} as a string", src)
        return value

    match action:
        case "left_click" | "click":  # click: UI-Ins's action name
            x, y = coordinate()
            out.append(_make(Click, src, x=x, y=y))
        case "right_click":
            x, y = coordinate()
            out.append(_make(RightClick, src, x=x, y=y))
        case "middle_click":
            x, y = coordinate()
            out.append(_make(Click, src, x=x, y=y, button="middle"))
        case "double_click":
            x, y = coordinate()
            out.append(_make(DoubleClick, src, x=x, y=y))
        case "mouse_move":
            x, y = coordinate()
            out.append(_make(Move, src, x=x, y=y))
        case "left_click_drag":  # drags from the pointer to coordinate
            to_x, to_y = coordinate("end_coordinate" if "end_coordinate" in args else "coordinate")
            if "start_coordinate" in args:
                x, y = coordinate("start_coordinate")
                out.append(_make(Drag, src, x=x, y=y, to_x=to_x, to_y=to_y))
            else:
                out.append(_drag_to(out, to_x, to_y, src))
        case "scroll" | "hscroll":
            if "pixels" not in args:
                raise ActionParseError(f"{action} needs pixels", src)
            at = coordinate() if "coordinate" in args else _pointer(out)
            out.append(_scroll(args["pixels"], action == "hscroll", at, src))
        case "type":
            out.append(_make(Type, src, text=text("text")))
        case "key":
            keys = args.get("keys")
            out.append(_key(keys if isinstance(keys, list) else _chord(keys, src), src))
        case "wait":
            seconds = _number(args["time"], "time", src) if "time" in args else None
            out.append(_make(Wait, src) if seconds is None else _make(Wait, src, seconds=seconds))
        case "terminate":
            status = args.get("status")
            if status not in ("success", "failure"):
                raise ActionParseError(f"terminate status must be success or failure, got {status!r}", src)
            out.append(_make(Done, src) if status == "success" else _make(Fail, src))
        case "answer":
            out.append(_make(Done, src, answer=text("text")))
        case _:
            raise ActionParseError(f"unknown computer_use action {action!r}", src)


def _tool_call(**arguments: Any) -> str:
    body = json.dumps({"name": "computer_use", "arguments": arguments}, ensure_ascii=False)
    # No '<' in the body, so text like "</tool_call>" or "<think>" inside a string stays inert.
    return "<tool_call>\n" + body.replace("<", "\\u003c") + "\n</tool_call>"


def _jnum(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


def _emit_computer_use(action: Action) -> str:
    def xy(x: float, y: float) -> list[int | float]:
        return [_jnum(x), _jnum(y)]

    match action:
        case Click(x=x, y=y, button=button):
            return _tool_call(action=f"{button}_click", coordinate=xy(x, y))
        case RightClick(x=x, y=y):
            return _tool_call(action="right_click", coordinate=xy(x, y))
        case DoubleClick(x=x, y=y):
            return _tool_call(action="double_click", coordinate=xy(x, y))
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
        case Wait(seconds=seconds):
            return _tool_call(action="wait", time=_jnum(seconds))
        case Done(answer=None):
            return _tool_call(action="terminate", status="success")
        case Done(answer=answer):
            return _tool_call(action="answer", text=answer)
        case Fail():
            return _tool_call(action="terminate", status="failure")
    raise _inexpressible("computer_use", action)


# ---- the project's own JSON --------------------------------------------------------------------

def _parse_json(text: str) -> ParsedOutput:
    body, thought = _unfence(text, "json")
    data = _json(body, text)
    items = data if isinstance(data, list) else [data]
    actions = [_make(ACTION_ADAPTER.validate_python, json.dumps(item), item) for item in items]
    return ParsedOutput(actions, thought, text)


def _emit_json(action: Action) -> str:
    # '`' escaped so a ``` inside a string cannot close a code fence around the JSON.
    return ACTION_ADAPTER.dump_json(action).decode().replace("`", "\\u0060")


_PARSERS: dict[CodecName, Callable[[str], ParsedOutput]] = {
    "pyautogui": _parse_pyautogui, "uitars": _parse_uitars,
    "computer_use": _parse_computer_use, "json": _parse_json,
}
_EMITTERS: dict[CodecName, Callable[[Action], str]] = {
    "pyautogui": _emit_pyautogui, "uitars": _emit_uitars,
    "computer_use": _emit_computer_use, "json": _emit_json,
}
_SEPARATORS: dict[CodecName, str] = {"pyautogui": "\n", "uitars": "\n\n", "computer_use": "\n"}
