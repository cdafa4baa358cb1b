"""WebArena adapter hardening (issue #8): task-supplied regexes run under a time and length
budget, invalid JSONPath regex keys follow upstream, trace redaction masks credentials by
pattern, and the agent's answer can be kept from acting as a regex (training rewards)."""

from __future__ import annotations

import json
import time

import pytest

from envs.webarena import safe_regex
from envs.webarena import vnormalize as vn
from envs.webarena.redact import MASK, TraceRedactor
from envs.webarena.verified import evaluate_verified

URLS = {"__SHOPPING__": "http://10.0.0.5:7770"}
EVIL = "^(a|a)*$"  # exponential backtracking in a backtracking engine
EVIL_SUBJECT = "a" * 40 + "b"  # about 1.6 s * 2**16 in Python's re: a hang


def reply(task_type: str, data=None, status: str = "SUCCESS") -> str:
    return json.dumps({"task_type": task_type, "status": status, "retrieved_data": data, "error_details": None})


def retrieve_task(expected: list) -> dict:
    return {"task_id": 901, "sites": ["shopping"], "eval": [{
        "evaluator": "AgentResponseEvaluator", "results_schema": {"type": "array", "items": {"type": "string"}},
        "expected": {"task_type": "retrieve", "status": "SUCCESS", "retrieved_data": expected}}]}


def network_task(**cfg) -> dict:
    expected = {"url": "__SHOPPING__/checkout/", "http_method": "POST", **cfg.pop("expected", {})}
    return {"task_id": 902, "sites": ["shopping"], "eval": [
        {"evaluator": "AgentResponseEvaluator", "results_schema": {"type": "null"},
         "expected": {"task_type": "mutate", "status": "SUCCESS", "retrieved_data": None}},
        {"evaluator": "NetworkEventEvaluator", "expected": expected, **cfg}]}


def post(url: str, body: str) -> dict:
    return {"request": {"method": "POST", "url": url, "headers": [],
                        "postData": {"mimeType": "application/x-www-form-urlencoded", "text": body}},
            "response": {"status": 200, "headers": [], "cookies": [], "content": {}, "redirectURL": ""}}


def assert_grader_error(result: dict, pattern: str) -> None:
    errors = [r["error_msg"] for r in result["evaluators_results"] if r["status"] == "error"]
    assert result["status"] == "error" and result["score"] == 0.0, result
    assert errors and pattern in errors[0] and "was stopped" in errors[0], errors


# ---- ReDoS: every place a task-supplied pattern runs ---------------------------------------


def test_safe_regex_stops_catastrophic_backtracking_within_its_budget() -> None:
    start = time.monotonic()
    with pytest.raises(safe_regex.RegexBudgetError, match=r"\^\(a\|a\)\*\$.*backtracking"):
        safe_regex.fullmatch(EVIL, EVIL_SUBJECT)
    assert time.monotonic() - start < safe_regex.MATCH_TIMEOUT_S + 2
    with pytest.raises(safe_regex.RegexBudgetError, match="characters"):
        safe_regex.search("^x", "x" * (safe_regex.MAX_SUBJECT_CHARS + 1))
    assert safe_regex.fullmatch("^blue.*$", "Blue Sofa", safe_regex.IGNORECASE)


@pytest.mark.timeout(60)
def test_an_evil_expected_value_is_a_grader_error_not_a_hang() -> None:
    start = time.monotonic()
    result = evaluate_verified(retrieve_task([EVIL]), reply("RETRIEVE", [EVIL_SUBJECT]), [], URLS)
    assert_grader_error(result, EVIL)
    assert time.monotonic() - start < 10
    # A very long answer against a pattern is refused the same way (length cap), not matched.
    result = evaluate_verified(retrieve_task(["^blue.*$"]), reply("RETRIEVE", ["blue" * 6000]), [], URLS)
    assert_grader_error(result, "^blue.*$")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("where", ["url", "query_param", "ignored_query_pattern", "jsonpath_key", "ignored_post_pattern"])
def test_evil_patterns_in_network_evaluators_are_grader_errors(where: str) -> None:
    evil_key = "^(a|a)*$"
    evil_url = "^.*/(a|a)*$"  # the URL matcher sees the whole address, so reach the a's first
    # One parameter for the query check (parameters are compared in set order), an evil name otherwise.
    url = "http://10.0.0.5:7770/checkout?" + (f"q={EVIL_SUBJECT}" if where == "query_param" else f"{EVIL_SUBJECT}=1")
    task = {
        "url": network_task(expected={"url": evil_url}),
        "query_param": network_task(expected={"url": "__SHOPPING__/checkout/", "query_params": {"q": [EVIL]}}),
        "ignored_query_pattern": network_task(ignored_query_params_patterns=[evil_key]),
        "jsonpath_key": network_task(expected={"post_data": {f"$.{evil_key}": "1"}}),
        "ignored_post_pattern": network_task(ignored_post_data_params_patterns=[evil_key], expected={"post_data": {"x": "1"}}),
    }[where]
    trace = [post(f"http://10.0.0.5:7770/{EVIL_SUBJECT}" if where == "url" else url, f"{EVIL_SUBJECT}=1&x=1")]
    start = time.monotonic()
    result = evaluate_verified(task, reply("MUTATE"), trace, URLS)
    assert_grader_error(result, evil_url if where == "url" else evil_key)
    assert time.monotonic() - start < 20


