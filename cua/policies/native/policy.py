"""A native computer-use model as a whole policy: it sees the screen and writes the next
actions in its own grammar; the runtime does everything else the way its authors did.

``--policy native:profile=ui-tars-1.5,backend=http,url=http://127.0.0.1:8000,model=ui-tars``
(or ``backend=local,path=/ckpt``). One turn:

1. the screenshot is smart-resized exactly as the model's server would (so the server's own
   resize is a no-op and the coordinates mean what the prompt says), the conversation is laid
   out from the episode's records (``layouts``), and the model is asked;
2. the reply is parsed by the profile's codec (never executed), every point is checked to lie
   inside the image the model saw, and mapped to screenshot pixels through ``cua.core.coords``
   (each action's coordinate chain is recorded);
3. a reply that does not parse is fed back to the model with the parser's message, at most
   ``parse_retries`` times; then the turn is ``Fail(by="runtime")`` with the reason, which ends
   the episode without claiming the task infeasible.

Termination: ``finished`` / ``terminate(success)`` / ``answer`` → ``Done(answer)``;
``terminate(failure)`` / ``FAIL`` → ``Fail`` (infeasible); ``call_user()`` → ``CallUser`` (or
``Fail`` where the profile says OSWorld's reading).
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Sequence

from PIL import Image

from cua.core import (
    Action, ActionParseError, CallUser, Fail, ModelSpace, Point, RejectedReply, StepRecord, TERMINAL_ACTIONS,
    TurnRecord, Usage,
)
from cua.core.codecs import emit
from cua.core.coords import map_action
from cua.policies.base import PolicyInput, Proposal, Turn
from cua.policies.native import layouts
from cua.policies.native.profiles import NativeProfile
from grounding.backends.base import ChatModel, Completion, complete

MAX_KEPT_CHARS = 4000  # of a rejected reply, in the record and when it is shown to the model again
FEEDBACK = ("Your last reply could not be used: {error}. Reply again in exactly the format the instructions "
            "ask for, with one valid action.")


class NativePolicy:
    def __init__(self, profile: NativeProfile, chat_model: ChatModel, parse_retries: int = 2,
                 max_new_tokens: int | None = None, temperature: float | None = None) -> None:
        self.profile, self.chat_model = profile, chat_model
        self.parse_retries = max(0, int(parse_retries))
        self.max_new_tokens = int(max_new_tokens or profile.max_new_tokens)
        self.temperature = profile.temperature if temperature is None else float(temperature)
        self.name = f"native:{profile.name}"
        self.image_window = profile.image_window
        self.components = {"model": chat_model.name}
        self._resized: list[tuple[weakref.ref, tuple[int, int], Image.Image]] = []

    # ---- one turn ---------------------------------------------------------------------------

    def act(self, inp: PolicyInput) -> Turn:
        obs, profile = inp.observation, self.profile
        shot = obs.size
        size = profile.resized_size(*shot)
        space = profile.model_space(*size)
        feedback = _feedback(inp)
        request = layouts.build(profile, inp.task.instruction or obs.instruction or "", self._past(inp, space),
                                obs.screenshot, inp.screenshot_name, size, feedback, self._shown)
        record = TurnRecord(index=inp.turn_index, policy=self.name, images=request.images, image_size=size,
                            feedback=feedback)
        usage = Usage(images=len(request.images), image_tokens=len(request.images) * _grid(size, profile))
        started = time.perf_counter()
        proposals: list[Proposal] | None = None
        for attempt in range(self.parse_retries + 1):
            if attempt and inp.deadline is not None and time.monotonic() >= inp.deadline:
                break  # no time left to ask again: the rejected replies say why
            reply = complete(self.chat_model, request.messages, max_new_tokens=self.max_new_tokens,
                             temperature=self.temperature, deadline=inp.deadline)
            _count(usage, reply)
            text = _safe_text(reply.text)
            try:
                parsed = layouts.read(profile, text)
                proposals = [self._proposal(a, space, shot) for a in parsed.actions]
            except ActionParseError as e:
                error = e.reason
                record.rejected.append(RejectedReply(raw=text[:MAX_KEPT_CHARS], error=error))
                request.messages += [
                    {"role": "assistant", "content": [{"type": "text", "text": text[:MAX_KEPT_CHARS]}]},
                    {"role": "user", "content": [{"type": "text", "text": FEEDBACK.format(error=error)}]}]
                continue
            record.thought, record.raw_output, record.response = parsed.thought, text, parsed.response
            record.summary = parsed.summary
            break
        usage.latency_s = time.perf_counter() - started
        record.usage = usage
        if proposals is None:
            reason = (f"no usable reply after {len(record.rejected)} tries; last: "
                      f"{record.rejected[-1].error if record.rejected else 'none'}")
            record.error = reason
            proposals = [Proposal(Fail(reason=reason, by="runtime"))]
        proposals = self._terminations(proposals, record.thought, inp)
        record.actions = [p.action for p in proposals]
        return Turn(proposals, record, {"model": usage.latency_s})

    def _proposal(self, action: Action, space: ModelSpace, shot: tuple[int, int]) -> Proposal:
        for p in action.points():
            if not (math.isfinite(p.x) and math.isfinite(p.y) and 0 <= p.x <= space.width and 0 <= p.y <= space.height):
                raise ActionParseError(
                    f"point ({p.x:g}, {p.y:g}) is outside the {space.width:g}x{space.height:g} "
                    f"{'image' if space.kind == 'abs_resized' else 'grid'} the coordinates are given in")
        try:
            said = emit(action, self.profile.codec)
        except ActionParseError:
            said = action.type
        mapped, chains = map_action(action, space, shot, raw_text=said)
        if any(c.screenshot_point.x >= shot[0] or c.screenshot_point.y >= shot[1] for c in chains):
            # The image's far edge (x == width) maps onto the pixel just past the screenshot.
            mapped, chains = _inside(mapped, chains, shot)
        return Proposal(mapped, chains)

    def _terminations(self, proposals: list[Proposal], thought: str | None, inp: PolicyInput) -> list[Proposal]:
        out = []
        for p in proposals:
            if isinstance(p.action, CallUser):
                question = (thought or "").strip() or None
                p = Proposal(Fail(reason="call_user: " + (question or ""), by="agent")
                             if self.profile.call_user == "fail" else CallUser(question=question))
            out.append(p)
            if isinstance(p.action, TERMINAL_ACTIONS):
                break  # nothing after the end runs
        if self.profile.fail_at_budget and inp.steps_left == 1 and not isinstance(out[-1].action, TERMINAL_ACTIONS):
            # OpenCUA / EvoCUA: a last step that does not end the task becomes FAIL.
            out = [Proposal(Fail(reason="the step budget ends here (the profile's rule)", by="agent"))]
        return out

    # ---- history ----------------------------------------------------------------------------

    def _shown(self, image: Image.Image, size: tuple[int, int]) -> Image.Image:
        """``image`` at the size the model sees. Earlier screenshots go out again every turn, so
        their resized copies are kept while the original lives (checked by identity)."""
        if image.size == size and image.mode == "RGB":
            return image
        for ref, at, shown in self._resized:
            if ref() is image and at == size:
                return shown
        shown = layouts.resize(image, size)
        self._resized = [(weakref.ref(image), size, shown), *self._resized[:2 * self.image_window]]
        return shown

    def _past(self, inp: PolicyInput, space: ModelSpace) -> list[layouts.PastTurn]:
        """The earlier turns, from the records: the policy's own replies as it wrote them, and
        turns the user or the critic took over as this model would have written them."""
        shot = inp.observation.size
        past: list[layouts.PastTurn] = []
        for group in _turns(inp.history):
            first = group[0]
            turns = [r.turn for r in group if r.turn is not None]
            turn = turns[0] if turns else None
            executed = [r.action for r in group if r.action is not None]
            others = [t for t in turns if t.source != "policy"]
            if turn is not None and turn.source == "policy" and turn.response and not others:
                response, summary = turn.response, turn.summary or ""
            else:  # somebody else ran (part of) this turn: show what actually ran
                summary = _say(executed, others[0] if others else turn)
                response = layouts.render_turn(self.profile, executed, space, shot, summary)
            past.append(layouts.PastTurn(response=response, summary=summary, screenshot=inp.frames.get(first.index),
                                         screenshot_name=first.screenshot))
        return past


def _inside(action: Action, chains: list, shot: tuple[int, int]) -> tuple[Action, list]:
    """The action and its chains with screenshot points kept on the screenshot's last pixel."""
    def clamp(x: float, y: float) -> tuple[float, float]:
        return min(x, shot[0] - 1), min(y, shot[1] - 1)

    data = action.model_dump()
    if data.get("x") is not None and data.get("y") is not None:
        data["x"], data["y"] = clamp(data["x"], data["y"])
    if "to_x" in data:
        data["to_x"], data["to_y"] = clamp(data["to_x"], data["to_y"])
    fixed = [c.model_copy(update={"screenshot_point": Point(x=min(c.screenshot_point.x, shot[0] - 1),
                                                             y=min(c.screenshot_point.y, shot[1] - 1))})
             for c in chains]
    return type(action).model_validate(data), fixed


