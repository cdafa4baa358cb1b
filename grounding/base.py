"""The Grounder protocol: an instruction and a screenshot in, a point (or a refusal) out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from PIL import Image

from cua.core import Grounding, ModelSpace, Observation
from cua.core.registry import Registry


@runtime_checkable
class Grounder(Protocol):
    name: str

    def ground(
        self, image: Image.Image, instruction: str, observation: Observation | None = None
    ) -> Grounding:
        """Locate ``instruction``'s target on ``image``; ``observation`` gives grounders that
        can use them the page's accessible elements. ``point is None`` means a refusal."""
        ...


def ground_batch(
    grounder: Grounder, items: list[tuple[Image.Image, str]]
) -> list[Grounding]:
    """Batched form: grounders with a native batch path define ``ground_batch`` themselves."""
    native = getattr(grounder, "ground_batch", None)
    if callable(native):
        return native(items)
    return [grounder.ground(img, instr) for img, instr in items]


GROUNDERS: Registry[Grounder] = Registry("grounder")


@GROUNDERS.register("none")
class NoGrounder:
    """Refuses everything: for planners that propose grounded actions themselves (the synthetic
    engine's reference plan), so a described target is a mistake that shows in the record."""

    name = "none"

    def ground(self, image: Image.Image, instruction: str, observation: Observation | None = None) -> Grounding:
        return Grounding(point=None, raw_text="no grounder in this stack", model_space=ModelSpace.screenshot(*image.size))
