"""Action codecs: model output text <-> typed actions, one module per dialect.

* ``pyautogui``: OSWorld-style Python (``pyautogui.click(x=10, y=20)``, ``WAIT``/``DONE``/``FAIL``),
  read with ``ast`` against a whitelist and never run;
* ``uitars``: UI-TARS ``Thought: ... / Action: click(start_box='(x,y)')`` text;
* ``computer_use``: Qwen ``<tool_call>{"name": "computer_use", ...}</tool_call>`` (Qwen2.5-VL,
  Qwen3-VL, Jedi, EvoCUA; also UI-Ins, whose function is called ``grounding``);
* ``opencua``: OpenCUA / EvoCUA-S1 code, pyautogui plus ``computer.terminate(...)`` and friends;
* ``json``: the project's own action JSON (``cua.core.actions.ACTION_ADAPTER``).

Coordinates come back exactly as the model wrote them (its own space); ``cua.core.coords.map_action``
maps them to screenshot pixels. Every rejected input raises ``ActionParseError`` quoting the text.

Emitting is lossy where a format has no slot: pyautogui's ``DONE``/``FAIL`` carry no text; UI-TARS
has no scroll amount, wait length or failure reason; computer_use has no failure reason. Actions a
codec cannot express at all (UI-TARS: Move, middle click) raise ``ActionParseError``.
"""

from __future__ import annotations

import json
import re
from types import ModuleType
from typing import Literal, Sequence, get_args

from cua.core.actions import Action
from cua.core.codecs import computer_use, json_actions, opencua, pyautogui, uitars
from cua.core.codecs.common import MAX_ACTIONS, MAX_TEXT_CHARS, ParsedOutput
from cua.core.codecs.uitars import UITARS_WAIT_SECONDS
from cua.core.errors import ActionParseError

__all__ = ["CODECS", "CodecName", "MAX_ACTIONS", "MAX_TEXT_CHARS", "ParsedOutput", "UITARS_WAIT_SECONDS",
           "detect_codec", "emit", "emit_all", "parse"]

CodecName = Literal["pyautogui", "uitars", "computer_use", "opencua", "json"]
CODECS: tuple[CodecName, ...] = get_args(CodecName)
_DIALECTS: dict[CodecName, ModuleType] = {
    "pyautogui": pyautogui, "uitars": uitars, "computer_use": computer_use, "opencua": opencua,
    "json": json_actions,
}
_SEPARATORS: dict[CodecName, str] = {"pyautogui": "\n", "uitars": "\n\n", "computer_use": "\n", "opencua": "\n"}


def parse(text: str, codec: CodecName) -> ParsedOutput:
    """Read the actions in one model output. Coordinates stay in the model's space, as written."""
    if not isinstance(text, str):
        raise ActionParseError(f"model output must be a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ActionParseError(f"model output is longer than {MAX_TEXT_CHARS} characters", text)
    parsed = _DIALECTS[_known(codec)].parse(text)
    if not parsed.actions:
        raise ActionParseError("no action found", text)
    if len(parsed.actions) > MAX_ACTIONS:
        raise ActionParseError(f"more than {MAX_ACTIONS} actions", text)
    return parsed


def emit(action: Action, codec: CodecName) -> str:
    """The text a model speaking ``codec`` would write for ``action`` (``parse`` reads it back)."""
    return _DIALECTS[_known(codec)].emit(action)


def emit_all(actions: Sequence[Action], codec: CodecName) -> str:
    if _known(codec) == "json":
        return "[" + ", ".join(json_actions.emit(a) for a in actions) + "]"
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
    if re.search(r"(?m)^[ \t]*<tool_call>", text):
        return "computer_use"
    if re.search(r"(?m)^[ \t]*computer\.(terminate|wait|triple_click)\(", text):
        return "opencua"
    if re.search(r"(?m)^[ \t]*(pyautogui\.|time\.sleep\(|import pyautogui|(WAIT|DONE|FAIL)[ \t]*$)", text):
        return "pyautogui"
    if re.search(r"(?m)^[ \t]*Action:", text) or re.search(rf"(?m)^[ \t]*({'|'.join(uitars.ACTION_PARAMS)})\(", text):
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
