"""Pure rendering of what an agent saw and did: PIL overlays and text, no Gradio.

Colour code (the same in the live view, the trajectory browser and the HTML report):

* executed / approved point ... green crosshair + circle
* vetoed point ................ red crosshair + circle
* proposed, not reviewed ...... amber crosshair + circle
* the grounder's box .......... blue rectangle
* zoom crops .................. orange dashed rectangle
* drag path ................... purple arrow
* the user's moved point ...... pink crosshair + arrow from the proposal (approve-each mode)
* verdict badge (top right) ... green "APPROVED" / red "VETOED: <error type>" / grey

Every stroke has a white halo so it reads on dark and light pages; widths and font sizes
grow with the screenshot (a 660x480 MiniWoB page and a 2560x1440 desktop both stay legible).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from cua.core import EpisodeResult, Grounding, StepRecord, TurnRecord, Verdict
from cua.core.actions import CallUser, Drag
from cua.core.geometry import Box, Point
from cua.core.records import Usage

RGB = tuple[int, int, int]

APPROVED: RGB = (22, 163, 74)
VETOED: RGB = (220, 38, 38)
PENDING: RGB = (245, 158, 11)
BOX: RGB = (37, 99, 235)
CROP: RGB = (234, 88, 12)
DRAG: RGB = (147, 51, 234)
EDITED: RGB = (219, 39, 119)  # the user's own point (approve-each mode)
NEUTRAL: RGB = (100, 116, 139)
HALO: RGB = (255, 255, 255)
# Distinct colours for several grounders on one screenshot (the playground).
PALETTE: tuple[RGB, ...] = ((37, 99, 235), (220, 38, 38), (22, 163, 74), (234, 88, 12),
                            (147, 51, 234), (8, 145, 178), (219, 39, 119), (101, 163, 13))

_FONT_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
               "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf")


def hex_color(c: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*c)


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for path in _FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def scale(image: Image.Image) -> float:
    """Stroke scale: 1.0 for a 660x480 screenshot, more for bigger ones."""
    return max(1.0, min(image.size) / 480)


def _w(image: Image.Image, base: float) -> int:
    return max(1, round(base * scale(image)))


# ---- primitives (draw in place on an RGB image) ---------------------------------------------


def draw_point(image: Image.Image, point: Point, color: RGB, label: str | None = None) -> None:
    """Crosshair + circle centred on ``point``; an optional label beside it."""
    d = ImageDraw.Draw(image)
    x, y = point.x, point.y
    r, arm, w = _w(image, 11), _w(image, 19), _w(image, 3)
    for stroke, width in ((HALO, w + 2), (color, w)):
        d.ellipse((x - r, y - r, x + r, y + r), outline=stroke, width=width)
        d.line((x - arm, y, x - r // 2, y), fill=stroke, width=width)
        d.line((x + r // 2, y, x + arm, y), fill=stroke, width=width)
        d.line((x, y - arm, x, y - r // 2), fill=stroke, width=width)
        d.line((x, y + r // 2, x, y + arm), fill=stroke, width=width)
    dot = max(1, w)
    d.ellipse((x - dot, y - dot, x + dot, y + dot), fill=color)
    if label:
        _label(image, (x + arm + 2, y - arm), label, color)


def draw_box(image: Image.Image, box: Box, color: RGB = BOX) -> None:
    d = ImageDraw.Draw(image)
    w = _w(image, 2)
    rect = (box.x1, box.y1, box.x2, box.y2)
    d.rectangle(_grow(rect, 1), outline=HALO, width=1)
    d.rectangle(rect, outline=color, width=w)


def draw_dashed_rect(image: Image.Image, box: Box, color: RGB = CROP) -> None:
    d = ImageDraw.Draw(image)
    w, dash = _w(image, 2), _w(image, 8)
    corners = [(box.x1, box.y1), (box.x2, box.y1), (box.x2, box.y2), (box.x1, box.y2)]
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1]):
        length = math.hypot(bx - ax, by - ay)
        n = max(1, int(length // dash))
        for i in range(0, n, 2):
            t0, t1 = i / n, min(1.0, (i + 1) / n)
            d.line((ax + (bx - ax) * t0, ay + (by - ay) * t0, ax + (bx - ax) * t1, ay + (by - ay) * t1),
                   fill=color, width=w)


def draw_arrow(image: Image.Image, start: Point, end: Point, color: RGB = DRAG) -> None:
    d = ImageDraw.Draw(image)
    w, head = _w(image, 3), _w(image, 14)
    angle = math.atan2(end.y - start.y, end.x - start.x)
    wing = [(end.x - head * math.cos(angle + s), end.y - head * math.sin(angle + s)) for s in (0.45, -0.45)]
    for stroke, width in ((HALO, w + 2), (color, w)):
        d.line((start.x, start.y, end.x, end.y), fill=stroke, width=width)
    d.polygon([(end.x, end.y), *wing], fill=color, outline=HALO)
    r = _w(image, 4)
    d.ellipse((start.x - r, start.y - r, start.x + r, start.y + r), fill=color, outline=HALO)


def draw_badge(image: Image.Image, text: str, color: RGB) -> tuple[int, int, int, int]:
    """A filled label in the top-right corner; returns its rectangle."""
    d = ImageDraw.Draw(image)
    f = font(_w(image, 14))
    pad = _w(image, 5)
    x1, y1, x2, y2 = d.textbbox((0, 0), text, font=f)
    width, height = x2 - x1 + 2 * pad, y2 - y1 + 2 * pad
    right, top = image.width - pad, pad
    rect = (max(0, right - width), top, right, top + height)
    d.rectangle(rect, fill=color, outline=HALO, width=1)
    d.text((rect[0] + pad - x1, top + pad - y1), text, fill=HALO, font=f)
    return rect


def _label(image: Image.Image, xy: tuple[float, float], text: str, color: RGB) -> None:
    d = ImageDraw.Draw(image)
    f = font(_w(image, 11))
    x, y = xy
    bb = d.textbbox((x, y), text, font=f)
    if bb[2] > image.width:  # keep labels on the image
        x -= bb[2] - image.width + 2
    y = max(0, y)
    bb = d.textbbox((x, y), text, font=f)
    d.rectangle(_grow(bb, 2), fill=HALO)
    d.text((x, y), text, fill=color, font=f)


def _grow(rect: Iterable[float], n: float) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = rect
    return (x1 - n, y1 - n, x2 + n, y2 + n)


# ---- a step ---------------------------------------------------------------------------------


def step_outcome(record: StepRecord) -> str:
    """``approved`` | ``vetoed`` (some attempt vetoed, one ran) | ``blocked`` (nothing ran)
    | ``error`` | ``no-review`` (the action ran without a verdict)."""
    if record.error and record.action is None:
        return "blocked" if any(a.verdict and not a.verdict.approve for a in record.attempts) else "error"
    if any(a.verdict is not None and not a.verdict.approve for a in record.attempts):
        return "vetoed"
    if record.action is not None and any(a.verdict is not None for a in record.attempts):
        return "approved"
    return "no-review" if record.action is not None else "error"


def is_vetoed(record: StepRecord) -> bool:
    return any(a.verdict is not None and not a.verdict.approve for a in record.attempts) or any(
        n.get("outcome") == "vetoed" for n in (record.info.get("agent", {}) or {}).get("critic", []) or [])


def is_failed(record: StepRecord) -> bool:
    return record.error is not None or record.action is None


def badge_for(record: StepRecord) -> tuple[str, RGB]:
    last = next((a.verdict for a in reversed(record.attempts) if a.verdict is not None), None)
    if record.action is None:
        reason = last.error_type if last and not last.approve and last.error_type else "no action"
        return f"VETOED: {reason}" if last and not last.approve else f"ERROR: {reason}", VETOED
    if last is None:
        return "NO REVIEW", NEUTRAL
    if not last.approve:  # advisory rejection: it ran anyway
        return f"ADVISED: {last.error_type or 'rejected'}", PENDING
    vetoes = [a.verdict for a in record.attempts if a.verdict is not None and not a.verdict.approve]
    if vetoes and all(v.error_type == "user_answer" for v in vetoes):
        return "APPROVED after the user's answer", APPROVED
    if vetoes:
        return f"APPROVED after veto: {vetoes[-1].error_type or 'rejected'}", APPROVED
    return "APPROVED", APPROVED


def annotate_step(image: Image.Image, record: StepRecord) -> Image.Image:
    """The screenshot a step saw, with every attempt's point (vetoed red, executed green),
    the grounder's box and zoom crops, drag arrows, and the verdict badge."""
    out = image.convert("RGB").copy()
    executed = record.action
    for n, attempt in enumerate(record.attempts):
        g = attempt.grounding
        if g is not None:
            if g.box is not None:
                draw_box(out, g.box)
            for crop in g.crops:
                draw_dashed_rect(out, crop)
        action = attempt.action
        if action is None:
            if g is not None and g.point is not None:
                draw_point(out, g.point, PENDING, f"#{n}")
            continue
        v = attempt.verdict
        color = (VETOED if v is not None and not v.approve and action != executed
                 else APPROVED if action == executed else PENDING)
        _draw_action(out, action, color, f"#{n}" if len(record.attempts) > 1 else None)
    if executed is not None and not any(a.action == executed for a in record.attempts):
        _draw_action(out, executed, APPROVED, None)
    text, color = badge_for(record)
    draw_badge(out, text, color)
    return out


