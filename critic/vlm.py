"""A VLM critic: any ChatModel (a local transformers checkpoint, an OpenAI-compatible server)
spoken to through a critic profile (``critic.prompts``), shown the visual evidence
(``critic.evidence``) and the history, answering ``<thinking>/<score>/<suggestion>``.

``--critic vlm:path=/ckpt/GUI-Critic-R1,profile=gui-critic-r1`` or
``--critic vlm:path=http://127.0.0.1:8000/v1,backend=http,profile=hivig,samples=3``.

An answer without a readable score is an ABSTAIN (logged, counted in ``format_errors``): the
action runs as if there were no critic, and offline evaluation counts it as a miss. With
``samples`` > 1 the model answers that many times at ``temperature`` and the verdict's score
is the majority's share: a confidence the loop's abstain threshold can act on.
"""

from __future__ import annotations

import logging
from typing import Any

from PIL import Image

from critic.base import CRITICS, ReviewContext, abstain
from critic.evidence import mark, render
from critic.history import (
    HistoryCompressor,
    RuleCompressor,
    VLMCompressor,
    describe_step,
)
from critic.prompts import (
    HIVIG_IMAGES,
    HIVIG_NO_POINT,
    CriticAnswer,
    CriticProfile,
    computer_use_call,
    get_profile,
    infer_error_type,
    parse_answer,
)
from cua.core import Action, CuaError, Intent, ModelSpace, Verdict
from cua.core.coords import map_action, to_model_space
from grounding.backends.base import ChatModel, Message
from grounding.model_grounder import make_chat_model

log = logging.getLogger(__name__)
MAX_HISTORY_LINES = 15  # GUI-Critic-R1's test items show up to ~16 earlier steps


