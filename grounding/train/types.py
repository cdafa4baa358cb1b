"""What the trainers and the reward functions exchange.

A reward function scores a batch of completions (a GRPO group or several) and returns one
float per completion. It sees the text exactly as generated and parses it exactly as the
runtime does (``Profile.parse`` on the prefill plus the completion), so a trained model is
rewarded for what the runtime will read, not for what a looser parser would accept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cua.core import ActionParseError, Box, Grounding, ModelSpace

from grounding.profiles import Profile


@dataclass(frozen=True)
class RewardSample:
    completion: str  # the generated continuation (the profile's prefill is not part of it)
    profile: Profile
    space: ModelSpace  # the model's coordinate space for this image
    image_size: tuple[int, int]  # (width, height) of the screenshot, pixels
    box: Box | None  # the target in screenshot pixels; None: the right answer is a refusal
    meta: Mapping[str, Any] = field(default_factory=dict)  # row extras (task id, step) for env rewards

    @property
    def text(self) -> str:
        """The reply as the runtime reads it."""
        return self.profile.prefill + self.completion

    def grounding(self) -> Grounding | None:
        """The runtime's reading of the reply; None when it does not parse."""
        try:
            return self.profile.parse(self.text, self.space, self.image_size)
        except ActionParseError:
            return None


RewardFn = Callable[[Sequence[RewardSample]], list[float]]
