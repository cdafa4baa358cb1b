"""WebArena-Verified's evaluators: the agent's structured response and the network trace.

Ported from ``webarena-verified`` 1.2.3 (PyPI; github.com/ServiceNow/webarena-verified):
``types/task.py`` (AgentResponseEvaluatorCfg, NetworkEventSpec, NetworkEventEvaluatorCfg),
``types/agent_response.py`` (FinalAgentResponse), ``types/eval.py`` (EvaluatorResult,
TaskEvalResult: status success / failure / error, score 1 only when every evaluator scores 1),
``core/evaluation/evaluators/{agent_response,network_event}_evaluator.py`` and
``types/config.py`` (render_url / derender_url between ``__SITE__`` templates and the
configured addresses). Expected values keep their templates; actual URLs are derendered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from envs.webarena import safe_regex
from envs.webarena import vnormalize as vn
from envs.webarena.netlog import NetworkEvent, events_from
from envs.webarena.vtypes import (
    KNOWN_TYPE_NAMES,
    UNPORTED_FORMATS,
    NormalizedString,
    dateutil_parser,
)
from envs.webarena.vurl import URL

PORT_OF = "webarena-verified 1.2.3"
TASK_TYPES = ("RETRIEVE", "MUTATE", "NAVIGATE")
STATUSES = ("SUCCESS", "ACTION_NOT_ALLOWED_ERROR", "PERMISSION_DENIED_ERROR", "NOT_FOUND_ERROR",
            "DATA_VALIDATION_ERROR", "UNKNOWN_ERROR")
# What the agent's final Done answer must hold (FinalAgentResponse); appended to the intent.
RESPONSE_SCHEMA = (
    '{"task_type": "RETRIEVE" | "MUTATE" | "NAVIGATE", "status": "SUCCESS" | "ACTION_NOT_ALLOWED_ERROR" | '
    '"PERMISSION_DENIED_ERROR" | "NOT_FOUND_ERROR" | "DATA_VALIDATION_ERROR" | "UNKNOWN_ERROR", '
    '"retrieved_data": [items] for RETRIEVE tasks (numbers as numbers, booleans as true/false), else null, '
    '"error_details": null, or a short reason when status is not SUCCESS}'
)
RESPONSE_FORMAT = f"When you finish, give as your final answer one JSON object: {RESPONSE_SCHEMA}"


class ExpectedResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    task_type: str = Field(validation_alias="task_type")
    status: str
    retrieved_data: list[Any] | None = None
    error_details: str | None = None


class AgentResponseCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evaluator: Literal["AgentResponseEvaluator"]
    ordered: bool = False
    results_schema: dict[str, Any]
    expected: ExpectedResponse


class NetworkEventSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | list[str]
    headers: dict[str, Any] | None = None
    query_params: dict[str, list[str]] | None = None
    post_data: dict[str, Any] | None = None
    response_content: dict[str, Any] | None = None
    response_status: int = 200
    http_method: str = "GET"
    response_cookies: dict[str, Any] | None = None


class NetworkEventCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evaluator: Literal["NetworkEventEvaluator"]
    expected: NetworkEventSpec
    last_event_only: bool = True
    ignored_query_params: tuple[str, ...] | None = None
    ignored_query_params_patterns: tuple[str, ...] | None = None
    decode_base64_query: bool = False
    query_params_schema: dict[str, Any] | None = None
    post_data_schema: dict[str, Any] | None = None
    ignored_post_data_params_patterns: tuple[str, ...] | None = None
    should_not_exist: bool = False


EvalCfg = AgentResponseCfg | NetworkEventCfg
EVALUATORS = {"AgentResponseEvaluator": AgentResponseCfg, "NetworkEventEvaluator": NetworkEventCfg}


def parse_eval(items: list[dict[str, Any]]) -> list[EvalCfg]:
    """Typed evaluator configs; ValueError naming the evaluator that is unknown or malformed."""
    out: list[EvalCfg] = []
    for i, item in enumerate(items):
        name = item.get("evaluator")
        if name not in EVALUATORS:
            raise ValueError(f"evaluator {name!r} is not implemented (known: {', '.join(EVALUATORS)})")
        try:
            out.append(EVALUATORS[name].model_validate(item))
        except ValidationError as e:
            err = e.errors()[0]
            raise ValueError(f"{name} (eval[{i}]) {'.'.join(map(str, err['loc']))}: {err['msg']}") from e
    if not any(isinstance(c, AgentResponseCfg) for c in out):
        raise ValueError("eval must contain at least one AgentResponseEvaluator")
    return out


def _schema_types(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        if schema.get("type") not in (None, "array", "object") or "format" in schema:
            found.add(str(schema.get("format") or schema.get("type")))
        for v in schema.values():
            found |= _schema_types(v)
    elif isinstance(schema, list):
        for v in schema:
            found |= _schema_types(v)
    return found


def unsupported_reason(items: list[dict[str, Any]]) -> str | None:
    """Why these evaluators cannot be scored exactly as upstream here (None: they can)."""
    try:
        cfgs = parse_eval(items)
    except ValueError as e:
        return f"WebArena-Verified {e}"
    for cfg in cfgs:
        schemas = [cfg.results_schema] if isinstance(cfg, AgentResponseCfg) else [cfg.post_data_schema, cfg.query_params_schema]
        for t in sorted(set().union(*(_schema_types(s) for s in schemas if s))):
            if t in UNPORTED_FORMATS:
                return f"{cfg.evaluator}: value format {t!r} is not implemented (ported: {', '.join(KNOWN_TYPE_NAMES)})"
            if t not in KNOWN_TYPE_NAMES:
                return f"{cfg.evaluator}: unknown value type {t!r}"
            if t == "date" and dateutil_parser() is None:
                return f"{cfg.evaluator}: value format 'date' needs python-dateutil (pip install python-dateutil)"
        if isinstance(cfg, NetworkEventCfg):
            for field_name in ("post_data", "response_content"):
                for key in getattr(cfg.expected, field_name) or {}:
                    if key.startswith("$") and not vn.jsonpath_supported(key):
                        return f"NetworkEventEvaluator: JSONPath {key!r} in {field_name} is not implemented"
    return None


# ---- sites: render / derender (types/config.py) -------------------------------------------------


@dataclass
class Sites:
    """The task's sites and their configured base URLs (``__SHOPPING__`` → ``http://...``)."""

    names: list[str]
    urls: dict[str, str]  # placeholder → base URL

    def _pairs(self) -> list[tuple[str, str]]:
        out = []
        for name in self.names:
            template = f"__{name.strip('_').upper()}__"
            if template not in self.urls:
                raise ValueError(f"site {name} has no configured URL")
            out.append((template, self.urls[template]))
        return out

    def render(self, url: str, strict: bool = True) -> str:
        for template, base in self._pairs():
            if url.startswith(template):
                return url.replace(template, base)
        if strict:
            raise ValueError(f"No site in {self.names} matched template: {url}")
        return url

    def derender(self, url: str, strict: bool = True) -> str:
        for template, base in sorted(self._pairs(), key=lambda p: len(p[1]), reverse=True):
            if base in url:
                return url.replace(base.rstrip("/"), template)
        if strict:
            raise ValueError(f"URL '{url}' does not match any configured URLs for sites {self.names}")
        return url

    def renderer(self, strict: bool) -> Callable[[str], str]:
        return lambda u: self.render(u, strict=strict)

    def derenderer(self, strict: bool) -> Callable[[str], str]:
        return lambda u: self.derender(u, strict=strict)


