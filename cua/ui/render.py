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
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from cua.core import Grounding, StepRecord, Verdict
from cua.core.actions import Drag
from cua.core.geometry import Box, Point

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


# ---- text -------------------------------------------------------------------------------------


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


def step_markdown(record: StepRecord) -> str:
    """One step as Markdown: attempts (intent, grounding, verdict), action, chain, timings."""
    text, _ = badge_for(record)
    lines = [f"### Step {record.index} — {text}", ""]
    if record.url:
        lines.append(f"**URL** `{record.url}`  ")
    for n, a in enumerate(record.attempts):
        intent = (f"{a.intent.kind} **{a.intent.target}**" if a.intent is not None else "direct action")
        lines.append(f"**Attempt {n}** — intent: {intent}  ")
        if a.intent is not None and a.intent.thought:
            lines.append(f"&nbsp;&nbsp;thought: {a.intent.thought}  ")
        if a.grounding is not None:
            g = a.grounding
            lines.append(f"&nbsp;&nbsp;grounding ({g.grounder or '?'}): point {point_text(g.point)}"
                         f"{'' if g.score is None else f', score {g.score:.2f}'}, raw `{g.raw_text[:120]}`  ")
        lines.append(f"&nbsp;&nbsp;action: `{action_text(a.action)}`  ")
        if a.verdict is not None:
            v = a.verdict
            word = "✅ approved" if v.approve else "❌ vetoed"
            et = f" [{v.error_type}]" if v.error_type else ""
            lines.append(f"&nbsp;&nbsp;critic ({v.critic or '?'}): {word}{et} — {v.reason}  ")
        if a.error:
            lines.append(f"&nbsp;&nbsp;⚠️ {a.error}  ")
    lines += ["", (f"**Executed** `{action_text(record.action)}` · reward {record.reward:g}"
                  f"{' · done' if record.done else ''}"), "",
              "**Coordinate chain**", "```", chain_text(record).replace(" → ", "\n   → "), "```",
              f"**Timings** {timings_text(record)}"]
    if record.error:
        lines.append(f"\n⚠️ **Error** {record.error}")
    return "\n".join(lines)


def step_row(record: StepRecord) -> list:
    """A row for a steps table: index, intent, action, verdict, reward, time."""
    a = record.attempts[-1] if record.attempts else None
    intent = a.intent.target if a is not None and a.intent is not None else ""
    total = sum(record.timings.values())
    return [record.index, intent, action_text(record.action), badge_for(record)[0],
            round(record.reward, 4), round(total, 3)]


STEP_COLUMNS = ["step", "intent", "action", "verdict", "reward", "seconds"]


def escape(text: str) -> str:
    return html.escape(text, quote=True)
