"""Human in the loop: the user approves, edits or rejects a proposed action before it runs.

A critic wrapper, so the agent loop itself is unchanged. In "approve each action" mode every
proposal waits for the user; otherwise only the ones ``ask`` picks do (the app: a policy's
``CallUser``, since in the app there is a person to ask). ``review`` first asks the chosen
critic (its verdict and evidence are shown to the user), then hands the proposal to the app
and blocks until the user decides:

* approve → the action runs (an approved ``CallUser`` ends the episode as ``needs_user``);
* answer (to a ``CallUser``) → a veto with ``error_type="user_answer"`` whose reason is the
  answer: the policy is asked again and reads it (a native policy as ``user_resp: <answer>``);
* edit / take over (the point moved on the screenshot, or any action of the user's own) →
  a veto carrying the user's action as its suggestion. Under ``veto-and-accept-suggestion``
  the agent reviews the suggestion again; under ``veto-and-replan`` it asks the policy again,
  and :class:`UserTurns` (around the policy) answers with the user's action as a turn of
  source ``user``. Either way this wrapper approves it at once (nothing to ask);
* reject → a veto without a suggestion: the policy proposes again.

The agent must run with ``stage_timeout_s=None`` (a person thinking is not a stuck stage);
``timeout_s`` limits the wrapped critic's own call instead, and :class:`UserTurns` the
policy's. Stop (the run's stop event) unblocks a pending review with a rejection.
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
from cua.core import (
    Action,
    CoordChain,
    CuaError,
    Grounding,
    Intent,
    ModelSpace,
    TurnRecord,
    Verdict,
)
from cua.core.actions import (
    ACTION_ADAPTER,
    CallUser,
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
    turn: TurnRecord | None = None  # the policy's turn it came from (thought, raw output, images sent)

    @property
    def asks_user(self) -> bool:
        """The policy asks the user (``CallUser``): answer, take over, or approve (needs_user)."""
        return isinstance(self.action, CallUser)

    @property
    def question(self) -> str | None:
        if isinstance(self.action, CallUser):
            return self.action.question or (self.turn.thought if self.turn is not None else None)
        return None


@dataclass
class Decision:
    kind: Literal["approve", "reject", "replace", "answer"]
    action: Action | None = None
    note: str = ""  # reject: why; answer: the user's answer


USER_ANSWER = "user_answer"  # the error type of an answer to a CallUser (cua.policies.native reads it)


def asks_user(action: Action) -> bool:
    return isinstance(action, CallUser)


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
                 idle_limit_s: float | None = None, on_idle: Callable[[str], None] | None = None, *,
                 ask: Callable[[Action], bool] | None = None, timeout_s: float | None = None) -> None:
        """``stop`` ends a wait; with no decision in ``idle_limit_s`` the run is stopped through
        ``on_idle(reason)`` (or ``stop`` is set) so a worker whose page is gone does not wait forever.
        ``ask``: which proposals wait for the user (None: every one, "approve each action");
        the others get the wrapped critic's verdict alone. ``timeout_s``: the limit for the
        wrapped critic's call (None: none)."""
        self.inner = inner
        self.every = ask is None
        self._ask = ask or (lambda _action: True)
        # Asking only about CallUser, the run is the chosen critic's: its name stays in the results.
        self.name = f"{HUMAN}+{inner.name}" if self.every else inner.name
        self.timeout_s = timeout_s
        self.compressor = getattr(inner, "compressor", None)  # the agent keeps the inner critic's history
        self._on_proposal = on_proposal
        self._stop = stop
        self._idle_limit_s = idle_limit_s
        self._on_idle = on_idle or (lambda _reason: stop.set())
        self._decisions: queue.Queue[Decision] = queue.Queue()
        self._own: Action | None = None
        self._attempts: tuple[int, int] = (-1, 0)  # (step, proposals shown in it)
        self.pending: Proposal | None = None

    @property
    def own(self) -> Action | None:
        """The user's own action, decided and not run yet (``UserTurns`` hands it to the agent)."""
        return self._own

    def decide(self, decision: Decision) -> None:
        pending = self.pending
        if pending is None:
            raise CuaError("no action is waiting for a decision")
        if decision.kind == "answer":
            if not pending.asks_user:
                raise CuaError("the policy did not ask anything: Approve, Reject (with a note) or take over")
            if not decision.note.strip():
                raise CuaError("type an answer first")
        self._decisions.put(decision)

    def review(self, context: ReviewContext) -> Verdict:
        if self._own is not None and context.action == self._own:
            self._own = None
            return Verdict(approve=True, reason="the user's own action", critic=HUMAN)
        from cua.agent import call_with_timeout

        verdict = call_with_timeout(self.inner.review, self.timeout_s, "critic", context)
        if not self._ask(context.action):
            return verdict
        said = f"{verdict.critic or self.inner.name}: {'approved' if verdict.approve else 'vetoed'}" + (
            f" [{verdict.error_type}]" if verdict.error_type else "")
        while not self._decisions.empty():  # a click that arrived with nothing pending
            self._decisions.get_nowait()
        step = len(context.history)
        attempt = self._attempts[1] + 1 if self._attempts[0] == step else 0
        self._attempts = (step, attempt)
        self.pending = Proposal(step=step, attempt=attempt, action=context.action,
                                intent=context.intent, grounding=context.grounding, verdict=verdict,
                                screenshot=context.observation.screenshot, evidence=context.evidence,
                                turn=context.turn)
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
        if decision.kind == "answer":  # the reason is the answer itself: the policy reads it as is
            return Verdict(approve=False, reason=decision.note.strip(), error_type=USER_ANSWER, critic=HUMAN)
        if decision.kind == "replace" and decision.action is not None:
            self._own = decision.action
            return Verdict(approve=False, reason=f"replaced by the user ({said}){note}", error_type="user_edit",
                           suggestion=decision.action, critic=HUMAN)
        return Verdict(approve=False, reason=f"rejected by the user ({said}){note}", error_type="user_reject",
                       critic=HUMAN)


