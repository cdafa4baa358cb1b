"""``ReferencePlanPlanner``: proposes the reference plan's actions, grounded on the live page.

Every target is looked up again by its selector right before its action, so a plan survives
layouts that moved (a banner pushed the grid down, a menu opened elsewhere, another theme).
A target outside its scroll container's view gets wheel scrolls over that container first.
Each proposed action is recorded as a ``GroundedStep`` (instruction, target, box, action).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from playwright.sync_api import Page

from cua.core import (
    Action,
    Box,
    Click,
    CuaError,
    Done,
    DoubleClick,
    Intent,
    Key,
    Observation,
    Scroll,
    StepRecord,
    Task,
    Type,
)
from cua.planners import PLANNERS
from data_synth.env import SyntheticEnv
from data_synth.page import locate
from data_synth.spec import GroundedStep, PlanStep, SynthTask

MoveKind = Literal["click", "dblclick", "key", "type"]


class PlanError(CuaError):
    """The reference plan cannot go on: a target is missing, covered or out of reach."""


@dataclass(frozen=True)
class Move:
    plan_index: int
    kind: MoveKind
    say: str  # this action in words
    selector: str
    target: str
    text: str | None = None
    keys: tuple[str, ...] = ()
    fraction: float | None = None


def expand(plan: list[PlanStep]) -> list[Move]:
    """Plan steps → single actions (a ``fill`` is click, optional select-all, type)."""
    out: list[Move] = []
    for i, s in enumerate(plan):
        if s.op == "fill":
            out.append(Move(i, "click", f"Click {s.target}", s.selector, s.target))
            if s.clear:
                out.append(Move(i, "key", "Select all the text in it", s.selector, s.target, keys=("ctrl", "a")))
            out.append(Move(i, "type", f'Type "{s.text}"', s.selector, s.target, text=s.text))
        elif s.op == "key":
            out.append(Move(i, "key", s.instruction, s.selector, s.target, keys=tuple(s.keys or ())))
        elif s.op == "slide":
            out.append(Move(i, "click", s.instruction, s.selector, s.target, fraction=s.fraction))
        else:
            out.append(Move(i, "dblclick" if s.op == "dblclick" else "click", s.instruction, s.selector, s.target))
    return out


OnTarget = Callable[[Page, GroundedStep], None]


class ReferencePlanPlanner:
    """Proposes the plan of ``task.config["synth"]`` on ``env`` (by default the SyntheticEnv
    that reset the task: ``task.config["env"]``). It reads the live page, so the agent must
    call it in the env's thread (``AgentConfig(stage_timeout_s=None)``). ``skip`` drops plan
    steps (ablations), and then a target that is missing or covered is skipped instead of
    failing the plan. ``on_start`` sees the page before the first action, ``on_target``
    before each click."""

    name = "reference-plan"

    def __init__(self, env: SyntheticEnv | None = None, skip: frozenset[int] = frozenset(),
                 on_target: OnTarget | None = None, on_start: Callable[[Page], None] | None = None,
                 max_scrolls: int = 12) -> None:
        self._env = env
        self.skip, self.on_target, self.on_start, self.max_scrolls = skip, on_target, on_start, max_scrolls
        self.grounded: list[GroundedStep] = []
        self._live: SyntheticEnv | None = None
        self._moves: list[Move] = []
        self._words: list[str] = []
        self._cursor = 0
        self._scrolls = 0
        self._last_cursor: int | None = None

    def propose(self, task: Task, history: list[StepRecord], observation: Observation,
                critique: str | None = None) -> Intent | Action:
        if not history and critique is None:
            self._start(task)  # a new episode
        elif critique is not None and self._last_cursor is not None:
            self._cursor = self._last_cursor  # vetoed: that action did not run
            if self.grounded:
                self.grounded.pop()
        self._last_cursor = self._cursor
        shot = f"step_{len(history):04d}.png"
        while self._cursor < len(self._moves):
            move = self._moves[self._cursor]
            if move.plan_index in self.skip:
                self._cursor += 1
                continue
            action = self._ground(move, shot)
            if action is not None:
                return action
            self._cursor, self._scrolls = self._cursor + 1, 0  # lenient (ablation) run: target not there
        return Done()

    def _start(self, task: Task) -> None:
        synth = task.config.get("synth")
        if not isinstance(synth, SynthTask):
            raise PlanError(f"{task.id} carries no synthetic task (config['synth'])")
        live = self._env or task.config.get("env")
        if not isinstance(live, SyntheticEnv):
            raise PlanError("the reference plan needs the live SyntheticEnv (task.config['env'], set by its reset)")
        self._live = live
        self._moves = expand(synth.plan)
        self._words = [s.instruction for s in synth.plan]
        self._cursor, self._scrolls, self._last_cursor = 0, 0, None
        self.grounded = []
        if self.on_start is not None:
            self.on_start(live.page)  # the initial state, before any action

    def _ground(self, move: Move, shot: str) -> Action | None:
        assert self._live is not None  # set by _start
        page, dsf = self._live.page, self._live.config.device_scale_factor
        lenient = bool(self.skip)
        loc = locate(page, move.selector, dsf, move.fraction)
        if move.kind in ("key", "type"):  # acts on the focused element; its box is context
            action: Action = Key(keys=list(move.keys)) if move.kind == "key" else Type(text=move.text or "")
            self._record(move, shot, loc.box if loc else None, action, page)
            self._cursor += 1
            return action
        if loc is None:
            if lenient:
                return None
            raise PlanError(f"no element matches {move.selector} ({move.say})")
        if not loc.visible:
            self._scrolls += 1
            if self._scrolls > self.max_scrolls or loc.wheel is None:
                if lenient:
                    return None
                raise PlanError(f"cannot scroll {move.target} into view ({move.selector})")
            notches = min(10, max(1, round(abs(loc.dy) / 100)))
            scroll = Scroll(direction="down" if loc.dy > 0 else "up", amount=notches,
                            x=loc.wheel[0], y=loc.wheel[1])
            self._record(move, shot, loc.box, scroll, page, say=f"Scroll {scroll.direction} to {move.target}")
            return scroll
        if not loc.reachable:
            if lenient:
                return None
            raise PlanError(f"{move.target} is covered by {loc.covered_by} ({move.selector})")
        x, y = loc.point
        action = DoubleClick(x=x, y=y) if move.kind == "dblclick" else Click(x=x, y=y)
        self._record(move, shot, loc.box, action, page)
        self._cursor += 1
        self._scrolls = 0
        return action

    def _record(self, move: Move, shot: str, box: Box | None, action: Action, page: Page,
                say: str | None = None) -> None:
        step = GroundedStep(plan_index=move.plan_index, instruction=self._words[move.plan_index],
                            move=say or move.say, target=move.target, selector=move.selector, box=box,
                            action=action, screenshot=shot)
        self.grounded.append(step)
        if self.on_target is not None and isinstance(action, (Click, DoubleClick)):
            self.on_target(page, step)


PLANNERS.register(ReferencePlanPlanner.name)(ReferencePlanPlanner)
