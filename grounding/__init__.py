"""Grounders turn "click the Save button" into a point on a screenshot.

Importing this package registers every grounder by name (heavy libraries load on first use).
"""

from grounding import a11y as _a11y  # noqa: F401  (registers "a11y")
from grounding import model_grounder as _model_grounder  # noqa: F401  ("model")
from grounding import ocr as _ocr  # noqa: F401  ("ocr")
from grounding import zoom as _zoom  # noqa: F401  ("zoom")
from grounding.base import GROUNDERS, Grounder, ground_batch

__all__ = ["GROUNDERS", "Grounder", "ground_batch"]
