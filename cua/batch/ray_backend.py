"""Ray backend: one actor per slot, each with its own env, reused across episodes.

``address="local"`` starts a Ray on this machine with ``num_cpus=workers`` (for testing and
for one big machine); any other address connects to that cluster (``auto``, ``ray://host:10001``).
Actors write their episode folders themselves, so on a cluster the run folder must be on a
filesystem every node shares. A dead actor (node lost, OOM, killed for a timeout) is replaced.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cua.batch.backend import MAX_IDLE_DEATHS, Died, Event, Fatal, Finished, Started
from cua.batch.jobs import Job
from cua.batch.worker import WORKERS_DIR, EpisodeRunner, WorkerConfig
from cua.core import CuaError, SetupError

log = logging.getLogger(__name__)

KILL_WAIT_S = 30.0  # how long a kill may take before the slot's next actor starts anyway


def _process_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie not yet reaped by its raylet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:  # no /proc (not Linux): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


class EpisodeActor:
    """The actor's class (wrapped by ``ray.remote`` at runtime, so importing this needs no Ray)."""

    def __init__(self, config: WorkerConfig, slot: int) -> None:
        log_file = Path(config.run_dir) / WORKERS_DIR / f"ray-{slot}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(filename=log_file, level=logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.init_error: str | None = None
        self.runner: EpisodeRunner | None = None
        try:
            self.runner = EpisodeRunner(config, f"ray-{slot}")
        except Exception as e:  # noqa: BLE001 — reported as Fatal by the first run()
            self.init_error = f"worker {slot} could not build the stack: {type(e).__name__}: {e}"

    def run(self, task: str, seed: int, attempt: int) -> tuple[str, str]:
        if self.runner is None:
            return "fatal", self.init_error or "no runner"
        try:
            return "done", self.runner.run(task, seed, attempt).model_dump_json()
        except SetupError as e:
            return "fatal", str(e)

    def pid(self) -> int:
        return os.getpid()

    def where(self) -> tuple[str, int]:
        """(host name, process id): lets the driver see this actor's process end on its own host."""
        return socket.gethostname(), os.getpid()

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()


@dataclass
class _Slot:
    actor: Any
    ready_ref: Any  # resolves to (host, pid) once the actor is built (its stack too)
    ref: Any = None
    job: Job | None = None
    idle_deaths: int = 0
    ready: bool = False
    where: tuple[str, int] | None = None  # the actor's (host, pid), once ready


class RayBackend:
    name = "ray"

    def __init__(self, config: WorkerConfig, workers: int, address: str) -> None:
        try:
            import ray
        except ImportError:
            raise CuaError("--ray needs Ray: pip install 'cua-runtime[ray]'") from None
        if workers < 1:
            raise CuaError("--workers must be at least 1")
        self._ray = ray
        self.config, self.workers = config, workers
        self._owns_ray = False
        if not ray.is_initialized():
            if address == "local":
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False)
            self._owns_ray = True
        self._actor_cls = ray.remote(num_cpus=1, max_restarts=0)(EpisodeActor)
        self._pending_deaths: list[Event] = []
        self._slots = {slot: self._new_slot(slot) for slot in range(workers)}

    def _new_slot(self, slot: int, idle_deaths: int = 0) -> _Slot:
        actor = self._actor_cls.remote(self.config, slot)
        return _Slot(actor, actor.where.remote(), idle_deaths=idle_deaths)

    def idle_slots(self) -> list[int]:
        return [i for i, s in self._slots.items() if s.job is None]

    def assign(self, slot: int, job: Job, attempt: int) -> None:
        s = self._slots[slot]
        s.job = job
        s.ref = s.actor.run.remote(job.task, job.seed, attempt)
        if s.ready:
            self._pending_deaths.append(Started(slot))

    def pids(self) -> dict[int, int]:
        return {i: self._ray.get(s.actor.pid.remote(), timeout=30) for i, s in self._slots.items()}

    def _replace(self, slot: int, reason: str) -> None:
        s = self._slots[slot]
        self._pending_deaths.append(Died(slot, s.job, reason))
        idle_deaths = 0 if s.job is not None else s.idle_deaths + 1
        if idle_deaths >= MAX_IDLE_DEATHS:
            self._pending_deaths.append(Fatal(slot, f"actor {slot} died {idle_deaths} times in a row: {reason}"))
        try:
            self._ray.kill(s.actor, no_restart=True)
        except Exception:  # noqa: BLE001 — already gone
            pass
        self._wait_dead(s)
        self._slots[slot] = self._new_slot(slot, idle_deaths)

    def _wait_dead(self, s: _Slot) -> None:
        """``ray.kill`` returns before the actor stops, and until it has stopped it may still
        write into the episode folder that the retry is about to use. Its in-flight call
        failing says the kill went through; on this host its process being gone says it for
        sure. (On another node only the former can be seen.)"""
        deadline = time.monotonic() + KILL_WAIT_S
        if s.ref is not None:
            self._ray.wait([s.ref], timeout=KILL_WAIT_S)
        if s.where is None or s.where[0] != socket.gethostname():
            return
        while not _process_gone(s.where[1]):
            if time.monotonic() > deadline:
                log.warning("actor process %s still alive %.0f s after ray.kill", s.where[1], KILL_WAIT_S)
                return
            time.sleep(0.02)

    def kill(self, slot: int, reason: str) -> None:
        self._replace(slot, reason)

    def poll(self, timeout: float) -> list[Event]:
        events, self._pending_deaths = self._pending_deaths, []
        warming = {s.ready_ref: i for i, s in self._slots.items() if not s.ready}
        busy = {s.ref: i for i, s in self._slots.items() if s.ref is not None}
        if not busy and not warming:
            return events
        refs = [*busy, *warming]
        ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0 if events else timeout)
        for ref in ready:
            if ref in warming:
                s = self._slots[warming[ref]]
                s.ready = True  # a dead actor's ready_ref errors too: its run ref reports that
                try:
                    s.where = tuple(self._ray.get(ref))  # type: ignore[assignment]
                except self._ray.exceptions.RayError:
                    pass
                if s.job is not None:
                    events.append(Started(warming[ref]))
                continue
            slot = busy[ref]
            s = self._slots[slot]
            try:
                kind, payload = self._ray.get(ref)
            except self._ray.exceptions.RayError as e:  # the actor died during the episode
                self._replace(slot, f"actor {slot} died: {type(e).__name__}: {str(e).splitlines()[0]}")
                continue
            if kind == "fatal":
                events.append(Fatal(slot, payload))
            else:
                events.append(Finished(slot, s.job, payload))  # type: ignore[arg-type]
            s.ref, s.job, s.idle_deaths = None, None, 0
        events.extend(self._pending_deaths)
        self._pending_deaths = []
        return events

    def close(self) -> None:
        ray = self._ray
        for s in self._slots.values():
            try:
                ray.get(s.actor.close.remote(), timeout=30)
            except Exception:  # noqa: BLE001 — a dead actor has nothing to close
                pass
            try:
                ray.kill(s.actor, no_restart=True)
            except Exception:  # noqa: BLE001
                pass
        if self._owns_ray:
            ray.shutdown()