# ---- the agent's response -----------------------------------------------------------------------

_CODE_BLOCK_RE = re.compile(r"```(?:json)?\s*\n?(.*?)\n?```", re.DOTALL)


def parse_agent_response(answer: Any) -> tuple[Any, str | None]:
    """The Done answer as upstream reads it (a ```json block or the whole text, parsed as JSON
    when it parses); plus, when it is not a JSON object, a message saying what was expected."""
    value = answer.strip() if isinstance(answer, str) else answer
    if isinstance(value, str):
        m = _CODE_BLOCK_RE.search(value)
        if m:
            value = m.group(1).strip()
        try:
            value = json.loads(value)
        except ValueError as e:
            return (value or None), f"the final answer is not JSON ({e}); expected {RESPONSE_SCHEMA}"
    if not isinstance(value, dict):
        return (value or None), f"the final answer is JSON but not an object; expected {RESPONSE_SCHEMA}"
    return value, None


# ---- evaluators ---------------------------------------------------------------------------------


@dataclass
class Context:
    task_id: int | str
    sites: Sites
    answer: Any
    events: list[NetworkEvent]
    expected_task_type: str
    # False: the agent's answer is text only, never a ``^...$`` pattern (upstream reads both
    # sides as patterns, so ``["^.*$"]`` matches any expected value: a reward hack in training).
    answer_patterns: bool = True


