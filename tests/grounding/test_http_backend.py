"""The OpenAI-compatible client against real HTTP peers on loopback: a server that answers
garbage, one that never answers, one that fails then recovers, and nothing listening."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from grounding.backends.openai_compat import (
    HttpChatModel, ModelServerError, data_url_to_image, image_to_data_url, to_openai_messages,
)
from grounding.server import BadRequest, from_openai_messages


class Peer:
    """A loopback HTTP server whose answers the test scripts (status, body, delay)."""

    def __init__(self, answers: list[tuple[int, str, float]]) -> None:
        self.answers, self.requests = list(answers), []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                peer.requests.append((self.path, dict(self.headers), json.loads(body)))
                status, text, delay = peer.answers.pop(0) if len(peer.answers) > 1 else peer.answers[0]
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(text.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that is the point of the timeout test

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _msgs(prefill: str = "") -> list[dict]:
    m = [{"role": "user", "content": [{"type": "image", "image": Image.new("RGB", (32, 24), "red")},
                                      {"type": "text", "text": "click OK"}]}]
    if prefill:
        m.append({"role": "assistant", "content": [{"type": "text", "text": prefill}]})
    return m


OK = json.dumps({"choices": [{"message": {"role": "assistant", "content": "click(start_box='(1,2)')"}}]})


def test_request_layout_key_and_prefill(monkeypatch):
    monkeypatch.setenv("TEST_MODEL_KEY", "sk-test-123456")
    peer = Peer([(200, OK, 0)])
    try:
        client = HttpChatModel(peer.url, "ui-tars", api_key_env="TEST_MODEL_KEY", timeout_s=5)
        assert client.chat(_msgs("<tool_call>")) == "click(start_box='(1,2)')"
        path, headers, body = peer.requests[0]
        assert path == "/v1/chat/completions"
        assert headers["Authorization"] == "Bearer sk-test-123456"
        assert body["model"] == "ui-tars" and body["temperature"] == 0.0
        image_part = body["messages"][0]["content"][0]
        assert image_part["type"] == "image_url" and image_part["image_url"]["url"].startswith("data:image/png;base64,")
        assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
        assert "sk-test" not in repr(vars(client))  # the key is read when sending, never kept
    finally:
        peer.close()


def test_garbage_answers_are_clear_errors():
    for status, text, expected in [(200, "<html>oops</html>", "not JSON"),
                                   (200, json.dumps({"choices": []}), "without choices"),
                                   (400, json.dumps({"error": "bad"}), "refused the request: HTTP 400")]:
        peer = Peer([(status, text, 0)])
        try:
            with pytest.raises(ModelServerError, match=expected):
                HttpChatModel(peer.url, "m", timeout_s=5, retries=0).chat(_msgs())
        finally:
            peer.close()


def test_timeout_then_retry_with_backoff_recovers():
    peer = Peer([(200, OK, 2.0), (503, "busy", 0), (200, OK, 0)])
    try:
        client = HttpChatModel(peer.url, "m", timeout_s=0.5, retries=3, backoff_s=0.05)
        assert client.chat(_msgs()).startswith("click")
        assert len(peer.requests) == 3
    finally:
        peer.close()


def test_server_that_never_answers_fails_after_retries():
    peer = Peer([(200, OK, 3.0)])
    try:
        with pytest.raises(ModelServerError, match=r"failed after 2 tries: no answer within 0.3 s"):
            HttpChatModel(peer.url, "m", timeout_s=0.3, retries=1, backoff_s=0.01).chat(_msgs())
    finally:
        peer.close()


def test_unreachable_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(ModelServerError, match="cannot reach it"):
            HttpChatModel(f"http://127.0.0.1:{port}", "m", retries=1, backoff_s=0.01).chat(_msgs())


def test_wire_format_round_trip():
    img = Image.new("RGB", (20, 10), (1, 2, 3))
    assert data_url_to_image(image_to_data_url(img)).getpixel((5, 5)) == (1, 2, 3)
    back = from_openai_messages(to_openai_messages(_msgs("<tool_call>")))
    assert back[0]["content"][0]["image"].size == (32, 24)
    assert back[1] == {"role": "assistant", "content": [{"type": "text", "text": "<tool_call>"}]}


@pytest.mark.parametrize("bad, reason", [
    ([], "non-empty list"),
    ([{"role": "tool", "content": "x"}], "needs a role"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}]}],
     "not a base64 image data URL"),
    ([{"role": "user", "content": [{"type": "audio"}]}], "neither text nor image_url"),
])
def test_server_rejects_bad_messages(bad, reason):
    with pytest.raises(BadRequest, match=reason):
        from_openai_messages(bad)
