"""Critics: review a proposed action before it runs.

Importing this package registers every critic by name (model libraries load on first use):
``approve-all``/``none``, ``cpu``, ``rules`` and ``vlm``.
"""

from critic import cpu as _cpu  # noqa: F401  (registers "cpu" and "rules")
from critic import vlm as _vlm  # noqa: F401  ("vlm")
