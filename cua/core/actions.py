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


class TripleClick(_PointAction):
    """Three left clicks (selects a line or a paragraph of text)."""

    type: Literal["triple_click"] = "triple_click"


class DoubleClick(_PointAction):
    type: Literal["double_click"] = "double_click"


class RightClick(_PointAction):
    type: Literal["right_click"] = "right_click"


class Move(_PointAction):
    type: Literal["move"] = "move"


class _ButtonAction(_Action):
    """Press or release a mouse button, at (x, y) or where the pointer is (no point)."""

    button: MouseButton = "left"
    x: float | None = None
    y: float | None = None

    def points(self) -> list[Point]:
        return [] if self.x is None or self.y is None else [Point(x=self.x, y=self.y)]


class MouseDown(_ButtonAction):
    type: Literal["mouse_down"] = "mouse_down"


class MouseUp(_ButtonAction):
    type: Literal["mouse_up"] = "mouse_up"


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


class _KeysAction(_Action):
    keys: list[str] = Field(min_length=1, max_length=16)

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


class Key(_KeysAction):
    """One key, or a chord pressed together (``["ctrl", "c"]``)."""

    type: Literal["key"] = "key"


class KeyDown(_KeysAction):
    """Press and hold keys (released by a later KeyUp, e.g. shift held while clicking)."""

    type: Literal["key_down"] = "key_down"


class KeyUp(_KeysAction):
    type: Literal["key_up"] = "key_up"


class SelectOption(_PointAction):
    """Choose the option(s) labelled ``values`` in the drop-down list at (x, y)."""

    type: Literal["select_option"] = "select_option"
    values: list[str] = Field(min_length=1, max_length=100)


class Goto(_Action):
    """Open ``url`` in the current tab (browser environments; the allow-list still applies)."""

    type: Literal["goto"] = "goto"
    url: str = Field(min_length=1, max_length=8192)


class Back(_Action):
    type: Literal["back"] = "back"


class Forward(_Action):
    type: Literal["forward"] = "forward"


class NewTab(_Action):
    type: Literal["new_tab"] = "new_tab"
    url: str | None = Field(default=None, max_length=8192)


class SwitchTab(_Action):
    """Make tab ``index`` (0-based, in opening order) the one acted on and shown."""

    type: Literal["switch_tab"] = "switch_tab"
    index: int = Field(ge=0, le=1000)


class CloseTab(_Action):
    type: Literal["close_tab"] = "close_tab"


class Wait(_Action):
    type: Literal["wait"] = "wait"
    seconds: float = Field(default=1.0, ge=0, le=60)


class Done(_Action):
    """The agent says the task is finished, optionally with an answer."""

    type: Literal["done"] = "done"
    answer: str | None = None


class Fail(_Action):
    """The episode ends unfinished. ``by="agent"``: the policy says the task is infeasible (what
    OSWorld scores on infeasible tasks, WebArena's "N/A"); ``by="runtime"``: the runtime gave up
    for it (unreadable model output after the retries), which never counts as that claim."""

    type: Literal["fail"] = "fail"
    reason: str | None = None
    by: Literal["agent", "runtime"] = "agent"


class CallUser(_Action):
    """The policy asks a person (UI-TARS ``call_user()``, a hosted API's safety check): the app
    lets the user answer or take over; a batch run ends the episode as ``needs_user``."""

    type: Literal["call_user"] = "call_user"
    question: str | None = None


ACTION_CLASSES: tuple[type[_Action], ...] = (
    Click, DoubleClick, TripleClick, RightClick, Move, MouseDown, MouseUp, Drag, Scroll, Type, Key, KeyDown,
    KeyUp, SelectOption, Goto, Back, Forward, NewTab, SwitchTab, CloseTab, Wait, Done, Fail, CallUser,
)
Action = Annotated[Union[ACTION_CLASSES], Field(discriminator="type")]  # type: ignore[valid-type]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
TERMINAL_ACTIONS = (Done, Fail, CallUser)
# Every action type name, and the ones every environment can do (what the project started with).
ACTION_TYPES: frozenset[str] = frozenset(cls.model_fields["type"].default for cls in ACTION_CLASSES)
BASIC_ACTIONS: frozenset[str] = frozenset(
    {"click", "double_click", "right_click", "move", "drag", "scroll", "type", "key", "wait", "done", "fail",
     "call_user"})

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
    if not isinstance(action, (_PointAction, Scroll, _ButtonAction)):
        raise TypeError(f"{action.type} has no single point")
    return action.model_copy(update={"x": x, "y": y})
