"""The network trace WebArena-Verified scores: HAR entries captured from Playwright events.

Upstream records a HAR file per task (``network.har``, Playwright's ``record_har_path``) and
reads it with ``webarena-verified`` 1.2.3 ``types/tracing.py`` (NetworkEvent) and
``core/utils/network_event_utils.py`` (post data / content parsing). ``NetworkRecorder``
listens to the browser context's finished and failed requests and writes each as a HAR entry
(``request{method,url,headers[],postData{mimeType,text}}``,
``response{status,headers[],cookies[],content{mimeType,text},redirectURL}``), so a stored
trace is a valid HAR that the official package reads too. Static assets (the extensions
upstream's ``is_evaluation_event`` skips) and non-http(s) URLs are not kept; response bodies
are kept for JSON responses only (the only content the evaluator parses), up to 256 KiB.
Login secrets (cookies, Authorization, password / token form fields) are masked before an
entry leaves the recorder, except those the task's own evaluator reads (``redact``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from envs.webarena.redact import TraceRedactor

STATIC_SUFFIXES = (".css", ".js", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".woff", ".woff2", ".ttf",
                   ".ico", ".webp")
MAX_BODY_BYTES = 256 * 1024


def is_evaluation_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and not parsed.path.endswith(STATIC_SUFFIXES)


def _cookies(headers: list[dict[str, str]]) -> list[dict[str, str]]:
    out = []
    for h in headers:
        if h["name"].lower() == "set-cookie":
            for line in h["value"].split("\n"):  # Playwright joins several Set-Cookie lines with \n
                name, _, rest = line.partition("=")
                if name.strip():
                    out.append({"name": name.strip(), "value": rest.split(";", 1)[0].strip()})
    return out


def har_entry(request: Any, redactor: TraceRedactor | None = None) -> dict[str, Any] | None:
    """One Playwright Request (finished or failed) → a HAR entry, its secrets masked by
    ``redactor`` (default: every secret masked); None when not kept."""
    if not is_evaluation_url(request.url):
        return None
    headers = [{"name": k, "value": v} for k, v in request.all_headers().items()]
    entry_request: dict[str, Any] = {"method": request.method, "url": request.url, "headers": headers}
    post = request.post_data
    if post is not None:
        mime = next((h["value"] for h in headers if h["name"].lower() == "content-type"), "")
        entry_request["postData"] = {"mimeType": mime, "text": post}
    response = request.response()
    entry_response: dict[str, Any] = {"status": -1, "headers": [], "cookies": [], "content": {}, "redirectURL": ""}
    if response is not None:
        resp_headers = response.headers_array()
        mime = response.headers.get("content-type", "")
        content: dict[str, Any] = {"mimeType": mime}
        if "application/json" in mime:
            try:
                body = response.body()
            except Exception:  # noqa: BLE001 — the body can be gone after a navigation
                body = None
            if body is not None and len(body) <= MAX_BODY_BYTES:
                content["text"] = body.decode("utf-8", "replace")
        entry_response = {"status": response.status, "headers": resp_headers, "cookies": _cookies(resp_headers),
                          "content": content, "redirectURL": response.headers.get("location", "")}
    start = float((request.timing or {}).get("startTime") or 0.0)
    entry = {"startedDateTime": start, "request": entry_request, "response": entry_response}
    return (redactor or TraceRedactor()).entry(entry)


class NetworkRecorder:
    """Collects the requests of a browser context; ``drain()`` turns the finished ones into
    HAR entries in start order (called between actions, never inside Playwright's callbacks).
    ``redactor`` says which secrets the task's evaluators read (the rest are masked)."""

    def __init__(self, redactor: TraceRedactor | None = None) -> None:
        self._pending: list[Any] = []
        self._redactor = redactor or TraceRedactor()

    def attach(self, context: Any) -> None:
        context.on("requestfinished", self._collect)
        context.on("requestfailed", self._collect)

    def _collect(self, request: Any) -> None:
        self._pending.append(request)

    def drain(self) -> list[dict[str, Any]]:
        pending, self._pending = self._pending, []
        entries = []
        for request in pending:
            try:
                entry = har_entry(request, self._redactor)
            except Exception:  # noqa: BLE001 — a request of a closed page: nothing to read
                continue
            if entry is not None:
                entries.append(entry)
        entries.sort(key=lambda e: e["startedDateTime"])
        return entries


def as_har(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"log": {"version": "1.2", "creator": {"name": "cua", "version": "1"}, "entries": entries}}


# ---- reading (types/tracing.py NetworkEvent) ----------------------------------------------------


def parse_multipart(text: str, boundary: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for part in text.split(f"--{boundary}"):
        part = part.strip()
        if not part or part == "--":
            continue
        if "\r\n\r\n" in part:
            head, body = part.split("\r\n\r\n", 1)
        elif "\n\n" in part:
            head, body = part.split("\n\n", 1)
        else:
            continue
        for line in head.split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                m = re.search(r'name="([^"]+)"', line)
                if m:
                    result[m.group(1)] = body.rstrip("\r\n")
                break
    return result


def parse_content(content: dict[str, Any]) -> dict[str, Any] | None:
    """network_event_utils.parse_har_content: form, JSON object or multipart → dict."""
    mime, text = content.get("mimeType", ""), content.get("text", "")
    if not text:
        return None
    if "application/x-www-form-urlencoded" in mime:
        return {k: v[0] if v else "" for k, v in parse_qs(text, keep_blank_values=True).items()}
    if "application/json" in mime:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    if "multipart/form-data" in mime:
        m = re.search(r"boundary=([^;\s]+)", mime)
        if m:
            return parse_multipart(text, m.group(1))
    return None


@dataclass(frozen=True)
class NetworkEvent:
    data: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.data["request"]["url"])

    @property
    def http_method(self) -> str:
        return str(self.data["request"]["method"])

    @property
    def status(self) -> int:
        return int(self.data["response"]["status"])

    @property
    def raw_headers(self) -> dict[str, str]:
        """Lower-cased names, values as sent (what header checks read)."""
        return {h["name"].lower(): h["value"] for h in self.data["request"].get("headers", [])}

    @property
    def request_headers(self) -> dict[str, str]:
        """Lower-cased names and values (what the navigation test reads)."""
        return {k: v.lower() for k, v in self.raw_headers.items()}

    @property
    def post_data(self) -> dict[str, Any] | None:
        post = self.data["request"].get("postData")
        return parse_content(post) if post else None

    @property
    def response_content(self) -> dict[str, Any] | None:
        content = self.data["response"].get("content")
        return parse_content(content) if content else None

    @property
    def response_cookies(self) -> dict[str, str]:
        return {c["name"]: unquote(c.get("value", "")) for c in self.data["response"].get("cookies", [])}

    @property
    def is_evaluation_event(self) -> bool:
        return not urlparse(self.url).path.endswith(STATIC_SUFFIXES)

    @property
    def is_navigation_event(self) -> bool:
        if self.http_method != "GET":
            return False
        h = self.request_headers
        if "sec-fetch-user" in h:
            return (h.get("sec-fetch-dest") == "document" and h.get("sec-fetch-mode") == "navigate"
                    and h.get("sec-fetch-user") == "?1" and "text/html" in h.get("accept", ""))
        return h.get("accept", "").startswith("text/html")


def events_from(trace: list[dict[str, Any]] | dict[str, Any]) -> list[NetworkEvent]:
    """HAR (``{"log": {"entries": [...]}}``) or a bare list of entries → evaluation events."""
    entries = trace["log"]["entries"] if isinstance(trace, dict) else trace
    events = [NetworkEvent(e) for e in entries if isinstance(e, dict) and "request" in e and "response" in e]
    return [e for e in events if e.is_evaluation_event]
