"""The shared vocabulary of the runtime. Imports nothing else of the project."""

from cua.core.actions import (
    ACTION_ADAPTER, TERMINAL_ACTIONS, Action, Click, Done, DoubleClick, Drag, Fail, Key, Move,
    RightClick, Scroll, Type, Wait, normalize_key, with_point,
)
from cua.core.coords import CoordChain, ModelSpace, smart_resize
from cua.core.errors import (
    ActionParseError, BrowserNotFoundError, CuaError, EnvError, InvalidObservationError,
    PageLoadError, SetupError, StepTimeoutError, TaskNotFoundError,
)
from cua.core.geometry import Box, Point
from cua.core.observation import Observation, UIElement
from cua.core.task import Task
from cua.core.records import (
    SCHEMA_VERSION, Attempt, EpisodeResult, Grounding, Intent, StepRecord, Verdict,
)

__all__ = [
    "ACTION_ADAPTER", "TERMINAL_ACTIONS", "Action", "Click", "Done", "DoubleClick", "Drag", "Fail",
    "Key", "Move", "RightClick", "Scroll", "Type", "Wait", "normalize_key", "with_point",
    "CoordChain", "ModelSpace", "smart_resize", "ActionParseError", "BrowserNotFoundError",
    "CuaError", "EnvError", "InvalidObservationError", "PageLoadError", "SetupError",
    "StepTimeoutError",
    "TaskNotFoundError", "Box", "Point", "Observation", "UIElement", "Task", "SCHEMA_VERSION", "Attempt",
    "EpisodeResult", "Grounding", "Intent", "StepRecord", "Verdict",
]