# ---- an invalid $.^...$ key follows upstream (ValueError when strict, None otherwise) ----------


def test_invalid_regex_jsonpath_key_is_value_error_when_strict_and_none_otherwise() -> None:
    with pytest.raises(ValueError, match=r"Invalid regex pattern '\^note\[\$'"):
        vn.extract_jsonpath({"note[1]": "x"}, "$.^note[$", strict=True)
    assert vn.extract_jsonpath({"note[1]": "x"}, "$.^note[$", strict=False) is None
    assert vn.extract_jsonpath({"note[1]": "x"}, r"$.^note\[\d\]$", strict=False) == "x"


# ---- redaction: credential headers by pattern, exact keys, form-like JSON lists ------------------


def test_every_credential_like_header_is_masked_unless_the_evaluator_names_it() -> None:
    redactor = TraceRedactor.for_task([{"evaluator": "NetworkEventEvaluator",
                                        "expected": {"url": "x", "headers": {"X-Api-Key": "^k-.*$"}}}])
    secret_headers = ["x-csrftoken", "X-XSRF-TOKEN", "proxy-authorization", "x-auth-token", "X-Session-Id",
                      "x-client-secret", "X-Password"]
    headers = [{"name": n, "value": f"secret-{i}"} for i, n in enumerate(secret_headers)]
    headers += [{"name": "X-Api-Key", "value": "k-read-by-evaluator"}, {"name": "accept", "value": "*/*"},
                {"name": "referer", "value": "http://h/from"}]
    e = {"request": {"method": "GET", "url": "http://h/a", "headers": headers},
         "response": {"status": 200, "headers": [{"name": "X-Auth-Token", "value": "secret-r"}], "cookies": [],
                      "content": {}}}
    out = redactor.entry(e)
    got = {h["name"]: h["value"] for h in out["request"]["headers"]}
    assert all(got[n] == MASK for n in secret_headers), got
    assert got["X-Api-Key"] == "k-read-by-evaluator" and got["accept"] == "*/*" and got["referer"] == "http://h/from"
    assert out["response"]["headers"][0]["value"] == MASK


def test_a_secret_field_is_kept_only_when_an_evaluator_key_names_it_exactly() -> None:
    def keeps(key: str, name: str) -> bool:
        return TraceRedactor(field_keys=(key,)).keeps_field(name)

    # Regex keys keep only the names they fully match, not every name they contain.
    assert not keeps(r"$.^user_password_hint$", "password")
    assert not keeps(r"^csrf_token_\d+$", "csrf_token")
    assert keeps(r"$.^csrf_token_\d+$", "csrf_token_7") and keeps(r"^login\[password\]$", "login[password]")
    # JSONPath keys keep the names they step through, not names that are substrings.
    assert keeps("$.user.api_token", "api_token") and keeps("$['login[password]']", "login[password]")
    assert not keeps("$.user.api_token_hint", "api_token")
    assert keeps("form_key", "form_key") and not keeps("form_key_x", "form_key")
    assert not keeps("^(a|a)*$", "a" * 40 + "password")  # a stopped pattern reads nothing, so keeps nothing
    assert keeps("$.anything", "note")  # non-secret fields are always kept


def test_form_like_json_lists_mask_secret_values() -> None:
    body = {"fields": [{"name": "password", "value": "Pw-secret-11dd"}, {"name": "email", "value": "a@b.c"},
                       {"key": "api_key", "value": "key-33ff"}, {"name": "token", "value": ""}]}
    e = {"request": {"method": "POST", "url": "http://h/a", "headers": [],
                     "postData": {"mimeType": "application/json", "text": json.dumps(body)}},
         "response": {"status": 200, "headers": [], "cookies": [], "content": {}}}
    masked = json.loads(TraceRedactor().entry(e)["request"]["postData"]["text"])
    assert masked == {"fields": [{"name": "password", "value": MASK}, {"name": "email", "value": "a@b.c"},
                                 {"key": "api_key", "value": MASK}, {"name": "token", "value": ""}]}
    kept = TraceRedactor(field_keys=("password",)).entry(e)["request"]["postData"]["text"]
    assert "Pw-secret-11dd" in kept and "key-33ff" not in kept


# ---- the agent's answer as a regex: upstream by default, off for training rewards -------------


def test_answer_patterns_off_reads_the_answer_as_plain_text() -> None:
    task = retrieve_task(["Blue Sofa 3000"])
    hack = reply("RETRIEVE", ["^.*$"])
    assert evaluate_verified(task, hack, [], URLS)["score"] == 1.0  # upstream's behaviour, kept by default
    assert evaluate_verified(task, hack, [], URLS, answer_patterns=False)["score"] == 0.0
    assert evaluate_verified(task, reply("RETRIEVE", ["blue sofa 3000"]), [], URLS, answer_patterns=False)["score"] == 1.0
    # Expected values stay patterns; the answer's own task_type / status are not patterns either.
    pattern_task = retrieve_task(["^blue sofa \\d+$"])
    assert evaluate_verified(pattern_task, reply("RETRIEVE", ["Blue Sofa 3000"]), [], URLS,
                             answer_patterns=False)["score"] == 1.0
    status_hack = reply("^.*$", ["Blue Sofa 3000"], status="^.*$")
    assert evaluate_verified(task, status_hack, [], URLS)["score"] == 1.0
    assert evaluate_verified(task, status_hack, [], URLS, answer_patterns=False)["score"] == 0.0
