"""Grounding-model profiles as data: one row per family with its exact prompt, output parser,
coordinate space, resize policy and published scores.

A profile turns (screenshot, instruction) into chat messages for a ``ChatModel`` and the model's
reply back into a ``Grounding`` in screenshot pixels. The image is smart-resized here, so the
``{width}x{height}`` the prompt names is exactly the size the model sees; coordinates go back
through ``cua.core.coords`` and nowhere else. Prompts are copied from the code the authors
evaluated with (``source`` says where); notes: shared/reference/anchors-grounding.md §1.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Literal

from PIL import Image

from cua.core import (
    ActionParseError,
    Box,
    Click,
    CuaError,
    Grounding,
    ModelSpace,
    Point,
)
from cua.core.codecs import MAX_TEXT_CHARS, CodecName, emit, parse
from cua.core.coords import Resize
from grounding.backends.base import Message

Arch = Literal["qwen2_vl", "qwen2_5_vl", "qwen3_vl", "opencua"]
Space = Literal["abs_resized", "rel_1000", "rel_1"]
Benchmark = Literal["ScreenSpot-v2", "ScreenSpot-Pro", "OSWorld-G"]


@dataclass(frozen=True)
class Reading:
    """What a parser read, in the model's own space; ``point`` None is a refusal."""

    point: Point | None
    box: Box | None = None
    others: tuple[Point, ...] = ()


Parser = Callable[[str], Reading]


@dataclass(frozen=True)
class Score:
    model: str
    benchmark: Benchmark
    value: float
    source: str


