"""A grounding model behind a ChatModel, spoken to through its profile.

``--grounder model:profile=jedi,path=/ckpt/Jedi-7B-1080p,device=cuda,dtype=bfloat16`` builds the
local transformers backend; torch and transformers load only then, so ``import grounding``
stays fast and works without them.
"""

from __future__ import annotations

import logging
import time

from PIL import Image

from cua.core import ActionParseError, CuaError, Grounding, ModelSpace, Observation
from grounding.backends.base import ChatModel
from grounding.base import GROUNDERS
from grounding.profiles import Profile, get_profile

log = logging.getLogger(__name__)


class ModelGrounder:
    """Prompts ``chat_model`` the way ``profile`` says and reads its answer back. An answer
    that is not a point (malformed, or outside the image) is a refusal that keeps the raw text,
    so the trajectory shows what the model said."""

    def __init__(self, profile: Profile | str, chat_model: ChatModel, max_new_tokens: int = 256) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        factor = getattr(chat_model, "factor", None)  # known for local models, not over HTTP
        if factor is not None and factor != self.profile.resize.factor:
            raise CuaError(f"profile {self.profile.name} resizes for a {self.profile.resize.factor}-pixel "
                           f"grid but {chat_model.name} sees in {factor}-pixel cells: wrong profile?")
        self.chat_model = chat_model
        self.max_new_tokens = int(max_new_tokens)
        self.name = f"model:{self.profile.name}"

    def ground(self, image: Image.Image, instruction: str,
               observation: Observation | None = None) -> Grounding:
        start = time.perf_counter()
        messages, space = self.profile.build_messages(image, instruction)
        reply = self.chat_model.chat(messages, max_new_tokens=self.max_new_tokens)
        return self._read(reply, space, image.size, time.perf_counter() - start)

    def ground_batch(self, items: list[tuple[Image.Image, str]]) -> list[Grounding]:
        """One batched generation; each Grounding's latency is the whole batch's (what each
        caller waited)."""
        if not items:
            return []
        start = time.perf_counter()
        built = [self.profile.build_messages(image, instruction) for image, instruction in items]
        replies = self.chat_model.chat_batch([m for m, _ in built], max_new_tokens=self.max_new_tokens)
        latency = time.perf_counter() - start
        return [self._read(reply, space, image.size, latency)
                for reply, (_, space), (image, _) in zip(replies, built, items, strict=True)]

    def _read(self, reply: str, space: ModelSpace, shot_size: tuple[int, int],
              latency: float) -> Grounding:
        text = self.profile.prefill + reply  # the continuation alone does not parse
        try:
            grounding = self.profile.parse(text, space, shot_size)
        except ActionParseError as e:
            log.info("%s: unreadable answer (%s)", self.name, e.reason)
            grounding = Grounding(point=None, raw_text=text, model_space=space)
        return grounding.model_copy(update={"latency_s": latency, "grounder": self.name})


def make_chat_model(backend: str, path: str, **options: str) -> ChatModel:
    """The chat model a ``model`` grounder talks to. ``local``: a transformers checkpoint
    (options: device, dtype, attn, min_pixels, max_pixels). ``http``: ``path`` is the base URL
    of an OpenAI-compatible server (options: model, api_key_env, timeout, retries)."""
    if backend == "local":
        from grounding.backends.local import (
            LocalChatModel,  # torch and transformers load here
        )

        known = {"device", "dtype", "attn", "min_pixels", "max_pixels"}
        if unknown := sorted(set(options) - known):
            raise CuaError(f"unknown option(s) {', '.join(unknown)} for backend=local; "
                           f"known: {', '.join(sorted(known))}")
        pixels = {k: int(options[k]) for k in ("min_pixels", "max_pixels") if k in options}
        return LocalChatModel(path, device=options.get("device", "cpu"), dtype=options.get("dtype"),
                              attn_implementation=options.get("attn"), **pixels)
    if backend == "http":
        from grounding.backends.openai_compat import HttpChatModel

        known = {"model", "api_key_env", "timeout", "retries"}
        if unknown := sorted(set(options) - known):
            raise CuaError(f"unknown option(s) {', '.join(unknown)} for backend=http; "
                           f"known: {', '.join(sorted(known))}")
        # A variable named on purpose must be set (a hosted API); the default may be absent (vLLM).
        return HttpChatModel(path, options.get("model", "default"),
                             api_key_env=options.get("api_key_env"),  # a key goes only where it is named
                             timeout_s=float(options.get("timeout", 60)),
                             retries=int(options.get("retries", 3)), require_key="api_key_env" in options)
    raise CuaError(f"unknown model backend {backend!r}; known: local, http")


@GROUNDERS.register("model")
def _make_model(profile: str, path: str, backend: str = "local", max_new_tokens: str = "256",
                **options: str) -> ModelGrounder:
    return ModelGrounder(get_profile(profile), make_chat_model(backend, path, **options),
                         max_new_tokens=int(max_new_tokens))
