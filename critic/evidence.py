"""The visual evidence a critic judges from: the screenshot with the exact execution point
marked (a crosshair and a translucent circle, as GUI-Critic-R1's inputs mark "the interaction
area with a translucent red circle or red arrow"; drags and scrolls as arrows) and a zoomed
crop around it, so a near miss of a few pixels is visible at a model's input resolution."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image, ImageDraw

from cua.core import Action, Point

MARK = (255, 0, 0)
CIRCLE_ALPHA = 80
ZOOM_OUT = 320  # side of the zoomed crop as shown, in pixels


@dataclass(frozen=True)
class Evidence:
    marked: Image.Image  # the whole screenshot, marked
    zoom: Image.Image | None  # the crop around the (first) point, enlarged and marked
    crop_box: tuple[int, int, int, int] | None  # where the crop lies on the screenshot

    def panel(self) -> Image.Image:
        """Marked screenshot with the zoom beside it: the image saved in the trajectory."""
        if self.zoom is None:
            return self.marked
        w, h = self.marked.size
        out = Image.new("RGB", (w + self.zoom.width + 8, max(h, self.zoom.height)), (255, 255, 255))
        out.paste(self.marked, (0, 0))
        out.paste(self.zoom, (w + 8, 0))
        return out


def radius(size: tuple[int, int]) -> float:
    """Circle radius: about a finger's width on the screen, whatever its resolution."""
    return max(8.0, 0.02 * min(size))


def mark(image: Image.Image, action: Action, scale: float = 1.0) -> Image.Image:
    """A copy of ``image`` with ``action``'s points marked; ``scale`` maps screenshot pixels
    onto ``image`` (for marking a resized copy)."""
    out = image.convert("RGB")
    points = [Point(x=p.x * scale, y=p.y * scale) for p in action.points()]
    if not points:
        return out
    r = radius(out.size)
    overlay = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    p = points[0]
    draw.ellipse((p.x - r, p.y - r, p.x + r, p.y + r), fill=(*MARK, CIRCLE_ALPHA), outline=(*MARK, 255),
                 width=max(1, round(r / 8)))
    out = Image.alpha_composite(out.convert("RGBA"), overlay).convert("RGB")
    draw = ImageDraw.Draw(out)
    line = max(1, round(r / 10))
    for q in points[:1]:  # crosshair through the exact point, with a gap so the pixel stays visible
        gap, arm = max(2.0, r / 4), 1.6 * r
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            draw.line((q.x + dx * gap, q.y + dy * gap, q.x + dx * arm, q.y + dy * arm), fill=MARK, width=line)
    if action.type == "drag" and len(points) == 2:
        _arrow(draw, points[0], points[1], line + 1, r)
    elif action.type == "scroll":
        d = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}[action.direction]
        _arrow(draw, p, Point(x=p.x + d[0] * 3 * r, y=p.y + d[1] * 3 * r), line + 1, r)
    return out


def _arrow(draw: ImageDraw.ImageDraw, a: Point, b: Point, width: int, r: float) -> None:
    draw.line((a.x, a.y, b.x, b.y), fill=MARK, width=width)
    angle = math.atan2(b.y - a.y, b.x - a.x)
    head = max(6.0, 0.8 * r)
    left = (b.x - head * math.cos(angle - 0.45), b.y - head * math.sin(angle - 0.45))
    right = (b.x - head * math.cos(angle + 0.45), b.y - head * math.sin(angle + 0.45))
    draw.polygon([(b.x, b.y), left, right], fill=MARK)


def crop_box(size: tuple[int, int], point: Point, share: float = 0.25, min_side: int = 96) -> tuple[int, int, int, int]:
    """A square window around ``point`` (``share`` of the shorter side), kept on the image."""
    w, h = size
    side = min(max(min_side, round(share * min(w, h))), w, h)
    x1 = min(max(0, round(point.x - side / 2)), w - side)
    y1 = min(max(0, round(point.y - side / 2)), h - side)
    return x1, y1, x1 + side, y1 + side


def render(image: Image.Image, action: Action, zoom_share: float = 0.25) -> Evidence:
    """The marked screenshot and, for actions with a point inside it, the enlarged crop."""
    marked = mark(image, action)
    points = action.points()
    w, h = image.size
    if not points or not (0 <= points[0].x < w and 0 <= points[0].y < h):
        return Evidence(marked, None, None)
    box = crop_box(image.size, points[0], zoom_share)
    crop = image.convert("RGB").crop(box)
    scale = ZOOM_OUT / crop.width
    enlarged = crop.resize((ZOOM_OUT, round(crop.height * scale)), Image.Resampling.LANCZOS)
    shifted = action.model_copy(update=_shift(action, -box[0], -box[1]))
    return Evidence(marked, mark(enlarged, shifted, scale), box)


def _shift(action: Action, dx: float, dy: float) -> dict[str, float]:
    update = {}
    for x, y in (("x", "y"), ("to_x", "to_y")):
        if getattr(action, x, None) is not None:
            update[x], update[y] = getattr(action, x) + dx, getattr(action, y) + dy
    return update