@dataclass(frozen=True)
class Profile:
    name: str
    aliases: tuple[str, ...]  # short names and hub ids
    arch: Arch
    space: Space
    resize: Resize
    user: str  # the text after the image: {instruction}, {width}, {height}
    parser: CodecName | Parser
    source: str  # where the prompt and the resize policy come from
    system: tuple[str, ...] = ()  # text parts; empty: no system message (the template may add one)
    prefill: str = ""  # the assistant's reply starts with this (forces the output format)
    scores: tuple[Score, ...] = ()

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the image the model sees for a ``width`` x ``height`` screenshot."""
        return self.resize.size(width, height, f"profile {self.name}")

    def model_space(self, resized_width: int, resized_height: int) -> ModelSpace:
        return ModelSpace.of_kind(self.space, resized_width, resized_height)

    def build_messages(self, image: Image.Image, instruction: str) -> tuple[list[Message], ModelSpace]:
        w, h = self.resized_size(*image.size)
        shown = image if image.size == (w, h) else image.resize((w, h), Image.Resampling.BICUBIC)
        messages: list[Message] = []
        if self.system:
            messages.append({"role": "system", "content": [
                {"type": "text", "text": _fill(part, w, h)} for part in self.system]})
        messages.append({"role": "user", "content": [
            # resized_*: qwen_vl_utils' keys; a backend must show the image at exactly this size.
            {"type": "image", "image": shown, "resized_width": w, "resized_height": h},
            {"type": "text", "text": _fill(self.user, w, h, instruction)},
        ]})
        if self.prefill:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": self.prefill}]})
        return messages, self.model_space(w, h)

    def answer(self, point: Point, box: Box | None = None, thought: str = "") -> str:
        """The reply this profile's model gives for ``point`` (and ``box``), both in its own
        coordinate space, written in its exact output format and WITHOUT the prefill: what
        ``parse(prefill + answer)`` reads back. Coordinates are whole numbers in absolute and
        0-1000 spaces (what these models write), four decimals in 0-1. ``thought`` fills the
        ``<think>`` block of formats that have one. SFT targets and tests use it."""
        x, y = self._num(point.x), self._num(point.y)
        if self.parser in ("computer_use", "pyautogui", "uitars"):
            if self.name == "ui-ins":  # its own function name and action (not qwen's computer_use)
                text = ('<tool_call>\n{"name": "grounding", "arguments": {"action": "click", '
                        f'"coordinate": [{x}, {y}]}}}}\n</tool_call>')
            else:
                text = emit(Click(x=x, y=y), self.parser)  # type: ignore[arg-type]
            if self.parser == "uitars":
                text = "Action: " + text  # GROUNDING_DOUBAO's output format
        elif self.parser is read_point_2d_list:
            text = f'<think>{thought}</think>\n[{{"point_2d": [{x}, {y}]}}]'
        elif self.parser is read_point_text:
            if box is not None and self.name == "os-atlas":  # it answers with the bbox it was asked for
                x1, y1, x2, y2 = (self._num(v) for v in (box.x1, box.y1, box.x2, box.y2))
                text = f"<|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"
            else:
                text = f"({x},{y})" if self.name.startswith("gta1") else f"({x}, {y})"
        else:
            raise CuaError(f"profile {self.name}: no answer writer for its parser")
        if not text.startswith(self.prefill):
            raise CuaError(f"profile {self.name}: its answer does not start with its prefill")
        return text[len(self.prefill):]

    def _num(self, v: float) -> int | float:
        return round(v, 4) if self.space == "rel_1" else int(round(v))

    def target(self, box: Box, shot_size: tuple[int, int]) -> tuple[Point, Box, ModelSpace]:
        """A screenshot-pixel target box as the model sees it: its centre and the box in the
        model's space for a ``shot_size`` screenshot, and that space."""
        space = self.model_space(*self.resized_size(*shot_size))
        a = space.from_screenshot(Point(x=box.x1, y=box.y1), *shot_size)
        b = space.from_screenshot(Point(x=box.x2, y=box.y2), *shot_size)
        return space.from_screenshot(box.center, *shot_size), Box(x1=a.x, y1=a.y, x2=b.x, y2=b.y), space

    def read(self, text: str) -> Reading:
        """The point (and box, other candidates) ``text`` names, in model space."""
        if len(text) > MAX_TEXT_CHARS:
            raise ActionParseError(f"model output is longer than {MAX_TEXT_CHARS} characters", text)
        if callable(self.parser):
            return self.parser(text)
        for action in parse(text, self.parser).actions:
            if points := action.points():
                return Reading(points[0])
        return Reading(None)  # terminate / wait / finished: the model points nowhere

    def parse(self, text: str, space: ModelSpace, shot_size: tuple[int, int]) -> Grounding:
        """The model's full reply (prefill included) → a Grounding in screenshot pixels.
        Raises ActionParseError for malformed or out-of-image answers."""
        reading = self.read(text)
        common: dict[str, Any] = {"raw_text": text, "model_space": space, "model_point": reading.point}
        # All-negative coordinates are how models refuse (the OSWorld-G convention).
        if reading.point is None or (reading.point.x < 0 and reading.point.y < 0):
            return Grounding(point=None, **common)
        box = reading.box
        corners = [Point(x=box.x1, y=box.y1), Point(x=box.x2, y=box.y2)] if box else []
        for p in (reading.point, *reading.others, *corners):
            if not (0 <= p.x <= space.width and 0 <= p.y <= space.height):
                raise ActionParseError(
                    f"point ({p.x:g}, {p.y:g}) is outside the model's {space.width:g}x{space.height:g} "
                    f"{space.kind} space", text)

        def shot(p: Point) -> Point:
            return space.to_screenshot(p, *shot_size)

        if corners:
            a, b = shot(corners[0]), shot(corners[1])
            box = Box(x1=min(a.x, b.x), y1=min(a.y, b.y), x2=max(a.x, b.x), y2=max(a.y, b.y))
        return Grounding(point=shot(reading.point), box=box,
                              candidates=[shot(p) for p in reading.others], **common)


def _fill(template: str, width: int, height: int, instruction: str | None = None) -> str:
    # Not str.format: prompts hold JSON braces. The instruction goes in last, so braces or
    # "{width}" inside it stay as the user wrote them.
    text = template.replace("{width}", str(width)).replace("{height}", str(height))
    return text if instruction is None else text.replace("{instruction}", instruction)


# ---- parsers for formats the action codecs do not cover -------------------------------------

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_PAIR = rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*\)"
_GROUP = re.compile(
    rf"{_PAIR}\s*,\s*{_PAIR}"  # OS-Atlas box: (x1,y1),(x2,y2)
    rf"|[\(\[]\s*({_NUM})\s*,\s*({_NUM})\s*(?:,\s*({_NUM})\s*,\s*({_NUM})\s*)?[\)\]]"
)
_OBJECT_REF = re.compile(r"<\|object_ref_start\|>.*?<\|object_ref_end\|>", re.DOTALL)
_BARE_PAIR = re.compile(rf"\s*({_NUM})\s*,\s*({_NUM})\s*")


