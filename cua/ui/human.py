"""Human in the loop: the user approves, edits or rejects each proposed action before it runs.

A critic wrapper, so the agent loop itself is unchanged. ``review`` first asks the chosen
critic (its verdict and evidence are shown to the user), then hands the proposal to the app
and blocks until the user decides:

* approve → the action runs;
* edit / take over (the point moved on the screenshot, or any action of the user's own) →
  a veto carrying the user's action as its suggestion: the agent runs under
  ``veto-and-accept-suggestion``, reviews the suggestion again, and this wrapper approves it
  at once (it is the user's own action, nothing to ask);
* reject → a veto without a suggestion: the planner re-plans.

The agent must run with ``stage_timeout_s=None``: a person thinking is not a stuck stage.
Stop (the run's stop event) unblocks a pending review with a rejection.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from critic.base import Critic, ReviewContext
from cua.core import Action, CuaError, Grounding, Intent, Verdict
from cua.core.actions import (
    ACTION_ADAPTER,
    Click,
    Done,
    DoubleClick,
    Key,
    Move,
    RightClick,
    Scroll,
    Type,
)

HUMAN = "human"

# What the user can run instead of the agent's proposal ("take over").
USER_ACTION_KINDS = ("click", "double_click", "right_click", "move", "type", "key", "scroll", "done")


@dataclass
class Proposal:
    """An action waiting for the user's decision."""

    step: int
    attempt: int
    action: Action
    intent: Intent | None
    grounding: Grounding | None
    verdict: Verdict  # the wrapped critic's
    screenshot: Image.Image
    evidence: Image.Image | None = None


@dataclass
class Decision:
    kind: Literal["approve", "reject", "replace"]
    action: Action | None = None
    note: str = ""


def user_action(kind: str, x: float | None, y: float | None, text: str = "") -> Action:
    """The action a user typed into the take-over panel; a clear CuaError when it is incomplete."""
    text = (text or "").strip()
    point_kinds = {"click": Click, "double_click": DoubleClick, "right_click": RightClick, "move": Move}
    if kind in point_kinds:
        if x is None or y is None:
            raise CuaError(f"{kind} needs a point: click on the screenshot or fill x and y")
        return point_kinds[kind](x=float(x), y=float(y))
    if kind == "type":
        if not text:
            raise CuaError("type needs the text to type")
        return Type(text=text)
    if kind == "key":
        keys = [k.strip() for k in text.replace(" ", "+").split("+") if k.strip()]
        if not keys:
            raise CuaError("key needs a key or chord, e.g. Enter or ctrl+a")
        try:
            return Key(keys=keys)
        except ValueError as e:
            raise CuaError(f"bad key {text!r}: {e}") from None
    if kind == "scroll":
        direction = text.lower() or "down"
        if direction not in ("up", "down", "left", "right"):
            raise CuaError(f"scroll needs a direction (up, down, left, right), got {text!r}")
        return Scroll(direction=direction, x=None if x is None else float(x), y=None if y is None else float(y))
    if kind == "done":
        return Done(answer=text or None)
    raise CuaError(f"unknown action kind {kind!r}; known: {', '.join(USER_ACTION_KINDS)}")


def moved(action: Action, x: float, y: float) -> Action:
    """The same action at another point (a drag keeps its vector)."""
    data = action.model_dump()
    if "to_x" in data:
        data["to_x"] += x - data["x"]
        data["to_y"] += y - data["y"]
    if "x" not in data:
        raise CuaError(f"a {action.type} action has no point to move")
    data["x"], data["y"] = float(x), float(y)
    return ACTION_ADAPTER.validate_python(data)


