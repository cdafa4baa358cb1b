"""What every model backend offers: chat in, text out.

Messages use the OpenAI chat layout, with images as PIL objects inside the content list::

    [{"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]},
     {"role": "user", "content": [{"type": "image", "image": <PIL.Image>},
                                  {"type": "text", "text": "Click the Save button"}]},
     {"role": "assistant", "content": [{"type": "text", "text": "<tool_call>..."}]}]  # optional prefill

A trailing assistant message is a prefill: the model continues it, and the returned text is
only the continuation. The HTTP client turns images into base64 data URLs; the server turns
them back. Backends decode greedily unless ``temperature`` > 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]


@dataclass(frozen=True)
class Completion:
    """One reply with what it cost (None where the backend cannot say)."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    request_bytes: int | None = None  # the request body on the wire (HTTP)


@runtime_checkable
class ChatModel(Protocol):
    name: str

    def chat(self, messages: list[Message], *, max_new_tokens: int = 256,
             temperature: float = 0.0) -> str: ...

    def chat_batch(self, conversations: list[list[Message]], *, max_new_tokens: int = 256,
                   temperature: float = 0.0) -> list[str]: ...


def complete(model: ChatModel, messages: list[Message], *, max_new_tokens: int = 256,
             temperature: float = 0.0, deadline: float | None = None) -> Completion:
    """``model.complete`` where the backend has it (token counts; ``deadline``, a
    ``time.monotonic()`` time, bounds its work), else its plain ``chat``."""
    native = getattr(model, "complete", None)
    if callable(native):
        return native(messages, max_new_tokens=max_new_tokens, temperature=temperature, deadline=deadline)
    return Completion(model.chat(messages, max_new_tokens=max_new_tokens, temperature=temperature))