def read_point_text(text: str) -> Reading:
    """Plain-text coordinates: ``(x, y)`` or ``[x, y]`` (UGround-V1, GTA1), a box ``[x1, y1, x2,
    y2]`` or OS-Atlas' ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` (its centre is the point).
    Exactly one such group must appear: two separate answers are ambiguous."""
    body = _OBJECT_REF.sub(" ", text)  # the echoed element name may hold digits
    groups = [[float(n) for n in m.groups() if n is not None] for m in _GROUP.finditer(body)]
    if not groups and (bare := _BARE_PAIR.fullmatch(body)):
        groups = [[float(bare.group(1)), float(bare.group(2))]]
    if len(groups) != 1:
        raise ActionParseError(
            "expected one (x, y) point or one box" + (f", found {len(groups)}" if groups else ""), text)
    nums = groups[0]
    if not all(math.isfinite(n) for n in nums):
        raise ActionParseError("coordinates must be finite numbers", text)
    if len(nums) == 2:
        return Reading(Point(x=nums[0], y=nums[1]))
    box = Box(x1=nums[0], y1=nums[1], x2=nums[2], y2=nums[3])
    return Reading(box.center, box=box)


def read_point_2d_list(text: str) -> Reading:
    """InfiGUI-G1: ``<think>…</think>`` then a JSON list ``[{"point_2d": [x, y]}, ...]``; the
    first point is the answer, the rest are kept as candidates; an empty list refuses. The JSON
    is read from the first '[' to the last ']' after the thinking (its eval.py does the same)."""
    if "<think>" in text and "</think>" not in text:
        raise ActionParseError("unfinished <think> block", text)
    answer = text.rsplit("</think>", 1)[-1]
    start, end = answer.find("["), answer.rfind("]")
    if start < 0 or end < start:
        raise ActionParseError('no [{"point_2d": [x, y]}, ...] list found', text)
    try:
        items = json.loads(answer[start:end + 1])
    except (ValueError, RecursionError):
        raise ActionParseError("the point_2d list is not valid JSON", text) from None
    if not isinstance(items, list):
        raise ActionParseError("expected a JSON list of point_2d objects", text)
    points = [_point_2d(item, text) for item in items]
    return Reading(points[0], others=tuple(points[1:])) if points else Reading(None)


def _point_2d(item: Any, text: str) -> Point:
    xy = item.get("point_2d") if isinstance(item, dict) else None
    if not (isinstance(xy, list) and len(xy) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in xy)):
        raise ActionParseError('each item must be {"point_2d": [x, y]} with two numbers', text)
    return Point(x=xy[0], y=xy[1])


# ---- prompts ------------------------------------------------------------------------------

