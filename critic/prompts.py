"""VLM critic profiles as data (prompt, images shown, coordinate space, resize policy) and the
parser of their answers.

* ``gui-critic-r1``: GUI-Critic-R1's own prompt, copied from its test files
  (``X-PLUG/MobileAgent`` ``GUI-Critic-R1/test_files/gui_*.jsonl``, field ``problem``; system
  prompt from ``test.py``): text, then one screenshot with the action marked; the decision as a
  Qwen ``computer_use`` call in the pixels of the image the model sees (Qwen2.5-VL resize,
  ``max_pixels`` 602112 as in ``test.py``); history as "Step k: ..." lines.
* ``hivig`` / ``hivig-qwen3``: a HiViG-style prompt written here (the paper's prompt is not
  public): the macro-action history plus the last few steps, the intent and the raw action,
  the marked screenshot and a zoomed crop around the point; same tags as GUI-Critic-R1 plus
  ``<error_type>``, and a corrected action as a ``computer_use`` call.

Answers are untrusted text: read with regular expressions and the ``computer_use`` codec
(JSON), never evaluated. A reply without a readable ``<score>`` is a format error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from critic.base import ERROR_TYPES
from cua.core import Action, ActionParseError, ModelSpace, smart_resize
from cua.core.codecs import MAX_TEXT_CHARS, emit, parse

Space = Literal["abs_resized", "rel_1000"]

GUI_CRITIC_SYSTEM = "You are a helpful critic agent for GUI operation."
GUI_CRITIC_USER = """There is a multimodal agent that can perform a series of actions on a smart device (phone or PC) to automate the completion of user instructions. Possible actions include "click" / "left_click" at (x,y) position, "long press" at (x,y) position, "swipe" from (x1,y1) to (x2,y2), "scroll" down or up, "drag" from (x1,y1) to (x2,y2), "type" (text content), "back", "home", "enter" and so on. 

User instructions are usually complex and may include several detailed requirements. In some steps, the action decided by the mobile agent may be wrong.
Now, you are a critic model used to evaluate the agent's decision. I will provide you with the following information:
1. User instruction.
2. History: The action history of the agent in the previous steps. 
3. Decision: The decision of the agent for this step.
4. Image: The screenshot before executing this action. If the action contains positional parameters (such as click and swipe), the interaction area is marked with a translucent red circle or red arrow. 

Firstly, you need to understand the purpose of the decision. Pay attention to analyzing the interface elements in the screenshot (such as button position, text content, etc.). If there are red marks, focus on the action position. You can take appropriate account of the history information. 
Then, based on the given information, carefully analyze the decision given by the agent for the current step:
1. Decision Analysis
(1). Observation: Observe the screenshot and analyze the state without considering the user's instruction.
- Focus on the operable or informative elements related to the operational decision. 
(2). Possible Result: Speculate the most possible result of executing this decision.
- Predicts the screenshot change after the operation.
- Whether to promote the progress of core tasks.
(3). Critique: Determine whether the decision is correct and explain why.
- Focus on historical operations. 
- Based on the previous analysis and the history, determine if this decision supports the completion of the instruction. 
- Only perform actions specified in the instructions. 
- Home button is the correct choice for switching apps. 
- Both clicking a suggestion and Enter are correct when searching. 

2. Based on the above analysis, determine whether this decision is "Correct" or "Incorrect".
3. Reflection: If correct, retell the action; if incorrect, suggest a better action. Propose a one-step action for the current obversation, like click, swipe (with direction), type (with information), Home, Back, or Terminate (in 20 words).

Below is the information for the current step:
1. User instruction:
{instruction}
2. History:
{history}
3. Decision:
Action: {action}
4. Image is the screenshot of this step.

Assess the current decision's correctness in the following format:
<thinking>
**Observation**: Describe the screenshot.
**Possible Result**: Analysis from the possible result perspective.
**Critique**: Criticize why the decision is correct or incorrect.
</thinking>
<score>
Correct or Incorrect
</score>
<suggestion>
If correct, provide a brief summary; if incorrect, suggest a better decision briefly.
</suggestion>"""

HIVIG_SYSTEM = ("You are a critic for a computer-use agent. Before an action runs, you check it against the "
                "current screenshot and what the agent has already achieved, and you intercept flawed actions.")
HIVIG_USER = """Task: {instruction}

Achieved so far (macro-action history):
{macro}

Last steps:
{recent}

Proposed step: {intent}
Raw action: {action}

