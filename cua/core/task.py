"""A task an agent is asked to do (environments reset to it; planners and critics read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Task:
    """``id`` is ``suite/name`` (e.g. ``miniwob/click-button``)."""

    id: str
    instruction: str | None = None
    seed: int | None = None
    start_url: str | None = None
    max_steps: int = 15
    time_limit_s: float | None = None
    reference_plan: list[str] | None = None  # natural-language steps, for the instruction-list planner
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def suite(self) -> str:
        return self.id.split("/", 1)[0] if "/" in self.id else ""

    @property
    def name(self) -> str:
        return self.id.split("/", 1)[-1]
