"""How each family lays out its conversation, and how its reply is read.

Three layouts cover the published agents:

* ``uitars`` (OSWorld's UI-TARS-1.5 agent): system "You are a helpful assistant.", the prompt as
  the first user text, then every past reply as an assistant message, the last
  ``image_window - 1`` of them preceded by their screenshot, and the current screenshot last;
* ``qwen`` (OSWorld's Qwen3-VL agent, EvoCUA S2, Qwen2.5-VL): the tool prompt as system; steps
  older than the window only as "Step i: <Action line>" text inside the instruction; the last
  ``image_window - 1`` steps as (screenshot, reply) pairs, the instruction riding on the first
  screenshot; the current screenshot last;
* ``opencua`` (OpenCUA, EvoCUA S1): "# Step i:\\n## Action:\\n..." texts, older steps joined into
  one assistant message, recent ones after their screenshot; the current screenshot with the
  task instruction last.

A past turn the user or the critic took over is replayed as the model would have written it
(its actions emitted in the profile's grammar and coordinate space), so the model sees what
actually ran. Feedback (a veto, an action the env could not do, the user's answer) is one
extra text part after the current screenshot; without feedback the request is exactly the
published one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from cua.core import Action, ActionParseError, ModelSpace
from cua.core.codecs import emit, parse
from cua.core.codecs.common import MAX_TEXT_CHARS
from cua.core.coords import to_model_space
from cua.policies.native import prompts
from cua.policies.native.profiles import NativeProfile
from grounding.backends.base import Message


@dataclass
class PastTurn:
    """One earlier turn as a request shows it."""

    response: str  # the assistant message replayed
    summary: str  # the one line older turns become
    screenshot: Image.Image | None = None  # before the turn (None: no longer kept)
    screenshot_name: str | None = None


@dataclass
class Reply:
    """What a reply says, coordinates still in the model's space."""

    actions: list[Action]
    thought: str | None
    summary: str
    response: str  # the cleaned reply, replayed in later requests


@dataclass
class Request:
    messages: list[Message]
    images: list[str] = field(default_factory=list)  # file names of the screenshots sent, current last


Show = Callable[[Image.Image, tuple[int, int]], Image.Image]


def resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` at exactly ``size``, resampled as the Qwen-VL processors do (bicubic)."""
    image = image if image.mode == "RGB" else image.convert("RGB")
    return image if image.size == size else image.resize(size, Image.Resampling.BICUBIC)


def image_part(image: Image.Image, size: tuple[int, int], show: Show = resize) -> dict:
    """An image at exactly the size the model sees (``resized_*``: qwen-vl-utils' keys; the local
    backend checks them, the HTTP one sends the image at that size)."""
    return {"type": "image", "image": show(image, size), "resized_width": size[0], "resized_height": size[1]}


def _text(text: str) -> dict:
    return {"type": "text", "text": text}


def build(profile: NativeProfile, instruction: str, past: list[PastTurn], current: Image.Image,
          current_name: str, size: tuple[int, int], feedback: str | None, show: Show = resize) -> Request:
    """The request; ``show`` resizes only the screenshots the layout sends (a policy may cache)."""
    builder = {"uitars": _uitars, "qwen": _qwen, "opencua": _opencua}[profile.layout]
    request = builder(profile, instruction, past, current, current_name, size, show)
    if feedback:
        request.messages[-1]["content"].append(_text(feedback))
    return request


def system_text(profile: NativeProfile, size: tuple[int, int]) -> list[str]:
    """The system prompt's text parts (UI-TARS: its prompt, sent as the first user text)."""
    if profile.system == "qwen3vl":
        return [prompts.qwen3vl_system(_resolution(profile, size))]
    if profile.system == "evocua_s2":
        return [prompts.evocua_s2_system(_resolution(profile, size))]
    if profile.system == "qwen25vl":
        return prompts.qwen25vl_system(*size)
    return [prompts.fill(prompts.text(profile.system), language=profile.language, password=profile.password)]


def _resolution(profile: NativeProfile, size: tuple[int, int]) -> str:
    # Relative profiles name a 1000x1000 screen (and map back with /999, as their agents do).
    return prompts.resolution_line(*size) if profile.space == "abs_resized" else prompts.resolution_line(1000, 1000)


def _uitars(profile: NativeProfile, instruction: str, past: list[PastTurn], current: Image.Image,
            current_name: str, size: tuple[int, int], show: Show) -> Request:
    prompt = prompts.fill(system_text(profile, size)[0], instruction=instruction)
    if "{instruction}" not in prompts.text(profile.system):  # the browser prompt ends at "## User Instruction\n"
        prompt += instruction
    request = Request([{"role": "system", "content": [_text(prompts.HELPFUL)]},
                       {"role": "user", "content": [_text(prompt)]}])
    with_images = len(past) - (profile.image_window - 1)
    for i, turn in enumerate(past):
        if i >= with_images and turn.screenshot is not None:
            request.messages.append({"role": "user", "content": [image_part(turn.screenshot, size, show)]})
            request.images.append(turn.screenshot_name or "")
        request.messages.append({"role": "assistant", "content": [_text(turn.response)]})
    request.messages.append({"role": "user", "content": [image_part(current, size, show)]})
    request.images.append(current_name)
    return request


def _qwen(profile: NativeProfile, instruction: str, past: list[PastTurn], current: Image.Image,
          current_name: str, size: tuple[int, int], show: Show) -> Request:
    history_n = profile.image_window - 1
    older = past[:max(0, len(past) - history_n)]
    previous = "\n".join(f"Step {i + 1}: {t.summary}" for i, t in enumerate(older)) or "None"
    instruction_text = prompts.fill(prompts.QWEN_INSTRUCTION, previous_actions=previous, instruction=instruction)
    request = Request([{"role": "system", "content": [_text(t) for t in system_text(profile, size)]}])
    recent = past[len(older):]
    for idx, turn in enumerate(recent):
        content = []
        if turn.screenshot is not None:
            content.append(image_part(turn.screenshot, size, show))
            request.images.append(turn.screenshot_name or "")
        if idx == 0:
            content.append(_text(instruction_text))
        if content:
            request.messages.append({"role": "user", "content": content})
        request.messages.append({"role": "assistant", "content": [_text(turn.response)]})
    current_content = [image_part(current, size, show)] + ([] if recent else [_text(instruction_text)])
    request.messages.append({"role": "user", "content": current_content})
    request.images.append(current_name)
    return request


def _opencua(profile: NativeProfile, instruction: str, past: list[PastTurn], current: Image.Image,
             current_name: str, size: tuple[int, int], show: Show) -> Request:
    request = Request([{"role": "system", "content": [_text(system_text(profile, size)[0])]}])
    n, window = len(past), profile.image_window
    older: list[str] = []
    for i, turn in enumerate(past):
        step = prompts.OPENCUA_STEP.replace("{step}", str(i + 1)) + prompts.OPENCUA_ACTION_HISTORY.replace(
            "{action}", turn.summary)
        if i > n - window:
            if turn.screenshot is not None:
                request.messages.append({"role": "user", "content": [image_part(turn.screenshot, size, show)]})
                request.images.append(turn.screenshot_name or "")
            request.messages.append({"role": "assistant", "content": [_text(step)]})
        else:
            older.append(step)
            if i == n - window:
                request.messages.append({"role": "assistant", "content": [_text("\n".join(older))]})
    request.messages.append({"role": "user", "content": [
        image_part(current, size, show), _text(prompts.fill(prompts.OPENCUA_INSTRUCTION, instruction=instruction))]})
    request.images.append(current_name)
    return request


# ---- reading replies -------------------------------------------------------------------------

_EMPTY_THINK = re.compile(r"<think>\s*</think>\s*")
_ACTION_LINE = re.compile(r"(?im)^[ \t]*action[ \t]*:[ \t]*(.*)$")
_SECTIONS = ("observation", "thought", "action", "code")
_FENCE = re.compile(r"```(?:code|python|py)?[ \t]*\n?(.*?)```", re.DOTALL)


def clean(text: str) -> str:
    """The reply as later requests replay it: empty ``<think>`` blocks removed (replayed, they
    confused Qwen3-VL: QwenLM/Qwen3-VL#1509), surrounding blank space trimmed."""
    return _EMPTY_THINK.sub("", text).strip()


def read(profile: NativeProfile, text: str) -> Reply:
    """The actions a reply names; ActionParseError (with what the model is told) otherwise.
    Whatever else a hostile reply makes the readers raise is an unreadable reply too."""
    try:
        return _read(profile, text)
    except ActionParseError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RecursionError, OverflowError) as e:
        raise ActionParseError(f"unreadable reply ({type(e).__name__})") from None


def _read(profile: NativeProfile, text: str) -> Reply:
    if len(text) > MAX_TEXT_CHARS:
        raise ActionParseError(f"the reply is longer than {MAX_TEXT_CHARS} characters")
    response = clean(text)
    if not response:
        raise ActionParseError("the reply is empty")
    if profile.layout == "opencua":
        return _read_opencua(profile, response)
    parsed = parse(response, profile.codec)
    thought = parsed.thought
    if profile.layout == "qwen":
        line = _ACTION_LINE.search(thought or "")
        lines = (thought or "").strip().splitlines()
        summary = line.group(1).strip() if line else (lines[0] if lines else "")
        summary = summary or f"Performing {parsed.actions[0].type} action"
    else:
        summary = (thought or "").strip()
    return Reply(parsed.actions, thought, summary, response)


def _sections(text: str) -> dict[str, str]:
    """``## Thought:`` / ``Action:`` ... headers (a line of their own, up to two '#', an optional
    ':') → the text under each, first occurrence kept. Read line by line: linear in the text."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        bare = line.strip()
        hashes = len(bare) - len(bare.lstrip("#"))
        word = bare.lstrip("#").strip().removesuffix(":").strip().lower()
        if hashes <= 2 and word in _SECTIONS:
            current = None if word in sections else sections.setdefault(word, [])
            continue
        if current is not None:
            current.append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items()}


def _read_opencua(profile: NativeProfile, response: str) -> Reply:
    sections = _sections(response)
    blocks = _FENCE.findall(response)
    if not blocks:
        raise ActionParseError("no code block: end the reply with the action as ```python ... ``` code")
    parsed = parse(blocks[-1], profile.codec)  # the last block is the action, as OpenCUA's agent reads it
    action = sections.get("action", "").split("```")[0].strip()
    return Reply(parsed.actions, sections.get("thought") or None, action or f"Performing {parsed.actions[0].type} action",
                 response)


def render_turn(profile: NativeProfile, actions: list[Action], space: ModelSpace, shot: tuple[int, int],
                summary: str) -> str:
    """A turn somebody else did (the user, the critic), written the way this model writes one."""
    mapped = [to_model_space(a, space, shot) for a in actions]
    try:
        if profile.layout == "opencua":
            code = "\n".join(emit(a, "opencua") for a in mapped)
            return f"## Action:\n{summary}\n\n## Code:\n```python\n{code}\n```"
        body = "\n\n".join(emit(a, profile.codec) for a in mapped) if profile.layout == "uitars" else \
            "\n".join(emit(a, profile.codec) for a in mapped)
    except ActionParseError:  # an action this grammar has no words for: say it in words
        return f"Action: {summary}"
    return f"Thought: {summary}\nAction: {body}" if profile.layout == "uitars" else f"Action: {summary}\n{body}"
