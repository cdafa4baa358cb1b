"""Zoom refinement around any grounder (ScreenSpot-Pro-style high-resolution screens).

Ground on the whole screenshot, crop a window around the prediction, ground again on the
crop shown larger, map the point back; repeat ``depth`` times. Small targets on 4K screens
become large enough for the inner grounder to see. A refusal on a crop keeps the last point.
"""

from __future__ import annotations

import time

from PIL import Image

from cua.core import Box, Grounding, Observation, Point
from grounding.base import GROUNDERS, Grounder


def crop_window(center: Point, image_size: tuple[int, int], fraction: float) -> Box:
    """A window ``fraction`` of the image's size around ``center``, shifted to stay inside."""
    w, h = image_size
    cw, ch = max(1.0, w * fraction), max(1.0, h * fraction)
    x1 = min(max(center.x - cw / 2, 0.0), w - cw)
    y1 = min(max(center.y - ch / 2, 0.0), h - ch)
    return Box(x1=x1, y1=y1, x2=x1 + cw, y2=y1 + ch)


class ZoomGrounder:
    """``depth`` refinement passes; each crop is ``fraction`` of the previous window, shown
    at ``upscale`` × its pixel size (capped at ``max_side`` pixels on its longer side)."""

    def __init__(self, inner: Grounder, depth: int = 1, fraction: float = 0.5,
                 upscale: float = 2.0, max_side: int = 2560) -> None:
        if not 0 < fraction < 1:
            raise ValueError(f"zoom fraction must be in (0, 1), got {fraction}")
        self.inner, self.depth, self.fraction = inner, int(depth), float(fraction)
        self.upscale, self.max_side = float(upscale), int(max_side)
        self.name = f"zoom({inner.name})"

    def ground(self, image: Image.Image, instruction: str,
               observation: Observation | None = None) -> Grounding:
        start = time.perf_counter()
        first = self.inner.ground(image, instruction, observation)
        best, crops = first, []
        window = Box(x1=0, y1=0, x2=image.width, y2=image.height)
        for _ in range(self.depth):
            if best.point is None:
                break
            local = Point(x=best.point.x - window.x1, y=best.point.y - window.y1)
            sub = crop_window(local, (round(window.width), round(window.height)), self.fraction)
            window = Box(x1=window.x1 + sub.x1, y1=window.y1 + sub.y1,
                         x2=window.x1 + sub.x2, y2=window.y1 + sub.y2)
            crops.append(window)
            refined = self._ground_crop(image, window, instruction)
            if refined is None:
                break
            best = refined
        return best.model_copy(update={
            "crops": crops, "latency_s": time.perf_counter() - start, "grounder": self.name,
            "raw_text": best.raw_text if best is first else f"{first.raw_text}\n→ {best.raw_text}"})

    def _ground_crop(self, image: Image.Image, window: Box, instruction: str) -> Grounding | None:
        crop = image.crop((round(window.x1), round(window.y1), round(window.x2), round(window.y2)))
        scale = min(self.upscale, self.max_side / max(crop.size))
        shown = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
                            Image.Resampling.LANCZOS) if scale != 1 else crop
        g = self.inner.ground(shown, instruction, None)  # crop coordinates: no page elements
        if g.point is None:
            return None
        sx, sy = crop.width / shown.width, crop.height / shown.height
        to_shot = lambda p: Point(x=window.x1 + p.x * sx, y=window.y1 + p.y * sy)  # noqa: E731
        box = None
        if g.box is not None:
            a, b = to_shot(Point(x=g.box.x1, y=g.box.y1)), to_shot(Point(x=g.box.x2, y=g.box.y2))
            box = Box(x1=a.x, y1=a.y, x2=b.x, y2=b.y)
        return g.model_copy(update={"point": to_shot(g.point), "box": box})


@GROUNDERS.register("zoom")
def _make_zoom(inner: str = "ocr", depth: str = "1", fraction: str = "0.5",
               upscale: str = "2.0") -> ZoomGrounder:
    """``--grounder zoom:inner=ocr,depth=2`` (the inner grounder by name, without arguments)."""
    return ZoomGrounder(GROUNDERS.make(inner), int(depth), float(fraction), float(upscale))
