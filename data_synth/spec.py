"""What a generated task is: its instruction, app, validator and reference plan, as JSON.

Task ids are ``synthetic/<family>-<template>-<level>-<seed:04d>``
(``synthetic/shop-cart-easy-0042``); the id alone regenerates the task byte for byte.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cua.core import Action, Box, TaskNotFoundError
from data_synth.validators import Validator

SUITE = "synthetic"
Level = Literal["easy", "medium", "hard"]
LEVELS: tuple[Level, ...] = ("easy", "medium", "hard")
# Plan steps per level, what "difficulty" promises a user of the suites.
LEVEL_STEPS: dict[Level, tuple[int, int]] = {"easy": (1, 4), "medium": (4, 9), "hard": (9, 40)}

StepOp = Literal["click", "fill", "key", "slide", "dblclick"]


class PlanStep(BaseModel):
    """One step of the reference plan as the template wrote it (not yet grounded).

    ``fill`` clicks the field, selects what is in it when ``clear``, then types ``text``;
    ``slide`` clicks the slider's track at ``fraction`` of its width.
    """

    model_config = ConfigDict(frozen=True)

    instruction: str  # 'Enter "Bob" into the Name field'
    target: str  # 'the "Name" field'
    selector: str  # '[data-sid="name"]'
    op: StepOp = "click"
    text: str | None = None
    clear: bool = False
    keys: list[str] | None = None
    fraction: float | None = None
    changes_state: bool = True  # False for steps that only open or navigate (ablation skips them)


class GroundedStep(BaseModel):
    """One executed action of the reference plan, grounded on the live page."""

    plan_index: int
    instruction: str  # the plan step's words
    move: str  # what this action does ("Click the Name field", 'Type "Bob"', "Scroll down")
    target: str | None
    selector: str | None
    box: Box | None  # the target in screenshot pixels, on the screenshot this step saw
    action: Action
    screenshot: str  # file name of that screenshot in the episode folder


class TaskMeta(BaseModel):
    steps: int
    distractors: int = 0
    scroll: bool = False
    nested_menus: bool = False
    features: list[str] = Field(default_factory=list)


class SynthTask(BaseModel):
    id: str
    family: str
    template: str
    level: Level
    seed: int
    instruction: str
    plan: list[PlanStep]
    validator: Validator
    viewport: tuple[int, int]
    device_scale_factor: float
    app: dict[str, Any]  # config the page's script renders: theme, copy, data, initial state
    meta: TaskMeta

    @property
    def name(self) -> str:
        return self.id.split("/", 1)[1]

    def step_instructions(self) -> list[str]:
        return [s.instruction for s in self.plan]


_NAME = re.compile(r"^(?P<family>[a-z]+)-(?P<template>[a-z0-9]+(?:-[a-z0-9]+)*?)-(?P<level>easy|medium|hard)"
                   r"(?:-(?P<seed>\d+))?$")


def task_id(family: str, template: str, level: Level, seed: int) -> str:
    return f"{SUITE}/{family}-{template}-{level}-{seed:04d}"


def parse_name(name: str) -> tuple[str, str, Level, int | None]:
    """``shop-cart-easy-0042`` (or the id with ``synthetic/``) → family, template, level, seed."""
    bare = name.removeprefix(f"{SUITE}/")
    m = _NAME.match(bare)
    if not m:
        raise TaskNotFoundError(
            f"{name!r} is not a synthetic task name (<family>-<template>-<level>[-<seed>],"
            " e.g. shop-cart-easy-0042)")
    seed = m.group("seed")
    return m.group("family"), m.group("template"), m.group("level"), None if seed is None else int(seed)  # type: ignore[return-value]