def _turns(history: Sequence[StepRecord]) -> list[list[StepRecord]]:
    """Records grouped by turn, in order (a record made without a turn index is a turn alone)."""
    groups: list[list[StepRecord]] = []
    for r in history:
        if groups and r.turn_index is not None and groups[-1][-1].turn_index == r.turn_index:
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def _say(actions: list[Action], turn: TurnRecord | None) -> str:
    who = "the user" if turn is not None and turn.source == "user" else "the critic" if turn is not None else "the runtime"
    if not actions:
        return f"nothing was done ({who})"
    return f"{who} did: " + "; ".join(a.type.replace("_", " ") for a in actions)


def _feedback(inp: PolicyInput) -> str | None:
    """What this request tells the model about its last proposal (None: nothing to say)."""
    parts = []
    if inp.feedback:
        parts.append(inp.feedback)
    if inp.critique:
        verdict = inp.critique.verdict
        if verdict is not None and verdict.error_type == "user_answer":
            parts.append(f"user_resp: {verdict.reason}")
        else:
            parts.append(f"Your proposed action was not executed; a reviewer said: {inp.critique}")
    return "\n".join(parts) or None


def _grid(size: tuple[int, int], profile: NativeProfile) -> int:
    """Visual tokens one image becomes (a factor x factor cell each, after the 2x2 merge)."""
    return (size[0] // profile.resize.factor) * (size[1] // profile.resize.factor)


def _count(usage: Usage, reply: Completion) -> None:
    usage.calls += 1
    if reply.prompt_tokens is not None:
        usage.prompt_tokens = (usage.prompt_tokens or 0) + reply.prompt_tokens
    if reply.completion_tokens is not None:
        usage.completion_tokens = (usage.completion_tokens or 0) + reply.completion_tokens
    if reply.request_bytes is not None:
        usage.request_bytes = reply.request_bytes


def _safe_text(text: object) -> str:
    """Model text as a str that can be written to JSON (lone surrogates replaced)."""
    if not isinstance(text, str):
        return ""
    return text.encode("utf-8", "replace").decode("utf-8")
