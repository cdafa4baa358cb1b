"""Async façade for any sync Env, so asyncio agents can drive Playwright-backed envs.

Playwright's sync API refuses to run inside an asyncio loop and is bound to the thread that
started it, so every call runs on ONE dedicated worker thread (created with the wrapper, kept
until ``close``); the event loop only awaits it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from cua.core import Action, EnvError, Observation
from envs.base import Env, StepResult, Task

T = TypeVar("T")


class AsyncEnv:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.name = env.name
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"env-{env.name}")
        self._closed = False

    async def reset(self, task: Task) -> Observation:
        return await self.call(self.env.reset, task)

    async def step(self, action: Action) -> StepResult:
        return await self.call(self.env.step, action)

    async def evaluate(self) -> float:
        return await self.call(self.env.evaluate)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run any method of the wrapped env (``restart``, ``observe`` ...) on its thread."""
        if self._closed:
            raise EnvError(f"AsyncEnv({self.name}) is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        if self._closed:
            return
        try:
            await self.call(self.env.close)
        finally:
            self._closed = True
            self._worker.shutdown(wait=True)

    async def __aenter__(self) -> "AsyncEnv":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
