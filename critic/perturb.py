"""Labelled critic samples from executed trajectories: the correct steps of successful
episodes, and wrong actions made from them.

Each wrong action is made so that its label holds without running it:

* ``near_miss``: a point 3 px to a near-miss distance outside the target element, on blank
  space (no element there, flat pixels: no label text that a click could still hit);
* ``far_miss``: a blank point at least three near-miss distances from the target;
* ``wrong_element``: the centre of another element of the target's role;
* ``premature_done``: ``done`` instead of the step (the episode needed it, so it was not over);
* ``repeat``: the step's action again, after a history where it already ran and left the
  screen as it is (the loop of an action with no visible effect);
* ``typing_without_focus``: a step's ``type`` moved before the click that focused the field
  (the elements recorded then show no focused text field).

The target element is the smallest interactive element under the executed point (the
elements the agent recorded before the step); steps without recorded elements give only
the perturbations that need none.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import replace
from pathlib import Path

from PIL import Image

from critic.base import (
    OFF_TARGET,
    PREMATURE_TERMINATION,
    REPEATED_LOOP,
    TYPING_WITHOUT_FOCUS,
    WRONG_ELEMENT,
    ReviewContext,
)
from critic.evaluation import KINDS, CriticSample
from critic.history import (
    HistoryCompressor,
    RuleCompressor,
    executed_attempt,
    recorded_elements,
)
from critic.rules import (
    INTERACTIVE_ROLES,
    POINTER_ACTIONS,
    blank_at,
    distance,
    hits,
    near_px,
)
from cua.core import (
    Box,
    Done,
    Observation,
    Point,
    StepRecord,
    Task,
    UIElement,
    with_point,
)
from cua.core.store import RESULT_FILE, load_episode

FRAMES = 3  # earlier screenshots given with each context (the agent loop's default)


def episode_folders(paths: list[Path]) -> list[Path]:
    """Episode folders under each path: a run folder, its ``episodes/``, or an episode."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / RESULT_FILE).exists():
            out.append(p)
        else:
            out += sorted(f.parent for f in p.glob("**/" + RESULT_FILE) if f.parent != p)
    return out


@functools.lru_cache(maxsize=64)
def _image(path: Path) -> Image.Image:
    return Image.open(path).convert("RGB")


def _elements(record: StepRecord) -> list[UIElement]:
    return [UIElement.model_validate(e) for e in recorded_elements(record)]


def _observation(folder: Path, record: StepRecord, instruction: str | None) -> Observation:
    dsf = record.chains[0].device_scale_factor if record.chains else 1.0
    return Observation(screenshot=_image(folder / record.screenshot), url=record.url, elements=_elements(record),
                       device_scale_factor=dsf, instruction=instruction)


def correct_contexts(folder: Path, compressor: HistoryCompressor | None = None) -> list[ReviewContext]:
    """A context per executed step of a successful episode (none for other episodes)."""
    ep = load_episode(folder)
    if ep.result is None or ep.result.status != "success":
        return []
    compressor = compressor or RuleCompressor()
    task = Task(id=ep.result.task_id, instruction=ep.result.instruction, seed=ep.result.seed)
    out = []
    for i, step in enumerate(ep.steps):
        if step.action is None:
            continue
        history = ep.steps[:i]
        frames = {r.index: _image(folder / r.screenshot) for r in history[-FRAMES:]}
        intent, _ = executed_attempt(step)
        out.append(ReviewContext(task=task, observation=_observation(folder, step, ep.result.instruction),
                                 action=step.action, intent=intent, history=history,
                                 macro_history=compressor.compress(task, history, frames), frames=frames,
                                 extra={"episode": str(folder), "step": i}))
    return out


def _target(ctx: ReviewContext) -> UIElement | None:
    points = ctx.action.points()
    if ctx.action.type not in POINTER_ACTIONS or not points:
        return None
    return next((e for e in hits(ctx.observation.elements, points[0]) if e.role in INTERACTIVE_ROLES), None)


def _free(ctx: ReviewContext, p: Point) -> bool:
    w, h = ctx.observation.size
    return 2 <= p.x < w - 2 and 2 <= p.y < h - 2 and not hits(ctx.observation.elements, p) and \
        blank_at(ctx.observation.screenshot, p)


def _moved(ctx: ReviewContext, p: Point) -> ReviewContext:
    return replace(ctx, action=with_point(ctx.action, round(p.x, 1), round(p.y, 1)), evidence=None)


def near_miss(ctx: ReviewContext, rng: random.Random) -> tuple[ReviewContext, Box] | None:
    target = _target(ctx)
    if target is None:
        return None
    p, near = ctx.action.points()[0], near_px(ctx.observation.size)
    for _ in range(60):
        a = rng.uniform(0, 2 * math.pi)
        dx, dy = math.cos(a), math.sin(a)
        t = _exit(p.x, dx, target.box.x1, target.box.x2)
        t = min(t, _exit(p.y, dy, target.box.y1, target.box.y2)) + rng.uniform(3, near)
        q = Point(x=p.x + t * dx, y=p.y + t * dy)
        if 3 <= distance(q, target.box) <= near and _free(ctx, q):
            return _moved(ctx, q), target.box
    return None


