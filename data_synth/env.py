"""``SyntheticEnv``: a BrowserEnv that serves the generated app and resets to a task id.

``reset(Task(id="synthetic/shop-cart-easy-0042"))`` regenerates the task from its id (or
takes the ``SynthTask`` in ``task.config["synth"]``), serves its page on this env's own
loopback server, opens it at the task's viewport and device scale factor, and waits until
the app is ready and its DOM is still. ``evaluate()`` is the task's validator over
``window.__app.state``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from PIL import Image

from cua.core import Observation, Task, TaskNotFoundError
from data_synth.page import render_html, wait_stable
from data_synth.server import AppServer
from data_synth.spec import SUITE, Level, SynthTask
from data_synth.templates import generate
from data_synth.templates import task_names as _task_names
from envs.browser import BrowserConfig, BrowserEnv

Observing = Literal["full", "screenshot", "none"]


def task_names(level: Level | None = None) -> list[str]:
    """The suite ``synthetic-<level>``'s task names (``auth-login-easy`` ...); None: every level."""
    return _task_names(level)


def make_task(name: str, seed: int | None = None) -> Task:
    """A ``Task`` for ``name`` (``shop-cart-easy``, or a full name ``shop-cart-easy-0042``)
    and ``seed`` (which wins over a seed in the name), carrying its SynthTask, its validator
    (``config["validator"]``) and its plan as the instruction list."""
    synth = generate(name, seed)
    return task_from_synth(synth)


def task_from_synth(synth: SynthTask) -> Task:
    return Task(
        id=synth.id, instruction=synth.instruction, seed=synth.seed,
        max_steps=max(15, 3 * len(synth.plan) + 5), reference_plan=synth.step_instructions(),
        config={"synth": synth, "validator": synth.validator, "level": synth.level},
    )


class SyntheticEnv(BrowserEnv):
    name = "synthetic"

    def __init__(self, config: BrowserConfig | None = None, stable_timeout_s: float = 5.0) -> None:
        super().__init__(dataclasses.replace(config) if config else BrowserConfig(settle_ms=30))
        self.stable_timeout_s = stable_timeout_s
        self.server: AppServer | None = None
        self.synth: SynthTask | None = None
        self._observing: Observing = "full"

    def reset(self, task: Task) -> Observation:
        if task.suite != SUITE:
            raise TaskNotFoundError(f"{task.id!r} is not a synthetic task")
        synth = task.config.get("synth")
        if not isinstance(synth, SynthTask):
            synth = generate(task.id)
            task.config.update(synth=synth, validator=synth.validator)
        if self.server is None:
            self.server = AppServer()
            self._allowed = [self.server.origin]
        url = self.server.publish(synth.name, render_html(synth))
        # The scale factor belongs to the browser context: a new one only when it changes.
        fresh = self._page is None or synth.device_scale_factor != self.config.device_scale_factor
        self.config.device_scale_factor = synth.device_scale_factor
        self.task, self.synth = task, synth
        task.instruction = synth.instruction
        task.config["env"] = self  # the reference-plan planner reads the live page through it
        self._open(url, tuple(synth.viewport), fresh=fresh)
        with self._guard("reset"):
            wait_stable(self.page, self.stable_timeout_s)
        obs = self.observe()
        obs.instruction = synth.instruction
        obs.extra["blocked"] = self._drain_blocked()
        return obs

    def evaluate(self) -> float:
        """The validator over the app's tab (``window.__app.state``), whichever tab is active."""
        validator = self.task.config.get("validator") if self.task else None
        if not callable(validator):
            return 0.0
        with self._guard("evaluate"):
            return min(1.0, max(0.0, float(validator(self.task_page))))

    def observe(self) -> Observation:
        if self._observing == "none":
            return Observation(screenshot=Image.new("RGB", (1, 1)), url=self.page.url)
        if self._observing == "screenshot":
            with self._guard("observe"):
                return Observation(screenshot=self.screenshot(), url=self.page.url,
                                   device_scale_factor=self.config.device_scale_factor)
        return super().observe()

    @contextmanager
    def observing(self, what: Observing) -> Iterator[None]:
        """Lighter observations while verifying: ``screenshot`` (no accessibility tree, a third
        of the time) for recorded runs, ``none`` for ablation runs that look at nothing."""
        before, self._observing = self._observing, what
        try:
            yield
        finally:
            self._observing = before

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.server is not None:
                self.server.close()
                self.server = None
