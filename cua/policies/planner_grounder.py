"""The planner + grounder policy: a planner names the target in words ("click the Save button"),
a grounder puts it on the screenshot. The regex ``instructions`` planner with the ``a11y`` or
``ocr`` grounder is the CPU default; any planner and grounder by name plug in here.
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import Any, Callable

from critic.base import PlanContext
from cua.core import Intent, ModelSpace, TurnRecord
from cua.core.coords import CoordChain
from cua.core.records import Usage
from cua.planners import Planner, intent_to_action
from cua.policies.base import PolicyInput, Proposal, Turn
from grounding.base import Grounder


class PlannerGrounderPolicy:
    name = "planner"  # its registry name; the planner and grounder names are its components
    image_window = 1

    def __init__(self, planner: Planner, grounder: Grounder) -> None:
        self.planner, self.grounder = planner, grounder
        self.components = {"planner": planner.name, "grounder": grounder.name}
        self._takes_context = "context" in inspect.signature(planner.propose).parameters

    def act(self, inp: PolicyInput) -> Turn:
        timings: dict[str, float] = {}
        propose: Callable[..., Any] = self.planner.propose
        if self._takes_context:
            propose = functools.partial(propose, context=PlanContext(inp.macro, inp.critique, inp.attempt))
        t = time.perf_counter()
        proposal = propose(inp.task, list(inp.history), inp.observation, inp.critique)
        timings["planner"] = time.perf_counter() - t
        record = TurnRecord(index=inp.turn_index, policy=self.name, images=[inp.screenshot_name],
                            image_size=inp.observation.size, feedback=inp.critique or inp.feedback)
        if not isinstance(proposal, Intent):
            space = ModelSpace.screenshot(*inp.observation.size)
            chains = [CoordChain.from_model(p, space, inp.observation.size) for p in proposal.points()]
            record.actions = [proposal]
            record.usage = Usage(calls=1, latency_s=timings["planner"])
            return Turn([Proposal(proposal, chains)], record, timings)
        record.thought = proposal.thought
        record.summary = f"{proposal.kind} {proposal.target}"
        t = time.perf_counter()
        grounding = self.grounder.ground(inp.observation.screenshot, proposal.target, inp.observation)
        timings["grounder"] = time.perf_counter() - t
        record.usage = Usage(calls=1, latency_s=timings["planner"] + timings["grounder"])
        if grounding.point is None:
            record.error = f"grounder found no {proposal.target!r}"
            return Turn([], record, timings, intent=proposal, grounding=grounding)
        action = intent_to_action(proposal, grounding.point.x, grounding.point.y)
        record.actions = [action]
        chains = [c for c in [grounding.chain(inp.observation.size)] if c is not None]
        return Turn([Proposal(action, chains, proposal, grounding)], record, timings)
