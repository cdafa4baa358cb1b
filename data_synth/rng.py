"""Seeded randomness that is the same in every process and on every run.

Python's ``hash()`` of a string changes per process, so streams are derived with SHA-256 of
the seed and a label path: ``Rand(42, "shop", "catalog")`` is one fixed stream, independent of
how much any other stream was drawn from.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def stable_int(*parts: object, bits: int = 64) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[: bits // 8], "big")


def stable_fraction(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts`` (splits, sampling without a stream)."""
    return stable_int(*parts, bits=64) / 2**64


class Rand:
    def __init__(self, seed: int, *labels: object) -> None:
        self.seed = seed
        self.labels = labels
        self._r = random.Random(stable_int(seed, *labels))

    def child(self, *labels: object) -> Rand:
        return Rand(self.seed, *self.labels, *labels)

    def choice(self, items: Sequence[T]) -> T:
        return items[self._r.randrange(len(items))]

    def sample(self, items: Sequence[T], k: int) -> list[T]:
        return self._r.sample(list(items), k)

    def shuffled(self, items: Sequence[T]) -> list[T]:
        out = list(items)
        self._r.shuffle(out)
        return out

    def int(self, lo: int, hi: int) -> int:
        """Inclusive on both ends."""
        return self._r.randint(lo, hi)

    def chance(self, p: float) -> bool:
        return self._r.random() < p

    def weighted(self, items: Sequence[T], weights: Sequence[float]) -> T:
        return self._r.choices(list(items), weights=list(weights), k=1)[0]
