"""What every action codec shares: the parsed result, limits, and the helpers that build
typed actions from untrusted literals (numbers, points, keys, Python and JSON snippets).

Every rejected input raises ``ActionParseError`` quoting the text; nothing here evaluates code.
"""

from __future__ import annotations

import ast
import json
import math
import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from pydantic import ValidationError

from cua.core.actions import ACTION_ADAPTER, Action, Drag, Key, Move, Scroll
from cua.core.errors import ActionParseError

MAX_TEXT_CHARS = 100_000  # real outputs are a few kB; far more is a runaway generation or an attack
MAX_ACTIONS = 1_000  # bounds the work one output can cause (press(presses=n), long key lists)


@dataclass(frozen=True)
class ParsedOutput:
    actions: list[Action]
    thought: str | None
    raw_text: str


def make(build: Callable[..., Action], src: str, *args: Any, **fields: Any) -> Action:
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


def number(value: Any, what: str, src: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ActionParseError(f"{what} must be a number, got {value!r}", src)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ActionParseError(f"{what} must be a finite number", src)
    return number


def point(values: Any, what: str, src: str) -> tuple[float, float]:
    """Two numbers are a point; four are a box (x1, y1, x2, y2), which means its centre."""
    if not isinstance(values, (list, tuple)):
        raise ActionParseError(f"{what} must be a list of numbers, got {values!r}", src)
    nums = [number(v, what, src) for v in values]
    if len(nums) == 2:
        return nums[0], nums[1]
    if len(nums) == 4:
        return (nums[0] + nums[2]) / 2, (nums[1] + nums[3]) / 2
    raise ActionParseError(f"{what} needs 2 numbers (a point) or 4 (a box), got {len(nums)}", src)


def pointer(done: list[Action]) -> tuple[float, float] | None:
    """Where the mouse is after ``done``: the last point of the latest action that moved it."""
    for action in reversed(done):
        if points := action.points():
            return points[-1].x, points[-1].y
    return None


def drag_to(done: list[Action], x: float, y: float, src: str) -> Action:
    """A drag to (x, y) from the pointer. A Move right before it is the drag's start, so it is
    taken off ``done`` (``moveTo(a); dragTo(b)`` is one Drag)."""
    if done and isinstance(done[-1], Move):
        start = done.pop()
        return make(Drag, src, x=start.x, y=start.y, to_x=x, to_y=y)
    here = pointer(done)
    if here is None:
        raise ActionParseError("drag has no start point (move the mouse there first)", src)
    return make(Drag, src, x=here[0], y=here[1], to_x=x, to_y=y)


def scroll(amount: Any, horizontal: bool, at: tuple[float, float] | None, src: str) -> Action:
    """Scroll by a signed amount: positive is up (or right), as in pyautogui and Qwen."""
    n = number(amount, "scroll amount", src)
    if n == 0:
        raise ActionParseError("scroll amount must not be 0", src)
    direction = ("right" if n > 0 else "left") if horizontal else ("up" if n > 0 else "down")
    # Scroll allows 1..100 notches; models that think in pixels write far larger numbers.
    notches = min(max(round(abs(n)), 1), 100)
    x, y = at if at is not None else (None, None)
    return make(Scroll, src, direction=direction, amount=notches, x=x, y=y)


def key(names: Sequence[Any], src: str, aliases: dict[str, str] | None = None) -> Action:
    """A Key chord; names are normalised by Key itself (after codec-specific ``aliases``)."""
    keys = []
    for name in names:
        if not isinstance(name, str) or not name:
            raise ActionParseError(f"key names must be non-empty strings, got {name!r}", src)
        lookup = name.lower() if len(name) > 1 else name
        keys.append((aliases or {}).get(lookup, name))
    return make(Key, src, keys=keys)


def chord(text: Any, src: str) -> list[str]:
    """'ctrl c' (UI-TARS) or 'ctrl+c' -> ['ctrl', 'c']."""
    if not isinstance(text, str) or not text.strip():
        raise ActionParseError(f"keys must be a non-empty string, got {text!r}", src)
    parts = text.split()
    if len(parts) == 1 and len(parts[0]) > 1 and "+" in parts[0].strip("+"):
        parts = parts[0].split("+")
    return parts


_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(s: str) -> str:
    """A single-quoted Python string literal, the form UI-TARS and OSWorld prompts show."""
    return "'" + "".join(
        _ESCAPES.get(c) or (c if c.isprintable() else repr(c)[1:-1]) for c in s
    ) + "'"


def fmt(v: float) -> str:
    """Whole numbers as integers (what models write), others exactly."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def unfence(text: str, lang: str) -> tuple[str, str | None]:
    """The code inside ``` fences and the prose around it; text without fences is all code."""
    if "```" not in text:
        return text, None
    fence = re.compile(rf"```(?:(?:{lang})\b)?[ \t]*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
    blocks = fence.findall(text)
    if not blocks:
        raise ActionParseError("unclosed ``` code fence", text)
    return "\n".join(blocks), fence.sub("", text).strip() or None


def parse_python(code: str, src: str) -> ast.Module:
    try:
        with warnings.catch_warnings():  # e.g. "invalid escape sequence" in a model's string
            warnings.simplefilter("ignore")
            return ast.parse(code, mode="exec")
    except (SyntaxError, ValueError) as e:
        raise ActionParseError(f"not valid Python ({getattr(e, 'msg', e)})", src) from None
    except (RecursionError, MemoryError):
        raise ActionParseError("expression nested too deeply", src) from None


def literal(node: ast.expr, code: str, nested: bool = False) -> Any:
    """The value of a literal argument. Anything that would need evaluating (names, calls,
    attributes, f-strings, operators, comprehensions...) is refused; lists only one level deep."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float)):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, (ast.List, ast.Tuple)) and not nested:
        return [literal(e, code, nested=True) for e in node.elts]
    raise ActionParseError("only literal arguments are allowed", ast.get_source_segment(code, node) or code)


def call_args(call: ast.Call, code: str) -> tuple[list[Any], dict[str, Any]]:
    kwargs: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise ActionParseError("**kwargs are not allowed", ast.get_source_segment(code, kw) or code)
        kwargs[kw.arg] = literal(kw.value, code)
    return [literal(a, code) for a in call.args], kwargs


def load_json(body: str, src: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as e:  # JSONDecodeError, or an integer with too many digits
        raise ActionParseError(f"invalid JSON ({getattr(e, 'msg', e)})", src) from None
    except RecursionError:
        raise ActionParseError("JSON nested too deeply", src) from None


def inexpressible(codec: str, action: Action) -> ActionParseError:
    return ActionParseError(f"the {codec} codec cannot express this action",
                            ACTION_ADAPTER.dump_json(action).decode())
