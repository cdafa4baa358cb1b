"""WebArena evaluators, task loading and site config without a browser (upstream semantics)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from cua.core import CuaError
from envs.webarena.evaluators import (
    clean_answer,
    exact_match,
    fuzzy_match,
    must_include,
    reddit_get_post_url,
    string_score,
    url_score,
)
from envs.webarena.sites import SiteConfig, load_site_config
from envs.webarena.task import (
    Ref,
    UnsupportedTaskError,
    WebArenaEval,
    load_raw_tasks,
    parse_func_call,
    unsupported_reason,
)
from envs.webarena.tokenize import word_tokenize

_spec = importlib.util.spec_from_file_location("webarena_servers", Path(__file__).parent / "webarena_fixtures" / "servers.py")
servers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(servers)


# ---- string_match ---------------------------------------------------------------------------


def test_clean_answer_strips_one_pair_of_quotes_and_lowercases() -> None:
    assert clean_answer('  "Sprite Yoga"  ') == "sprite yoga"
    assert clean_answer("'$12.50'") == "$12.50"
    assert clean_answer("\"it's'") == "\"it's'"  # mismatched quotes stay
    assert exact_match("$12.50", ' "$12.50" ') == 1.0
    assert exact_match("12.5", "12.50") == 0.0


def test_must_include_tokenises_only_a_single_one_character_reference() -> None:
    # The single reference "0": "10" must not count, a standalone 0 must.
    assert must_include("0", "there are 10 items", tokenize=True) == 0.0
    assert must_include("0", "there are 0 items.", tokenize=True) == 1.0
    assert must_include("0", "the answer is 0.", tokenize=True) == 1.0  # final period split off
    assert must_include("0", "0, i think", tokenize=True) == 1.0
    # Without tokenisation (several references, or longer ones) it is a substring test.
    assert must_include("0", "there are 10 items", tokenize=False) == 1.0
    assert must_include("10", "there are 110 items", tokenize=True) == 1.0
    assert must_include("Yoga Strap", "the SPRITE YOGA STRAP 6 foot") == 1.0


def test_word_tokenize_follows_nltk_rules() -> None:
    # Examples from NLTK's own doctest of NLTKWordTokenizer / word_tokenize.
    s = "Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\nThanks."
    assert word_tokenize(s) == ["Good", "muffins", "cost", "$", "3.88", "in", "New", "York", ".",
                                "Please", "buy", "me", "two", "of", "them", ".", "Thanks", "."]
    assert word_tokenize("They'll save and invest more.") == ["They", "'ll", "save", "and", "invest", "more", "."]
    assert word_tokenize("hi, my name can't hello,") == ["hi", ",", "my", "name", "ca", "n't", "hello", ","]


def _eval(**kw: object) -> WebArenaEval:
    return WebArenaEval.model_validate({"eval_types": ["string_match"], **kw})


def test_string_score_multiplies_approaches_and_references() -> None:
    ev = _eval(reference_answers={"must_include": ["sprite", "yoga strap"]})
    assert string_score(ev, "q", "Sprite Yoga Strap 6 foot", None) == 1.0
    assert string_score(ev, "q", "Sprite band", None) == 0.0
    both = _eval(reference_answers={"exact_match": "0", "must_include": ["0"]})
    assert string_score(both, "q", "0", None) == 1.0
    assert string_score(both, "q", "10", None) == 0.0
    # upstream does not split " |OR| " in reference_answers: it is a literal substring
    literal = _eval(reference_answers={"must_include": ["65 |OR| 3"]})
    assert string_score(literal, "q", "65", None) == 0.0


def test_fuzzy_match_reply_parsing_checks_incorrect_before_correct() -> None:
    assert fuzzy_match("blue", "blue", "q", lambda p: "Correct") == 1.0
    assert fuzzy_match("blue", "red", "q", lambda p: "incorrect") == 0.0
    assert fuzzy_match("blue", "navy", "q", lambda p: "partially correct") == 0.0
    from envs.webarena.evaluators import JudgeError

    with pytest.raises(JudgeError, match="neither"):
        fuzzy_match("blue", "x", "q", lambda p: "I cannot say")


def test_fuzzy_match_scores_a_blank_answer_without_asking_the_judge() -> None:
    # Upstream StringEvaluator.fuzzy_match: a blank prediction is 1.0 only for a blank reference.
    from cua.webarena_suite import make_judge
    from envs.webarena.sites import JudgeConfig

    ev = _eval(reference_answers={"fuzzy_match": ["blue"]})
    with servers.serve_judge() as (base_url, requests):
        judge = make_judge(JudgeConfig(base_url=base_url, model="judge-model", api_key_env=None))
        assert string_score(ev, "Which colour?", "", judge) == 0.0
        assert string_score(ev, "Which colour?", ' "" ', judge) == 0.0  # blank once cleaned
        assert requests == []
        assert fuzzy_match("", "", "q", judge) == 1.0 and requests == []
        assert string_score(ev, "Which colour?", "blue", judge) == 1.0  # a real answer still goes out
        assert len(requests) == 1


def test_fuzzy_na_uses_exact_match_first_then_the_ua_judge() -> None:
    ev = _eval(reference_answers={"fuzzy_match": "N/A"}, string_note="the store sells no boats")
    calls: list[str] = []

    def judge(prompt: str) -> str:
        calls.append(prompt)
        return "same"

    assert string_score(ev, "How many boats?", "N/A", judge) == 1.0
    assert calls == []  # a bare N/A needs no judge
    assert string_score(ev, "How many boats?", "There are no boats for sale", judge) == 1.0
    assert calls and "Reason_1 = the store sells no boats" in calls[0]
    with pytest.raises(UnsupportedTaskError):
        string_score(ev, "q", "no boats", None)


# ---- url_match ------------------------------------------------------------------------------


def _url_eval(ref: str) -> WebArenaEval:
    return WebArenaEval.model_validate({"eval_types": ["url_match"], "reference_url": ref})


def test_url_match_gold_in_pred_ignores_param_order_and_extra_params() -> None:
    ev = _url_eval("http://shop:7770/search.html?q=shoes&cat=2")
    assert url_score(ev, "http://shop:7770/search.html?page=1&cat=2&q=shoes") == 1.0
    assert url_score(ev, "http://shop:7770/search.html?cat=3&q=shoes") == 0.0
    assert url_score(ev, "http://shop:7770/search.html?q=shoes") == 0.0
    # the base path only has to be contained in the prediction (upstream's GOLD in PRED)
    assert url_score(_url_eval("http://shop:7770/f/forum"), "http://shop:7770/f/forum/123/") == 1.0
    assert url_score(_url_eval("http://shop:7770/f/forum/"), "http://shop:7770/f/forum") == 1.0
    assert url_score(_url_eval("http://shop:7770/a |OR| http://shop:7770/b"), "http://shop:7770/b") == 1.0
    bad = WebArenaEval.model_validate({"eval_types": ["url_match"], "reference_url": "x", "url_note": "EXACT"})
    with pytest.raises(UnsupportedTaskError):
        url_score(bad, "x")


def test_reddit_get_post_url() -> None:
    assert reddit_get_post_url("http://r:9999/f/pics/123/some-title/comment/4") == "http://r:9999/f/pics/123/"
    assert reddit_get_post_url("http://r:9999/forums") == "http://r:9999/forums"


# ---- func: parsing, loading, support ---------------------------------------------------------


def test_parse_func_call_reads_names_and_strings_without_eval() -> None:
    assert parse_func_call("reddit_get_post_url('__last_url__')") == ("reddit_get_post_url", ["__last_url__"])
    assert parse_func_call('gitlab_get_project_memeber_role(__page__, "byteblaze")') == \
        ("gitlab_get_project_memeber_role", [Ref("__page__"), "byteblaze"])
    assert parse_func_call("shopping_get_latest_order_url()") == ("shopping_get_latest_order_url", [])
    for bad in ("__import__('os').system('x')", "f(1+2)", "f('x'", "f('a') or g()", "lambda: 1"):
        with pytest.raises(UnsupportedTaskError):
            parse_func_call(bad)


def test_loading_the_official_layout_and_placeholders() -> None:
    tasks = {t.name: t for t in load_raw_tasks(servers.TASKS)}
    assert len(tasks) == 14 and all(t.flavor == "webarena" for t in tasks.values())
    assert tasks["5"].placeholders == ["__SHOPPING_ADMIN__"]
    assert tasks["13"].placeholders == ["__SHOPPING__"]
    spec = tasks["5"].resolve({"__SHOPPING__": "http://s:1", "__SHOPPING_ADMIN__": "http://s:2/admin/"})
    # replaced in expected content too, and __SHOPPING__ never eats __SHOPPING_ADMIN__
    assert spec.start_url == "http://s:2/admin"
    assert spec.eval.program_html[0].url == "http://s:2/admin/orders.html"


def test_a_folder_of_config_files_loads_like_the_list(tmp_path: Path) -> None:
    for item in json.loads(servers.TASKS.read_text()):  # what generate_test_data.py writes
        (tmp_path / f"{item['task_id']}.json").write_text(json.dumps(item))
    names = [t.name for t in load_raw_tasks(tmp_path)]
    assert names == [str(i) for i in range(14)]


def test_unsupported_reasons_name_the_problem() -> None:
    tasks = {t.name: t for t in load_raw_tasks(servers.TASKS)}
    urls = {"__SHOPPING__": "http://s", "__SHOPPING_ADMIN__": "http://a"}
    assert "unknown evaluator 'image_match'" in unsupported_reason(tasks["7"].resolve(urls), True)
    assert "fuzzy_match needs an LLM judge" in unsupported_reason(tasks["8"].resolve(urls), False)
    assert unsupported_reason(tasks["8"].resolve(urls), True) is None
    assert "unknown func: helper 'delete_everything'" in unsupported_reason(tasks["11"].resolve(urls), True)
    assert unsupported_reason(tasks["5"].resolve(urls), False) is None
    verified = load_raw_tasks(servers.VERIFIED)
    assert [t.flavor for t in verified] == ["verified"] * 6
    assert verified[1].placeholders == ["__SHOPPING__"]
    spec = verified[1].resolve(urls)  # start_urls filled; the evaluators keep their templates
    assert spec.start_urls == ["http://s/index.html"] and "__SHOPPING__" in json.dumps(spec.model_dump())
    assert unsupported_reason(spec, False) is None
    assert "'distance' is not implemented" in unsupported_reason(verified[4].resolve(urls), True)
    assert "'ScreenshotEvaluator' is not implemented" in unsupported_reason(verified[5].resolve(urls), True)


def test_bad_task_files_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('[{"task_id": 1, "intent": "x"}]')
    with pytest.raises(CuaError, match="neither a WebArena task"):
        load_raw_tasks(tmp_path / "a.json")
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(CuaError, match="cannot read WebArena tasks"):
        load_raw_tasks(tmp_path / "b.json")
    with pytest.raises(CuaError, match="no WebArena task file"):
        load_raw_tasks(tmp_path / "missing.json")


# ---- site config ----------------------------------------------------------------------------


def test_site_config_file_env_vars_and_login_files(tmp_path: Path) -> None:
    (tmp_path / "sites.json").write_text(json.dumps({
        "sites": {"shopping": "http://s:7770/"}, "auth_dir": "auth",
        "storage_states": {"gitlab.reddit": "both.json"},
        "judge": {"base_url": "http://j/v1", "model": "m"}}))
    env = {"CUA_WEBARENA_SITES": str(tmp_path / "sites.json"), "GITLAB": "http://g:8023", "SHOPPING": "http://ignored"}
    config = load_site_config(env=env)
    assert config.urls() == {"__GITLAB__": "http://g:8023", "__SHOPPING__": "http://s:7770"}
    assert config.storage_state_for("./.auth/shopping_state.json") == tmp_path / "auth" / "shopping_state.json"
    assert config.storage_state_for("./.auth/gitlab.reddit_state.json") == tmp_path / "both.json"
    assert config.storage_state_for(None) is None
    assert config.judge is not None and config.judge.model == "m"
    assert SiteConfig().shop_admin() == ("admin", "admin1234")  # upstream's public default


def test_site_config_errors_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"sitez": {}}))
    with pytest.raises(CuaError, match="sitez"):
        load_site_config(tmp_path / "bad.json", env={})
    with pytest.raises(CuaError, match="no WebArena site config"):
        load_site_config(tmp_path / "nope.json", env={})