def _result(name: str, assertions: list[vn.Assertion] | None = None, error: str | None = None, actual: Any = None,
            actual_normalized: Any = None, expected: Any = None, should_not_exist: bool | None = None) -> dict[str, Any]:
    """types/eval.py EvaluatorResult.create."""
    if error is not None:
        status, score = "error", 0.0
    elif not assertions:
        status, score = "success", 1.0
    else:
        score = 1.0 if all(a["status"] == "success" for a in assertions) else 0.0
        status = "success" if score == 1.0 else "failure"
    return {"evaluator_name": name, "status": status, "score": score, "actual": actual,
            "actual_normalized": vn.shown(actual_normalized), "expected": vn.shown(expected),
            "assertions": assertions or None, "error_msg": error, "should_not_exist": should_not_exist}


def _retrieved(raw: Any, cfg: AgentResponseCfg, ctx: Context, strict: bool, literal: bool = False) -> Any:
    if not raw and not isinstance(raw, (int, float, bool)):
        return None
    raw = tuple(raw) if isinstance(raw, (list, tuple)) else (raw,)
    return vn.normalize_array(raw, cfg.results_schema, strict=strict, derender_url_fct=ctx.sites.derenderer(strict),
                              literal=literal)


def agent_response_result(cfg: AgentResponseCfg, ctx: Context) -> dict[str, Any]:
    name = "AgentResponseEvaluator"
    actual_raw, expected_n, actual_n = ctx.answer, None, None
    try:
        exp = cfg.expected
        expected_n = {"task_type": NormalizedString(exp.task_type.upper()), "status": NormalizedString(exp.status.upper()),
                      "retrieved_data": _retrieved(exp.retrieved_data, cfg, ctx, strict=True)}
        value, problem = parse_agent_response(actual_raw)
        is_retrieve = exp.task_type.upper() == "RETRIEVE"
        if isinstance(value, dict):
            actual_n = {}
            for k in exp.model_fields_set:
                key = "performed_operation" if k == "task_type" and k not in value and "performed_operation" in value else k
                if key not in value:
                    if k == "retrieved_data":
                        actual_n[k] = None
                    continue
                if k == "retrieved_data":
                    actual_n[k] = _retrieved(value[k], cfg, ctx, strict=False,
                                             literal=not ctx.answer_patterns) if is_retrieve else None
                    continue
                field_value = value.get(key, "")
                if not isinstance(field_value, str):
                    raise ValueError(f"agent response field {key!r} must be a string, got {type(field_value).__name__}")
                norm: Any = None
                if stripped := field_value.strip():
                    try:
                        norm = NormalizedString(stripped, literal=not ctx.answer_patterns)
                    except ValueError:
                        norm = stripped
                actual_n[k] = norm or None
        else:
            actual_n = value
        assertions = vn.compare(actual_n, expected_n, path="agent_response", ignored_keys={"retrieved_data"})
        if problem:
            assertions = [{**a, "assertion_msgs": [*a["assertion_msgs"], problem]} for a in assertions]
        if isinstance(actual_n, dict) and is_retrieve:
            exp_data, act_data = expected_n["retrieved_data"], actual_n.get("retrieved_data")
            if exp_data is None and act_data is not None:
                assertions.append(vn._fail("retrieved_data_unexpected", f"Expected no retrieved_data, but got {vn.shown(act_data)}"))
            elif exp_data is not None and act_data is None:
                assertions.append(vn._fail("retrieved_data_missing_or_null",
                                           f"Expected retrieved_data to be {vn.shown(exp_data)}, but got None or empty"))
            elif exp_data is not None:
                assertions.extend(vn.compare(tuple(act_data), tuple(exp_data), cfg.ordered, "retrieved_data"))
    except Exception as e:  # noqa: BLE001 — upstream: an evaluator error is a result, not a crash
        return _result(name, error=f"Error during evaluation with evaluator {name} for task {ctx.task_id}: {e}",
                       actual=actual_raw, actual_normalized=actual_n, expected=expected_n)
    return _result(name, assertions, actual=actual_raw, actual_normalized=actual_n, expected=expected_n)


