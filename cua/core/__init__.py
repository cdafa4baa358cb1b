"""The shared vocabulary of the runtime. Imports nothing else of the project."""

from cua.core.actions import (
    ACTION_ADAPTER, ACTION_TYPES, BASIC_ACTIONS, TERMINAL_ACTIONS, Action, Back, CallUser, Click,
    CloseTab, Done, DoubleClick, Drag, Fail, Forward, Goto, Key, KeyDown, KeyUp, MouseDown, MouseUp,
    Move, NewTab, RightClick, Scroll, SelectOption, SwitchTab, TripleClick, Type, Wait, normalize_key,
    with_point,
)
from cua.core.coords import CoordChain, ModelSpace, smart_resize
from cua.core.errors import (
    ActionParseError, BrowserNotFoundError, CuaError, EnvError, InvalidObservationError,
    PageLoadError, SetupError, StepTimeoutError, TaskNotFoundError, UnsupportedActionError,
)
from cua.core.geometry import Box, Point
from cua.core.observation import Observation, UIElement
from cua.core.task import Task
from cua.core.records import (
    SCHEMA_VERSION, Attempt, EpisodeResult, Grounding, Intent, RejectedReply, StepRecord, Termination,
    TurnRecord, Usage, Verdict,
)

__all__ = [
    "ACTION_ADAPTER", "ACTION_TYPES", "BASIC_ACTIONS", "TERMINAL_ACTIONS", "Action", "Back", "CallUser",
    "Click", "CloseTab", "Done", "DoubleClick", "Drag", "Fail", "Forward", "Goto", "Key", "KeyDown", "KeyUp",
    "MouseDown", "MouseUp", "Move", "NewTab", "RightClick", "Scroll", "SelectOption", "SwitchTab",
    "TripleClick", "Type", "Wait", "normalize_key", "with_point",
    "CoordChain", "ModelSpace", "smart_resize", "ActionParseError", "BrowserNotFoundError",
    "CuaError", "EnvError", "InvalidObservationError", "PageLoadError", "SetupError",
    "StepTimeoutError", "UnsupportedActionError",
    "TaskNotFoundError", "Box", "Point", "Observation", "UIElement", "Task", "SCHEMA_VERSION", "Attempt",
    "EpisodeResult", "Grounding", "Intent", "RejectedReply", "StepRecord", "Termination", "TurnRecord", "Usage",
    "Verdict",
]