{images}

Check, in this order:
1. Grounding: is the exact marked point on the element the step means, and can that element be interacted with?
2. Progress: given what is already achieved, does this action move the task forward? Flag repeated actions that changed nothing, typing while no text field has focus, and finishing before every requirement is met.

Answer in exactly this format:
<thinking>
**Observation**: what is at and around the marked point.
**Possible Result**: what executing the action would change.
**Critique**: why the action is correct or incorrect.
</thinking>
<score>Correct or Incorrect</score>
<error_type>none, wrong_element, off_target, not_interactable, premature_termination, repeated_loop, typing_without_focus or out_of_bounds</error_type>
<suggestion>If correct, a brief summary. If incorrect, a better one-step action; when it has a point, write it as {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [x, y]}} in Image 1's coordinates.</suggestion>"""


@dataclass(frozen=True)
class CriticProfile:
    name: str
    system: str
    user: str
    images: Literal["marked", "marked+zoom"]
    text_first: bool  # GUI-Critic-R1 puts its text before the image
    history: Literal["steps", "macro"]
    space: Space
    factor: int  # the model's pixel grid (patch x merge): 28 Qwen2.5-VL, 32 Qwen3-VL
    min_pixels: int
    max_pixels: int
    source: str

    def resized(self, width: int, height: int, max_pixels: int | None = None) -> tuple[int, int]:
        h, w = smart_resize(height, width, self.factor, self.min_pixels, max_pixels or self.max_pixels)
        return w, h

    def model_space(self, resized_width: int, resized_height: int) -> ModelSpace:
        return ModelSpace.of_kind(self.space, resized_width, resized_height)


PROFILES: dict[str, CriticProfile] = {p.name: p for p in (
    # test.py sends the data set's text as is, "<image>" placeholder included, then the image.
    CriticProfile("gui-critic-r1", GUI_CRITIC_SYSTEM, "<image>\n" + GUI_CRITIC_USER, "marked", True, "steps", "abs_resized",
                  28, 56 * 56, 602112, "X-PLUG/MobileAgent GUI-Critic-R1 test.py + test_files/*.jsonl"),
    CriticProfile("hivig", HIVIG_SYSTEM, HIVIG_USER, "marked+zoom", False, "macro", "abs_resized",
                  28, 56 * 56, 1280 * 28 * 28, "written here after the HiViG abstract (arXiv 2606.11078)"),
    CriticProfile("hivig-qwen3", HIVIG_SYSTEM, HIVIG_USER, "marked+zoom", False, "macro", "rel_1000",
                  32, 64 * 64, 1280 * 32 * 32, "hivig for Qwen3-VL (relative 0-1000 coordinates)"),
)}


HIVIG_IMAGES = ("Image 1 is the current screenshot ({size}). A red crosshair inside a translucent red circle marks "
                "exactly where the action would execute (an arrow for a drag or a scroll). Image 2 enlarges the marked area.")
HIVIG_NO_POINT = "Image 1 is the current screenshot ({size}); no point of this action lies on it."


def get_profile(name: str) -> CriticProfile:
    if name not in PROFILES:
        from cua.core import CuaError

        raise CuaError(f"unknown critic profile {name!r}; known: {', '.join(PROFILES)}")
    return PROFILES[name]


def computer_use_call(action: Action) -> str:
    """The action as GUI-Critic-R1 shows it: bare ``{"name": "computer_use", ...}`` JSON."""
    calls = re.findall(r"<tool_call>\s*(.*?)\s*</tool_call>", emit(action, "computer_use"), re.DOTALL)
    return "; ".join(calls)


# ---- reading answers ------------------------------------------------------------------------

@dataclass(frozen=True)
class CriticAnswer:
    correct: bool | None  # None: no readable score (a format error)
    thinking: str = ""
    suggestion: str = ""
    error_type: str | None = None
    action: Action | None = None  # a corrected action in the model's space, if one was given
    format_error: str | None = None

    @property
    def critique(self) -> str:
        m = re.search(r"\*\*Critique\*\*\s*:?\s*(.*)", self.thinking, re.DOTALL)
        return (m.group(1) if m else self.thinking).strip()


_TAGS = "thinking|think|score|error_type|suggestion|suggestionion"


