"""A ChatModel for any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, SGLang,
hosted APIs, or our own ``cua serve``). Images travel as base64 PNG data URLs."""

from __future__ import annotations

import base64
import collections
import io
import json
import os
import random
import time
import weakref
from typing import Any

from PIL import Image

from cua.core import CuaError, SetupError
from grounding.backends.base import Completion, Message

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class ModelServerError(CuaError):
    """The server could not be reached, or answered with something that is not a completion."""


def image_to_data_url(image: Image.Image) -> str:
    """A lossless PNG data URL (zlib level 1: the size of level 6 on screenshots, twice as fast).
    The last few are remembered while their images live: an agent resends its recent
    screenshots every turn."""
    for ref, url in tuple(_ENCODED):  # a snapshot: other threads' agents add to it
        if ref() is image:
            return url
    buf = io.BytesIO()
    (image if image.mode == "RGB" else image.convert("RGB")).save(buf, format="PNG", compress_level=1)
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    _ENCODED.appendleft((weakref.ref(image), url))
    return url


_ENCODED: collections.deque[tuple[weakref.ref, str]] = collections.deque(maxlen=16)


def data_url_to_image(url: str) -> Image.Image:
    header, _, payload = url.partition(",")
    if not header.startswith("data:image/") or ";base64" not in header:
        raise ValueError(f"not a base64 image data URL: {url[:40]!r}")
    return Image.open(io.BytesIO(base64.b64decode(payload, validate=True))).convert("RGB")


def to_openai_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Our messages (PIL images inline) → the wire format (image_url parts)."""
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, str):
            out.append({"role": m["role"], "content": content})
            continue
        parts = []
        for part in content:
            if part.get("type") == "image":
                parts.append({"type": "image_url", "image_url": {"url": image_to_data_url(part["image"])}})
            else:
                parts.append({"type": "text", "text": part["text"]})
        out.append({"role": m["role"], "content": parts})
    return out


MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a completion is kilobytes; far more is a broken or hostile server


class HttpChatModel:
    """``api_key_env`` names the environment variable holding the key (the key itself is
    never stored on this object, so it cannot end up in a trajectory); with ``require_key``
    an unset variable is a SetupError at once instead of a request without a key.

    ``timeout_s`` bounds each whole request, reading included: a server that drips its answer
    slowly is cut off like one that does not answer. Answers over 16 MB are refused."""

    def __init__(self, base_url: str, model: str, api_key_env: str | None = None,
                 timeout_s: float = 60.0, retries: int = 3, backoff_s: float = 1.0,
                 require_key: bool = False) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model, self.api_key_env, self.require_key = model, api_key_env, require_key
        self.timeout_s, self.retries, self.backoff_s = timeout_s, int(retries), float(backoff_s)
        self.name = f"http:{model}"
        self._key()  # a required key that is missing stops here, before any episode
        self._client = httpx.Client(timeout=timeout_s)

    def _key(self) -> str | None:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if self.require_key and not key:
            raise SetupError(f"the API key variable {self.api_key_env} is not set (api_key_env={self.api_key_env}); "
                             "export it, or leave api_key_env out for a server without keys")
        return key

    def chat(self, messages: list[Message], *, max_new_tokens: int = 256,
             temperature: float = 0.0) -> str:
        return self.complete(messages, max_new_tokens=max_new_tokens, temperature=temperature).text

    def complete(self, messages: list[Message], *, max_new_tokens: int = 256,
                 temperature: float = 0.0, deadline: float | None = None) -> Completion:
        """One reply. ``deadline`` (``time.monotonic()``) caps every try and stops the retries."""
        prefill = ""
        if messages and messages[-1]["role"] == "assistant":
            prefill = "".join(p.get("text", "") for p in messages[-1]["content"]) \
                if not isinstance(messages[-1]["content"], str) else messages[-1]["content"]
        body: dict[str, Any] = {
            "model": self.model, "messages": to_openai_messages(messages),
            "max_tokens": max_new_tokens, "temperature": temperature,
        }
        if prefill:  # vLLM / SGLang continue a trailing assistant message when asked to
            body.update(continue_final_message=True, add_generation_prompt=False)
        payload = json.dumps(body).encode()
        data = self._post("/chat/completions", payload, deadline)
        try:
            text = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ModelServerError(f"{self.base_url} answered without choices[0].message.content: "
                                   f"{str(data)[:200]}") from None
        if not isinstance(text, str):
            raise ModelServerError(f"{self.base_url} answered a non-text message: {str(text)[:200]}")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return Completion(text, _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")),
                          len(payload))

    def chat_batch(self, conversations: list[list[Message]], *, max_new_tokens: int = 256,
                   temperature: float = 0.0) -> list[str]:
        return [self.chat(c, max_new_tokens=max_new_tokens, temperature=temperature)
                for c in conversations]

    def _post(self, path: str, payload: bytes, deadline: float | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        key = self._key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = self.base_url + path
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:  # exponential backoff with jitter
                time.sleep(self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
            if deadline is not None and time.monotonic() >= deadline:
                last += " (and the caller's deadline has passed)"
                break
            outcome = self._attempt(url, payload, headers, deadline)
            if isinstance(outcome, dict):
                return outcome
            last = outcome
        raise ModelServerError(f"model server {url} failed after {self.retries + 1} tries: {last}")

    def _attempt(self, url: str, payload: bytes, headers: dict[str, str],
                 outer: float | None = None) -> dict[str, Any] | str:
        """One request: the parsed answer, or why it may be worth another try."""
        import httpx

        deadline = time.monotonic() + self.timeout_s
        if outer is not None:
            deadline = min(deadline, outer)
        budget = max(deadline - time.monotonic(), 0.001)
        try:
            with self._client.stream("POST", url, content=payload, headers=headers,
                                     timeout=httpx.Timeout(budget)) as r:
                chunks, size = [], 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise ModelServerError(f"{url} answered more than {MAX_RESPONSE_BYTES // 2**20} MB")
                    if time.monotonic() > deadline:
                        return f"no complete answer within {self.timeout_s:g} s (it arrived too slowly)"
                    chunks.append(chunk)
                raw = b"".join(chunks)
        except httpx.TimeoutException:
            return f"no answer within {self.timeout_s:g} s"
        except httpx.TransportError as e:  # refused, reset, closed mid-answer
            return f"cannot reach it ({type(e).__name__}: {e})"
        text = raw.decode("utf-8", errors="replace")
        if r.status_code in RETRY_STATUS:
            return f"HTTP {r.status_code}: {text[:200]}"
        if r.status_code >= 400:
            raise ModelServerError(f"{url} refused the request: HTTP {r.status_code}: {text[:300]}")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # bytes that are not UTF-8; nesting past Python's stack
            raise ModelServerError(f"{url} answered something that is not JSON: {text[:200]!r}") from None
        if not isinstance(data, dict):
            raise ModelServerError(f"{url} answered JSON that is not an object: {text[:200]!r}")
        return data

    def close(self) -> None:
        self._client.close()


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