def _url(url: str | list[str], cfg: NetworkEventCfg, ctx: Context, strict: bool, query_params: Any = None) -> URL:
    normalize_query = None
    if cfg.query_params_schema:
        schema = cfg.query_params_schema
        normalize_query = lambda q: vn.normalize(q, schema, strict=strict)  # noqa: E731
    return URL(url, query_params=query_params, decode_base64_query=cfg.decode_base64_query,
               ignored_query_parameters=cfg.ignored_query_params,
               ignored_query_parameters_patterns=cfg.ignored_query_params_patterns,
               render_url_fct=ctx.sites.renderer(strict), derender_url_fct=ctx.sites.derenderer(strict),
               normalize_query_params_fct=normalize_query)


def _matching_events(cfg: NetworkEventCfg, ctx: Context) -> list[NetworkEvent]:
    if ctx.expected_task_type == "NAVIGATE" and cfg.expected.http_method == "GET":
        navigations = [e for e in ctx.events if e.is_navigation_event]
        return navigations[-1:]  # a navigate task is judged on the last page the agent opened
    expected_url = _url(cfg.expected.url, cfg, ctx, strict=True)
    referer = cfg.expected.headers.get("referer") if cfg.expected.headers else None
    expected_referer = _url(referer, cfg, ctx, strict=True) if referer else None
    out = []
    for event in ctx.events:
        if cfg.expected.http_method and event.http_method.lower() != cfg.expected.http_method.lower():
            continue
        if not expected_url.compare_path(_url(event.url, cfg, ctx, strict=False)):
            continue
        event_referer = event.request_headers.get("referer")
        if expected_referer and event_referer and not expected_referer.compare_path(_url(event_referer, cfg, ctx, strict=False)):
            continue
        out.append(event)
    return out


def _event_data(event: NetworkEvent, cfg: NetworkEventCfg) -> dict[str, Any]:
    exp = cfg.expected
    data: dict[str, Any] = {"url": event.url, "response_status": event.status, "http_method": event.http_method}
    if exp.headers:
        raw = event.raw_headers
        headers = {name: raw[name.lower()] for name in exp.headers if name.lower() in raw}
        if headers:
            data["headers"] = headers
    for name, wanted, value in (("post_data", exp.post_data, lambda: event.post_data),
                                ("response_content", exp.response_content, lambda: event.response_content)):
        if wanted and (got := value()) is not None:
            data[name] = got
    if exp.response_cookies:
        cookies = event.response_cookies
        picked = {n: cookies[n] for n in exp.response_cookies if n in cookies}
        if picked:
            data["response_cookies"] = picked
    return data


def _normalize_event(data: dict[str, Any], cfg: NetworkEventCfg, ctx: Context, strict: bool,
                     post_keys: list[str] | None = None, content_keys: list[str] | None = None) -> dict[str, Any]:
    """NetworkEventEvaluator._normalize_value for one event (expected: strict, actual: not)."""
    out = dict(data)
    out["url"] = _url(data["url"], cfg, ctx, strict, data.get("query_params"))
    if data.get("headers") is not None:
        headers = {}
        for name, value in data["headers"].items():
            if name in ("redirect_url", "referer") and value:
                headers[name] = _url(value, cfg, ctx, strict)
            else:
                headers[name] = vn.normalize_single(ctx.sites.derender(value, strict=False), "string", strict)
        out["headers"] = headers
    post = data.get("post_data")
    if post:
        if cfg.ignored_post_data_params_patterns:
            post = {k: v for k, v in post.items() if not any(_search(p, k) for p in cfg.ignored_post_data_params_patterns)}
        if post_keys:
            post = {k: (vn.extract_jsonpath(post, k, strict) if k.startswith("$") or vn.is_regexp(k) else post.get(k))
                    for k in post_keys}
        post = vn.normalize(post, cfg.post_data_schema or {}, strict=strict,
                            derender_url_fct=ctx.sites.derenderer(strict)) if post else post
    out["post_data"] = post or None  # upstream: the three optional parts are always keys
    content = data.get("response_content")
    if content and content_keys:
        content = {k: (vn.extract_jsonpath(content, k, strict) if k.startswith("$") or vn.is_regexp(k) else content[k])
                   for k in content_keys if k.startswith("$") or vn.is_regexp(k) or k in content}
    out["response_content"] = content or None
    cookies = data.get("response_cookies")
    out["response_cookies"] = {k: vn.normalize_single(v, "string", strict) for k, v in cookies.items()} if cookies else None
    out.pop("query_params", None)
    return out


