"""Rule checks of the CPU critic, each a function of the ReviewContext returning a Finding:
point outside the screenshot, a repeated action on an unchanged screen, typing with no
focused editable element, ``done`` while the task's goals are not met, and the evidence of
the page's own accessible elements (is the point on the element the intent names?)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from critic.base import (
    NOT_INTERACTABLE,
    OFF_TARGET,
    OUT_OF_BOUNDS,
    PREMATURE_TERMINATION,
    REPEATED_LOOP,
    TYPING_WITHOUT_FOCUS,
    WRONG_ELEMENT,
    ReviewContext,
)
from critic.history import (
    EDITABLE_ROLES,
    executed_attempt,
    recorded_elements,
    target_name,
)
from cua.core import Action, Box, Point, StepRecord, UIElement
from grounding.matching import name_score
from grounding.targets import TargetQuery, normalize_text

INTERACTIVE_ROLES = frozenset({
    "button", "link", "textbox", "searchbox", "combobox", "checkbox", "radio", "switch", "slider",
    "spinbutton", "option", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "treeitem",
    "listbox", "MenuListOption",
})
POINTER_ACTIONS = ("click", "double_click", "right_click")
MATCH = 0.8  # lowest name score that counts as the element the intent names
TIE = 0.05


@dataclass(frozen=True)
class Finding:
    """One check's word: ``ok`` True (evidence the action is right), False (wrong), None
    (cannot tell); ``confidence`` in its own answer; ``suggestion`` where it should go."""

    check: str
    ok: bool | None
    reason: str
    error_type: str | None = None
    confidence: float = 0.0
    suggestion: Point | None = None


def near_px(size: tuple[int, int]) -> float:
    """How far from an element a miss still counts as a near miss, in screenshot pixels."""
    return max(12.0, 0.04 * min(size))


def distance(p: Point, box: Box) -> float:
    dx = max(box.x1 - p.x, 0.0, p.x - box.x2)
    dy = max(box.y1 - p.y, 0.0, p.y - box.y2)
    return math.hypot(dx, dy)


def box_gap(a: Box, b: Box) -> float:
    dx = max(a.x1 - b.x2, 0.0, b.x1 - a.x2)
    dy = max(a.y1 - b.y2, 0.0, b.y1 - a.y2)
    return math.hypot(dx, dy)


def blank_at(image: Image.Image, p: Point, half: int = 6, tolerance: float = 6.0) -> bool:
    """Whether the pixels around ``p`` are one flat colour (no text, icon or border there)."""
    x, y = round(p.x), round(p.y)
    box = (max(0, x - half), max(0, y - half), min(image.width, x + half + 1), min(image.height, y + half + 1))
    patch = np.asarray(image.crop(box).convert("L"), dtype=np.float32)
    return patch.size > 0 and float(patch.std()) < tolerance


# ---- hard rules -----------------------------------------------------------------------------

def check_bounds(ctx: ReviewContext) -> Finding | None:
    w, h = ctx.observation.size
    for p in ctx.action.points():
        if not (0 <= p.x < w and 0 <= p.y < h):
            return Finding("bounds", False, f"the point ({p.x:.0f}, {p.y:.0f}) is outside the {w}x{h} screenshot",
                           OUT_OF_BOUNDS, 1.0)
    return None


def same_action(a: Action, b: Action, tolerance: float) -> bool:
    if a.type != b.type:
        return False
    pa, pb = a.points(), b.points()
    if len(pa) != len(pb) or any(math.dist(p.as_tuple(), q.as_tuple()) > tolerance for p, q in zip(pa, pb)):
        return False
    strip = {"x", "y", "to_x", "to_y"}
    return {k: v for k, v in a.model_dump().items() if k not in strip} == \
        {k: v for k, v in b.model_dump().items() if k not in strip}


def changed(a: Image.Image, b: Image.Image, level: int = 16) -> np.ndarray | None:
    """Mask of the pixels that differ by more than ``level`` grey levels (None: other sizes)."""
    if a.size != b.size:
        return None
    return np.abs(np.asarray(a.convert("L"), dtype=np.int16) - np.asarray(b.convert("L"), dtype=np.int16)) > level


def effect_region(ctx: ReviewContext) -> tuple[int, int, int, int] | None:
    """Where the action's effect shows first: around its point, or the focused field."""
    w, h = ctx.observation.size
    points = ctx.action.points()
    if points:
        p = points[0]
        hw, hh = max(64.0, 0.12 * w), max(48.0, 0.1 * h)
        return max(0, int(p.x - hw)), max(0, int(p.y - hh)), min(w, int(p.x + hw)), min(h, int(p.y + hh))
    focused = ctx.observation.focused_element()
    if focused is None:
        return None
    b = focused.box
    return max(0, int(b.x1) - 8), max(0, int(b.y1) - 8), min(w, int(b.x2) + 8), min(h, int(b.y2) + 8)


