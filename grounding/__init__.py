"""Grounders turn "click the Save button" into a point on a screenshot."""

from grounding.base import GROUNDERS, Grounder, ground_batch
from grounding import a11y as _a11y  # noqa: F401  (registers "a11y")

__all__ = ["GROUNDERS", "Grounder", "ground_batch"]
