"""``cua serve``: expose any ChatModel (a local transformers checkpoint) as an
OpenAI-compatible ``/v1/chat/completions`` server, on loopback unless told otherwise."""

# No `from __future__ import annotations`: FastAPI reads the handler annotations at runtime.

import threading
import time
import uuid
from typing import Any

from grounding.backends.base import ChatModel, Message
from grounding.backends.openai_compat import data_url_to_image


class BadRequest(ValueError):
    pass


def from_openai_messages(raw: Any) -> list[Message]:
    """Wire format → our messages. Only inline (data URL) images: this server never fetches."""
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'messages' must be a non-empty list")
    out: list[Message] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise BadRequest(f"messages[{i}] needs a role of system, user or assistant")
        content = m.get("content")
        if isinstance(content, str):
            out.append({"role": m["role"], "content": [{"type": "text", "text": content}]})
            continue
        if not isinstance(content, list):
            raise BadRequest(f"messages[{i}].content must be a string or a list of parts")
        parts: list[dict[str, Any]] = []
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                parts.append({"type": "text", "text": part["text"]})
            elif kind == "image_url":
                url = (part.get("image_url") or {}).get("url", "")
                try:
                    parts.append({"type": "image", "image": data_url_to_image(url)})
                except Exception as e:  # noqa: BLE001 — any decoding failure is the client's
                    raise BadRequest(f"messages[{i}].content[{j}]: {e}") from None
            else:
                raise BadRequest(f"messages[{i}].content[{j}] is neither text nor image_url")
        out.append({"role": m["role"], "content": parts})
    return out


def create_app(model: ChatModel, model_name: str):
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title="cua serve", version="1")
    lock = threading.Lock()  # one generation at a time on one model

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status)

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "cua"}]}

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        try:
            body = await request.json()
        except ValueError:
            return error(400, "the body is not JSON")
        if not isinstance(body, dict):
            return error(400, "the body must be a JSON object")
        try:
            messages = from_openai_messages(body.get("messages"))
            max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 256)
            temperature = float(body.get("temperature") or 0.0)
        except (BadRequest, TypeError, ValueError) as e:
            return error(400, str(e))
        if messages[-1]["role"] == "assistant" and body.get("continue_final_message") is False:
            return error(400, "a trailing assistant message is only supported as a prefill")

        def generate() -> str:
            with lock:
                return model.chat(messages, max_new_tokens=max_tokens, temperature=temperature)

        import anyio

        text = await anyio.to_thread.run_sync(generate)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": model_name,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
        }

    return app


def serve(model: ChatModel, model_name: str, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    uvicorn.run(create_app(model, model_name), host=host, port=port, log_level="warning")


class ServerThread:
    """Run the server in a background thread on a free loopback port (tests, the app)."""

    def __init__(self, model: ChatModel, model_name: str, host: str = "127.0.0.1") -> None:
        import socket

        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://{host}:{self.port}/v1"
        config = uvicorn.Config(create_app(model, model_name), log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="cua-serve", daemon=True)

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the model server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