class VLMCritic:
    def __init__(self, chat_model: ChatModel, profile: CriticProfile | str = "hivig", max_new_tokens: int = 512,
                 samples: int = 1, temperature: float = 0.7, recent: int = 4, max_pixels: int | None = None,
                 compressor: HistoryCompressor | None = None) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        factor = getattr(chat_model, "factor", None)  # known for local models, not over HTTP
        if factor is not None and factor != self.profile.factor:
            raise CuaError(f"critic profile {self.profile.name} resizes for a {self.profile.factor}-pixel grid "
                           f"but {chat_model.name} sees in {factor}-pixel cells: wrong profile?")
        self.chat_model = chat_model
        self.max_new_tokens, self.samples, self.temperature = max_new_tokens, samples, temperature
        self.recent, self.max_pixels = recent, max_pixels
        self.compressor = compressor or RuleCompressor()  # the agent asks critics for their history
        self.name = f"vlm:{self.profile.name}"
        self.calls = self.format_errors = 0

    def review(self, ctx: ReviewContext) -> Verdict:
        messages, space = self.messages(ctx)
        if self.samples > 1:
            replies = self.chat_model.chat_batch([messages] * self.samples, max_new_tokens=self.max_new_tokens,
                                                 temperature=self.temperature)
        else:
            replies = [self.chat_model.chat(messages, max_new_tokens=self.max_new_tokens)]
        self.calls += 1
        return self.verdict(ctx, [parse_answer(r) for r in replies], replies, space)

    # ---- prompt -------------------------------------------------------------------------

    def messages(self, ctx: ReviewContext) -> tuple[list[Message], ModelSpace]:
        """The chat for ``ctx`` and the coordinate space the model answers in. Also sets
        ``ctx.evidence`` (the image saved in the trajectory)."""
        p = self.profile
        shot = ctx.observation.screenshot
        w, h = p.resized(*shot.size, self.max_pixels)
        space = p.model_space(w, h)
        own = ctx.extra.get("gui_critic_problem") if p.name == "gui-critic-r1" else None
        if own:  # a GUI-Critic-Test item: its own text and its already marked image
            images = [_image(shot.convert("RGB").resize((w, h), Image.Resampling.BICUBIC))]
            ctx.evidence = shot
            text = own
        else:
            evidence = render(shot, ctx.action)
            ctx.evidence = evidence.panel()
            resized = shot.convert("RGB").resize((w, h), Image.Resampling.BICUBIC)
            images = [_image(mark(resized, ctx.action, w / shot.width))]
            if p.images == "marked+zoom" and evidence.zoom is not None:
                zw, zh = p.resized(*evidence.zoom.size)
                images.append(_image(evidence.zoom.resize((zw, zh), Image.Resampling.BICUBIC)))
            text = self._text(ctx, space, w, h, evidence.zoom is not None)
        content = [{"type": "text", "text": text}, *images] if p.text_first else [*images, {"type": "text", "text": text}]
        return [{"role": "system", "content": [{"type": "text", "text": p.system}]},
                {"role": "user", "content": content}], space

    def _text(self, ctx: ReviewContext, space: ModelSpace, w: int, h: int, zoomed: bool) -> str:
        shot_size = ctx.observation.size
        size = f"{w}x{h}; coordinates are relative, 0-1000 on both axes" if space.kind == "rel_1000" \
            else f"{w}x{h} pixels"
        action = to_model_space(ctx.action, space, shot_size)
        executed = [r for r in ctx.history if r.action is not None or r.attempts]
        lines = [f"Step {k}: {describe_step(r, coords=False)}" for k, r in enumerate(executed, 1)]
        macro = ctx.macro_history or self.compressor.compress(ctx.task, ctx.history, ctx.frames)
        if len(lines) > MAX_HISTORY_LINES:
            lines = [f"Earlier (summary): {'; '.join(e.text for e in macro.entries)}", *lines[-MAX_HISTORY_LINES:]]
        fill = {
            "{instruction}": ctx.task.instruction or ctx.observation.instruction or ctx.task.id,
            "{history}": "\n".join(lines) or "None",
            "{macro}": macro.text(),
            "{recent}": "\n".join(lines[-self.recent:]) or "None",
            "{intent}": _intent_text(ctx.intent),
            "{action}": computer_use_call(action),
            "{images}": (HIVIG_IMAGES if zoomed else HIVIG_NO_POINT).format(size=size),
        }
        text = self.profile.user
        for key, value in fill.items():  # not str.format: the prompts hold JSON braces
            text = text.replace(key, value)
        return text

    # ---- answer -------------------------------------------------------------------------

    def verdict(self, ctx: ReviewContext, answers: list[CriticAnswer], replies: list[str],
                space: ModelSpace) -> Verdict:
        read = [a for a in answers if a.correct is not None]
        yes = sum(a.correct for a in read)
        no = len(read) - yes
        if not read or yes == no:
            self.format_errors += not read
            why = answers[0].format_error if not read else f"{yes} correct vs {no} incorrect"
            log.info("%s abstains: %s; answer %r", self.name, why, replies[0][:300])
            return abstain(f"critic abstains: {why} (answer: {replies[0][:200]!r})", self.name)
        correct = yes > no
        rep = next(a for a in read if a.correct == correct)
        score = round(max(yes, no) / len(answers), 3)
        if correct:
            return Verdict(approve=True, reason=(rep.suggestion or rep.critique or "correct")[:500],
                           score=score, critic=self.name)
        suggestion = _to_screenshot(rep.action, space, ctx.observation.size)
        reason = rep.critique[:400] or "incorrect"
        if rep.suggestion:
            reason += f" Suggestion: {rep.suggestion[:200]}"
        return Verdict(approve=False, reason=reason,
                       error_type=rep.error_type or infer_error_type(f"{rep.critique} {rep.suggestion}"),
                       suggestion=suggestion, score=score, critic=self.name)


def _image(image: Image.Image) -> dict[str, Any]:
    # resized_*: the size the backend must show (LocalChatModel checks it against its grid).
    return {"type": "image", "image": image, "resized_width": image.width, "resized_height": image.height}


def _intent_text(intent: Intent | None) -> str:
    if intent is None:
        return "(a direct action, no stated intent)"
    text = f"{intent.kind.replace('_', ' ')} {intent.target}"
    return text + (f" — {intent.thought}" if intent.thought else "")


def _to_screenshot(action: Action | None, space: ModelSpace, shot_size: tuple[int, int]) -> Action | None:
    """A suggested action in screenshot pixels; dropped when it points outside the image."""
    if action is None:
        return None
    if any(not (0 <= p.x <= space.width and 0 <= p.y <= space.height) for p in action.points()):
        return None
    mapped, _ = map_action(action, space, shot_size)
    return mapped


@CRITICS.register("vlm")
def _make_vlm(path: str, profile: str = "hivig", backend: str = "local", max_new_tokens: str = "512",
              samples: str = "1", temperature: str = "0.7", recent: str = "4", max_pixels: str | None = None,
              history: str = "rules", **options: str) -> VLMCritic:
    """``history=vlm`` also compresses the macro-action history with the same model."""
    model = make_chat_model(backend, path, **options)
    compressor = VLMCompressor(model) if history == "vlm" else RuleCompressor()
    return VLMCritic(model, profile, int(max_new_tokens), int(samples), float(temperature), int(recent),
                     int(max_pixels) if max_pixels else None, compressor)