class HumanApproval:
    """Wraps a critic; every review waits for the user's :class:`Decision`."""

    def __init__(self, inner: Critic, on_proposal: Callable[[Proposal], None], stop: threading.Event,
                 idle_limit_s: float | None = None, on_idle: Callable[[str], None] | None = None) -> None:
        """``stop`` ends a wait; with no decision in ``idle_limit_s`` the run is stopped through
        ``on_idle(reason)`` (or ``stop`` is set) so a worker whose page is gone does not wait forever."""
        self.inner = inner
        self.name = f"{HUMAN}+{inner.name}"
        self.compressor = getattr(inner, "compressor", None)  # the agent keeps the inner critic's history
        self._on_proposal = on_proposal
        self._stop = stop
        self._idle_limit_s = idle_limit_s
        self._on_idle = on_idle or (lambda _reason: stop.set())
        self._decisions: queue.Queue[Decision] = queue.Queue()
        self._own: Action | None = None
        self._attempts: tuple[int, int] = (-1, 0)  # (step, proposals shown in it)
        self.pending: Proposal | None = None

    def decide(self, decision: Decision) -> None:
        if self.pending is None:
            raise CuaError("no action is waiting for a decision")
        self._decisions.put(decision)

    def review(self, context: ReviewContext) -> Verdict:
        if self._own is not None and context.action == self._own:
            self._own = None
            return Verdict(approve=True, reason="the user's own action", critic=HUMAN)
        verdict = self.inner.review(context)
        said = f"{verdict.critic or self.inner.name}: {'approved' if verdict.approve else 'vetoed'}" + (
            f" [{verdict.error_type}]" if verdict.error_type else "")
        while not self._decisions.empty():  # a click that arrived with nothing pending
            self._decisions.get_nowait()
        step = len(context.history)
        attempt = self._attempts[1] + 1 if self._attempts[0] == step else 0
        self._attempts = (step, attempt)
        self.pending = Proposal(step=step, attempt=attempt, action=context.action,
                                intent=context.intent, grounding=context.grounding, verdict=verdict,
                                screenshot=context.observation.screenshot, evidence=context.evidence)
        self._on_proposal(self.pending)
        decision, why = None, "stopped by the user"
        since = time.monotonic()
        while decision is None and not self._stop.is_set():
            try:
                decision = self._decisions.get(timeout=0.2)
            except queue.Empty:
                if self._idle_limit_s is not None and time.monotonic() - since > self._idle_limit_s:
                    why = f"stopped after {self._idle_limit_s:g} s without a decision"
                    self._on_idle(why)
                continue
        self.pending = None
        note = f" — {decision.note}" if decision is not None and decision.note else ""
        if decision is None:
            return Verdict(approve=False, reason=f"{why} ({said})", critic=HUMAN)
        if decision.kind == "approve":
            return Verdict(approve=True, reason=f"approved by the user ({said}){note}", critic=HUMAN)
        if decision.kind == "replace" and decision.action is not None:
            self._own = decision.action
            return Verdict(approve=False, reason=f"replaced by the user ({said}){note}", error_type="user_edit",
                           suggestion=decision.action, critic=HUMAN)
        return Verdict(approve=False, reason=f"rejected by the user ({said}){note}", error_type="user_reject",
                       critic=HUMAN)


def proposal_markdown(p: Proposal) -> str:
    """The proposal as the user sees it while deciding."""
    from cua.ui import render

    intent = f"{p.intent.kind} **{render.escape(p.intent.target)}**" if p.intent else "direct action"
    v = p.verdict
    said = ("✅ approves" if v.approve else "❌ vetoes") + (f" [{v.error_type}]" if v.error_type else "")
    lines = [f"### Step {p.step} — waiting for your decision" + (f" (attempt {p.attempt})" if p.attempt else ""),
             "", f"**Intent** {intent}  "]
    if p.intent is not None and p.intent.thought:
        lines.append(f"thought: {render.escape(p.intent.thought)}  ")
    if p.grounding is not None:
        g = p.grounding
        lines.append(f"**Grounding** ({g.grounder or '?'}): point {render.point_text(g.point)}, raw `{g.raw_text[:120]}`  ")
    lines += [f"**Proposed** `{render.action_text(p.action)}`  ",
              f"**Critic** ({v.critic or '?'}) {said} — {render.escape(v.reason)}", "",
              ("Approve, Reject (the planner proposes again), or click on the screenshot to move the point "
               "and press *Run my action* (any action kind: that is taking over).")]
    return "\n".join(lines)
