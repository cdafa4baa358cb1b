"""The one module that converts between coordinate spaces.

Chain of one executed point:  model output text → model space → screenshot pixels →
screen / viewport pixels. Model spaces:

* ``abs_resized``: absolute pixels on the image the model saw after ``smart_resize``
  (Qwen2.5-VL, UI-TARS-1.5, Jedi, UI-Ins, GTA1 ...);
* ``rel_1000``: relative 0-1000 (Qwen3-VL grounding, UI-TARS v1, OS-Atlas, UGround);
* ``rel_999``: relative 0-999, what OSWorld's Qwen3-VL agent and EvoCUA map back with
  (``x * width / 999``, though their prompt names a 1000x1000 screen);
* ``rel_1``: relative 0-1;
* ``screenshot``: the screenshot's own pixels (CPU grounders, our JSON codec).

The screenshot → screen step divides by the device scale factor: a browser screenshot taken
at DPR 2 has twice the CSS pixels of the viewport.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cua.core.errors import CuaError
from cua.core.geometry import Point

SpaceKind = Literal["abs_resized", "rel_1000", "rel_999", "rel_1", "screenshot"]


def smart_resize(
    height: int,
    width: int,
    factor: int = 28,
    min_pixels: int = 56 * 56,
    max_pixels: int = 14 * 14 * 4 * 1280,
) -> tuple[int, int]:
    """Qwen-VL's resize rule, line for line qwen_vl_utils.smart_resize (the authors' reference;
    tests/core/test_coords.py checks it against the installed package on thousands of sizes):
    both sides multiples of ``factor``, area within [min_pixels, max_pixels], aspect ratio kept
    as closely as possible. The one difference: where the package floors a side of an extreme
    aspect ratio to 0, this keeps one grid cell. (The package itself is not imported here: it
    imports torch and torchvision at its top, and cua.core stays light.)"""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio over 200: {width}x{height}")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@dataclass(frozen=True)
class Resize:
    """A model's resize rule: sides multiples of ``factor`` (28 for Qwen2/2.5-VL and their
    fine-tunes, 32 for Qwen3-VL), area within [min_pixels, max_pixels]."""

    factor: int
    min_pixels: int
    max_pixels: int

    def size(self, width: int, height: int, who: str = "the model") -> tuple[int, int]:
        """(width, height) of the image ``who`` sees for a ``width`` x ``height`` screenshot."""
        try:
            h, w = smart_resize(height, width, self.factor, self.min_pixels, self.max_pixels)
        except ValueError as e:
            raise CuaError(f"{who}: cannot resize a {width}x{height} screenshot: {e}") from None
        return w, h


class ModelSpace(BaseModel):
    """A coordinate space a model speaks. ``width``/``height`` are the extent of that space:
    the resized image for ``abs_resized``, 1000 for ``rel_1000``, 999 for ``rel_999``, 1 for ``rel_1``, the
    screenshot for ``screenshot``."""

    model_config = ConfigDict(frozen=True)

    kind: SpaceKind
    width: float
    height: float

    @classmethod
    def screenshot(cls, width: int, height: int) -> "ModelSpace":
        return cls(kind="screenshot", width=width, height=height)

    @classmethod
    def rel_1000(cls) -> "ModelSpace":
        return cls(kind="rel_1000", width=1000, height=1000)

    @classmethod
    def rel_999(cls) -> "ModelSpace":
        return cls(kind="rel_999", width=999, height=999)

    @classmethod
    def rel_1(cls) -> "ModelSpace":
        return cls(kind="rel_1", width=1, height=1)

    @classmethod
    def abs_resized(
        cls, image_width: int, image_height: int, factor: int = 28,
        min_pixels: int = 56 * 56, max_pixels: int = 14 * 14 * 4 * 1280,
    ) -> "ModelSpace":
        h, w = smart_resize(image_height, image_width, factor, min_pixels, max_pixels)
        return cls(kind="abs_resized", width=w, height=h)

    @classmethod
    def of_kind(cls, kind: SpaceKind, resized_width: int, resized_height: int) -> "ModelSpace":
        """The space a model answers in: the resized image for ``abs_resized``, else the fixed grid."""
        if kind == "abs_resized":
            return cls(kind="abs_resized", width=resized_width, height=resized_height)
        if kind == "screenshot":
            return cls.screenshot(resized_width, resized_height)
        extent = {"rel_1000": 1000, "rel_999": 999, "rel_1": 1}[kind]
        return cls(kind=kind, width=extent, height=extent)

    def to_screenshot(self, p: Point, shot_width: int, shot_height: int) -> Point:
        return Point(x=p.x * shot_width / self.width, y=p.y * shot_height / self.height)

    def from_screenshot(self, p: Point, shot_width: int, shot_height: int) -> Point:
        return Point(x=p.x * self.width / shot_width, y=p.y * self.height / shot_height)


class CoordChain(BaseModel):
    """Everything needed to attribute a misclick: what the model said, what the parser read,
    where that lands on the screenshot, and where the executor put the pointer."""

    raw_text: str | None = None
    model_space: ModelSpace
    model_point: Point
    screenshot_point: Point
    screen_point: Point | None = None
    device_scale_factor: float = 1.0
    screenshot_size: tuple[int, int]

    @classmethod
    def from_model(
        cls, model_point: Point, space: ModelSpace, shot_size: tuple[int, int],
        raw_text: str | None = None,
    ) -> "CoordChain":
        return cls(
            raw_text=raw_text, model_space=space, model_point=model_point,
            screenshot_point=space.to_screenshot(model_point, *shot_size),
            screenshot_size=shot_size,
        )

    def executed(self, device_scale_factor: float) -> "CoordChain":
        """The chain completed with the screen point the executor used."""
        return self.model_copy(update={
            "device_scale_factor": device_scale_factor,
            "screen_point": screenshot_to_screen(self.screenshot_point, device_scale_factor),
        })


def to_model_space(action, space: ModelSpace, shot_size: tuple[int, int]):
    """The inverse of ``map_action``: an action in screenshot pixels with its points in
    ``space``, rounded as a model writes them (whole numbers; four decimals in 0-1)."""
    digits = 4 if space.kind == "rel_1" else 0

    def conv(x: float, y: float) -> tuple[float, float]:
        q = space.from_screenshot(Point(x=x, y=y), *shot_size)
        return round(q.x, digits), round(q.y, digits)

    update: dict[str, float] = {}
    for x, y in (("x", "y"), ("to_x", "to_y")):
        if getattr(action, x, None) is not None and getattr(action, y, None) is not None:
            update[x], update[y] = conv(getattr(action, x), getattr(action, y))
    return action.model_copy(update=update) if update else action


def screenshot_to_screen(p: Point, device_scale_factor: float) -> Point:
    return Point(x=p.x / device_scale_factor, y=p.y / device_scale_factor)


def screen_to_screenshot(p: Point, device_scale_factor: float) -> Point:
    return Point(x=p.x * device_scale_factor, y=p.y * device_scale_factor)


def map_action(action, space: ModelSpace, shot_size: tuple[int, int], raw_text: str | None = None):
    """Map every point of an action parsed in ``space`` to screenshot pixels.

    Returns the mapped action and one CoordChain per point (in the action's point order).
    """
    from cua.core.actions import Drag, Scroll

    points = action.points()
    if not points:
        return action, []
    chains = [CoordChain.from_model(p, space, shot_size, raw_text) for p in points]
    mapped = [c.screenshot_point for c in chains]
    if isinstance(action, Drag):
        update = {"x": mapped[0].x, "y": mapped[0].y, "to_x": mapped[1].x, "to_y": mapped[1].y}
    elif isinstance(action, Scroll) or hasattr(action, "x"):
        update = {"x": mapped[0].x, "y": mapped[0].y}
    return action.model_copy(update=update), chains
