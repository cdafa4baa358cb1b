"""Loopback servers for the WebArena tests: the stand-in sites and the stand-in LLM judge."""

from __future__ import annotations

import functools
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import (
    BaseHTTPRequestHandler,
    SimpleHTTPRequestHandler,
    ThreadingHTTPServer,
)
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent
TASKS = FIXTURES / "config_files" / "test.raw.json"
VERIFIED = FIXTURES / "webarena-verified.json"
SERVER_SESSION = "srv-sess-5a4b3c2d"  # the session cookie /login/post hands out


class _SiteHandler(SimpleHTTPRequestHandler):
    def do_POST(self) -> None:
        """A form post answered like a shop answers one: 302 to the product, a message cookie.
        A login post also gets a fresh session cookie (what the trace must not keep)."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/login/post"):
            self.send_response(302)
            self.send_header("Location", "/index.html")
            self.send_header("Set-Cookie", f"PHPSESSID={SERVER_SESSION}; Path=/; HttpOnly")
            self.send_header("Set-Cookie", "mage-messages=Welcome%20back%20alice; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not self.path.startswith("/review/post"):
            self.send_error(404)
            return
        self.send_response(302)
        self.send_header("Location", "/product.html")
        self.send_header("Set-Cookie", "mage-messages=You%20submitted%20your%20review; Path=/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path.startswith("/down"):
            self.send_error(502, "Bad Gateway")  # a proxy in front of a dead site
            return
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serve_site(root: Path = FIXTURES / "site") -> Iterator[str]:
    """The fixture pages on loopback; yields the base URL (no trailing slash)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_SiteHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A loopback port nobody listens on (a site that does not answer)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _JudgeHandler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)  # type: ignore[attr-defined]
        prompt = body["messages"][-1]["content"]
        if "student answer:" in prompt:  # llm_fuzzy_match
            reply = "The answer is correct." if "student answer: blue" in prompt else "Incorrect."
        else:  # llm_ua_match
            reply = "[same]" if "boat" in prompt.split("Report_1 =", 1)[1] else "[different]"
        data = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"],
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                        "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serve_judge() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Stands in for the hosted LLM judge (an OpenAI-compatible API that cannot exist here):
    deterministic replies, every request body kept for the test to inspect."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JudgeHandler)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def run_task(env: Any, suite: Any, name: str, *actions: Any) -> float:
    """One episode of ``name``: reset, the given actions, then the env's own score."""
    env.reset(suite.make_task(name, None))
    for action in actions:
        env.step(action)
    return env.evaluate()