def check_repeat(ctx: ReviewContext, unchanged_px: float = 80, unchanged_share: float = 0.005) -> Finding | None:
    """The same action as the last executed one, and the screen has not changed since it was
    taken: it had no visible effect, so doing it again is a loop. "Unchanged": at most
    ``unchanged_px`` pixels (at DSF 1; a blinking caret) changed where the action acts, and at
    most ``unchanged_share`` of the screen anywhere (a ticking clock elsewhere is no effect)."""
    last = next((r for r in reversed(ctx.history) if r.action is not None), None)
    if last is None or not same_action(last.action, ctx.action, near_px(ctx.observation.size) / 3):
        return None
    before = ctx.frames.get(last.index)
    mask = changed(before, ctx.observation.screenshot) if before is not None else None
    if mask is None:
        return None
    region = effect_region(ctx)
    local = int(mask[region[1]:region[3], region[0]:region[2]].sum()) if region else int(mask.sum())
    if local > unchanged_px * ctx.observation.device_scale_factor ** 2 or mask.mean() > unchanged_share:
        return None
    return Finding("repeat", False, f"the same {ctx.action.type} ran at step {last.index + 1} and the screen did "
                   f"not change ({local} pixels where it acts): repeating it is a loop", REPEATED_LOOP, 0.9)


def check_focus(ctx: ReviewContext) -> Finding | None:
    """Typing needs a focused editable element; unknown when the env gives no elements."""
    if ctx.action.type != "type" or not ctx.observation.elements:
        return None
    focused = ctx.observation.focused_element()
    if focused is not None and focused.editable:
        return Finding("focus", True, f"typing into the focused {focused.role} {focused.name!r}", confidence=0.8)
    what = f"the focused element is a {focused.role} {focused.name!r}" if focused else "nothing is focused"
    return Finding("focus", False, f"typing with no focused text field ({what}): click the field first",
                   TYPING_WITHOUT_FOCUS, 0.9)


# ---- termination ----------------------------------------------------------------------------

_CLAUSES = re.compile(r",?\s+then\s+|\.\s+|\s+and\s+(?=(?:press|click|tap|select|choose|enter|type|focus|check|open)\b)",
                      re.IGNORECASE)
_VERB = re.compile(r"^\s*(?:click|press|tap|select|choose|check|open|focus(?:\s+(?:into|on))?)\s+(?:on\s+)?(?P<rest>.+)$",
                   re.IGNORECASE)
_ENTER = re.compile(r"\b(?:enter|type|fill|write|input|search for|username|password)\b[^.;]*$", re.IGNORECASE)
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')


@dataclass(frozen=True)
class Goal:
    text: str
    kind: str  # "enter": text that must end up in a field; "target": something to act on