def _exit(start: float, step: float, low: float, high: float) -> float:
    """How far along a ray the coordinate leaves [low, high]."""
    if abs(step) < 1e-9:
        return math.inf
    return ((high if step > 0 else low) - start) / step


def far_miss(ctx: ReviewContext, rng: random.Random) -> tuple[ReviewContext, Box] | None:
    target = _target(ctx)
    if target is None:
        return None
    w, h = ctx.observation.size
    far = 3 * near_px(ctx.observation.size)
    for _ in range(200):
        q = Point(x=rng.uniform(0, w), y=rng.uniform(0, h))
        if distance(q, target.box) >= far and _free(ctx, q):
            return _moved(ctx, q), target.box
    return None


def wrong_element(ctx: ReviewContext, rng: random.Random) -> tuple[ReviewContext, Box] | None:
    target = _target(ctx)
    if target is None:
        return None
    others = [e for e in ctx.observation.elements if e.role == target.role and e.box != target.box
              and (e.name != target.name or not e.name) and not _overlap(e.box, target.box)
              and not e.box.contains(target.box.center)]
    if not others:
        return None
    e = rng.choice(others)
    return _moved(ctx, e.box.center), target.box


def _overlap(a: Box, b: Box) -> bool:
    return a.x1 < b.x2 and b.x1 < a.x2 and a.y1 < b.y2 and b.y1 < a.y2


def premature_done(ctx: ReviewContext, rng: random.Random) -> tuple[ReviewContext, None] | None:
    return replace(ctx, action=Done(), evidence=None), None


def repeat(ctx: ReviewContext, rng: random.Random) -> tuple[ReviewContext, None] | None:
    index = ctx.history[-1].index + 1 if ctx.history else 0
    ran = StepRecord(index=index, screenshot=f"step_{index:04d}.png", url=ctx.observation.url,
                     action=ctx.action, info={"agent": {"elements": [e.model_dump() for e in ctx.observation.elements]}})
    frames = {**ctx.frames, index: ctx.observation.screenshot}
    return replace(ctx, history=[*ctx.history, ran], frames=frames, evidence=None), None


def type_no_focus(ctx: ReviewContext, rng: random.Random) -> tuple[ReviewContext, None] | None:
    """The ``type`` of this step, on the screen before the click that focused its field."""
    if ctx.action.type != "type" or not ctx.history or ctx.history[-1].action is None:
        return None
    before = ctx.history[-1]
    elements = _elements(before)
    if not elements or any(e.focused and e.editable for e in elements):
        return None
    folder = Path(ctx.extra["episode"])
    obs = _observation(folder, before, ctx.observation.instruction)
    history = ctx.history[:-1]
    frames = {k: v for k, v in ctx.frames.items() if k < before.index}
    return replace(ctx, observation=obs, history=history, frames=frames, intent=None,
                   macro_history=None, evidence=None), None


PERTURB = {"near_miss": (near_miss, OFF_TARGET), "far_miss": (far_miss, OFF_TARGET),
           "wrong_element": (wrong_element, WRONG_ELEMENT), "premature_done": (premature_done, PREMATURE_TERMINATION),
           "repeat": (repeat, REPEATED_LOOP), "type_no_focus": (type_no_focus, TYPING_WITHOUT_FOCUS)}


def build_perturbed_set(folders: list[Path], seed: int = 0, kinds: tuple[str, ...] = KINDS,
                        compressor: HistoryCompressor | None = None) -> list[CriticSample]:
    """As many wrong samples as correct ones (the correct ones cut down when the wrong run
    short), the kinds as even as the steps allow, in a shuffled order (so a prefix is a fair
    sample)."""
    rng = random.Random(seed)
    correct: list[CriticSample] = []
    pools: dict[str, list[CriticSample]] = {k: [] for k in kinds}
    for folder in folders:
        for ctx in correct_contexts(folder, compressor):
            sid = f"{Path(ctx.extra['episode']).name}/{ctx.extra['step']}"
            correct.append(CriticSample(sid, "original", True, _const(ctx), source=sid))
            for kind in kinds:
                make, error = PERTURB[kind]
                made = make(ctx, rng)
                if made is not None:
                    wrong, box = made
                    pools[kind].append(CriticSample(f"{sid}/{kind}", kind, False, _const(wrong), error, box, sid))
    for pool in pools.values():
        rng.shuffle(pool)
    wrong: list[CriticSample] = []
    while len(wrong) < len(correct) and any(pools.values()):
        for kind in kinds:  # round robin: every kind as often as it can be
            if pools[kind] and len(wrong) < len(correct):
                wrong.append(pools[kind].pop())
    rng.shuffle(correct)
    samples = correct[: len(wrong)] + wrong
    rng.shuffle(samples)
    return samples


def _const(ctx: ReviewContext) -> functools.partial[ReviewContext]:
    # A fresh copy per build: critics write their evidence image into the context.
    return functools.partial(replace, ctx)
