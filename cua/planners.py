"""Planners propose the next Intent (grounded later) or a direct Action.

The CPU default, ``instructions``, follows the task's own instruction list: a reference plan
when the task has one, else the task's utterance split into steps ("Enter "Bob" into the text
field and press Submit" → click the text field, type "Bob", click Submit).
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from cua.core import Action, Click, Done, DoubleClick, Intent, Move, Observation, RightClick, Scroll, StepRecord, Task, Type
from cua.core.registry import Registry

Proposal = Intent | Action


@runtime_checkable
class Planner(Protocol):
    name: str

    def propose(
        self, task: Task, history: list[StepRecord], observation: Observation,
        critique: str | None = None,
    ) -> Proposal: ...


def intent_to_action(intent: Intent, x: float, y: float) -> Action:
    """An Intent grounded at (x, y) as the action it names."""
    if intent.kind == "scroll":
        return Scroll(direction=intent.direction or "down", x=x, y=y)
    kinds = {"click": Click, "double_click": DoubleClick, "right_click": RightClick, "move": Move}
    return kinds[intent.kind](x=x, y=y)


_QUOTED = r'"(?P<text>[^"]*)"'
_CASE = {"upper": str.upper, "lower": str.lower}


def _fill(field: str, text: str, case: str | None = None) -> list[Proposal]:
    text = _CASE[case](text) if case else text
    return [Intent(kind="click", target=field), Type(text=text)]


def _clause_steps(clause: str) -> list[Proposal]:
    """One clause of an instruction → the steps that do it. Unknown wording → click its words."""
    c = clause.strip().rstrip(".").strip()
    if not c:
        return []
    m = re.match(
        rf'^(?:enter|type)\s+{_QUOTED}(?:\s+in all (?P<case>upper|lower) case letters)?'
        r'(?:\s+(?:into|in)\s+(?P<field>.+))?$', c, re.I)
    if m:
        field = m.group("field") or "the text field"
        case = m.group("case").lower() if m.group("case") else None
        return _fill(field, m.group("text"), case)
    m = re.match(rf'^(?:enter\s+)?the\s+(?P<field>[\w ]+?)\s+{_QUOTED}(?:\s+into\s+.+)?$', c, re.I)
    if m:  # 'Enter the username "x"', 'the password "y" into the text fields'
        return _fill(f"the {m.group('field')} field", m.group("text"))
    m = re.match(r"^focus (?:into|on)\s+(?P<target>.+)$", c, re.I)
    if m:
        return [Intent(kind="click", target=m.group("target"))]
    m = re.match(r"^select\s+(?P<items>.+?)(?:\s+from the list)?$", c, re.I)
    if m:
        items = re.split(r"\s*,\s*|\s+and\s+", m.group("items"))
        return [Intent(kind="click", target=i) for i in items if i]
    m = re.match(r"^(?:click|press|tap|choose)(?:\s+on)?\s+(?P<target>.+)$", c, re.I)
    if m:
        target = re.sub(r"\s+in the dialog box\b", "", m.group("target"), flags=re.I)
        return [Intent(kind="click", target=target)]
    m = re.match(r"^close the dialog box by clicking\s+(?P<target>.+)$", c, re.I)
    if m:
        return [Intent(kind="click", target=m.group("target"))]
    return [Intent(kind="click", target=c)]


def split_instruction(instruction: str) -> list[Proposal]:
    """A whole instruction → its steps, in order."""
    text = instruction.strip()
    # "Click button ONE, then click button TWO." / "... and press Submit."
    clauses = re.split(r",?\s+then\s+|\s+and\s+(?=(?:press|click|tap|select|enter|type|the)\b)",
                       text, flags=re.I)
    steps: list[Proposal] = []
    for clause in clauses:
        steps.extend(_clause_steps(clause))
    return steps


class InstructionListPlanner:
    """Stateless: the next step is the one after the actions already executed."""

    name = "instructions"

    def propose(
        self, task: Task, history: list[StepRecord], observation: Observation,
        critique: str | None = None,
    ) -> Proposal:
        steps = self.steps(task, observation)
        done = sum(1 for s in history if s.action is not None)
        return steps[done] if done < len(steps) else Done()

    @staticmethod
    def steps(task: Task, observation: Observation) -> list[Proposal]:
        if task.reference_plan:
            out: list[Proposal] = []
            for line in task.reference_plan:
                out.extend(split_instruction(line))
            return out
        instruction = task.instruction or observation.instruction
        return split_instruction(instruction) if instruction else []


PLANNERS: Registry[Planner] = Registry("planner")
PLANNERS.register("instructions")(InstructionListPlanner)