def _search(pattern: str, text: str) -> bool:
    try:
        return safe_regex.search(pattern, text) is not None
    except safe_regex.PatternError:
        return False


def network_event_result(cfg: NetworkEventCfg, ctx: Context) -> dict[str, Any]:
    name = "NetworkEventEvaluator"
    actual_raw: Any = None
    expected_n: Any = None
    actual_n: Any = None
    try:
        events = _matching_events(cfg, ctx)
        chosen = events[-1:] if cfg.last_event_only else events
        actual_raw = [_event_data(e, cfg) for e in chosen]
        expected_n = _normalize_event(cfg.expected.model_dump(exclude_none=True), cfg, ctx, strict=True)
        post_keys = [k.strip() for k in expected_n["post_data"]] if expected_n.get("post_data") else None
        content_keys = [k.strip() for k in expected_n["response_content"]] if expected_n.get("response_content") else None
        actual_n = [_normalize_event(d, cfg, ctx, False, post_keys, content_keys) for d in actual_raw] or None
        if cfg.should_not_exist:
            assertions = [] if not actual_n else [vn._fail(
                "unexpected_navigation_event",
                f"Found {len(actual_n)} matching event(s) when none were expected (should_not_exist=True).")]
        elif not actual_n:
            assertions = [vn._fail("missing_navigation_event",
                                   "No matching network event found that satisfies all expected criteria.")]
        elif any(not vn.compare(a, expected_n, path="network_event", ignore_extra_keys=True) for a in actual_n):
            assertions = []
        else:
            details = vn.compare(actual_n[-1], expected_n, path="network_event", ignore_extra_keys=True)
            assertions = [vn._fail("missing_navigation_event",
                                   f"No matching network event found. Checked {len(actual_n)} event(s) but none "
                                   "matched all expected criteria.", *[m for a in details for m in a["assertion_msgs"]])]
    except Exception as e:  # noqa: BLE001
        return _result(name, error=f"Error during evaluation with evaluator {name} for task {ctx.task_id}: {e}",
                       actual=actual_raw, actual_normalized=actual_n, expected=expected_n,
                       should_not_exist=cfg.should_not_exist)
    return _result(name, assertions, actual=actual_raw, actual_normalized=actual_n, expected=expected_n,
                   should_not_exist=cfg.should_not_exist)


def evaluate_verified(task: dict[str, Any], answer: Any, trace: list[dict[str, Any]] | dict[str, Any],
                      urls: dict[str, str], *, answer_patterns: bool = True) -> dict[str, Any]:
    """TaskEvalResult as a dict: ``task_id``, ``status`` (success / failure / error), ``score``
    and one ``evaluators_results`` entry per evaluator of ``task["eval"]``. ``task`` is the
    dataset record with its ``__SITE__`` templates intact; ``urls`` maps templates to the
    configured base URLs; ``trace`` is the HAR (or its entries) of the episode.
    ``answer_patterns=False`` (for training rewards) reads the agent's answer as plain text:
    only expected values are regexes; the default scores as upstream does."""
    cfgs = parse_eval(task["eval"])
    agent_cfg = next(c for c in cfgs if isinstance(c, AgentResponseCfg))
    ctx = Context(task_id=task.get("task_id", "?"), sites=Sites([str(s) for s in task.get("sites", [])], urls),
                  answer=answer, events=events_from(trace), expected_task_type=agent_cfg.expected.task_type.upper(),
                  answer_patterns=answer_patterns)
    results = [agent_response_result(c, ctx) if isinstance(c, AgentResponseCfg) else network_event_result(c, ctx)
               for c in cfgs]
    if any(r["status"] == "error" for r in results):
        status, score = "error", 0.0
    else:
        score = 1.0 if all(r["score"] == 1.0 for r in results) else 0.0
        status = "success" if score == 1.0 else "failure"
    return {"task_id": task.get("task_id"), "intent_template_id": task.get("intent_template_id"),
            "sites": task.get("sites", []), "task_revision": task.get("revision"), "status": status, "score": score,
            "evaluators_results": results, "error_msg": None, "evaluated_with": f"cua port of {PORT_OF}"}