def _tag(text: str, *names: str) -> list[str]:
    """Bodies of ``<name>...</name>``; a missing closing tag runs to the next answer tag or
    the end (tags inside, like a suggestion's ``<tool_call>``, stay in the body)."""
    alt = "|".join(names)
    return re.findall(rf"<(?:{alt})>\s*(.*?)\s*(?:</(?:{alt})>|(?=<(?:{_TAGS})>)|\Z)", text, re.DOTALL | re.IGNORECASE)


_ERROR_ALIASES = {
    "near miss": "off_target", "off target": "off_target", "wrong element": "wrong_element",
    "not interactable": "not_interactable", "premature termination": "premature_termination",
    "wrong termination": "premature_termination", "repeated loop": "repeated_loop", "loop": "repeated_loop",
    "repetition": "repeated_loop", "typing without focus": "typing_without_focus",
    "out of bounds": "out_of_bounds",
}
# Words in a free-text critique that name an error class (GUI-Critic-R1 gives no error type).
_ERROR_WORDS = (
    ("out_of_bounds", r"outside the (?:screen|image|screenshot)|out of bounds"),
    ("typing_without_focus", r"(?:no|not|without)\b.{0,30}\b(?:focus|focused|activated?)\b|input box is not"),
    ("repeated_loop", r"\brepeat|\bagain\b|\bloop\b|already (?:clicked|done|performed)"),
    ("premature_termination", r"terminat|\bfinish|\bcomplete[ds]?\b.{0,20}\b(?:not|yet)|prematur"),
    ("not_interactable", r"not (?:clickable|interactable|interactive)|cannot be (?:clicked|interacted)"),
    ("off_target", r"blank (?:area|space)|empty (?:area|space)|near(?:by)? miss|slightly (?:off|outside)"),
    ("wrong_element", r"wrong|instead|should (?:click|tap|select)|incorrect (?:element|button|icon)"),
)


def normalize_error_type(text: str) -> str | None:
    t = re.sub(r"[\s_\-]+", " ", text.strip().strip("*`'\"").lower())
    if not t or t in ("none", "null", "n a", "correct"):
        return None
    if t.replace(" ", "_") in ERROR_TYPES:
        return t.replace(" ", "_")
    return _ERROR_ALIASES.get(t)


def infer_error_type(critique: str) -> str:
    low = critique.lower()
    return next((kind for kind, pattern in _ERROR_WORDS if re.search(pattern, low)), "wrong_element")


def _verdict_word(body: str) -> bool | None:
    words = re.findall(r"[a-z]+", body.lower())
    if "incorrect" in words and "correct" in words:
        return None  # "Correct or Incorrect": the template echoed back
    if "incorrect" in words:
        return False
    return True if "correct" in words else None


def parse_answer(text: str) -> CriticAnswer:
    """Read a critic's reply. Never raises: a reply it cannot read has ``correct=None`` and
    ``format_error`` saying why."""
    if not isinstance(text, str) or not text.strip():
        return CriticAnswer(None, format_error="empty answer")
    if len(text) > MAX_TEXT_CHARS:
        return CriticAnswer(None, format_error=f"answer longer than {MAX_TEXT_CHARS} characters")
    scores = _tag(text, "score")
    correct = next((v for body in reversed(scores) if (v := _verdict_word(body)) is not None), None)
    thinking = next(iter(_tag(text, "thinking", "think")), "")
    suggestion = next(iter(_tag(text, "suggestion", "suggestionion")), "")
    error_type = next((e for body in _tag(text, "error_type") if (e := normalize_error_type(body))), None)
    if correct is None:
        why = "no <score> tag" if not scores else f"unreadable <score> {scores[-1][:40]!r}"
        return CriticAnswer(None, thinking, suggestion, error_type, format_error=why)
    return CriticAnswer(correct, thinking, suggestion, error_type, _suggested_action(suggestion))


def _suggested_action(suggestion: str) -> Action | None:
    """A ``computer_use`` call inside the suggestion (bare JSON or in <tool_call>), if any."""
    start = suggestion.find("<tool_call>")
    if start < 0:
        m = re.search(r'\{\s*"name"\s*:', suggestion)
        if m is None:
            return None
        start = m.start()
        depth, end = 0, len(suggestion)
        for i, c in enumerate(suggestion[start:], start):  # the balanced {...} that starts there
            depth += {"{": 1, "}": -1}.get(c, 0)
            if depth == 0:
                end = i + 1
                break
        body = suggestion[start:end]
    else:
        body = suggestion[start:]
    try:
        actions = parse(body, "computer_use").actions
    except ActionParseError:
        return None
    return actions[0] if len(actions) == 1 else None
