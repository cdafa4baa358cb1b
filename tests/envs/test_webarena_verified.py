"""WebArena-Verified: type-aware response matching, network-trace matching, a live episode in
real Chromium on loopback pages, and offline rescoring from the stored trace."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from critic.base import ApproveAll
from cua.agent import Agent
from cua.core import Click, Done, Type
from cua.batch import run_batch
from cua.stack import Stack
from cua.suites import Suite
from cua.webarena_suite import rescore_run, webarena_suite
from envs.webarena.netlog import events_from
from envs.webarena.redact import TraceRedactor
from envs.webarena.rescore import export_official
from envs.webarena.sites import SiteConfig
from envs.webarena.verified import evaluate_verified, parse_agent_response, unsupported_reason
from envs.webarena.vtypes import Currency, Date, NormalizedString, Number
from envs.webarena.vurl import URL
from grounding.a11y import A11yGrounder

_spec = importlib.util.spec_from_file_location("webarena_servers", Path(__file__).parent / "webarena_fixtures" / "servers.py")
servers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(servers)

PARITY = json.loads((servers.FIXTURES / "verified-parity.json").read_text())
CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                    reason=f"no Chromium at {CHROMIUM} (in CI this fails instead)")
URLS = {"__GITLAB__": "http://10.0.0.5:8023", "__SHOPPING__": "http://10.0.0.5:7770"}


def answer(task_type: str, data=None, status: str = "SUCCESS") -> str:
    return json.dumps({"task_type": task_type, "status": status, "retrieved_data": data, "error_details": None})


def retrieve_task(schema: dict, expected: list, ordered: bool = False) -> dict:
    return {"task_id": 900, "sites": ["shopping"], "eval": [{
        "evaluator": "AgentResponseEvaluator", "ordered": ordered, "results_schema": schema,
        "expected": {"task_type": "retrieve", "status": "SUCCESS", "retrieved_data": expected}}]}


def score(task: dict, reply: str, trace: list | None = None) -> float:
    return evaluate_verified(task, reply, trace or [], URLS)["score"]


def entry(method: str, url: str, status: int = 200, post: str | None = None, nav: bool = False) -> dict:
    headers = [{"name": "accept", "value": "text/html,application/xhtml+xml" if nav else "*/*"}]
    request = {"method": method, "url": url, "headers": headers}
    if post is not None:
        request["postData"] = {"mimeType": "application/x-www-form-urlencoded", "text": post}
    return {"request": request, "response": {"status": status, "headers": [], "cookies": [], "content": {}, "redirectURL": ""}}


# ---- the official package's verdicts on real dataset tasks ----------------------------------


@pytest.mark.parametrize("case", PARITY["cases"], ids=lambda c: f"task{c['task_id']}")
def test_scores_equal_the_official_package_on_the_same_inputs(case: dict) -> None:
    task = next(t for t in PARITY["tasks"] if t["task_id"] == case["task_id"])
    result = evaluate_verified(task, case["answer"], case["trace"], PARITY["urls"])
    assert [result["status"], result["score"]] == case["official"], json.dumps(result["evaluators_results"], default=str)[:800]


# ---- response normalisation per type --------------------------------------------------------


def test_strings_normalise_marks_case_hyphens_and_edge_punctuation() -> None:
    assert NormalizedString("Quest Lumaflex\u2122 Band") == NormalizedString("quest lumaflex band.")
    assert NormalizedString("Buffalo-Niagara") == NormalizedString("buffalo niagara")
    assert NormalizedString("Caf\u00e9 \u201cBlue\u201d") == NormalizedString('cafe "blue"')
    assert NormalizedString("^.*great strap.*$") == NormalizedString("A GREAT strap!")
    assert NormalizedString(["red", "blue"]) == NormalizedString("Blue")  # alternatives
    assert NormalizedString("123-4567") != NormalizedString("123 4567")
    assert NormalizedString("strap") != NormalizedString("straps")


def test_numbers_currency_and_dates_compare_by_value() -> None:
    assert Number("1,234") == Number(1234) and Number("six") == Number(6) and Number("twenty three") == Number(23)
    assert Number("6.5") != Number(6)
    assert Currency("$36.39") == Currency(36.45) and Currency("36,39 \u20ac") == Currency("36.39")
    assert Currency("$36.60") != Currency(36.39) and Currency("-$5") == Currency(-5)
    assert Date("March 2, 2022") == Date("2022-03-02") == Date("3/2/2022")
    assert Date("Mar 3,2022") != Date("2022-03-02")


def test_urls_derender_and_compare_query_params() -> None:
    render = lambda u: u.replace("__GITLAB__", URLS["__GITLAB__"])  # noqa: E731
    derender = lambda u: u.replace(URLS["__GITLAB__"], "__GITLAB__")  # noqa: E731
    kw = {"render_url_fct": render, "derender_url_fct": derender}
    expected = URL("__GITLAB__/explore?b=2&a=1", **kw)
    assert expected == URL("http://10.0.0.5:8023/explore/?a=1&b=2", **kw)  # order and trailing slash
    assert expected != URL("http://10.0.0.5:8023/explore?a=1&b=3", **kw)
    assert URL("__GITLAB__/x", ignored_query_parameters_patterns=("page",), **kw) == URL(
        "http://10.0.0.5:8023/x?page=3", ignored_query_parameters_patterns=("page",), **kw)
    assert URL(r"^__GITLAB__/projects/\d+$", **kw).compare_path(URL("http://10.0.0.5:8023/projects/42", **kw))
    assert not URL(r"^__GITLAB__/projects/\d+$", **kw).compare_path(URL("http://10.0.0.5:8023/projects/new", **kw))


def test_lists_are_unordered_unless_the_task_says_ordered() -> None:
    task = retrieve_task({"type": "array", "items": {"type": "number"}}, [3, 1, 2])
    assert score(task, answer("RETRIEVE", ["1", 2, "three"])) == 1.0
    assert score(task, answer("RETRIEVE", [1, 2])) == 0.0  # one missing
    assert score(task, answer("RETRIEVE", [1, 2, 3, 4])) == 0.0  # one extra
    ordered = retrieve_task({"type": "array", "items": {"type": "number"}}, [3, 1, 2], ordered=True)
    assert score(ordered, answer("RETRIEVE", [3, 1, 2])) == 1.0
    assert score(ordered, answer("RETRIEVE", [1, 2, 3])) == 0.0
    objects = retrieve_task({"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "price": {"type": "string", "format": "currency"}}}},
        [{"name": "Strap", "price": 12.5}, {"name": "Mat", "price": 30}])
    assert score(objects, answer("RETRIEVE", [{"name": "mat", "price": "$30.00"}, {"name": "STRAP", "price": "12.5"}])) == 1.0
    assert score(objects, answer("RETRIEVE", [{"name": "mat", "price": "$31.00"}, {"name": "STRAP", "price": "12.5"}])) == 0.0


def test_the_answer_must_be_a_json_object_with_the_right_type_and_status() -> None:
    task = retrieve_task({"type": "array", "items": {"type": "string"}}, ["blue"])
    assert score(task, answer("RETRIEVE", ["Blue"])) == 1.0
    assert score(task, "```json\n" + answer("retrieve", ["blue"]) + "\n```") == 1.0
    assert score(task, answer("NAVIGATE", ["blue"])) == 0.0
    assert score(task, answer("RETRIEVE", ["blue"], status="NOT_FOUND_ERROR")) == 0.0
    result = evaluate_verified(task, "blue", [], URLS)  # plain text: a failure that says why
    assert result["status"] == "failure"
    msgs = " ".join(m for a in result["evaluators_results"][0]["assertions"] for m in a["assertion_msgs"])
    assert "the final answer is not JSON" in msgs and '"task_type"' in msgs
    value, problem = parse_agent_response("__import__('os').system('true')")  # never evaluated
    assert problem and value == "__import__('os').system('true')"


# ---- network events -------------------------------------------------------------------------


POST_TASK = {"task_id": 901, "sites": ["gitlab"], "eval": [
    {"evaluator": "AgentResponseEvaluator", "results_schema": {"type": "null"},
     "expected": {"task_type": "mutate", "status": "SUCCESS", "retrieved_data": None}},
    {"evaluator": "NetworkEventEvaluator", "post_data_schema": {"type": "object", "properties": {"count": {"type": "number"}}},
     "expected": {"url": "__GITLAB__/notes", "http_method": "POST", "response_status": 302,
                  "query_params": {"target": ["mr"]}, "post_data": {"note": "^.*lgtm.*$", "count": "2"}}}]}


def test_network_events_match_method_url_query_status_and_post_data() -> None:
    ok = answer("MUTATE")
    good = entry("POST", "http://10.0.0.5:8023/notes?target=MR", 302, post="note=LGTM%21&count=2.0")
    assert score(POST_TASK, ok, [entry("GET", "http://10.0.0.5:8023/", nav=True), good]) == 1.0
    assert score(POST_TASK, ok, [{**good, "request": {**good["request"], "method": "PUT"}}]) == 0.0  # method
    assert score(POST_TASK, ok, [entry("POST", "http://10.0.0.5:8023/notes?target=issue", 302, post="note=lgtm&count=2")]) == 0.0
    assert score(POST_TASK, ok, [entry("POST", "http://10.0.0.5:8023/notes?target=mr", 200, post="note=lgtm&count=2")]) == 0.0
    assert score(POST_TASK, ok, [entry("POST", "http://10.0.0.5:8023/notes?target=mr", 302, post="note=nope&count=2")]) == 0.0
    assert score(POST_TASK, ok, []) == 0.0  # no trace: the mutation was never sent
    # last_event_only (the default): a later wrong post replaces an earlier right one
    assert score(POST_TASK, ok, [good, entry("POST", "http://10.0.0.5:8023/notes?target=mr", 302, post="note=x&count=2")]) == 0.0
    assert events_from([good, entry("GET", "http://10.0.0.5:8023/app.js")])[-1].url.endswith("target=MR")  # static dropped


def test_should_not_exist_inverts_the_check_and_support_names_the_evaluator() -> None:
    task = json.loads(json.dumps(POST_TASK))
    task["eval"][1]["should_not_exist"] = True
    assert score(task, answer("MUTATE"), []) == 1.0
    assert score(task, answer("MUTATE"), [entry("POST", "http://10.0.0.5:8023/notes", 302)]) == 0.0
    assert unsupported_reason(POST_TASK["eval"]) is None
    bad = [*POST_TASK["eval"], {"evaluator": "HtmlEvaluator", "expected": {}}]
    assert "'HtmlEvaluator' is not implemented" in unsupported_reason(bad)
    flt = json.loads(json.dumps(POST_TASK["eval"]))
    flt[1]["expected"]["post_data"] = {"$['items'][?(@.qty > 1)]": "x"}
    assert "JSONPath" in unsupported_reason(flt)


# ---- secrets in the trace (envs.webarena.redact) --------------------------------------------

# The NetworkEventEvaluators of webarena-verified 1.2.3 dataset tasks 268 (a request Cookie
# pattern) and 511 (a response cookie) as published: the two ways the dataset reads cookie
# values. (268's own answer check, a duration, is replaced by a plain MUTATE one.)
OSM_ROUTE = {"task_id": 268, "sites": ["map"], "eval": [
    {"evaluator": "AgentResponseEvaluator", "results_schema": {"type": "null"},
     "expected": {"task_type": "mutate", "status": "SUCCESS", "retrieved_data": None}},
    {"evaluator": "NetworkEventEvaluator", "ignored_query_params_patterns": [".*"], "expected": {
        "url": "^.*/route/v1/.*/-68.2177005,44.3494709;-68.8315387,44.0478975.*$",
        "headers": {"Cookie": "^.*_osm_directions_engine=fossgis_osrm_bicycle.*$"}}}]}
WISHLIST = {"task_id": 511, "sites": ["shopping"], "eval": [
    {"evaluator": "AgentResponseEvaluator", "results_schema": {"type": "null"},
     "expected": {"task_type": "mutate", "status": "SUCCESS", "retrieved_data": None}},
    {"evaluator": "NetworkEventEvaluator", "expected": {
        "url": "__SHOPPING__/wishlist/index/add/", "http_method": "POST", "response_status": 302,
        "response_cookies": {"mage-messages": "^.*(?=.*laundry)(?=.*detergent).* has been added to your wish list.*$"},
        "post_data": {"qty": None}}}]}
SECRETS = ("osm-session-77aa", "shop-session-88bb", "fk-key-99cc", "Pw-secret-11dd", "tok-22ee")


def masked_score(task: dict, reply: str, trace: list) -> tuple[float, float, str]:
    """(score on the trace, score on the masked trace, the masked trace as stored)."""
    redactor = TraceRedactor.for_task(task["eval"])
    masked = [redactor.entry(e) for e in trace]
    urls = {**URLS, "__MAP__": "http://10.0.0.5:3000"}
    return (evaluate_verified(task, reply, trace, urls)["score"], evaluate_verified(task, reply, masked, urls)["score"],
            json.dumps(masked))


def with_cookies(e: dict, cookie: str | None = None, set_cookies: tuple[str, ...] = ()) -> dict:
    if cookie:
        e["request"]["headers"].append({"name": "cookie", "value": cookie})
    for line in set_cookies:
        e["response"]["headers"].append({"name": "set-cookie", "value": line})
        name, _, rest = line.partition("=")
        e["response"]["cookies"].append({"name": name, "value": rest.split(";")[0]})
    return e


def test_cookies_the_task_reads_stay_and_every_other_secret_is_masked() -> None:
    route = "http://10.0.0.5:3000/route/v1/bike/-68.2177005,44.3494709;-68.8315387,44.0478975?x=1"
    for engine, expected in (("fossgis_osrm_bicycle", 1.0), ("fossgis_osrm_car", 0.0)):
        trace = [with_cookies(entry("GET", route), f"_osm_session=osm-session-77aa; _osm_directions_engine={engine}")]
        live, stored, text = masked_score(OSM_ROUTE, answer("MUTATE"), trace)
        assert live == stored == expected
        assert "osm-session-77aa" not in text and f"_osm_directions_engine={engine}" in text
    post = with_cookies(entry("POST", "http://10.0.0.5:7770/wishlist/index/add/", 302,
                              post="product=7&form_key=fk-key-99cc&login%5Bpassword%5D=Pw-secret-11dd"),
                        "PHPSESSID=shop-session-88bb",
                        ("PHPSESSID=shop-session-88bb; path=/; HttpOnly",
                         "mage-messages=Laundry%20Detergent%20has%20been%20added%20to%20your%20wish%20list; path=/"))
    post["request"]["headers"].append({"name": "Authorization", "value": "Bearer tok-22ee"})
    live, stored, text = masked_score(WISHLIST, answer("MUTATE"), [post])
    assert live == stored == 1.0
    assert not [s for s in SECRETS if s in text], text
    assert "product=7&form_key=***&login%5Bpassword%5D=***" in text and "has%20been%20added" in text
    # Masking never changes a verdict of the official package on the parity cases.
    for case in PARITY["cases"]:
        task = next(t for t in PARITY["tasks"] if t["task_id"] == case["task_id"])
        masked = [TraceRedactor.for_task(task["eval"]).entry(e) for e in case["trace"]]
        result = evaluate_verified(task, case["answer"], masked, PARITY["urls"])
        assert [result["status"], result["score"]] == case["official"]


def test_json_and_multipart_bodies_mask_secret_fields_unless_the_evaluator_reads_them() -> None:
    redactor = TraceRedactor.for_task([{"evaluator": "NetworkEventEvaluator",
                                        "expected": {"url": "x", "post_data": {"$.user.api_token": "t"}}}])
    json_post = {"mimeType": "application/json",
                 "text": json.dumps({"user": {"password": "Pw-secret-11dd", "api_token": "keep-me", "name": "al"}})}
    boundary = "XyZ"
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"authenticity_token\"\r\n\r\ntok-22ee\r\n"
                 f"--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nlgtm\r\n--{boundary}--\r\n")
    e1 = {"request": {"method": "POST", "url": "http://h/a", "headers": [], "postData": json_post},
          "response": {"status": 200, "headers": [], "cookies": [],
                       "content": {"mimeType": "application/json", "text": '{"csrf_token": "tok-22ee", "ok": true}'}}}
    e2 = {"request": {"method": "POST", "url": "http://h/b", "headers": [],
                      "postData": {"mimeType": f"multipart/form-data; boundary={boundary}", "text": multipart}},
          "response": {"status": 200, "headers": [], "cookies": [], "content": {}}}
    out1, out2 = redactor.entry(e1), redactor.entry(e2)
    assert json.loads(out1["request"]["postData"]["text"]) == {"user": {"password": "***", "api_token": "keep-me", "name": "al"}}
    assert json.loads(out1["response"]["content"]["text"]) == {"csrf_token": "***", "ok": True}
    assert events_from([out2])[0].post_data == {"authenticity_token": "***", "note": "lgtm"}
    assert "tok-22ee" in json.dumps(e1)  # the recorded entry itself is not changed in place


# ---- live episodes in Chromium, then offline ------------------------------------------------

NICKNAME, DETAIL, SUBMIT = Click(x=120, y=35), Click(x=120, y=95), Click(x=120, y=155)
SEARCH_LINK, PRODUCT_LINK = Click(x=120, y=35), Click(x=120, y=95)
SCRIPTS = {
    "webarena/1": [SEARCH_LINK, Done(answer=answer("NAVIGATE"))],
    "webarena/2": [NICKNAME, Type(text="alice"), DETAIL, Type(text="A great strap, really"), SUBMIT,
                   Done(answer=answer("MUTATE"))],
    "webarena/3": [Done(answer=answer("RETRIEVE", ["$12.50"]))],
}


class ScriptedPlanner:
    """A fixed action list per task (stands in for an agent; runner, env, store and evaluators
    are the real ones)."""

    name = "scripted"

    def __init__(self, scripts: dict) -> None:
        self.scripts = scripts

    def propose(self, task, history, observation, critique=None):
        return self.scripts[task.id][len(history)]


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with servers.serve_site() as base:
        yield base


@pytest.fixture(scope="module")
def sites(site: str) -> SiteConfig:
    return SiteConfig(sites={"shopping": site, "shopping_admin": f"{site}/admin"})


@pytest.fixture(scope="module")
def suite(sites: SiteConfig) -> Suite:
    return webarena_suite(str(servers.VERIFIED), sites=sites)


@pytest.fixture(scope="module")
def env(suite: Suite) -> Iterator:
    e = suite.make_env()  # the one Chromium of this module
    yield e
    e.close()


run = servers.run_task


@needs_chromium
def test_suite_runs_supported_verified_tasks_and_skips_the_rest(suite: Suite) -> None:
    assert suite.task_names() == ["0", "1", "2", "3"]
    skipped = dict(suite.skipped())
    assert "'distance' is not implemented" in skipped["4"] and "'ScreenshotEvaluator'" in skipped["5"]
    task = suite.make_task("2", 0)
    assert task.start_url.endswith("/review.html") and '"task_type"' in task.instruction


@needs_chromium
def test_live_form_post_is_captured_and_scored(env, suite: Suite) -> None:
    assert run(env, suite, "2", *SCRIPTS["webarena/2"]) == 1.0
    posts = [e for e in env.trace if e["request"]["method"] == "POST"]
    assert len(posts) == 1 and "nickname=alice" in posts[0]["request"]["postData"]["text"]
    assert posts[0]["response"]["status"] == 302 and posts[0]["response"]["cookies"][0]["name"] == "mage-messages"
    wrong = [NICKNAME, Type(text="bob"), DETAIL, Type(text="A great strap"), SUBMIT, Done(answer=answer("MUTATE"))]
    assert run(env, suite, "2", *wrong) == 0.0
    assert run(env, suite, "2", *SCRIPTS["webarena/2"][:-1], Done(answer="done!")) == 0.0  # not JSON


@needs_chromium
def test_live_navigation_judges_the_last_page_opened(env, suite: Suite) -> None:
    assert run(env, suite, "1", SEARCH_LINK, Done(answer=answer("NAVIGATE"))) == 1.0
    assert run(env, suite, "1", PRODUCT_LINK, Done(answer=answer("NAVIGATE"))) == 0.0
    assert run(env, suite, "3", Done(answer=answer("RETRIEVE", ["$12.50"]))) == 1.0


@needs_chromium
def test_offline_rescore_equals_live_and_exports_the_official_layout(tmp_path: Path, site: str, sites: SiteConfig) -> None:
    suite = webarena_suite(str(servers.VERIFIED), sites=sites)
    agent = Agent.from_parts(ScriptedPlanner(SCRIPTS), A11yGrounder(), ApproveAll())
    summary = run_batch(suite, Stack(), tmp_path, [0], task_names=["1", "2", "3"], inline=True, agent=agent, show_progress=False)
    live = {r.task_id.split("/")[1]: r.reward for r in list(summary.results.values())}
    assert live == {"1": 1.0, "2": 1.0, "3": 1.0}, [r.error for r in list(summary.results.values())]
    report = rescore_run(tmp_path, sites=sites)
    assert {e["task"]: e["score"] for e in report["episodes"]} == live
    assert (report["rescored"], report["agree"], report["changed"]) == (3, 3, 0)
    # The stored answer edited by hand is scored again from the file.
    steps_file = tmp_path / "episodes" / "webarena_2__seed0" / "steps.jsonl"
    lines = steps_file.read_text().splitlines()
    last = json.loads(lines[-1])
    last["info"]["answer"] = answer("RETRIEVE", ["x"])
    steps_file.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    rows = {e["task"]: e for e in rescore_run(tmp_path, sites=sites)["episodes"]}
    assert rows["2"]["score"] == 0.0 and rows["2"]["verified"]["evaluators_results"][1]["status"] == "success"
    out = export_official(tmp_path / "episodes" / "webarena_1__seed0", tmp_path / "official" / "1")
    har = json.loads((out / "network.har").read_text())
    assert any("search.html" in e["request"]["url"] for e in har["log"]["entries"])
    assert json.loads((out / "agent_response.json").read_text())["task_type"] == "NAVIGATE"


LOGIN_TASK = {"sites": ["shopping"], "task_id": 50, "start_urls": ["__SHOPPING__/login.html"],
              "intent": "Sign in to the store", "eval": [
    {"evaluator": "AgentResponseEvaluator", "results_schema": {"type": "null"},
     "expected": {"task_type": "mutate", "status": "SUCCESS", "retrieved_data": None}},
    {"evaluator": "NetworkEventEvaluator", "expected": {
        "url": "__SHOPPING__/login/post", "http_method": "POST", "response_status": 302,
        "post_data": {"username": "alice"}, "headers": {"Cookie": "^.*site_pref=bicycle.*$"},
        "response_cookies": {"mage-messages": "^.*welcome back.*$"}}}]}
STORAGE_SESSION = "storage-sess-1d2e3f4a"  # the login the storage-state file brings


@needs_chromium
def test_a_login_post_and_session_cookies_never_reach_the_stored_trace(tmp_path: Path, site: str) -> None:
    (tmp_path / "tasks.json").write_text(json.dumps([LOGIN_TASK]))
    cookies = [{"name": n, "value": v, "domain": "127.0.0.1", "path": "/", "expires": -1, "httpOnly": False,
                "secure": False, "sameSite": "Lax"} for n, v in (("session", STORAGE_SESSION), ("site_pref", "bicycle"))]
    (tmp_path / "shopping_state.json").write_text(json.dumps({"cookies": cookies, "origins": []}))
    sites = SiteConfig(sites={"shopping": site}, storage_states={"shopping": str(tmp_path / "shopping_state.json")})
    suite = webarena_suite(str(tmp_path / "tasks.json"), sites=sites)
    agent = Agent.from_parts(ScriptedPlanner({"webarena/50": [SUBMIT, Done(answer=answer("MUTATE"))]}),
                  A11yGrounder(), ApproveAll())
    runs = tmp_path / "run"
    summary = run_batch(suite, Stack(), runs, [0], task_names=["50"], inline=True, agent=agent, show_progress=False)
    assert [r.reward for r in list(summary.results.values())] == [1.0], [r.error for r in list(summary.results.values())]
    episode = runs / "episodes" / "webarena_50__seed0"
    har = export_official(episode, tmp_path / "official")
    for stored in (episode / "steps.jsonl", har / "network.har"):
        text = stored.read_text()
        assert "login/post" in text and "username=alice" in text  # the post itself is kept
        for secret in ("Hunter2-login-pw", "fk-9f8e7d6c", STORAGE_SESSION, servers.SERVER_SESSION):
            assert secret not in text, f"{secret} in {stored.name}"
        assert "site_pref=bicycle" in text and "session=***" in text and "PHPSESSID=***" in text
    report = rescore_run(runs, sites=sites)
    assert [(e["score"], e["original_reward"]) for e in report["episodes"]] == [(1.0, 1.0)]