def _draw_action(image: Image.Image, action, color: RGB, label: str | None) -> None:
    if isinstance(action, Drag):
        a, b = action.points()
        draw_arrow(image, a, b, DRAG)
        draw_point(image, a, color, label)
        return
    for p in action.points():
        draw_point(image, p, color, label)


def annotate_proposal(image: Image.Image, action, grounding: Grounding | None, verdict: Verdict | None,
                      edited: Point | None = None) -> Image.Image:
    """An action waiting for the user's decision: the grounder's box and crops, the proposed
    point (amber), the user's moved point (purple, with an arrow from the proposal), and a
    badge with what the critic said."""
    out = image.convert("RGB").copy()
    if grounding is not None:
        if grounding.box is not None:
            draw_box(out, grounding.box)
        for crop in grounding.crops:
            draw_dashed_rect(out, crop)
    if action is not None:
        points = action.points()
        if edited is not None and points:  # under the points, so both stay visible
            draw_arrow(out, points[0], edited, EDITED)
        _draw_action(out, action, PENDING, "proposed")
    if edited is not None:
        draw_point(out, edited, EDITED, "yours")
    if verdict is None:
        draw_badge(out, "YOUR DECISION", PENDING)
    else:
        word = "approves" if verdict.approve else f"vetoes: {verdict.error_type or 'rejected'}"
        draw_badge(out, f"CRITIC {word} — YOUR DECISION", APPROVED if verdict.approve else VETOED)
    return out