def task_goals(instruction: str) -> list[Goal]:
    """What the instruction asks for: quoted text to enter, and the things named after its
    verbs (click / press / select ... X). Free-form tasks give none."""
    goals: list[Goal] = []
    for m in _QUOTED.finditer(instruction):
        text = m.group(1) or m.group(2)
        kind = "enter" if _ENTER.search(instruction[max(0, m.start() - 60):m.start()]) else "target"
        goals.append(Goal(text, kind))
    bare = _QUOTED.sub(" ", instruction)
    for clause in _CLAUSES.split(bare.strip().rstrip(".")):
        m = _VERB.match(clause)
        if not m:
            continue
        for item in re.split(r"\s*,\s*|\s+and\s+", m.group("rest")):
            name = target_name(item) if item.strip() else ""
            norm = normalize_text(name)
            if norm and norm not in ("nothing else", "the", "in the dialog box", "labeled") and \
                    not any(normalize_text(g.text) == norm for g in goals):
                goals.append(Goal(name, "target"))
    return goals


def _achieved(history: list[StepRecord]) -> tuple[list[str], list[str]]:
    """(normalised names of what was acted on, normalised texts typed) in executed steps."""
    acted, typed = [], []
    for r in history:
        if r.action is None:
            continue
        intent, _ = executed_attempt(r)
        if intent is not None:
            acted.append(normalize_text(intent.target))
        if r.action.type == "type":
            typed.append(normalize_text(r.action.text))
        for p in r.action.points()[:1]:
            acted += [normalize_text(str(e.get("name", ""))) for e in recorded_elements(r)
                      if e["box"]["x1"] <= p.x <= e["box"]["x2"] and e["box"]["y1"] <= p.y <= e["box"]["y2"]]
    return [a for a in acted if a], typed


def _mentions(goal: str, texts: list[str]) -> bool:
    return any(f" {goal} " in f" {t} " or (t and f" {t} " in f" {goal} ") for t in texts)


def check_done(ctx: ReviewContext, screen_text: str | None = None) -> Finding | None:
    """``done`` before anything was executed, or while a goal is neither achieved in the
    history nor (for text to enter) visible on screen."""
    if ctx.action.type != "done":
        return None
    if not any(r.action is not None for r in ctx.history):
        return Finding("done", False, "done before any action was executed", PREMATURE_TERMINATION, 0.85)
    instruction = ctx.task.instruction or ctx.observation.instruction or ""
    acted, typed = _achieved(ctx.history)
    shown = [normalize_text(e.value or "") for e in ctx.observation.elements if e.value] + \
        ([normalize_text(screen_text)] if screen_text else [])
    missing = []
    for goal in task_goals(instruction):
        g = normalize_text(goal.text)
        if goal.kind == "enter":
            met = _mentions(g, typed) or _mentions(g, shown)
        else:
            met = _mentions(g, acted) or _mentions(g, typed)
        if not met:
            missing.append(goal.text)
    if missing:
        return Finding("done", False, "done, but not yet achieved: " + ", ".join(repr(m) for m in missing),
                       PREMATURE_TERMINATION, 0.8)
    return Finding("done", True, "every goal of the task appears achieved", confidence=0.6)


# ---- the page's own elements ----------------------------------------------------------------

def _fits(q: TargetQuery, e: UIElement) -> float:
    """How well element ``e`` fits the query (0 when its role is of another kind)."""
    if q.roles and e.role not in q.roles:
        return 0.0
    if not q.text:
        return 1.0 if q.roles else 0.0
    name = normalize_text(e.name)
    if not name and e.editable:
        return 0.0  # an unnamed field: matched through its label instead
    return max(name_score(a, name, MATCH) for a in q.alternatives)


def _reading_order(e: UIElement) -> tuple[int, float]:
    return round(e.box.y1 / 8), e.box.x1


def _by_label(q: TargetQuery, elements: list[UIElement]) -> list[UIElement]:
    """Fields named by a label next to them ("the username field" → the box under
    'Username'): the field closest to a matching short text, below or right of it."""
    fields = [e for e in elements if e.editable]
    labels = [e for e in elements if e.role not in INTERACTIVE_ROLES
              and len(e.name.split()) <= 4 and max(name_score(a, normalize_text(e.name), MATCH)
                                                    for a in q.alternatives) >= MATCH]
    pairs = [(box_gap(lab.box, f.box) + (0 if f.box.y1 >= lab.box.y1 - 4 or f.box.x1 >= lab.box.x2 - 4 else 50), f)
             for lab in labels for f in fields]
    if not pairs:
        return []
    best = min(d for d, _ in pairs)
    return [f for d, f in pairs if d <= best + 2]


