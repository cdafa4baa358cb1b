"""Typed actions an agent can take. Coordinates are screenshot pixels.

The JSON form (``{"type": "click", "x": 10, "y": 20}``) is the project's own codec; the
other codecs (pyautogui, UI-TARS, Qwen computer_use) live in ``cua.core.codecs``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from cua.core.geometry import Point

MouseButton = Literal["left", "middle", "right"]
ScrollDirection = Literal["up", "down", "left", "right"]

# Key names every backend understands; codecs map their spellings onto these.
KEY_NAMES: frozenset[str] = frozenset(
    {
        "enter", "tab", "space", "backspace", "delete", "escape", "up", "down", "left", "right",
        "home", "end", "pageup", "pagedown", "insert", "ctrl", "alt", "shift", "meta",
        "capslock", "contextmenu",
        *(f"f{i}" for i in range(1, 13)),
    }
)


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def points(self) -> list[Point]:
        """The screen points this action touches (empty for keyboard / control actions)."""
        return []


class _PointAction(_Action):
    x: float
    y: float

    def points(self) -> list[Point]:
        return [Point(x=self.x, y=self.y)]


class Click(_PointAction):
    type: Literal["click"] = "click"
    button: MouseButton = "left"


class DoubleClick(_PointAction):
    type: Literal["double_click"] = "double_click"


class RightClick(_PointAction):
    type: Literal["right_click"] = "right_click"


class Move(_PointAction):
    type: Literal["move"] = "move"


class Drag(_Action):
    type: Literal["drag"] = "drag"
    x: float
    y: float
    to_x: float
    to_y: float

    def points(self) -> list[Point]:
        return [Point(x=self.x, y=self.y), Point(x=self.to_x, y=self.to_y)]


class Scroll(_Action):
    """Scroll by ``amount`` wheel notches at (x, y); no point means the screen centre."""

    type: Literal["scroll"] = "scroll"
    direction: ScrollDirection
    amount: int = Field(default=3, ge=1, le=100)
    x: float | None = None
    y: float | None = None

    def points(self) -> list[Point]:
        return [] if self.x is None or self.y is None else [Point(x=self.x, y=self.y)]


class Type(_Action):
    type: Literal["type"] = "type"
    text: str


class Key(_Action):
    """One key, or a chord pressed together (``["ctrl", "c"]``)."""

    type: Literal["key"] = "key"
    keys: list[str] = Field(min_length=1)

    @field_validator("keys")
    @classmethod
    def _known_keys(cls, keys: list[str]) -> list[str]:
        out = []
        for k in keys:
            norm = normalize_key(k)
            if norm not in KEY_NAMES and not (len(norm) == 1 and norm.isprintable()):
                raise ValueError(f"unknown key {k!r}")
            out.append(norm)
        return out


class Wait(_Action):
    type: Literal["wait"] = "wait"
    seconds: float = Field(default=1.0, ge=0, le=60)


class Done(_Action):
    """The agent says the task is finished, optionally with an answer."""

    type: Literal["done"] = "done"
    answer: str | None = None


class Fail(_Action):
    """The agent gives up (infeasible task, or it cannot go on)."""

    type: Literal["fail"] = "fail"
    reason: str | None = None


Action = Annotated[
    Union[Click, DoubleClick, RightClick, Move, Drag, Scroll, Type, Key, Wait, Done, Fail],
    Field(discriminator="type"),
]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
TERMINAL_ACTIONS = (Done, Fail)

_KEY_ALIASES = {
    "return": "enter", "esc": "escape", "control": "ctrl", "cmd": "meta", "command": "meta",
    "win": "meta", "super": "meta", "option": "alt", "del": "delete", "pgup": "pageup",
    "pgdn": "pagedown", "arrowup": "up", "arrowdown": "down", "arrowleft": "left",
    "arrowright": "right", "spacebar": "space", " ": "space", "back": "backspace",
}


def normalize_key(name: str) -> str:
    """Map the many spellings of a key (pyautogui, xdotool, UI-TARS, Playwright) to ours."""
    low = name.strip().lower() if len(name.strip()) > 1 else name.strip() or name
    return _KEY_ALIASES.get(low, low)


def with_point(action: Action, x: float, y: float) -> Action:
    """A copy of a single-point action aimed at (x, y) (used by grounders and critics)."""
    if not isinstance(action, _PointAction) and not isinstance(action, Scroll):
        raise TypeError(f"{action.type} has no single point")
    return action.model_copy(update={"x": x, "y": y})