def evidence_names(record: StepRecord) -> list[tuple[str, str]]:
    """(file name, caption) of each critic evidence image a step saved next to its screenshot."""
    notes = (record.info.get("agent") or {}).get("critic") or []
    out = []
    for note in notes:
        if isinstance(note, dict) and note.get("evidence"):
            out.append((str(note["evidence"]),
                        f"attempt {note.get('attempt', '?')}: {note.get('critic', '?')} {note.get('outcome', '')}"))
    return out


def annotate_groundings(image: Image.Image, groundings: dict[str, Grounding | None]) -> Image.Image:
    """Several grounders' answers on one screenshot, one palette colour each (the playground)."""
    out = image.convert("RGB").copy()
    for n, (name, g) in enumerate(groundings.items()):
        if g is None:
            continue
        color = PALETTE[n % len(PALETTE)]
        if g.box is not None:
            draw_box(out, g.box, color)
        for crop in g.crops:
            draw_dashed_rect(out, crop, color)
        if g.point is not None:
            draw_point(out, g.point, color, name)
    return out


# ---- text ----------------------------------------------------------------------------------
#
# Model text is untrusted: a reply may hold HTML (``<img src=x onerror=...>``), Markdown links
# or images (a tracking pixel), or a code fence meant to close ours. Everything a model, a page
# or a run folder wrote goes through ``md`` (Markdown text), ``code`` (an inline code span) or
# ``code_block`` (a fenced block) and shows as the characters it is.