def targets(q: TargetQuery, elements: list[UIElement]) -> list[UIElement]:
    """The elements the intent may mean, best first (more than one: the query cannot tell
    them apart); an ordinal picks one in reading order."""
    scored = [(s, e) for e in elements if (s := _fits(q, e)) >= MATCH]
    fields = not q.roles or set(q.roles) <= EDITABLE_ROLES
    if not scored and q.text and fields:
        scored = [(MATCH, e) for e in _by_label(q, elements)]
    if not scored and q.text and not fields:  # roles are hints: pages make links of plain spans
        loose = TargetQuery(text=q.text, ordinal=q.ordinal, raw=q.raw, exact=q.exact)
        scored = [(s, e) for e in elements if (s := _fits(loose, e)) >= MATCH]
    if not scored:
        return []
    top = max(s for s, _ in scored)
    ties = sorted((e for s, e in scored if s >= top - TIE), key=_reading_order)
    if q.ordinal is not None:
        i = q.ordinal - 1 if q.ordinal > 0 else q.ordinal
        return [ties[i]] if -len(ties) <= i < len(ties) else []
    return ties


def hits(elements: list[UIElement], p: Point) -> list[UIElement]:
    """Elements under ``p``, smallest first."""
    return sorted((e for e in elements if e.box.contains(p)), key=lambda e: e.box.area)


def check_elements(ctx: ReviewContext) -> Finding | None:
    """Is the point on the element the intent names? (None: no elements, no intent that
    names one, or nothing that matches it on the page.)"""
    elements = ctx.observation.elements
    if not elements or ctx.action.type not in POINTER_ACTIONS:
        return None
    p = ctx.action.points()[0]
    under = hits(elements, p)
    near = near_px(ctx.observation.size)
    if ctx.intent is None:
        return _unnamed(ctx, p, under, near)
    q = TargetQuery.parse(ctx.intent.target)
    wanted = targets(q, elements)
    if not wanted:
        return None
    if any(w.box.contains(p) for w in wanted):
        w = next(w for w in wanted if w.box.contains(p))
        return Finding("elements", True, f"the point is on the {w.role} {w.name!r}", confidence=0.9)
    target = min(wanted, key=lambda w: distance(p, w.box))
    gap = distance(p, target.box)
    on = next((e for e in under if e.role in INTERACTIVE_ROLES), None)
    label = f"the {target.role} {target.name!r}" if target.name else f"the {target.role}"
    if on is not None:
        return Finding("elements", False, f"the point is on the {on.role} {on.name!r}, not on {label}",
                       WRONG_ELEMENT, 0.85, target.box.center)
    if gap <= near:
        return Finding("elements", False, f"near miss: {gap:.0f} px off {label}", OFF_TARGET, 0.85,
                       target.box.center)
    if under:
        return Finding("elements", False, f"the point is on text that does nothing ({under[0].name[:40]!r}), "
                       f"not on {label}", NOT_INTERACTABLE, 0.8, target.box.center)
    return Finding("elements", False, f"the point is on blank space {gap:.0f} px from {label}", OFF_TARGET,
                   0.8, target.box.center)


def _unnamed(ctx: ReviewContext, p: Point, under: list[UIElement], near: float) -> Finding | None:
    """A direct action (no intent): only a click on blank space right next to a control says
    something; anything else is unknown."""
    if under:
        return None
    close = [e for e in ctx.observation.elements if e.role in INTERACTIVE_ROLES and distance(p, e.box) <= near]
    if not close:
        return None
    e = min(close, key=lambda e: distance(p, e.box))
    return Finding("elements", False, f"the point is on blank space {distance(p, e.box):.0f} px from the "
                   f"{e.role} {e.name!r}", OFF_TARGET, 0.6, e.box.center)
