"""Shared by the tests in tests/ui: pixel probes and small records."""

from __future__ import annotations

from PIL import Image

from cua.core import Grounding, ModelSpace
from cua.core.geometry import Box, Point


def near(image: Image.Image, x: float, y: float, color, r: int = 3, tol: int = 40) -> bool:
    """Some pixel within ``r`` of (x, y) has ``color`` (each channel within ``tol``)."""
    px = image.load()
    for dx in range(-r, r + 1):
        for dy in range(-r, r + 1):
            xx, yy = int(x) + dx, int(y) + dy
            inside = 0 <= xx < image.width and 0 <= yy < image.height
            if inside and all(abs(a - b) <= tol for a, b in zip(px[xx, yy], color)):
                return True
    return False


def grounding(x: float, y: float, box: Box | None = None, crops=()) -> Grounding:
    return Grounding(point=Point(x=x, y=y), box=box, raw_text="button 'OK'",
                     model_space=ModelSpace.screenshot(660, 480), grounder="a11y", crops=list(crops))