_MD_PUNCT = re.compile(r"([\\`*\[\]!|~$@{}]|:(?=/)|(?<=[wW]{3})\.)")  # :// and www. would autolink
_MD_LINE_START = re.compile(r"^(\s*)([#+=>-]|\d+[.)])", re.MULTILINE)
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md(text: object) -> str:
    """``text`` as Markdown that renders as exactly these characters: no HTML, no links, no
    emphasis, no headings or lists, no LaTeX; line breaks kept."""
    s = str(text if text is not None else "")
    s = _MD_PUNCT.sub(r"\\\1", s)
    s = _UNDERSCORE.sub(r"\\_", s)  # intraword underscores (wrong_element) cannot emphasise
    s = html.escape(s, quote=False)  # < > & as entities (a backslash does not stop an HTML tag)
    s = _MD_LINE_START.sub(lambda m: m.group(1) + "".join("\\" + c if not c.isdigit() else c
                                                            for c in m.group(2)), s)
    lines = [line.strip() for line in s.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "  \n".join(line if line else "&nbsp;" for line in lines).strip() or ""


def code(text: object, limit: int | None = None) -> str:
    """An inline code span holding ``text`` verbatim (on one line, cut at ``limit``)."""
    s = " ".join(str(text if text is not None else "").split())
    if limit is not None and len(s) > limit:
        s = s[:limit] + "…"
    if not s:
        return "` `"
    fence = "`" * (max((len(r) for r in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def code_block(text: object, lang: str = "") -> str:
    """A fenced block holding ``text`` verbatim; the fence is longer than any backtick run in
    it, so the text cannot close it."""
    s = str(text if text is not None else "").replace("\r\n", "\n").replace("\r", "\n")
    fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", s)), default=0) + 1)
    return f"{fence}{lang}\n{s}\n{fence}"


def point_text(p: Point | None) -> str:
    return "—" if p is None else f"({p.x:.1f}, {p.y:.1f})"


def chain_text(record: StepRecord) -> str:
    """Each executed point's coordinate chain: raw text → model point → screenshot → screen."""
    if not record.chains:
        return "no coordinates (keyboard / control action)" if record.action is not None else "nothing executed"
    lines = []
    for n, c in enumerate(record.chains):
        space = f"{c.model_space.kind} {c.model_space.width:g}×{c.model_space.height:g}"
        lines.append(
            f"[{n}] raw {c.raw_text!r} → model {point_text(c.model_point)} in {space} → "
            f"screenshot {point_text(c.screenshot_point)} of {c.screenshot_size[0]}×{c.screenshot_size[1]} → "
            f"screen {point_text(c.screen_point)} (dpr {c.device_scale_factor:g})")
    return "\n".join(lines)


def action_text(action) -> str:
    if action is None:
        return "—"
    fields = {k: (round(v, 1) if isinstance(v, float) else v)
              for k, v in action.model_dump(exclude_none=True).items() if k != "type"}
    return f"{action.type}(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


def timings_text(record: StepRecord) -> str:
    return "  ".join(f"{k} {v * 1000:.0f} ms" for k, v in record.timings.items()) or "—"


def usage_text(usage: Usage | None) -> str:
    """``2 calls · 1234 prompt + 56 completion tokens · 3 images (2100 image tokens) · 1.20 s``."""
    if usage is None:
        return "—"
    parts = [f"{usage.calls} call{'s' if usage.calls != 1 else ''}"]
    if usage.prompt_tokens is not None or usage.completion_tokens is not None:
        parts.append(f"{usage.prompt_tokens if usage.prompt_tokens is not None else '?'} prompt + "
                     f"{usage.completion_tokens if usage.completion_tokens is not None else '?'} completion tokens")
    images = f"{usage.images} image{'s' if usage.images != 1 else ''}"
    if usage.image_tokens is not None:
        images += f" ({usage.image_tokens} image tokens)"
    parts.append(images)
    if usage.request_bytes is not None:
        parts.append(f"request {usage.request_bytes / 1024:.0f} KiB")
    parts.append(f"{usage.latency_s:.2f} s")
    return " · ".join(parts)


def find_turn(record: StepRecord, earlier: Sequence[StepRecord] = ()) -> tuple[TurnRecord | None, int | None, int | None]:
    """The turn this step's action came from, the position of that action in the turn (None:
    nothing of it ran here), and the step that asked for the turn when it is an earlier one
    (a turn of several actions runs one per step)."""
    if record.turn is not None:
        pos = None
        if record.action is not None:
            pos = next((i for i, a in enumerate(record.turn.actions) if a == record.action), 0)
        return record.turn, pos, None
    if record.turn_index is None:
        return None, None, None
    for before, r in enumerate(reversed(earlier), 1):  # before: the turn's actions run ahead of this one
        if r.turn_index != record.turn_index:
            break
        if r.turn is not None:
            actions = r.turn.actions
            pos = before if before < len(actions) else None
            if pos is not None and record.action is not None and actions[pos] != record.action:
                pos = next((i for i, a in enumerate(actions) if a == record.action), pos)
            return r.turn, (pos if record.action is not None else None), r.index
    return None, None, None


def _turn_source(turn: TurnRecord) -> str:
    return {"user": "taken over by the user", "critic": "the critic's suggestion"}.get(turn.source, "")


def turn_markdown(turn: TurnRecord, executed: int | None = None, asked_at: int | None = None,
                  heading: str = "####") -> str:
    """A policy turn: thought, feedback it was given, raw output, every parsed action (the one
    run in this step marked), rejected replies with the parser's message, the images sent, usage."""
    source = _turn_source(turn)
    title = f"{heading} Turn {turn.index}" + (f" · {md(turn.policy)}" if turn.policy else "") + (
        f" · {source}" if source else "") + (f" · asked at step {asked_at}" if asked_at is not None else "")
    lines = [title, ""]
    if turn.thought:
        lines += ["**Thought**  ", md(turn.thought), ""]
    if turn.feedback:
        lines += ["**Feedback given to the model**  ", md(turn.feedback), ""]
    if turn.raw_output is not None:
        lines += ["**Raw model output**", "", code_block(turn.raw_output), ""]
    if turn.actions:
        lines.append(f"**Actions of the turn** ({len(turn.actions)})  ")
        for n, a in enumerate(turn.actions):
            mark = " ← **executed in this step**" if n == executed else ""
            lines.append(f"{n + 1}\\. {code(action_text(a))}{mark}  ")
        lines.append("")
    for n, r in enumerate(turn.rejected):
        lines += [f"**Rejected reply {n + 1}** — parser: {md(r.error)}", "", code_block(r.raw), ""]
    if turn.images:
        size = f" at {turn.image_size[0]}×{turn.image_size[1]}" if turn.image_size else ""
        names = ", ".join(code(n) + (" (current)" if i == len(turn.images) - 1 else "")
                          for i, n in enumerate(turn.images))
        lines.append(f"**Sent to the model** {len(turn.images)} screenshot(s){size}: {names}  ")
    if turn.source == "policy" or turn.usage.calls:
        lines.append(f"**Usage** {usage_text(turn.usage)}  ")
    if turn.summary:
        lines.append(f"**Summary** {md(turn.summary)}  ")
    if turn.error:
        lines.append(f"⚠️ **Turn error** {md(turn.error)}  ")
    return "\n".join(lines)


def verdict_text(v: Verdict) -> str:
    word = "✅ approved" if v.approve else "❌ vetoed"
    et = f" [{md(v.error_type)}]" if v.error_type else ""
    sug = f" · suggests {code(action_text(v.suggestion))}" if v.suggestion is not None else ""
    score = f" · score {v.score:.2f}" if v.score is not None else ""
    return f"critic ({md(v.critic or '?')}): {word}{et}{score} — {md(v.reason)}{sug}"


def step_markdown(record: StepRecord, earlier: Sequence[StepRecord] = ()) -> str:
    """One step as Markdown: the policy's turn (thought, raw output, actions, images sent,
    usage), each attempt (intent, grounding, verdict), the action, chain and timings.
    ``earlier``: the steps before it, to find the turn of a step that ran a queued action."""
    text, _ = badge_for(record)
    lines = [f"### Step {record.index} — {md(text)}", ""]
    if record.url:
        lines.append(f"**URL** {code(record.url)}  ")
    turn, pos, asked_at = find_turn(record, earlier)
    if turn is not None:
        lines += [turn_markdown(turn, pos, asked_at), ""]
    for n, a in enumerate(record.attempts):
        intent = (f"{md(a.intent.kind)} **{md(a.intent.target)}**" if a.intent is not None else "direct action")
        lines.append(f"**Attempt {n}** — intent: {intent}  ")
        if a.turn is not None and a.turn != turn:  # an earlier turn of this step, vetoed or empty
            lines += ["", turn_markdown(a.turn, heading="#####"), ""]
        if a.intent is not None and a.intent.thought and (turn is None or a.intent.thought != turn.thought):
            lines.append(f"&nbsp;&nbsp;thought: {md(a.intent.thought)}  ")
        if a.grounding is not None:
            g = a.grounding
            lines.append(f"&nbsp;&nbsp;grounding ({md(g.grounder or '?')}): point {point_text(g.point)}"
                         f"{'' if g.score is None else f', score {g.score:.2f}'}, raw {code(g.raw_text, 120)}  ")
        lines.append(f"&nbsp;&nbsp;action: {code(action_text(a.action))}  ")
        if a.verdict is not None:
            lines.append(f"&nbsp;&nbsp;{verdict_text(a.verdict)}  ")
        if a.error:
            lines.append(f"&nbsp;&nbsp;⚠️ {md(a.error)}  ")
    lines += ["", (f"**Executed** {code(action_text(record.action))} · reward {record.reward:g}"
                  f"{' · done' if record.done else ''}"), "",
              "**Coordinate chain**", code_block(chain_text(record).replace(" → ", "\n   → ")),
              f"**Timings** {timings_text(record)}"]
    if record.error:
        lines.append(f"\n⚠️ **Error** {md(record.error)}")
    return "\n".join(lines)


def step_row(record: StepRecord) -> list:
    """A row for a steps table: index, intent (or the turn's summary / thought), action,
    verdict, reward, time."""
    a = record.attempts[-1] if record.attempts else None
    intent = a.intent.target if a is not None and a.intent is not None else ""
    turn = record.turn
    if not intent and turn is not None:
        intent = (turn.summary or turn.thought or "")[:120]
    total = sum(record.timings.values())
    return [record.index, intent, action_text(record.action), badge_for(record)[0],
            round(record.reward, 4), round(total, 3)]


STEP_COLUMNS = ["step", "intent", "action", "verdict", "reward", "seconds"]


def graded_text(result: EpisodeResult) -> str:
    """Whether the task's validator judged the episode, and what it said."""
    if result.status == "needs_user":
        return "not graded (needs the user)"
    if result.status == "stopped":
        return "not graded (stopped)"
    if result.status in ("error", "running"):
        return "not graded"
    return f"validator: {'passed' if result.status == 'success' else 'not passed'}"


def ending_markdown(result: EpisodeResult) -> str:
    """How the episode ended: the termination, the answer (Done) or the reason / question
    (Fail, CallUser), and whether it was graded."""
    parts = [f"ended: **{md(result.termination or result.status)}**", graded_text(result)]
    if result.answer is not None:
        parts.append(f"answer: {code(result.answer, 500)}")
    if result.reason:
        word = "question" if result.termination == "needs_user" else "reason"
        parts.append(f"{word}: {md(result.reason)}")
    return " · ".join(parts)


def asks_user(action) -> bool:
    return isinstance(action, CallUser)


def escape(text: str) -> str:
    return html.escape(text, quote=True)
