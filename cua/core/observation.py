"""What an agent sees after each step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict

from cua.core.errors import InvalidObservationError
from cua.core.geometry import Box


class UIElement(BaseModel):
    """An accessible element on screen, its box in screenshot pixels."""

    model_config = ConfigDict(frozen=True)

    role: str
    name: str
    box: Box
    focused: bool = False
    editable: bool = False
    value: str | None = None


@dataclass
class Observation:
    screenshot: Image.Image
    url: str | None = None
    title: str | None = None
    accessibility: str | None = None  # ARIA snapshot / a11y tree as text
    elements: list[UIElement] = field(default_factory=list)
    device_scale_factor: float = 1.0
    instruction: str | None = None  # the task's goal, when the env knows it
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        w, h = self.screenshot.size
        if w <= 0 or h <= 0:
            raise InvalidObservationError(f"screenshot has zero size ({w}x{h})")

    @property
    def size(self) -> tuple[int, int]:
        return self.screenshot.size

    @property
    def width(self) -> int:
        return self.screenshot.size[0]

    @property
    def height(self) -> int:
        return self.screenshot.size[1]

    def focused_element(self) -> UIElement | None:
        return next((e for e in self.elements if e.focused), None)
