"""A ChatModel for any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, SGLang,
hosted APIs, or our own ``cua serve``). Images travel as base64 PNG data URLs."""

from __future__ import annotations

import base64
import io
import os
import random
import time
from typing import Any

from PIL import Image

from cua.core import CuaError
from grounding.backends.base import Message

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class ModelServerError(CuaError):
    """The server could not be reached, or answered with something that is not a completion."""


def image_to_data_url(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


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


class HttpChatModel:
    """``api_key_env`` names the environment variable holding the key (the key itself is
    never stored on this object, so it cannot end up in a trajectory)."""

    def __init__(self, base_url: str, model: str, api_key_env: str | None = "OPENAI_API_KEY",
                 timeout_s: float = 60.0, retries: int = 3, backoff_s: float = 1.0) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model, self.api_key_env = model, api_key_env
        self.timeout_s, self.retries, self.backoff_s = timeout_s, int(retries), float(backoff_s)
        self.name = f"http:{model}"
        self._client = httpx.Client(timeout=timeout_s)

    def chat(self, messages: list[Message], *, max_new_tokens: int = 256,
             temperature: float = 0.0) -> str:
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
        data = self._post("/chat/completions", body)
        try:
            text = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ModelServerError(f"{self.base_url} answered without choices[0].message.content: "
                                   f"{str(data)[:200]}") from None
        if not isinstance(text, str):
            raise ModelServerError(f"{self.base_url} answered a non-text message: {str(text)[:200]}")
        return text

    def chat_batch(self, conversations: list[list[Message]], *, max_new_tokens: int = 256,
                   temperature: float = 0.0) -> list[str]:
        return [self.chat(c, max_new_tokens=max_new_tokens, temperature=temperature)
                for c in conversations]

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        headers = {}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = self.base_url + path
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:  # exponential backoff with jitter
                time.sleep(self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
            try:
                r = self._client.post(url, json=body, headers=headers)
            except httpx.TimeoutException:
                last = f"no answer within {self.timeout_s:g} s"
                continue
            except httpx.TransportError as e:
                last = f"cannot reach it ({type(e).__name__}: {e})"
                continue
            if r.status_code in RETRY_STATUS:
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                continue
            if r.status_code >= 400:
                raise ModelServerError(f"{url} refused the request: HTTP {r.status_code}: {r.text[:300]}")
            try:
                return r.json()
            except ValueError:
                raise ModelServerError(f"{url} answered something that is not JSON: {r.text[:200]!r}") from None
        raise ModelServerError(f"model server {url} failed after {self.retries + 1} tries: {last}")

    def close(self) -> None:
        self._client.close()
