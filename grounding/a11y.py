"""Accessibility-tree grounder: match the target description against the page's accessible
elements (names and roles) and return the centre of the best one. Needs no weights."""

from __future__ import annotations

import math
import time

from PIL import Image

from cua.core import Grounding, ModelSpace, Observation, UIElement
from grounding.base import GROUNDERS
from grounding.matching import name_score
from grounding.targets import TargetQuery, normalize_text

INTERACTIVE_ROLES = frozenset({
    "button", "link", "textbox", "searchbox", "combobox", "checkbox", "radio", "tab", "option",
    "menuitem", "listbox", "slider", "switch", "spinbutton", "treeitem",
})


def _reading_order(e: UIElement) -> tuple[float, float]:
    return (round(e.box.y1 / 8), e.box.x1)


class A11yGrounder:
    """``threshold``: the lowest match score that still counts; below it the grounder refuses."""

    name = "a11y"

    def __init__(self, threshold: float | str = 0.55) -> None:
        self.threshold = float(threshold)

    def ground(
        self, image: Image.Image, instruction: str, observation: Observation | None = None
    ) -> Grounding:
        start = time.perf_counter()
        query = TargetQuery.parse(instruction)
        elements = observation.elements if observation is not None else []
        best, score = self._best(query, elements)
        space = ModelSpace.screenshot(*image.size)
        point = best.box.center if best is not None else None
        return Grounding(
            point=point, box=best.box if best else None, score=score,
            raw_text=f"{best.role} {best.name!r}" if best else "no accessible element matched",
            model_space=space, model_point=point, latency_s=time.perf_counter() - start,
            grounder=self.name,
        )

    def _best(self, q: TargetQuery, elements: list[UIElement]) -> tuple[UIElement | None, float]:
        visible = [e for e in elements if e.box.area > 0]
        if not q.text:  # a role alone ("the textbox", "the 3rd input textbox")
            pool = sorted((e for e in visible if e.role.lower() in q.roles), key=_reading_order)
            found = _nth(pool, q.ordinal)
            return (found, 0.7) if found is not None else (None, 0.0)
        scored = sorted(
            ((self._score(q, e), e) for e in visible), key=lambda se: se[0], reverse=True
        )
        if not scored or scored[0][0] < self.threshold:
            return None, scored[0][0] if scored else 0.0
        top = scored[0][0]
        ties = [e for s, e in scored if s >= top - 0.05]
        if q.ordinal is not None:
            return _nth(sorted(ties, key=_reading_order), q.ordinal), top
        if q.roles and scored[0][1].role.lower() not in q.roles:
            # The best matches are labels: take the field that sits next to one of them
            # ("Username" right above its input beats the word in the instructions).
            fields = [e for e in visible if e.role.lower() in q.roles]
            pairs = [(d, f) for label in ties for d, f in [_nearest(label, fields)] if f is not None]
            if pairs:
                return min(pairs, key=lambda df: df[0])[1], top
        return scored[0][1], top

    @staticmethod
    def _score(q: TargetQuery, e: UIElement) -> float:
        name = normalize_text(e.name)
        s = max(name_score(alt, name) for alt in q.alternatives)
        if s == 0.0:
            return 0.0
        role = e.role.lower()
        if q.roles:
            s += 0.1 if role in q.roles else -0.1
        if role in INTERACTIVE_ROLES:  # a button beats the StaticText inside it
            s += 0.05
        if q.exact and e.name.strip() == q.exact:  # "Eget" over "eget" when written so
            s += 0.02
        return s


def _nth(pool: list[UIElement], ordinal: int | None) -> UIElement | None:
    if not pool:
        return None
    if ordinal is None:
        return pool[0]
    index = ordinal - 1 if ordinal > 0 else ordinal
    return pool[index] if -len(pool) <= index < len(pool) else None


def _nearest(
    label: UIElement, fields: list[UIElement], max_dist: float = 200.0
) -> tuple[float, UIElement | None]:
    """The field closest to a label, looking right of it and below it, with its distance."""
    def dist(f: UIElement) -> float:
        dx = max(0.0, f.box.x1 - label.box.x2, label.box.x1 - f.box.x2)
        dy = max(0.0, f.box.y1 - label.box.y2, label.box.y1 - f.box.y2)
        above_or_left = f.box.y2 < label.box.y1 or f.box.x2 < label.box.x1
        return math.hypot(dx, dy) + (100.0 if above_or_left else 0.0)

    if not fields:
        return math.inf, None
    best = min(fields, key=dist)
    d = dist(best)
    return (d, best) if d <= max_dist else (math.inf, None)


GROUNDERS.register("a11y")(A11yGrounder)
