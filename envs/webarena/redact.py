"""Masking login secrets in the network trace before it is kept (steps.jsonl, network.har).

The trace of a logged-in episode carries the session: the ``Cookie`` request header (the
storage-state login), ``Set-Cookie`` answers, ``Authorization``-like headers and form fields
such as ``login[password]``, ``form_key`` or ``authenticity_token``. The store only masks
values of credential-like environment variables, so these are masked here, as ``***``.

The rule: a secret value is kept only when the task's own WebArena-Verified evaluator reads
it, so the live score and an offline rescore of the stored trace are the same as on the
unmasked trace. What each NetworkEventEvaluator reads (``verified._event_data``):

* request headers named in ``expected.headers``: a sensitive header is kept whole when named
  there, except ``Cookie``, where only the cookies the pattern names (``name=``) keep their
  values (webarena-verified 1.2.3 has 4 such tasks, 267/268/759/760, all on OpenStreetMap's
  ``_osm_directions_engine``); other cookies become ``name=***``;
* response cookies named in ``expected.response_cookies`` (tasks 511-515: ``mage-messages``):
  those ``Set-Cookie`` values are kept, every other one is masked (also in ``cookies[]``);
* post data / response content keys of ``expected.post_data`` / ``response_content``: a
  secret-looking field (``SECRET_FIELD``) is kept only when such a key names it: equal to the
  key, a key name a JSONPath key steps through, or fully matched by a ``^...$`` / ``$.^...$``
  regex key. No dataset task names one. Form-like JSON lists (``[{"name": "password",
  "value": ...}]``) are fields too: their ``value`` is masked by the same rule.

Headers: every header whose name looks like a credential (``SECRET_HEADER``: auth, token, key,
secret, csrf, xsrf, session, cookie, password) is masked unless an evaluator names it, so a
site's own ``X-CSRFToken`` or ``X-Auth-Token`` is covered without listing it. Everything else
(URLs, non-secret fields, headers such as ``accept`` or ``referer``) is kept as recorded.
Query strings are not masked: the page URL is stored in every step anyway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from envs.webarena import safe_regex
from envs.webarena.vnormalize import jsonpath_names
from envs.webarena.vtypes import is_regexp

MASK = "***"
# Field names that hold credentials in the WebArena sites' forms and APIs (Magento form_key,
# GitLab authenticity_token, Postmill _csrf_token, login[password], user[password], ...).
SECRET_FIELD = re.compile(r"passw(or)?d|passwd|(^|[^a-z])pass([^a-z]|$)|pwd|token|secret|csrf|xsrf|form_key"
                          r"|api[_-]?key|credential|authenticity|session|private[_-]?key", re.IGNORECASE)
# A pattern, not a list: sites invent their own credential headers (X-CSRFToken, X-Auth-Token, ...).
SECRET_HEADER = re.compile(r"auth|token|key|secret|csrf|xsrf|session|cookie|passw|pwd|credential", re.IGNORECASE)
# Keys that name the field in a form-like JSON list item ({"name": "password", "value": "..."}).
_ITEM_NAME_KEYS = ("name", "key", "field")


@dataclass(frozen=True)
class TraceRedactor:
    """What the task's evaluators read (see the module docstring); ``entry`` masks the rest."""

    headers: frozenset[str] = frozenset()  # lower-cased request header names the evaluators read
    cookie_patterns: tuple[str, ...] = ()  # expected Cookie header values (they name cookies)
    response_cookies: frozenset[str] = frozenset()
    field_keys: tuple[str, ...] = ()  # expected post_data / response_content keys

    @classmethod
    def for_task(cls, eval_items: Iterable[dict[str, Any]]) -> TraceRedactor:
        headers: set[str] = set()
        patterns: list[str] = []
        cookies: set[str] = set()
        keys: list[str] = []
        for item in eval_items:
            expected = item.get("expected") if item.get("evaluator") == "NetworkEventEvaluator" else None
            if not isinstance(expected, dict):
                continue
            for name, value in (expected.get("headers") or {}).items():
                headers.add(str(name).lower())
                if str(name).lower() == "cookie":
                    patterns.extend(str(v) for v in (value if isinstance(value, list) else [value]))
            cookies.update(str(n) for n in (expected.get("response_cookies") or {}))
            for part in ("post_data", "response_content"):
                keys.extend(str(k) for k in (expected.get(part) or {}))
        return cls(frozenset(headers), tuple(patterns), frozenset(cookies), tuple(keys))

    # ---- rules ----

    def keeps_request_cookie(self, name: str) -> bool:
        named = re.compile(rf"(?<![\w-]){re.escape(name)}=")
        return any(named.search(p) for p in self.cookie_patterns)

    def keeps_field(self, name: str) -> bool:
        if not SECRET_FIELD.search(name):
            return True
        return any(self._key_names(k.strip(), name) for k in self.field_keys)

    @staticmethod
    def _key_names(key: str, name: str) -> bool:
        """Whether the evaluator's post_data / response_content ``key`` reads field ``name``."""
        if key == name:
            return True
        pattern = key[2:] if key.startswith("$.^") and key.endswith("$") else key if is_regexp(key) else None
        if pattern is not None:
            try:
                return safe_regex.fullmatch(pattern, name) is not None
            except (safe_regex.PatternError, safe_regex.RegexBudgetError):
                return False  # the evaluator cannot read a field with this key either
        return key.startswith("$") and name in jsonpath_names(key)

    # ---- masking ----

    def entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A HAR entry with the secrets the evaluators do not read masked (a new dict)."""
        request = dict(entry["request"])
        request["headers"] = [self._request_header(h) for h in request.get("headers", [])]
        if request.get("postData"):
            request["postData"] = {**request["postData"], "text": self._body(request["postData"])}
        response = dict(entry["response"])
        response["headers"] = [self._response_header(h) for h in response.get("headers", [])]
        response["cookies"] = [c if c.get("name") in self.response_cookies else {**c, "value": MASK}
                               for c in response.get("cookies", [])]
        if response.get("content", {}).get("text"):
            response["content"] = {**response["content"], "text": self._body(response["content"])}
        return {**entry, "request": request, "response": response}

    def _request_header(self, header: dict[str, str]) -> dict[str, str]:
        name = header["name"].lower()
        if name == "cookie":
            return {**header, "value": self._cookie_header(header["value"])}
        if SECRET_HEADER.search(name) and name not in self.headers:
            return {**header, "value": MASK}
        return header

    def _cookie_header(self, value: str) -> str:
        pairs = []
        for pair in value.split(";"):
            name, eq, _ = pair.strip().partition("=")
            pairs.append(pair.strip() if not eq or self.keeps_request_cookie(name) else f"{name}={MASK}")
        return "; ".join(pairs)

    def _response_header(self, header: dict[str, str]) -> dict[str, str]:
        name = header["name"].lower()
        if name == "set-cookie":
            lines = [self._set_cookie_line(line) for line in header["value"].split("\n")]
            return {**header, "value": "\n".join(lines)}
        if SECRET_HEADER.search(name):  # evaluators read request headers only
            return {**header, "value": MASK}
        return header

    def _set_cookie_line(self, line: str) -> str:
        name, eq, rest = line.partition("=")
        if not eq or name.strip() in self.response_cookies:
            return line
        _, semi, attributes = rest.partition(";")
        return f"{name}={MASK}{semi}{attributes}"

    def _body(self, content: dict[str, Any]) -> str:
        mime, text = str(content.get("mimeType", "")), str(content.get("text", ""))
        if "application/x-www-form-urlencoded" in mime:
            return "&".join(self._form_pair(p) for p in text.split("&"))
        if "multipart/form-data" in mime:
            return self._multipart(text)
        if "json" in mime:
            try:
                parsed = json.loads(text)
            except ValueError:
                return text
            masked, changed = self._json(parsed)
            return json.dumps(masked) if changed else text  # untouched bodies stay byte-identical
        return text

    def _form_pair(self, pair: str) -> str:
        name, eq, _ = pair.partition("=")
        return pair if not eq or self.keeps_field(unquote_plus(name)) else f"{name}={MASK}"

    def _json(self, value: Any) -> tuple[Any, bool]:
        if isinstance(value, dict):
            item_name = next((value[k] for k in _ITEM_NAME_KEYS if isinstance(value.get(k), str)), None)
            if item_name is not None and value.get("value") not in (None, "") and not self.keeps_field(item_name):
                return {k: MASK if k == "value" else self._json(v)[0] for k, v in value.items()}, True
            out, changed = {}, False
            for k, v in value.items():
                if isinstance(k, str) and not self.keeps_field(k) and v not in (None, ""):
                    out[k], changed = MASK, True
                else:
                    out[k], sub = self._json(v)
                    changed = changed or sub
            return out, changed
        if isinstance(value, list):
            items = [self._json(v) for v in value]
            return [v for v, _ in items], any(c for _, c in items)
        return value, False

    def _multipart(self, text: str) -> str:
        def mask_part(m: re.Match[str]) -> str:
            return m.group(1) + (m.group(3) if self.keeps_field(m.group(2)) else MASK)

        # A part: its Content-Disposition head naming the field, a blank line, the value up to the next boundary.
        return re.sub(r'(Content-Disposition:[^\r\n]*\bname="([^"]+)"[^\r\n]*(?:\r?\n[^\r\n]+)*\r?\n\r?\n)'
                      r"(.*?)(?=\r?\n--)", mask_part, text, flags=re.IGNORECASE | re.DOTALL)
