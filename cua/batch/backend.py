"""What the scheduler needs from a backend (local worker processes or Ray actors).

Each backend has ``workers`` slots; a slot holds one worker (one env) and at most one episode.
A dead worker is replaced in the same slot by the backend itself and reported as ``Died``
with the episode it held, so the scheduler can retry that episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cua.batch.jobs import Job


@dataclass(frozen=True)
class Started:
    """The worker began the episode (its stack is built): the episode's clock starts here, so
    a worker's start-up (imports, model weights) never counts against the episode timeout."""

    slot: int


@dataclass(frozen=True)
class Finished:
    slot: int
    job: Job
    result_json: str  # the EpisodeResult the worker also wrote to the episode folder


@dataclass(frozen=True)
class Died:
    slot: int
    job: Job | None  # the episode it held, if any
    reason: str


@dataclass(frozen=True)
class Fatal:
    """Nothing can run (SetupError, a stack that cannot be built): the run stops."""

    slot: int
    message: str


Event = Started | Finished | Died | Fatal

# A slot whose fresh worker dies this many times in a row without holding an episode is broken
# (an import that crashes the interpreter, no memory): stop instead of respawning forever.
MAX_IDLE_DEATHS = 3


class Backend(Protocol):
    name: str
    workers: int

    def idle_slots(self) -> list[int]: ...

    def assign(self, slot: int, job: Job, attempt: int) -> None: ...

    def poll(self, timeout: float) -> list[Event]: ...

    def kill(self, slot: int, reason: str) -> None:
        """Stops the worker in ``slot`` now (episode timeout); a ``Died`` event follows."""

    def pids(self) -> dict[int, int]:
        """slot → process id of its worker (where known)."""

    def close(self) -> None: ...
