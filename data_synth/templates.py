"""Task names → generated tasks. Same name and seed → the same task, byte for byte."""

from __future__ import annotations

import difflib

from cua.core import TaskNotFoundError
from data_synth.apps import TEMPLATES, Ctx, Template
from data_synth.icons import icon_table
from data_synth.rng import Rand
from data_synth.spec import LEVELS, Level, SynthTask, TaskMeta, parse_name, task_id
from data_synth.theme import draw_theme, draw_viewport
from data_synth.validators import Validator


def task_names(level: Level | None = None) -> list[str]:
    """``<family>-<template>-<level>`` for every template (at ``level``, or at every level)."""
    levels = LEVELS if level is None else (level,)
    return [f"{t.key}-{lv}" for t in sorted(TEMPLATES.values(), key=lambda t: t.key)
            for lv in levels if lv in t.levels]


def get_template(family: str, name: str) -> Template:
    key = f"{family}-{name}"
    if key not in TEMPLATES:
        close = difflib.get_close_matches(key, TEMPLATES, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise TaskNotFoundError(f"no synthetic template {key!r}{hint}")
    return TEMPLATES[key]


def generate(name: str, seed: int | None = None) -> SynthTask:
    """``shop-cart-easy`` with ``seed``, or a full name/id with its seed (``shop-cart-easy-0042``)."""
    family, tname, level, named_seed = parse_name(name)
    if seed is None:
        seed = named_seed or 0
    t = get_template(family, tname)
    if level not in t.levels:
        raise TaskNotFoundError(f"{t.key} has no {level} level (it has {', '.join(t.levels)})")
    rng = Rand(seed, family, tname, level)
    theme = draw_theme(rng.child("theme"), level)
    viewport, dsf = draw_viewport(rng.child("viewport"), level)
    draft = t.build(Ctx(rng.child("task"), level, theme, viewport))
    app = {"family": family, "theme": theme.model_dump(), "icons": icon_table(), **draft.app}
    return SynthTask(
        id=task_id(family, tname, level, seed), family=family, template=tname, level=level, seed=seed,
        instruction=draft.instruction, plan=draft.plan, validator=Validator(checks=draft.checks),
        viewport=viewport, device_scale_factor=dsf, app=app,
        meta=TaskMeta(steps=len(draft.plan), distractors=draft.distractors, scroll=draft.scroll,
                      nested_menus=draft.nested_menus, features=draft.features),
    )