def _computer_use_tools(description: list[str], actions: dict[str, str], params: dict[str, str],
                        qwen_agent: bool = True) -> str:
    """The Qwen ``computer_use`` tool block of a system prompt (qwen-agent's NousFnCallPrompt
    layout). ``qwen_agent`` adds the name_for_human / args_format fields that qwen-agent emits."""
    props: dict[str, Any] = {"action": {
        "description": "The action to perform. The available actions are:\n"
                       + "\n".join(f"* `{a}`: {d}" for a, d in actions.items()),
        "enum": list(actions), "type": "string"}}
    kinds = {"keys": "array", "text": "string", "coordinate": "array", "pixels": "number",
             "time": "number", "status": "string"}
    for key, desc in params.items():
        props[key] = {"description": desc, "type": kinds[key]}
    props["status"]["enum"] = ["success", "failure"]
    function: dict[str, Any] = {"name": "computer_use", "description": "\n".join(description),
                                "parameters": {"properties": props, "required": ["action"], "type": "object"}}
    if qwen_agent:
        function = {"name_for_human": "computer_use", **function,
                    "args_format": "Format the arguments as a JSON object."}
    return ("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            + json.dumps({"type": "function", "function": function}, ensure_ascii=False)
            + "\n</tools>\n\nFor each function call, return a json object with function name and "
            "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>')


_CU_INTRO = [
    "Use a mouse and keyboard to interact with a computer, and take screenshots.",
    "* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu. You must click on desktop icons to start applications.",
    "* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions. E.g. if you click on Firefox and a window doesn't open, try wait and taking another screenshot.",
]
_CU_CURSOR = [
    "* Whenever you intend to move the cursor to click on an element like an icon, you should consult a screenshot to determine the coordinates of the element before moving the cursor.",
    "* If you tried clicking on a program or link but it failed to load, even after waiting, try adjusting your cursor position so that the tip of the cursor visually falls on the element that you want to click.",
]
_CENTER = "* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. Don't click boxes on their edges"
_AT = " at a specified (x, y) pixel coordinate on the screen."
_CU25_ACTIONS = {
    "key": "Performs key down presses on the arguments passed in order, then performs key releases in reverse order.",
    "type": "Type a string of text on the keyboard.",
    "mouse_move": "Move the cursor to a specified (x, y) pixel coordinate on the screen.",
    "left_click": "Click the left mouse button.",
    "left_click_drag": "Click and drag the cursor to a specified (x, y) pixel coordinate on the screen.",
    "right_click": "Click the right mouse button.",
    "middle_click": "Click the middle mouse button.",
    "double_click": "Double-click the left mouse button.",
    "scroll": "Performs a scroll of the mouse scroll wheel.",
    "wait": "Wait specified seconds for the change to happen.",
    "terminate": "Terminate the current task and report its completion status.",
}
_XY = "(x, y): The x (pixels from the left edge) and y (pixels from the top edge) coordinates to move the mouse to."
_CU25_PARAMS = {
    "keys": "Required only by `action=key`.",
    "text": "Required only by `action=type`.",
    "coordinate": _XY + " Required only by `action=mouse_move` and `action=left_click_drag`.",
    "pixels": "The amount of scrolling to perform. Positive values scroll up, negative values scroll down. Required only by `action=scroll`.",
    "time": "The seconds to wait. Required only by `action=wait`.",
    "status": "The status of the task. Required only by `action=terminate`.",
}
# Qwen2.5-VL (likaixin2000/ScreenSpot-Pro-GUI-Grounding models/qwen2_5vl.py): resized size in the prompt.
QWEN25_TOOLS = _computer_use_tools(
    [*_CU_INTRO, "* The screen's resolution is {width}x{height}.", *_CU_CURSOR, _CENTER + " unless asked."],
    _CU25_ACTIONS, _CU25_PARAMS)
# Jedi (OSWorld mm_agents/prompts.py JEDI_GROUNDER_SYS_PROMPT): no qwen-agent fields, clicks take
# coordinates. (That file doubles the JSON braces and never calls .format, so OSWorld's agent
# sends "{{"; we send the single braces the model was trained on.)
JEDI_TOOLS = _computer_use_tools(
    [*_CU_INTRO, "* The screen's resolution is {width}x{height}.", *_CU_CURSOR, _CENTER + " unless asked."],
    _CU25_ACTIONS, {**_CU25_PARAMS, "coordinate": _XY + " Required only by `action=mouse_move`, "
                    "`action=left_click_drag`, `action=left_click`, `action=right_click`, `action=double_click`."},
    qwen_agent=False)
# Qwen3-VL cookbook (cookbooks/utils/agent_function_call.py ComputerUse, display 1000x1000: the
# model answers in 0-1000 whatever the image size).
QWEN3_TOOLS = _computer_use_tools(
    [*_CU_INTRO, "* The screen's resolution is 1000x1000.", *_CU_CURSOR, _CENTER + "."],
    {"key": _CU25_ACTIONS["key"], "type": _CU25_ACTIONS["type"], "mouse_move": _CU25_ACTIONS["mouse_move"],
     "left_click": "Click the left mouse button" + _AT,
     "left_click_drag": _CU25_ACTIONS["left_click_drag"],
     "right_click": "Click the right mouse button" + _AT,
     "middle_click": "Click the middle mouse button" + _AT,
     "double_click": "Double-click the left mouse button" + _AT,
     "triple_click": "Triple-click the left mouse button at a specified (x, y) pixel coordinate on the screen "
                     "(simulated as double-click since it's the closest action).",
     "scroll": _CU25_ACTIONS["scroll"], "hscroll": "Performs a horizontal scroll (mapped to regular scroll).",
     "wait": _CU25_ACTIONS["wait"], "terminate": _CU25_ACTIONS["terminate"], "answer": "Answer a question."},
    {**_CU25_PARAMS, "text": "Required only by `action=type` and `action=answer`.", "coordinate": _XY,
     "pixels": "The amount of scrolling to perform. Positive values scroll up, negative values scroll down. "
               "Required only by `action=scroll` and `action=hscroll`."})

UI_INS_SYSTEM = (
    "You are a GUI agent. You are given a task and your action history, with screenshots. You need to perform the next action to complete the task.\n\n"
    "## Output Format\nReturn a json object with a reasoning process in <think></think> tags, a function name and arguments within <tool_call></tool_call> XML tags:\n"
    '```\n<think>\n...\n</think>\n<tool_call>\n{"name": "grounding", "arguments": <args-json-object>}\n</tool_call>\n```\n'
    "<args-json-object> represents the following item of the action space:\n"
    '## Action Space{"action": "click", "coordinate": [x, y]}\n'
    "Your task is to accurately locate a UI element based on the instruction. You should first analyze instruction in <think></think> tags and finally output the function in <tool_call></tool_call> tags.\n")
# UI-TARS codes/ui_tars/prompt.py GROUNDING_DOUBAO, typo ('') included.
UI_TARS_GROUNDING = (
    "You are a GUI agent. You are given a task and your action history, with screenshots. You need to perform the next action to complete the task. \n\n"
    "## Output Format\n\nAction: ...\n\n\n## Action Space\nclick(point='<point>x1 y1</point>'')\n\n## User Instruction\n{instruction}")
GTA1_SYSTEM = (
    "You are an expert UI element locator. Given a GUI image and a user's element description, provide the coordinates of the specified element as a single (x,y) point. "
    "The image resolution is height {height} and width {width}. For elements with area, return the center point.\n\n"
    "Output the coordinate pair exactly:\n(x,y)")
UGROUND_USER = (
    "\nYour task is to help the user identify the precise coordinates (x, y) of a specific area/element/object on the screen based on a description.\n\n"
    "- Your response should aim to point to the center or a representative point within the described area/element/object as accurately as possible.\n"
    "- If the description is unclear or ambiguous, infer the most relevant area or element based on its likely context or purpose.\n"
    "- Your answer should be a single string (x, y) corresponding to the point of the interest.\n\n"
    "Description: {instruction}\n\nAnswer:")
HELPFUL = "You are a helpful assistant."


# ---- the table ----------------------------------------------------------------------------

def _scores(source: str, *rows: tuple[str, Benchmark, float]) -> tuple[Score, ...]:
    return tuple(Score(model, bench, value, source) for model, bench, value in rows)


SS2, SSP, OSG = "ScreenSpot-v2", "ScreenSpot-Pro", "OSWorld-G"
CLAWGUI = "ZJU-REAL/ClawGUI README (their reproduction; no official number)"
GTA1_CARD = "Salesforce/GTA1-7B model card"
Q28 = 28 * 28
PROFILES: tuple[Profile, ...] = (
    Profile(
        name="qwen2.5-vl", arch="qwen2_5_vl", space="abs_resized",
        aliases=("qwen2.5vl", "qwen25vl", "Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct",
                 "Qwen/Qwen2.5-VL-32B-Instruct", "Qwen/Qwen2.5-VL-72B-Instruct"),
        system=(HELPFUL, "\n\n\n" + QWEN25_TOOLS), user="{instruction}",
        prefill='<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [',
        parser="computer_use", resize=Resize(28, 4 * Q28, 99_999_999),
        source="likaixin2000/ScreenSpot-Pro-GUI-Grounding models/qwen2_5vl.py (max_pixels 99999999: "
               "no downscaling)",
        scores=_scores("microsoft/GUI-Actor README Table 2",
                       ("Qwen2.5-VL-3B", SS2, 80.9), ("Qwen2.5-VL-3B", SSP, 25.9),
                       ("Qwen2.5-VL-7B", SS2, 88.8), ("Qwen2.5-VL-7B", SSP, 27.6))
        + _scores(GTA1_CARD, ("Qwen2.5-VL-32B", SSP, 48.0), ("Qwen2.5-VL-72B", SSP, 53.3))
        + _scores(CLAWGUI, ("Qwen2.5-VL-7B", OSG, 35.49))),
    Profile(
        name="qwen3-vl", arch="qwen3_vl", space="rel_1000",
        aliases=("qwen3vl", "Qwen/Qwen3-VL-2B-Instruct", "Qwen/Qwen3-VL-4B-Instruct",
                 "Qwen/Qwen3-VL-8B-Instruct", "Qwen/Qwen3-VL-32B-Instruct"),
        system=(HELPFUL, "\n\n" + QWEN3_TOOLS), user="{instruction}",
        parser="computer_use", resize=Resize(32, 4 * Q28, 12_845_056),
        source="QwenLM/Qwen3-VL cookbooks computer_use (ComputerUse tool at 1000x1000, smart_resize "
               "factor 32, min 3136, max 12845056)",
        scores=_scores("Qwen3-VL model cards (via the ClawGUI README)",
                       ("Qwen3-VL-2B", SSP, 48.5), ("Qwen3-VL-4B", SSP, 59.5), ("Qwen3-VL-8B", SSP, 54.6))
        + _scores(CLAWGUI, ("Qwen3-VL-8B", SS2, 94.26), ("Qwen3-VL-8B", OSG, 65.88))),
    Profile(
        name="jedi", arch="qwen2_5_vl", space="abs_resized",
        aliases=("jedi-3b", "jedi-7b", "xlangai/Jedi-3B-1080p", "xlangai/Jedi-7B-1080p"),
        system=(HELPFUL + "\n\n" + JEDI_TOOLS,), user="{instruction}",
        parser="computer_use", resize=Resize(28, 4 * Q28, 2700 * Q28),
        source="OSWorld mm_agents/jedi_7b_agent.py and prompts.py JEDI_GROUNDER_SYS_PROMPT "
               "(max_pixels 2700*28*28)",
        scores=_scores(GTA1_CARD + "; microsoft/GUI-Actor README",
                       ("Jedi-7B", SS2, 91.7), ("Jedi-7B", SSP, 39.5), ("Jedi-7B", OSG, 54.1),
                       ("Jedi-3B", SS2, 88.6), ("Jedi-3B", SSP, 36.1))),
    Profile(
        name="ui-ins", arch="qwen2_5_vl", space="abs_resized",
        aliases=("ui-ins-7b", "ui-ins-32b", "Tongyi-MiA/UI-Ins-7B", "Tongyi-MiA/UI-Ins-32B"),
        system=(HELPFUL, UI_INS_SYSTEM),
        user="Please complete the following tasks by clicking using `click` tool_call: {instruction}",
        prefill='<tool_call>\n{"name": "grounding", "arguments": {"action": "click", "coordinate": [',
        parser="computer_use", resize=Resize(28, Q28, 2_116_800),
        source="alibaba/UI-Ins evaluation/eval/model.py with eval_all_benchmark.sh's defaults "
               "(magic prompt, guide text, min_pixels 784, max_pixels 2116800)",
        scores=_scores("alibaba/UI-Ins README", ("UI-Ins-32B", SSP, 57.0))),
    Profile(
        name="ui-tars-1.5", arch="qwen2_5_vl", space="abs_resized",
        aliases=("ui-tars", "uitars", "ui-tars-1.5-7b", "ByteDance-Seed/UI-TARS-1.5-7B"),
        user=UI_TARS_GROUNDING, parser="uitars", resize=Resize(28, 100 * Q28, 16384 * Q28),
        source="bytedance/UI-TARS codes/ui_tars/prompt.py GROUNDING_DOUBAO; action_parser.py MIN/MAX_PIXELS",
        scores=_scores("bytedance/UI-TARS README", ("UI-TARS-1.5-7B", SSP, 49.6))
        + _scores(GTA1_CARD + " (their evaluation)",
                  ("UI-TARS-1.5-7B", SS2, 89.7), ("UI-TARS-1.5-7B", OSG, 52.8))),
    Profile(
        name="gta1", arch="qwen2_5_vl", space="abs_resized",
        aliases=("gta1-7b-2507", "Salesforce/GTA1-7B-2507"),
        system=(GTA1_SYSTEM,), user="{instruction}", parser=read_point_text,
        resize=Resize(28, 4 * Q28, 4096 * 2160),
        source="Yan98/GTA1 README inference example (min_pixels 3136, max_pixels 4096*2160)",
        scores=_scores(GTA1_CARD, ("GTA1-7B-2507", SS2, 92.4), ("GTA1-7B-2507", SSP, 50.1),
                       ("GTA1-7B-2507", OSG, 55.1))),
    Profile(
        name="gta1-opencua", arch="opencua", space="abs_resized",
        aliases=("Salesforce/GTA1-7B", "Salesforce/GTA1-32B"),
        system=("You are a GUI agent. You are given a task and a screenshot of the screen. "
                "You need to perform a series of pyautogui actions to complete the task.",),
        user="{instruction}", parser="pyautogui", resize=Resize(28, 4 * Q28, 4096 * 2160),
        source="microsoft/Phi-Ground CUActSpot models/builtins.py gta1_7b_vllm (OpenCUA architecture: "
               "serve it over HTTP; the local backend loads Qwen-VL classes only)",
        scores=_scores(GTA1_CARD, ("GTA1-7B", SS2, 93.4), ("GTA1-7B", SSP, 55.5), ("GTA1-7B", OSG, 60.1),
                       ("GTA1-32B", SS2, 95.2), ("GTA1-32B", SSP, 63.6), ("GTA1-32B", OSG, 65.2))),
    Profile(
        name="uground", arch="qwen2_vl", space="rel_1000",
        aliases=("uground-v1", "osunlp/UGround-V1-2B", "osunlp/UGround-V1-7B", "osunlp/UGround-V1-72B"),
        user=UGROUND_USER, parser=read_point_text, resize=Resize(28, 4 * Q28, 16384 * Q28),
        source="osunlp/UGround-V1 model card prompt; Qwen2-VL processor defaults",
        scores=_scores("OSU-NLP-Group/UGround README; microsoft/GUI-Actor README",
                       ("UGround-V1-2B", SSP, 26.6), ("UGround-V1-7B", SSP, 31.1),
                       ("UGround-V1-72B", SSP, 34.5))),
    Profile(
        name="os-atlas", arch="qwen2_vl", space="rel_1000",
        aliases=("os-atlas-7b", "OS-Copilot/OS-Atlas-Base-7B"),
        user="In this UI screenshot, what is the position of the element corresponding to the command "
             '"{instruction}" (with bbox)?',
        parser=read_point_text, resize=Resize(28, 4 * Q28, 16384 * Q28),
        source="OS-Copilot/OS-Atlas README (bbox prompt, 0-1000 output); Qwen2-VL processor defaults",
        scores=_scores("bytedance/UI-TARS README_v1", ("OS-Atlas-Base-7B", SS2, 84.1))
        + _scores("microsoft/GUI-Actor README", ("OS-Atlas-Base-7B", SSP, 18.9))),
    Profile(
        name="infigui-g1", arch="qwen2_5_vl", space="abs_resized",
        aliases=("infigui-g1-3b", "infigui-g1-7b", "InfiX-ai/InfiGUI-G1-3B", "InfiX-ai/InfiGUI-G1-7B"),
        system=("You FIRST think about the reasoning process as an internal monologue and then provide "
                "the final answer.\nThe reasoning process MUST BE enclosed within <think> </think> tags.",),
        user="The screen's resolution is {width}x{height}.\nLocate the UI element(s) for \"{instruction}\", "
             'output the coordinates using JSON format: [{"point_2d": [x, y]}, ...]',
        parser=read_point_2d_list, resize=Resize(28, 4 * Q28, 12_845_056),
        source="InfiXAI/InfiGUI-G1 eval/prompts.py (think mode) and eval/eval.py (max_pixels 12845056)",
        scores=_scores("InfiXAI/InfiGUI-G1 README", ("InfiGUI-G1-7B", SS2, 93.5), ("InfiGUI-G1-7B", SSP, 51.9),
                       ("InfiGUI-G1-3B", SS2, 91.1), ("InfiGUI-G1-3B", SSP, 45.2))),
)

_BY_KEY = {k.lower(): p for p in PROFILES
           for key in (p.name, *p.aliases) for k in (key, key.rsplit("/", 1)[-1])}


def get_profile(name: str) -> Profile:
    """A profile by name, alias or hub id (case-insensitive); a checkpoint path matches by its
    last component ("/models/Jedi-7B-1080p" → jedi)."""
    key = name.strip().rstrip("/").lower()
    found = _BY_KEY.get(key) or _BY_KEY.get(key.rsplit("/", 1)[-1])
    if found is None:
        raise CuaError(f"unknown grounding profile {name!r}; known: {', '.join(p.name for p in PROFILES)}")
    return found
