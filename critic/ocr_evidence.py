"""OCR evidence: read the text around the proposed point and compare it with the intent's
target; when it is not there, look for the target on the whole screen and suggest it.

The crop is read by its own RapidOCR engine that never enlarges its input (the grounding
reader scales every image up to a 736-pixel short side, which costs as much for a 160x60 crop
as for the whole screen); the whole screen goes through ``grounding.ocr``'s shared, cached
reader, so a screenshot the OCR grounder already read costs nothing here. Matching (spans of
words, synonyms, ordinals, the task's own instruction skipped) is the OCR grounder's."""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

import numpy as np
from PIL import Image

from critic.base import OFF_TARGET, WRONG_ELEMENT, ReviewContext
from critic.history import EDITABLE_ROLES
from critic.rules import POINTER_ACTIONS, Finding, blank_at, distance, near_px
from cua.core import Box, Grounding, Point
from grounding.ocr import READER, Line, OCRGrounder, TextReader
from grounding.targets import TargetQuery, normalize_text

_TOKEN = re.compile(r"[\w#]+")
CROP_SIDE = 960  # the crop engine's largest side; crops (enlarged) stay below it: never resized
CROP_UPSCALE = 2


_ENGINE_LOCK = threading.Lock()


@functools.cache
def _load_crop_engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(print_verbose=False, det_limit_type="max", det_limit_side_len=CROP_SIDE)


def _crop_engine() -> Any:
    with _ENGINE_LOCK:  # loaded once, also when a warm-up thread is still at it
        return _load_crop_engine()


class CropReader(TextReader):
    """TextReader for small crops, read at twice their size (RapidOCR's recogniser drops the
    spaces between small words at screen size; on a crop that costs little). No cache:
    every crop differs."""

    _lock = threading.Lock()

    def read(self, image: Image.Image) -> tuple[Line, ...]:
        image = image.convert("RGB")
        big = image.resize((image.width * CROP_UPSCALE, image.height * CROP_UPSCALE), Image.Resampling.BICUBIC)
        with self._lock:  # onnxruntime sessions are shared; one crop at a time
            result, _ = _crop_engine()(np.asarray(big), use_cls=False)
        return tuple(line for item in result or () if (line := _line(item, 1 / CROP_UPSCALE)).words)


def _line(item: list[Any], scale: float) -> Line:
    """``[quad, text, score]`` → a Line (``scale`` maps it back onto the crop), each character
    given its share of the width."""
    quad, text, conf = item[0], str(item[1]), float(item[2])
    xs_, ys_ = [p[0] * scale for p in quad], [p[1] * scale for p in quad]
    box = Box(x1=min(xs_), y1=min(ys_), x2=max(xs_), y2=max(ys_))
    step = box.width / max(len(text), 1)
    xs = tuple((box.x1 + i * step, box.x1 + (i + 1) * step) for i in range(len(text)))
    words = tuple((m.start(), m.end()) for m in _TOKEN.finditer(text) if normalize_text(m.group()))
    return Line(text=text, box=box, confidence=conf, xs=xs, words=words)


def crop_window(size: tuple[int, int], p: Point) -> tuple[int, int, int, int]:
    """About a button's worth of screen around ``p``: wide enough for a label, a line or two high."""
    w, h = size
    hw, hh = min(max(48, 0.12 * w), 240), min(max(24, 0.06 * h), 80)
    return (max(0, round(p.x - hw)), max(0, round(p.y - hh)), min(w, round(p.x + hw)), min(h, round(p.y + hh)))


def on_text(p: Point, box: Box) -> bool:
    """Whether ``p`` is on the text in ``box`` or in the padding a control puts around it."""
    pad_x, pad_y = max(8.0, 0.8 * box.height), max(6.0, 0.6 * box.height)
    return box.x1 - pad_x <= p.x <= box.x2 + pad_x and box.y1 - pad_y <= p.y <= box.y2 + pad_y


