"""WebArena-Verified's URL type: base URL + query parameters, templates, regex patterns.

Ported from ``webarena-verified`` 1.2.3 ``core/evaluation/data_types/url.py`` and
``core/utils/url_utils.py``. A URL is rendered (``__GITLAB__/x`` → the site's address) when it
starts with a template, canonicalised (upstream uses ``url-normalize``; ``canonical_url`` here
does the same steps: lower-case scheme and host, default port dropped, dot segments removed,
percent-encoding normalised, an empty path becomes ``/``), derendered back to its template
(``http://host:8023/x`` → ``__GITLAB__/x``) and split into a base URL and query parameters
(values lower-cased, stripped, sorted; ignored names dropped). Base URLs compare
case-insensitively without a trailing ``/``; ``^...$`` URLs are regular expressions matched
against the rendered other side. Query parameters compare on their first value, a missing
parameter equal to an empty one, and ``^...$`` values match as regexes. SSH URLs are not
ported (no WebArena-Verified task expects one in a trace).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse, urlunparse

from envs.webarena import safe_regex
from envs.webarena.vtypes import NormalizedType, is_regexp

QueryParams = dict[str, tuple[Any, ...]]
_UNRESERVED = "-._~"
_PATH_SAFE = "/!$&'()*+,;=:@%"
_QUERY_SAFE = "/?!$&'()*+,;=:@%"


def _requote(text: str, safe: str) -> str:
    """Decode escapes of unreserved characters, encode the rest, upper-case escapes."""
    text = re.sub(r"%([0-9a-fA-F]{2})",
                  lambda m: chr(int(m.group(1), 16)) if (c := chr(int(m.group(1), 16))).isalnum() and c.isascii()
                  or c in _UNRESERVED else "%" + m.group(1).upper(), text)
    return quote(text, safe=safe + _UNRESERVED)


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            if len(out) > 1:
                out.pop()
        elif seg != ".":
            out.append(seg)
    result = "/".join(out)
    if path.endswith(("/.", "/..")):
        result += "/"
    return result


def canonical_url(url: str) -> str:
    """What url_normalize gives for an http(s) URL (the steps upstream relies on)."""
    if "://" not in url:
        url = "https://" + url  # url_normalize's default scheme
    p = urlparse(url)
    scheme, host = p.scheme.lower(), (p.hostname or "").lower()
    netloc = host
    if p.port and not (scheme == "http" and p.port == 80 or scheme == "https" and p.port == 443):
        netloc = f"{host}:{p.port}"
    if p.username:
        netloc = f"{p.username}{':' + p.password if p.password else ''}@{netloc}"
    path = _requote(_remove_dot_segments(p.path), _PATH_SAFE) or "/"
    query = _requote(p.query, _QUERY_SAFE)
    return urlunparse((scheme, netloc, path, p.params, query, p.fragment))


def extract_base64_query(path: str) -> tuple[str, list[str]]:
    """url_utils.extract_base64_query: path segments that decode to ``k=v`` become query strings."""
    if not path:
        return path, []
    pattern = re.compile(r"^[A-Za-z0-9_-]{4,}={0,2}$")
    segments = path.split("/")
    queries: list[str] = []
    for i, seg in enumerate(segments):
        if not seg or not pattern.match(seg):
            continue
        try:
            decoded = base64.urlsafe_b64decode(seg + "=" * ((4 - len(seg) % 4) % 4)).decode("utf-8")
        except Exception:  # noqa: BLE001 — not base64: an ordinary segment
            continue
        if "=" not in decoded:
            continue
        query = unquote(decoded).strip()
        if query:
            queries.append(query.lstrip("?&"))
            segments[i] = ""
    kept = [s for s in segments if s]
    if not kept:
        return ("/" if path.startswith("/") else ""), queries
    cleaned = ("/" if path.startswith("/") else "") + "/".join(kept)
    if path.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned, queries


def parse_query(query: str) -> QueryParams:
    """url_utils.normalize_query."""
    if not query:
        return {}
    return {unquote(k): tuple(sorted(unquote(v) for v in vs))
            for k, vs in parse_qs(query, keep_blank_values=True).items()}


@dataclass(frozen=True)
class UrlValue:
    base_url: str
    query_params: QueryParams = field(default_factory=dict)
    is_regex: bool = False

    def __hash__(self) -> int:
        return hash(self.base_url)

    def as_json(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "query_params": {
            k: [v.report() if isinstance(v, NormalizedType) else v for v in vs] if isinstance(vs, tuple)
            else (vs.report() if isinstance(vs, NormalizedType) else vs) for k, vs in self.query_params.items()}}

    def matches_base_path(self, other: UrlValue, render: Callable[[str], str] | None = None) -> bool:
        def rendered(url: str) -> str:
            return render(url) if render and url.startswith("__") else url

        for pattern_side, target in ((self, other), (other, self)):
            if pattern_side.is_regex:
                pattern = pattern_side.base_url
                pattern = f"^{rendered(pattern[1:-1])}$" if is_regexp(pattern) else rendered(pattern)
                try:
                    if safe_regex.match(pattern, rendered(target.base_url)):
                        return True
                except safe_regex.PatternError as e:
                    raise ValueError(f"Invalid regex pattern '{pattern_side.base_url}': {e}") from e
        if not self.is_regex and not other.is_regex:
            return self.base_url.lower().rstrip("/") == other.base_url.lower().rstrip("/")
        return False

    def query_matches(self, other: UrlValue) -> bool:
        for key in set(self.query_params) | set(other.query_params):
            mine, theirs = _first(self.query_params.get(key, ())), _first(other.query_params.get(key, ()))
            regex = mine.is_regexp if isinstance(mine, NormalizedType) else is_regexp(mine)
            if regex:
                if not safe_regex.match(str(mine), str(theirs)):
                    return False
            elif mine != theirs:
                return False
        return True


def _first(values: Any) -> Any:
    if isinstance(values, tuple):
        return "" if not values or values[0] is None else values[0]
    return "" if values is None else values


class URL(NormalizedType):
    """data_types/url.py URL."""

    def __init__(self, raw: Any, query_params: QueryParams | None = None, decode_base64_query: bool = False,
                 ignored_query_parameters: tuple[str, ...] | None = None,
                 ignored_query_parameters_patterns: tuple[str, ...] | None = None,
                 render_url_fct: Callable[[str], str] | None = None,
                 derender_url_fct: Callable[[str], str] | None = None,
                 normalize_query_params_fct: Callable[[QueryParams], Any] | None = None, **kwargs: Any) -> None:
        self._query_params = query_params
        self._decode_base64 = decode_base64_query
        self._ignored = set(ignored_query_parameters or ())
        self._ignored_patterns = tuple(ignored_query_parameters_patterns or ())
        self.render = render_url_fct or (lambda u: u)
        self.derender_fn = derender_url_fct or (lambda u: u)
        self._normalize_query = normalize_query_params_fct or (lambda q: q)
        super().__init__(raw, derender_url_fct=self.derender_fn, **kwargs)

    def _normalize_string(self, s: str) -> str:
        return s.strip()  # URLs keep their case and structure

    def _ignore(self, name: str) -> bool:
        if name in self._ignored:
            return True
        for pattern in self._ignored_patterns:
            try:
                if safe_regex.search(pattern, name, safe_regex.IGNORECASE):
                    return True
            except safe_regex.PatternError:
                continue
        return False

    def _normalize_params(self, params: QueryParams) -> QueryParams:
        params = {k: v for k, v in params.items() if not self._ignore(k)}
        params = {k: tuple(sorted(s.lower().strip() if isinstance(s, str) else s for s in vs))
                  for k, vs in params.items()}
        out = self._normalize_query(params) if params else params
        return dict(out or {})

    def _type_normalize(self, value: Any) -> UrlValue:
        if not value:
            raise ValueError("Empty URL value")
        value = str(value)
        if is_regexp(value) and not self.literal:
            params = {} if self._query_params is None else self._normalize_params(self._query_params)
            return UrlValue(value.rstrip("/"), params, is_regex=True)
        value = value.rstrip("/")
        if value.startswith("__"):
            value = self.render(value)
        parsed = urlparse(self.derender_fn(canonical_url(value)))
        path = parsed.path + (f";{parsed.params}" if parsed.params else "")
        if self._query_params is not None:
            params = self._query_params
        else:
            parts: list[str] = []
            if self._decode_base64:
                path, decoded = extract_base64_query(path)
                parts.extend(decoded)
            if parsed.query:
                parts.append(parsed.query.strip())
            params = parse_query("&".join(parts))
        base = urlunparse((parsed.scheme.lower(), parsed.netloc.lower(), path, "", "", parsed.fragment))
        return UrlValue(base, self._normalize_params(params))

    def compare_path(self, other: URL) -> bool:
        return any(a.matches_base_path(b, self.render) for a in self.alternatives for b in other.alternatives)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, URL):
            return any(a.matches_base_path(b, self.render) and a.query_matches(b)
                       for a in self.alternatives for b in other.alternatives)
        return False

    def __hash__(self) -> int:
        return hash(self.normalized.base_url)

    def report(self) -> Any:
        return self.normalized.as_json()
