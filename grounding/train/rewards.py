"""Grounding rewards as composable functions: a batch of ``RewardSample`` in, one float each out.

Every reward reads a completion through ``RewardSample.grounding()`` (the runtime's own
``Profile.parse``), so an answer the runtime cannot read (malformed, two answers, a point
outside the model's space) earns what a format failure earns, and coordinates are compared in
screenshot pixels after the runtime's own mapping. Formulas and their sources:
shared/reference/anchors-grounding.md §4.2; each function cites the upstream code it follows.

Refusal items (``box`` None, OSWorld-G): a refusal (no point, or all-negative coordinates)
earns the reward's best value, any point its worst valid value.

``make_reward("gaussian:sigma_scale=0.25")`` builds one from a spec; ``combine`` adds weighted
rewards (``[(make_reward("format"), 0.2), (make_reward("point_in_box"), 0.8)]`` is GUI-R1's mix).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

from cua.core import Box, CuaError, Grounding, Point
from grounding.train.types import RewardFn, RewardSample

__all__ = ["REWARDS", "RewardFn", "combine", "distance_hit", "format_reward", "gaussian", "gaussian_coverage",
           "iou", "make_reward", "multi_answer", "point_in_box"]


def _named(name: str, fn: Callable[[Sequence[RewardSample]], list[float]]) -> RewardFn:
    fn.__name__ = fn.__qualname__ = name  # trainers log rewards under their function's name
    return fn


def _per_sample(name: str, score: Callable[[RewardSample], float]) -> RewardFn:
    return _named(name, lambda samples: [float(score(s)) for s in samples])


def format_reward() -> RewardFn:
    """1 when the runtime parses the reply (a point, a box or a refusal), else 0. The parser is
    the format: GUI-G2's and GUI-R1's format rewards check the shape the prompt asked for, and
    here that shape is whatever ``Profile.parse`` accepts."""
    return _per_sample("format", lambda s: 1.0 if s.grounding() is not None else 0.0)


def _settled(s: RewardSample, best: float, worst: float = 0.0) -> tuple[Grounding | None, float]:
    """(the reading, 0) when the reply still needs scoring against its box; else (None, its
    score): ``worst`` when it does not parse; on a refusal item ``best`` for a refusal and
    ``worst`` for a point; ``worst`` for a refusal on a normal item."""
    g = s.grounding()
    if g is None:
        return None, worst
    if s.box is None:
        return None, best if g.point is None else worst
    if g.point is None:
        return None, worst
    return g, 0.0


def point_in_box() -> RewardFn:
    """GTA1 ``click_reward`` (Yan98/GTA1 src/grpo_grounding.py), also UI-Ins RL: 1 if the point
    is inside the target box, borders included, else 0. Only the first point counts."""
    def score(s: RewardSample) -> float:
        g, settled = _settled(s, 1.0)
        if g is None:
            return settled
        assert s.box is not None and g.point is not None
        return 1.0 if s.box.contains(g.point) else 0.0
    return _per_sample("point_in_box", score)


def _positive(sigma: float) -> float:
    return max(sigma, 1e-6)  # a zero-width target would divide by zero


def gaussian(sigma_scale: float = 0.5) -> RewardFn:
    """GUI-G2 Gaussian point reward (ZJU-REAL/GUI-G2 src/gui_g2/src/open_r1/gaussian_grpo.py
    ``gaussian_point_reward``): ``exp(-½((Δx/σx)² + (Δy/σy)²))`` between the predicted point
    (a predicted box's centre, as upstream) and the target's centre, ``σ = sigma_scale ·`` the
    target's width / height (upstream alpha = 0.5). Upstream rounds to 3 decimals; we do not."""
    if sigma_scale <= 0:
        raise CuaError(f"gaussian: sigma_scale must be positive, got {sigma_scale}")

    def score(s: RewardSample) -> float:
        g, settled = _settled(s, 1.0)
        if g is None:
            return settled
        assert s.box is not None and g.point is not None
        c = s.box.center
        sx, sy = _positive(sigma_scale * s.box.width), _positive(sigma_scale * s.box.height)
        return math.exp(-0.5 * (((g.point.x - c.x) / sx) ** 2 + ((g.point.y - c.y) / sy) ** 2))
    return _per_sample("gaussian", score)


def bhattacharyya_coverage(pred: Box, target: Box, sigma_scale: float = 0.5) -> float:
    """``exp(-D_B)`` between the axis-aligned Gaussians of two boxes (mean the centre, σ =
    sigma_scale · width / height): GUI-G2 ``gaussian_plane_reward``. 0 for a degenerate box."""
    p_sx, p_sy = sigma_scale * pred.width, sigma_scale * pred.height
    t_sx, t_sy = sigma_scale * target.width, sigma_scale * target.height
    if min(p_sx, p_sy, t_sx, t_sy) <= 0:
        return 0.0  # upstream: a zero determinant makes the distance blow up (reward ~0)
    # Diagonal covariances: Σ = (Σ1 + Σ2) / 2 stays diagonal.
    ax, ay = (p_sx ** 2 + t_sx ** 2) / 2, (p_sy ** 2 + t_sy ** 2) / 2
    dx, dy = pred.center.x - target.center.x, pred.center.y - target.center.y
    term1 = (dx * dx / ax + dy * dy / ay) / 8
    term2 = 0.5 * math.log((ax * ay) / math.sqrt((p_sx * p_sy) ** 2 * (t_sx * t_sy) ** 2))
    return math.exp(-(term1 + term2))


def gaussian_coverage(sigma_scale: float = 0.5) -> RewardFn:
    """GUI-G2 Gaussian coverage term (``gaussian_plane_reward``, same file as ``gaussian``):
    ``exp(-Bhattacharyya(N(pred box), N(target box)))``. Needs a predicted box (GUI-G2's
    ``[x1,y1,x2,y2]``, OS-Atlas): a point-only answer covers nothing and scores 0."""
    if sigma_scale <= 0:
        raise CuaError(f"gaussian_coverage: sigma_scale must be positive, got {sigma_scale}")

    def score(s: RewardSample) -> float:
        g, settled = _settled(s, 1.0)
        if g is None:
            return settled
        assert s.box is not None
        return 0.0 if g.box is None else bhattacharyya_coverage(g.box, s.box, sigma_scale)
    return _per_sample("gaussian_coverage", score)


def distance_hit() -> RewardFn:
    """SE-GUI ``point_reward`` (YXB-NKU/SE-GUI open-r1-multimodal/src/open_r1/vlm_modules/
    qwen_module.py): ``1[point ∈ box] + (1 − d̂²)`` where, in coordinates normalised by the
    image's width and height, d̂ is the point's distance to the box centre divided by the
    largest distance from that centre to an image corner. Range [0, 2]."""
    def score(s: RewardSample) -> float:
        g, settled = _settled(s, 2.0)
        if g is None:
            return settled
        assert s.box is not None and g.point is not None
        w, h = s.image_size
        hit = 1.0 if s.box.contains(g.point) else 0.0
        cx, cy = s.box.center.x / w, s.box.center.y / h
        max_d = max(math.hypot(cx - ex, cy - ey) for ex in (0, 1) for ey in (0, 1))
        d = math.hypot(g.point.x / w - cx, g.point.y / h - cy)
        d_hat = d / max_d if max_d > 0 else 0.0
        decay = 1 - d_hat ** 2 if d <= 1 else 0.0  # upstream's guard, on the raw distance
        return hit + decay
    return _per_sample("distance_hit", score)


def _collinear(points: Sequence[Point], tolerance: float) -> bool:
    """All points on one straight line (each cross product within ``tolerance`` · the
    squared span, so the test does not depend on the pixel scale)."""
    a = points[0]
    far = max(points, key=lambda p: (p.x - a.x) ** 2 + (p.y - a.y) ** 2)
    span2 = (far.x - a.x) ** 2 + (far.y - a.y) ** 2
    if span2 == 0:
        return True  # all the same point
    return all(abs((far.x - a.x) * (p.y - a.y) - (far.y - a.y) * (p.x - a.x)) <= tolerance * span2
               for p in points)


def multi_answer(collinear_tolerance: float = 1e-6) -> RewardFn:
    """InfiGUI-G1 AEPO's Adaptive Exploration Reward (InfiXAI/InfiGUI-G1
    recipe/infigui-g1/reward_fn.py, via anchors-grounding.md §4.2; the file itself is not in
    the stored snapshot): the reply offers N points (``Grounding.point`` then
    ``.candidates``, i.e. ``Reading.others``); unreadable, or N ≥ 3 points all on one line
    (the collinear penalty against scanning a row), → −1; else ``1 + acc`` with ``acc =
    1/√(N·k)`` when the first point inside the box has rank k, ``−1/N`` when none is. Range
    [−1, 2]. A refusal on a normal item counts as one wrong answer (0); on a refusal item a
    refusal is the best answer (2) and N points are N wrong ones."""
    def score(s: RewardSample) -> float:
        g = s.grounding()
        if g is None:
            return -1.0
        points = [] if g.point is None else [g.point, *g.candidates]
        n = len(points)
        if n >= 3 and _collinear(points, collinear_tolerance):
            return -1.0
        if s.box is None:
            return 2.0 if n == 0 else 1.0 - 1.0 / n
        rank = next((i + 1 for i, p in enumerate(points) if s.box.contains(p)), None)
        if rank is None:
            return 1.0 - 1.0 / max(n, 1)
        return 1.0 + 1.0 / math.sqrt(n * rank)
    return _per_sample("multi_answer", score)


def box_iou(a: Box, b: Box) -> float:
    inter = Box(x1=max(a.x1, b.x1), y1=max(a.y1, b.y1), x2=min(a.x2, b.x2), y2=min(a.y2, b.y2))
    overlap = inter.area if inter.width > 0 and inter.height > 0 else 0.0
    union = a.area + b.area - overlap
    return overlap / union if union > 0 else 0.0


def iou(point_answers: float = 0.0) -> RewardFn:
    """Intersection over union of the predicted box and the target (GUI-G1's IoU term,
    Yuqi-Zhou/GUI-G1 src/open-r1-multimodal/src/open_r1/grpo_rec.py, weighted 0.25 there: set
    the weight in ``combine``). For profiles whose answers carry a box (os-atlas, a bare
    ``[x1,y1,x2,y2]``); a point-only answer scores ``point_answers`` (default 0)."""
    def score(s: RewardSample) -> float:
        g, settled = _settled(s, 1.0)
        if g is None:
            return settled
        assert s.box is not None
        return point_answers if g.box is None else box_iou(g.box, s.box)
    return _per_sample("iou", score)


REWARDS: dict[str, Callable[..., RewardFn]] = {
    "format": format_reward,
    "point_in_box": point_in_box,
    "gaussian": gaussian,
    "gaussian_coverage": gaussian_coverage,
    "distance_hit": distance_hit,
    "multi_answer": multi_answer,
    "iou": iou,
}


def _convert(name: str, key: str, raw: str, default: Any) -> Any:
    """An option's text → the type of its default (no eval: a fixed set of conversions)."""
    text = raw.strip()
    try:
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
    except ValueError:
        kind = type(default).__name__
        raise CuaError(f"reward {name!r}: option {key}={raw!r} is not a valid {kind}") from None
    return text


def make_reward(spec: str) -> RewardFn:
    """``"gaussian"`` or ``"gaussian:sigma_scale=0.25"`` → the reward function. An unknown name
    or option raises CuaError naming it and listing the known ones."""
    name, _, options = spec.strip().partition(":")
    name = name.strip()
    factory = REWARDS.get(name)
    if factory is None:
        raise CuaError(f"unknown reward {name!r}; known: {', '.join(REWARDS)}")
    params = {p.name: p.default for p in inspect.signature(factory).parameters.values()}
    kwargs: dict[str, Any] = {}
    for item in filter(None, (o.strip() for o in options.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if key not in params:
            known = ", ".join(params) or "none"
            raise CuaError(f"reward {name!r} has no option {key!r}; known options: {known}")
        if not eq:
            raise CuaError(f"reward {name!r}: option {key!r} needs a value ({key}=...)")
        kwargs[key] = _convert(name, key, raw, params[key])
    return factory(**kwargs)


def combine(weighted: Sequence[tuple[RewardFn, float]]) -> RewardFn:
    """The weighted sum of several rewards, computed sample by sample."""
    if not weighted:
        raise CuaError("combine needs at least one (reward, weight) pair")
    for fn, weight in weighted:
        if not math.isfinite(weight):
            raise CuaError(f"reward {getattr(fn, '__name__', fn)!r} has a non-finite weight {weight}")

    def combined(samples: Sequence[RewardSample]) -> list[float]:
        total = [0.0] * len(samples)
        for fn, weight in weighted:
            scores = fn(samples)
            if len(scores) != len(samples):
                raise CuaError(f"reward {getattr(fn, '__name__', fn)!r} returned {len(scores)} scores "
                               f"for {len(samples)} samples")
            total = [t + weight * v for t, v in zip(total, scores)]
        return total
    name = "+".join(f"{w:g}*{getattr(fn, '__name__', 'reward')}" for fn, w in weighted)
    return _named(name, combined)