def same_region(image: Image.Image, p: Point, box: Box, tolerance: float = 20.0) -> bool:
    """Whether the straight way from ``p`` to the text crosses no edge (a border, another
    control): then the point is inside the same control as the text."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    tx = min(max(p.x, box.x1), box.x2)
    ty = min(max(p.y, box.y1), box.y2)
    n = max(2, int(max(abs(tx - p.x), abs(ty - p.y))))
    xs = np.clip(np.linspace(p.x, tx, n).round().astype(int), 0, image.width - 1)
    ys = np.clip(np.linspace(p.y, ty, n).round().astype(int), 0, image.height - 1)
    values = grey[ys, xs][: max(1, n - 3)]  # stop short of the glyphs themselves
    return float(np.abs(values - values[0]).max()) < tolerance


def control_before(image: Image.Image, p: Point, box: Box, near: float) -> bool:
    """Whether ``p`` is on something drawn just left of the text, on its line: the box or
    circle of a checkbox or radio button whose label the text is."""
    return box.x1 - 2 * near <= p.x < box.x1 and abs(p.y - (box.y1 + box.y2) / 2) <= 0.75 * box.height \
        and not blank_at(image, p, half=max(6, round(0.6 * box.height)))  # the box's inside is blank


class OCREvidence:
    """``threshold``: the lowest OCR match score that counts as the target's text."""

    def __init__(self, threshold: float = 0.7, reader: TextReader | None = None) -> None:
        self.crop_grounder = OCRGrounder(threshold=threshold, reader=CropReader())
        self.screen_grounder = OCRGrounder(threshold=threshold, reader=reader or READER)
        self.crops = self.screens = 0  # OCR passes made (for the bench)
        # Loading the models takes seconds on a busy machine: not inside the first timed step.
        threading.Thread(target=_crop_engine, name="critic-ocr-warmup", daemon=True).start()

    def check(self, ctx: ReviewContext, screen: bool = True) -> Finding | None:
        """``screen=False``: the crop only (a fraction of a second): None unless it confirms."""
        if ctx.intent is None or ctx.action.type not in POINTER_ACTIONS:
            return None
        q = TargetQuery.parse(ctx.intent.target)
        if not q.text or (q.roles and set(q.roles) <= EDITABLE_ROLES):
            return None  # nothing to read, or a field: its label sits beside it, not on it
        image, p = ctx.observation.screenshot, ctx.action.points()[0]
        window = crop_window(image.size, p)
        self.crops += 1
        local = self.crop_grounder.ground(image.crop(window), ctx.intent.target, ctx.observation)
        found = _shifted(local, window[0], window[1])
        if found is None or not self._at(image, p, found):
            if not screen:
                return None
            self.screens += 1
            whole = self.screen_grounder.ground(image, ctx.intent.target, ctx.observation)
            found = whole if whole.point is not None else found
        if found is None or found.box is None:
            return Finding("ocr", None, f"OCR finds no {q.text!r} on screen")
        text = repr(q.exact or q.text)
        if self._at(image, p, found):
            return Finding("ocr", True, f"OCR reads {text} at the point", confidence=0.8)
        gap = distance(p, found.box)
        # Measured from the text, not the control around it: a line's height of padding more.
        kind = OFF_TARGET if gap <= near_px(image.size) + found.box.height else WRONG_ELEMENT
        what = "near miss: " if kind == OFF_TARGET else "the point is not on the target: "
        return Finding("ocr", False, f"{what}OCR reads {text} at ({found.point.x:.0f}, {found.point.y:.0f}), "
                       f"{gap:.0f} px away", kind, min(0.9, 0.5 + 0.4 * (found.score or 0.0)), found.point)

    @staticmethod
    def _at(image: Image.Image, p: Point, g: Grounding) -> bool:
        if g.box is None:
            return False
        near = near_px(image.size)
        return on_text(p, g.box) or (distance(p, g.box) <= near and same_region(image, p, g.box)) or \
            control_before(image, p, g.box, near)


def _shifted(g: Grounding, dx: float, dy: float) -> Grounding | None:
    if g.point is None or g.box is None:
        return None
    box = Box(x1=g.box.x1 + dx, y1=g.box.y1 + dy, x2=g.box.x2 + dx, y2=g.box.y2 + dy)
    return g.model_copy(update={"point": box.center, "box": box})
