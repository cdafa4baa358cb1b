"""Local backend: N worker processes (spawn), one env each, reused across episodes.

The parent sends one job at a time down each worker's pipe and waits on every pipe and every
process sentinel at once. A worker that dies (crash, OOM, SIGKILL, or killed by us because its
episode ran past the timeout) is replaced by a fresh process in the same slot. Workers die with
the parent (PR_SET_PDEATHSIG), and a dying worker takes its browser along: Playwright's driver
closes the browser when its pipe to the worker closes.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path

from cua.batch.backend import MAX_IDLE_DEATHS, Died, Event, Fatal, Finished, Started
from cua.batch.jobs import Job
from cua.batch.worker import WORKERS_DIR, EpisodeRunner, WorkerConfig
from cua.core import CuaError, SetupError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the daemon flag and the closed pipe still end the worker
        pass


def worker_main(conn: Connection, config: WorkerConfig, slot: int, parent_pid: int) -> None:
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    log_file = Path(config.run_dir) / WORKERS_DIR / f"{slot}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=log_file, level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        runner = EpisodeRunner(config, slot)
    except Exception as e:  # noqa: BLE001 — a stack that cannot be built stops the run, in one line
        conn.send(("fatal", f"worker {slot} could not build the stack: {type(e).__name__}: {e}"))
        return
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:  # the parent is gone
                break
            if message is None:
                break
            task, seed, attempt = message
            conn.send(("started", None))
            try:
                result = runner.run(task, seed, attempt)
            except SetupError as e:
                conn.send(("fatal", str(e)))
                break
            conn.send(("done", result.model_dump_json()))
    finally:
        runner.close()


@dataclass
class _Slot:
    process: BaseProcess
    conn: Connection
    job: Job | None = None
    kill_reason: str | None = None
    idle_deaths: int = 0


class LocalBackend:
    name = "local"

    def __init__(self, config: WorkerConfig, workers: int) -> None:
        if workers < 1:
            raise CuaError("--workers must be at least 1")
        self.config, self.workers = config, workers
        self._ctx = mp.get_context("spawn")  # no fork: a forked Playwright/asyncio state is unsafe
        self._slots: dict[int, _Slot] = {}
        for slot in range(workers):
            self._slots[slot] = self._spawn(slot)

    def _spawn(self, slot: int, idle_deaths: int = 0) -> _Slot:
        parent_conn, child_conn = self._ctx.Pipe()
        process = self._ctx.Process(target=worker_main, args=(child_conn, self.config, slot, os.getpid()),
                                    name=f"cua-worker-{slot}", daemon=True)
        process.start()
        child_conn.close()
        return _Slot(process, parent_conn, idle_deaths=idle_deaths)

    def idle_slots(self) -> list[int]:
        # A killed worker may still report "done" before its death shows: its slot stays busy
        # until _reap replaces it, or the next episode would be blamed for that death.
        return [i for i, s in self._slots.items() if s.job is None and s.kill_reason is None]

    def assign(self, slot: int, job: Job, attempt: int) -> None:
        s = self._slots[slot]
        s.job = job
        try:
            s.conn.send((job.task, job.seed, attempt))
        except (BrokenPipeError, OSError):
            pass  # the worker just died: its sentinel reports it with this job

    def pids(self) -> dict[int, int]:
        return {i: s.process.pid for i, s in self._slots.items() if s.process.pid is not None}

    def kill(self, slot: int, reason: str) -> None:
        s = self._slots[slot]
        s.kill_reason = reason
        if s.process.pid is not None and s.process.is_alive():
            os.kill(s.process.pid, signal.SIGKILL)

    def poll(self, timeout: float) -> list[Event]:
        by_conn = {s.conn: i for i, s in self._slots.items()}
        by_sentinel = {s.process.sentinel: i for i, s in self._slots.items()}
        ready = wait([*by_conn, *by_sentinel], timeout=timeout)
        events: list[Event] = []
        for obj in ready:  # messages first: a worker may have reported just before dying
            if obj in by_conn:
                events.extend(self._receive(by_conn[obj]))
        for obj in ready:
            if obj in by_sentinel:
                events.extend(self._reap(by_sentinel[obj]))
        return events

    def _receive(self, slot: int) -> list[Event]:
        s = self._slots[slot]
        events: list[Event] = []
        while True:
            try:
                if not s.conn.poll():
                    break
                kind, payload = s.conn.recv()
            except (EOFError, OSError):
                break
            if kind == "fatal":
                events.append(Fatal(slot, payload))
            elif kind == "started" and s.job is not None:
                events.append(Started(slot))
            elif kind == "done" and s.job is not None:
                events.append(Finished(slot, s.job, payload))
                s.job, s.idle_deaths = None, 0
        return events

    def _reap(self, slot: int) -> list[Event]:
        s = self._slots[slot]
        events = self._receive(slot)
        s.process.join(timeout=5)
        reason = s.kill_reason or f"worker {slot} (pid {s.process.pid}) died with exit code {s.process.exitcode}"
        events.append(Died(slot, s.job, reason))
        # a worker we killed (timeout) says nothing about whether fresh workers can start
        idle_deaths = 0 if s.job is not None or s.kill_reason else s.idle_deaths + 1
        s.conn.close()
        if idle_deaths >= MAX_IDLE_DEATHS:
            events.append(Fatal(slot, f"worker {slot} died {idle_deaths} times in a row before any episode: {reason}"))
        self._slots[slot] = self._spawn(slot, idle_deaths)
        return events

    def close(self) -> None:
        for s in self._slots.values():
            try:
                s.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for s in self._slots.values():
            s.process.join(timeout=15)
            if s.process.is_alive():
                s.process.kill()
                s.process.join(timeout=5)
            s.conn.close()