class UserTurns:
    """The policy, with the user's own action as its next turn: when the user took over and
    the agent asks the policy again (``veto-and-replan``), the answer is the user's action
    (a turn of source ``user``), not a model call. Otherwise the wrapped policy answers,
    within ``timeout_s`` (the agent itself runs without a stage timeout in the app)."""

    def __init__(self, inner, human: HumanApproval | None, timeout_s: float | None = None) -> None:
        from cua.policies.base import components, image_window

        self.inner, self.human, self.timeout_s = inner, human, timeout_s
        self.name = inner.name
        self.image_window = image_window(inner)
        self.components = components(inner)

    def act(self, inp):
        from cua.agent import call_with_timeout
        from cua.policies.base import Proposal as PolicyProposal
        from cua.policies.base import Turn

        own = self.human.own if self.human is not None else None
        if own is None:
            return call_with_timeout(self.inner.act, self.timeout_s, "policy", inp)
        size = inp.observation.size
        space = ModelSpace.screenshot(*size)
        chains = [CoordChain.from_model(p, space, size, raw_text="the user's action") for p in own.points()]
        record = TurnRecord(index=inp.turn_index, policy=self.name, source="user", actions=[own],
                            feedback=str(inp.critique) if inp.critique else inp.feedback)
        return Turn([PolicyProposal(own, chains)], record)


def proposal_markdown(p: Proposal) -> str:
    """The proposal as the user sees it while deciding: what the policy thought and said, the
    action, and the critic's verdict; for a ``CallUser``, its question and the three answers."""
    from cua.ui import render

    intent = f"{render.md(p.intent.kind)} **{render.md(p.intent.target)}**" if p.intent else "direct action"
    v = p.verdict
    said = ("✅ approves" if v.approve else "❌ vetoes") + (f" [{render.md(v.error_type)}]" if v.error_type else "")
    attempt = f" (attempt {p.attempt})" if p.attempt else ""
    if p.asks_user:
        lines = [f"### Step {p.step} — the policy asks for you{attempt}", "",
                 f"**Question** {render.md(p.question or '(no question given)')}", ""]
    else:
        lines = [f"### Step {p.step} — waiting for your decision{attempt}", "", f"**Intent** {intent}  "]
        if p.intent is not None and p.intent.thought and (p.turn is None or p.turn.thought != p.intent.thought):
            lines.append(f"thought: {render.md(p.intent.thought)}  ")
    if p.grounding is not None:
        g = p.grounding
        lines.append(f"**Grounding** ({render.md(g.grounder or '?')}): point {render.point_text(g.point)}, "
                     f"raw {render.code(g.raw_text, 120)}  ")
    lines += [f"**Proposed** {render.code(render.action_text(p.action))}  ",
              f"**Critic** ({render.md(v.critic or '?')}) {said} — {render.md(v.reason)}", ""]
    if p.turn is not None:
        executed = next((i for i, a in enumerate(p.turn.actions) if a == p.action), None)
        lines += [render.turn_markdown(p.turn, executed).replace(
            "← **executed in this step**", "← **proposed now**"), ""]
    if p.asks_user:
        lines.append("**Answer** (type it and press *Answer*: the policy is asked again with it), "
                     "**take over** (your own action, *Run my action*), or **Approve** (the episode ends as "
                     "`needs_user`, not graded).")
    else:
        lines.append("Approve, Reject (the policy proposes again), or click on the screenshot to move the point "
                     "and press *Run my action* (any action kind: that is taking over).")
    return "\n".join(lines)
