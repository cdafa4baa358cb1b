"""Points and boxes in screenshot pixels, the one coordinate system of the core."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Point(BaseModel):
    model_config = ConfigDict(frozen=True)

    x: float
    y: float

    def as_tuple(self) -> tuple[float, float]:
        return (self.x, self.y)

    def rounded(self) -> tuple[int, int]:
        return (round(self.x), round(self.y))


class Box(BaseModel):
    """Axis-aligned box, corners (x1, y1) top-left and (x2, y2) bottom-right."""

    model_config = ConfigDict(frozen=True)

    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> "Box":
        return cls(x1=x, y1=y, x2=x + w, y2=y + h)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def center(self) -> Point:
        return Point(x=(self.x1 + self.x2) / 2, y=(self.y1 + self.y2) / 2)

    def contains(self, p: Point) -> bool:
        return self.x1 <= p.x <= self.x2 and self.y1 <= p.y <= self.y2

    def scaled(self, sx: float, sy: float) -> "Box":
        return Box(x1=self.x1 * sx, y1=self.y1 * sy, x2=self.x2 * sx, y2=self.y2 * sy)
