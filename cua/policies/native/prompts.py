"""The published prompt texts of native computer-use agents, exactly as their authors' agents
send them. Plain texts live in ``prompts/*.txt`` (byte for byte, placeholders in braces filled
with ``str.replace``, never ``str.format``: the texts hold JSON braces); the Qwen-style tool
prompts are built from their tool schemas as data, as the authors' code builds them
(``json.dumps`` with its defaults). ``tests/policies/fixtures/`` holds the rendered published
texts they are checked against; its README names each source file and commit.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from grounding.profiles import HELPFUL, QWEN25_TOOLS


@cache
def text(name: str) -> str:
    """A prompt file of this package (``uitars_computer``, ``opencua_v1_l2`` ...)."""
    return resources.files(__package__).joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")


def fill(template: str, **values: str) -> str:
    """``{name}`` → value, each once, the instruction last (a "{language}" typed by the user
    inside the instruction stays as written)."""
    instruction = values.pop("instruction", None)
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template if instruction is None else template.replace("{instruction}", instruction)


# ---- Qwen computer_use tool prompts (OSWorld's qwen3vl agent, EvoCUA S2) ----------------------

_TOOLS_HEAD = ("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
               "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n")
_TOOLS_TAIL = ("\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
               "<tool_call></tool_call> XML tags:\n<tool_call>\n"
               '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>')
RESPONSE_FORMAT = (
    "\n\n# Response format\n\nResponse format for every step:\n"
    "1) Action: a short imperative describing what to do in the UI.\n"
    '2) A single <tool_call>...</tool_call> block containing only the JSON: {"name": <function-name>, '
    '"arguments": <args-json-object>}.\n\nRules:\n- Output exactly in the order: Action, <tool_call>.\n'
    "- Be brief: one sentence for Action.\n- Do not output anything else outside those parts.\n"
    "- If finishing, use action=terminate in the tool call.")

_START = "* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu. You must click on desktop icons to start applications."
_DESCRIPTION = [
    "Use a mouse and keyboard to interact with a computer, and take screenshots.",
    _START,
    "* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions. E.g. if you click on Firefox and a window doesn't open, try wait and taking another screenshot.",
    "{resolution}",
    "* Whenever you intend to move the cursor to click on an element like an icon, you should consult a screenshot to determine the coordinates of the element before moving the cursor.",
    "* If you tried clicking on a program or link but it failed to load even after waiting, try adjusting your cursor position so that the tip of the cursor visually falls on the element that you want to click.",
    "* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. Don't click boxes on their edges unless asked.",
]
_AT = " at a specified (x, y) pixel coordinate on the screen."
_ACTIONS: dict[str, str] = {
    "key": "Performs key down presses on the arguments passed in order, then performs key releases in reverse order.",
    "key_down": "Press and HOLD the specified key(s) down in order (no release). Use this for stateful holds like holding Shift while clicking.",
    "key_up": "Release the specified key(s) in reverse order.",
    "type": "Type a string of text on the keyboard.",
    "mouse_move": "Move the cursor to a specified (x, y) pixel coordinate on the screen.",
    "left_click": "Click the left mouse button" + _AT,
    "left_click_drag": "Click and drag the cursor to a specified (x, y) pixel coordinate on the screen.",
    "right_click": "Click the right mouse button" + _AT,
    "middle_click": "Click the middle mouse button" + _AT,
    "double_click": "Double-click the left mouse button" + _AT,
    "triple_click": "Triple-click the left mouse button" + _AT,
    "scroll": "Performs a scroll of the mouse scroll wheel.",
    "hscroll": "Performs a horizontal scroll (mapped to regular scroll).",
    "wait": "Wait specified seconds for the change to happen.",
    "terminate": "Terminate the current task and report its completion status.",
    "answer": "Answer a question.",
}
_PARAMETERS: dict[str, Any] = {
    "keys": {"description": "Required only by `action=key`.", "type": "array"},
    "text": {"description": "Required only by `action=type`.", "type": "string"},
    "coordinate": {"description": "The x,y coordinates for mouse actions.", "type": "array"},
    "pixels": {"description": "The amount of scrolling.", "type": "number"},
    "time": {"description": "The seconds to wait.", "type": "number"},
    "status": {"description": "The status of the task.", "type": "string", "enum": ["success", "failure"]},
}
_QWEN3_ENUM = ["key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
               "double_click", "scroll", "wait", "terminate"]
_QWEN3_DESCRIBED = ["key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
                    "double_click", "triple_click", "scroll", "hscroll", "wait", "terminate", "answer"]
_EVOCUA_DESCRIBED = ["key", "key_down", "key_up", "type", "mouse_move", "left_click", "left_click_drag",
                     "right_click", "middle_click", "double_click", "triple_click", "scroll", "hscroll", "wait",
                     "terminate", "answer"]
_EVOCUA_ENUM = [*_QWEN3_ENUM[:8], "triple_click", "scroll", "wait", "terminate", "key_down", "key_up"]


def _tools_prompt(description: list[str], described: list[str], enum: list[str], action_tail: str,
                  resolution: str, overrides: dict[str, str] | None = None) -> str:
    actions = {**_ACTIONS, **(overrides or {})}
    tools_def = {"type": "function", "function": {
        "name_for_human": "computer_use", "name": "computer_use",
        "description": "\n".join(resolution if line == "{resolution}" else line for line in description),
        "parameters": {"properties": {
            "action": {"description": "\n" + "\n".join(f"* `{a}`: {actions[a]}" for a in described) + action_tail,
                       "enum": enum, "type": "string"},
            **_PARAMETERS}, "required": ["action"], "type": "object"},
        "args_format": "Format the arguments as a JSON object."}}
    return _TOOLS_HEAD + json.dumps(tools_def) + _TOOLS_TAIL + RESPONSE_FORMAT


def resolution_line(width: int, height: int) -> str:
    return f"* The screen's resolution is {width}x{height}."


def qwen3vl_system(resolution: str) -> str:
    """OSWorld ``mm_agents/qwen3vl_agent.py``: 11 actions in the enum, 14 described (its triple
    click "simulated as double-click"), the description text ending in a newline and 8 spaces."""
    return _tools_prompt(
        _DESCRIPTION, _QWEN3_DESCRIBED, _QWEN3_ENUM, "\n        ", resolution,
        {"triple_click": _ACTIONS["triple_click"][:-1]
         + " (simulated as double-click since it's the closest action)."})


def evocua_s2_system(resolution: str) -> str:
    """EvoCUA ``mm_agents/evocua/prompts.py`` S2: held keys added, no "no terminal" sentence."""
    description = [line.replace(" You do not have access to a terminal or applications menu.", "")
                   for line in _DESCRIPTION]
    return _tools_prompt(description, _EVOCUA_DESCRIBED, _EVOCUA_ENUM, "\n", resolution)


QWEN_INSTRUCTION = ("\nPlease generate the next move according to the UI screenshot, instruction and previous "
                    "actions.\n\nInstruction: {instruction}\n\nPrevious actions:\n{previous_actions}")


def qwen25vl_system(width: int, height: int) -> list[str]:
    """Qwen-Agent's function-calling system prompt with the Qwen2.5-VL cookbook's computer_use
    tool at the size the model sees (the text parts of the system message)."""
    tools = QWEN25_TOOLS.replace("{width}", str(width)).replace("{height}", str(height))
    return [HELPFUL, "\n\n" + tools]


# ---- OpenCUA templates (OSWorld mm_agents/opencua/prompts.py) --------------------------------

OPENCUA_INSTRUCTION = ("# Task Instruction:\n{instruction}\n\nPlease generate the next move according to the "
                       "screenshot, task instruction and previous steps (if provided).\n")
OPENCUA_STEP = "# Step {step}:\n"
OPENCUA_ACTION_HISTORY = "## Action:\n{action}\n"
