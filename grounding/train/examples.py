"""SFT examples encoded on demand: what persists across a run is the row list (paths or dataset
indices) and, with ``max_length``, one token count per row seen; an example's pixels live only
while its micro-batch does.

Re-encoding a row each epoch costs its image decode and resize again; holding every encoded
example instead costs tens of MB per 1080p row, which a large dataset cannot afford.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from cua.core import CuaError
from grounding.backends.local import LocalChatModel
from grounding.profiles import Profile
from grounding.train.batches import Example, encode_example, example_length
from grounding.train.data import Row


class SFTExamples:
    """Rows → examples for one process. ``skipped`` gains ``longer_than_max_length`` once per
    row found longer than ``max_length`` (measured from its text and image size, no decoding)."""

    def __init__(self, chat: LocalChatModel, profile: Profile, rows: Sequence[Row], max_length: int | None,
                 skipped: Counter[str]) -> None:
        self.chat, self.profile, self.rows = chat, profile, rows
        self.max_length, self.skipped = max_length, skipped
        self.lengths: dict[int, int] = {}  # row index → token count (only with max_length)
        self._stand_in: int | None = None

    def fits(self, i: int) -> bool:
        if self.max_length is None:
            return True
        if i not in self.lengths:
            self.lengths[i] = example_length(self.chat, self.profile, self.rows[i])
            if self.lengths[i] > self.max_length:
                self.skipped["longer_than_max_length"] += 1
        return self.lengths[i] <= self.max_length

    def encode(self, i: int) -> Example:
        ex = encode_example(self.chat, self.profile, self.rows[i])
        if i in self.lengths and ex.length != self.lengths[i]:  # the filter must judge what trains
            raise CuaError(f"row {i}: {ex.length} tokens encoded but {self.lengths[i]} counted from its text "
                           f"and image size: profile {self.profile.name} and this processor disagree")
        return ex

    def micro_batch(self, ids: Sequence[int]) -> list[Example]:
        """The rows of ``ids`` that fit, encoded now (in order)."""
        return [self.encode(i) for i in ids if self.fits(i)]

    def stand_in(self) -> Example:
        """A row that fits, for a micro-batch whose rows were all skipped (longer than
        ``max_length``): it still runs forward and backward with its loss times 0, so every
        process makes the same backward passes (DDP's all-reduce) and accelerate's accumulation
        counter stays in phase with the optimizer steps. Its index is kept, not its pixels."""
        if self._stand_in is None:
            self._stand_in = next((i for i in range(len(self.rows)) if self.fits(i)), None)
            if self._stand_in is None:
                raise CuaError(f"every training row is longer than max_length {self.max_length}")
        return self.encode(self._stand_in)
