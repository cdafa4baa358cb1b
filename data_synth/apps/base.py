"""What a family module provides: templates that draft a task (app, instruction, plan, checks).

A template is a function of a seeded ``Ctx`` and returns a ``Draft``; ``data_synth.templates``
turns drafts into ``SynthTask``s. The plan-step builders here keep the instructions in the
plain imperative style the instruction-list planner parses ('Click the "Save" button',
'Enter "Bob" into the Name field', 'Select "Express"').
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from data_synth.rng import Rand
from data_synth.spec import Level, PlanStep
from data_synth.theme import Theme
from data_synth.validators import Check


@dataclass(frozen=True)
class Ctx:
    rng: Rand
    level: Level
    theme: Theme
    viewport: tuple[int, int]


@dataclass
class Draft:
    instruction: str
    plan: list[PlanStep]
    checks: list[Check]
    app: dict[str, Any]  # the family's page config, with "state" (the initial app state) and "title"
    distractors: int = 0
    scroll: bool = False
    nested_menus: bool = False
    features: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Template:
    family: str
    name: str
    levels: tuple[Level, ...]
    build: Callable[[Ctx], Draft]
    description: str

    @property
    def key(self) -> str:
        return f"{self.family}-{self.name}"


TEMPLATES: dict[str, Template] = {}


def template(family: str, name: str, levels: tuple[Level, ...], description: str
             ) -> Callable[[Callable[[Ctx], Draft]], Callable[[Ctx], Draft]]:
    def register(fn: Callable[[Ctx], Draft]) -> Callable[[Ctx], Draft]:
        t = Template(family, name, levels, fn, description)
        if t.key in TEMPLATES:
            raise ValueError(f"template {t.key} registered twice")
        TEMPLATES[t.key] = t
        return fn
    return register


def slug(text: str) -> str:
    """The page script's slug (runtime.js ``slug``): sids of generated options use it."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def sel(sid: str) -> str:
    return f'[data-sid="{sid}"]'


def click(label: str, sid: str, kind: str = "button", changes_state: bool = True,
          target: str | None = None) -> PlanStep:
    """'Click the "Save" button' (``kind`` "" for a bare text target: 'Click "Blue Mug"')."""
    what = f'the "{label}" {kind}' if kind else f'"{label}"'
    return PlanStep(instruction=f"Click {what}", target=target or what, selector=sel(sid),
                    changes_state=changes_state)


def fill(label: str, text: str, sid: str, clear: bool = False) -> PlanStep:
    return PlanStep(instruction=f'Enter "{text}" into the {label} field', target=f"the {label} field",
                    selector=sel(sid), op="fill", text=text, clear=clear)


def choose(label: str, sid: str, changes_state: bool = True, target: str | None = None) -> PlanStep:
    """An option, radio or list item: 'Select "Express"'."""
    return PlanStep(instruction=f'Select "{label}"', target=target or f'the "{label}" option',
                    selector=sel(sid), changes_state=changes_state)


def open_menu(label: str, sid: str, kind: str = "dropdown") -> PlanStep:
    return click(label, sid, kind, changes_state=False)


def slide(label: str, value: float, lo: float, hi: float, sid: str, unit: str = "") -> PlanStep:
    return PlanStep(instruction=f"Set the {label} slider to {value:g}{unit}", target=f"the {label} slider",
                    selector=sel(sid), op="slide", fraction=(value - lo) / (hi - lo))


def press(keys: list[str], what: str, sid: str) -> PlanStep:
    return PlanStep(instruction=f"Press {'+'.join(k.capitalize() for k in keys)}", target=what,
                    selector=sel(sid), op="key", keys=keys)


def then_join(steps: list[PlanStep]) -> str:
    """The easy-level instruction: the plan's own steps, in order."""
    parts = [s.instruction for s in steps]
    text = ", then ".join([parts[0]] + [p[0].lower() + p[1:] for p in parts[1:]])
    return text + "."


def base_state(**state: Any) -> dict[str, Any]:
    """Every app keeps its view state (open popup, modal, toast, focus request) under ``ui``."""
    ui = {"open": None, "modal": None, "toast": None, "focus": None}
    ui.update(state.pop("ui", {}))
    return {**state, "ui": ui}
