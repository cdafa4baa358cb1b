"""WebArenaEnv in real Chromium against stand-in sites on loopback, tasks in the official layout."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cua.core import CallUser, Click, Done, EnvError, Fail, PageLoadError
from cua.suites import Suite, get_suite
from cua.webarena_suite import webarena_suite
from envs.webarena.evaluators import JUDGE_SYSTEM_MESSAGE, fuzzy_match_prompt
from envs.webarena.sites import JudgeConfig, SiteConfig

_spec = importlib.util.spec_from_file_location("webarena_servers", Path(__file__).parent / "webarena_fixtures" / "servers.py")
servers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(servers)

CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason=f"no Chromium at {CHROMIUM} (in CI this fails instead)")

SEARCH_LINK, PRODUCT_LINK, ADD_BUTTON = Click(x=120, y=35), Click(x=120, y=95), Click(x=120, y=155)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with servers.serve_site() as base:
        yield base


@pytest.fixture(scope="module")
def judge_server() -> Iterator[tuple[str, list[dict]]]:
    with servers.serve_judge() as served:
        yield served


@pytest.fixture(scope="module")
def sites(site: str, judge_server: tuple[str, list[dict]]) -> SiteConfig:
    return SiteConfig(
        sites={"shopping": site, "shopping_admin": f"{site}/admin",
               "gitlab": f"http://127.0.0.1:{servers.closed_port()}"},
        auth_dir=str(servers.FIXTURES / "auth"),
        judge=JudgeConfig(base_url=judge_server[0], model="judge-model", api_key_env=None),
        html_settle_s=0.0,
    )


@pytest.fixture(scope="module")
def suite(sites: SiteConfig) -> Suite:
    return webarena_suite(str(servers.TASKS), sites=sites)


@pytest.fixture(scope="module")
def env(suite: Suite) -> Iterator:
    e = suite.make_env()  # the one Chromium of this module
    yield e
    e.close()


run = servers.run_task


def test_suite_lists_runnable_tasks_and_skips_with_reasons(suite: Suite) -> None:
    assert suite.task_names() == ["0", "1", "2", "3", "4", "5", "6", "8", "9", "12", "13"]
    skipped = dict(suite.skipped())
    assert skipped.keys() == {"7", "10", "11"}
    assert "unknown evaluator 'image_match'" in skipped["7"]
    assert "site not configured: __REDDIT__ (REDDIT or sites.reddit)" == skipped["10"]
    assert "delete_everything" in skipped["11"]
    assert suite.domain("5") == "shopping_admin" and suite.domain("13") == "multi-site"
    task = suite.make_task("0", 3)
    assert task.id == "webarena/0" and task.instruction == "What is the price of the strap?"
    assert task.start_url.endswith("/product.html") and task.max_steps == 30


def test_string_match_exact_from_the_done_answer(env, suite: Suite) -> None:
    assert run(env, suite, "0", Done(answer='"$12.50"')) == 1.0
    assert run(env, suite, "0", Done(answer="12.50")) == 0.0
    assert run(env, suite, "0") == 0.0  # no stop action: upstream scores the answer ""


def test_string_match_must_include_tokenisation(env, suite: Suite) -> None:
    assert run(env, suite, "1", Done(answer="There are 0 items.")) == 1.0
    assert run(env, suite, "1", Done(answer="There are 10 items")) == 0.0
    assert run(env, suite, "2", Done(answer="The Sprite Yoga Strap 6 foot")) == 1.0
    assert run(env, suite, "2", Done(answer="Sprite")) == 0.0


def test_url_match_on_the_page_the_agent_reached(env, suite: Suite) -> None:
    assert run(env, suite, "3", SEARCH_LINK, Done()) == 1.0  # ?page=1&cat=2&q=shoes vs q=shoes&cat=2
    assert env.last_evaluation.details["url"].endswith("search.html?page=1&cat=2&q=shoes")
    assert run(env, suite, "3", PRODUCT_LINK, Done()) == 0.0


def test_program_html_last_page_with_or_alternatives(env, suite: Suite) -> None:
    assert run(env, suite, "4", ADD_BUTTON, ADD_BUTTON, Done()) == 1.0
    assert env.last_evaluation.details["program_html"][0]["selected"] == "Cart: 2 items"
    assert run(env, suite, "4", ADD_BUTTON, Done()) == 0.0


def test_program_html_explicit_url_exact_match_full_page_and_login_state(env, suite: Suite) -> None:
    assert run(env, suite, "5", Done()) == 1.0
    log = env.last_evaluation.details["program_html"]
    assert log[0]["url"].endswith("/admin/orders.html") and log[0]["selected"] == "Complete"
    assert "session=admin-session" in log[2]["selected"]  # the storage-state cookie reached the site


def test_several_eval_types_multiply(env, suite: Suite) -> None:
    assert run(env, suite, "6", PRODUCT_LINK, Done(answer="$12.50")) == 1.0
    assert env.last_evaluation.parts == {"string_match": 1.0, "url_match": 1.0}
    assert run(env, suite, "6", SEARCH_LINK, Done(answer="$12.50")) == 0.0
    assert env.last_evaluation.parts == {"string_match": 1.0, "url_match": 0.0}
    assert run(env, suite, "6", PRODUCT_LINK, Done(answer="$13")) == 0.0


def test_fuzzy_match_asks_the_judge_with_webarenas_prompt(env, suite: Suite, judge_server) -> None:
    _, requests = judge_server
    requests.clear()
    assert run(env, suite, "8", Done(answer="Blue")) == 1.0
    body = requests[-1]
    assert body["model"] == "judge-model" and body["temperature"] == 0.0 and body["max_tokens"] == 768
    assert body["messages"][0] == {"role": "system", "content": JUDGE_SYSTEM_MESSAGE}
    assert body["messages"][1]["content"] == fuzzy_match_prompt("blue", "blue", "What colour is the strap?")
    assert body["messages"][1]["content"].startswith("Help a teacher to grade the answer of a student")
    assert run(env, suite, "8", Done(answer="red")) == 0.0
    # N/A: a bare "N/A" needs no judge; a reason goes to llm_ua_match
    requests.clear()
    assert run(env, suite, "12", Done(answer="N/A")) == 1.0 and requests == []
    assert run(env, suite, "12", Done(answer="It sells no boat at all")) == 1.0
    assert "Reason_1 = the store does not sell boats" in requests[-1]["messages"][1]["content"]
    assert run(env, suite, "12", Done(answer="3")) == 0.0


def test_the_agents_fail_answers_na_and_a_runtime_fail_answers_nothing(env, suite: Suite) -> None:
    """BrowserGym's report_infeasible: a final Fail(by="agent") is the answer "N/A"."""
    assert run(env, suite, "12", Fail(reason="no boats here")) == 1.0 and env.answer == "N/A"
    assert env.step(Fail()).info["answer"] == "N/A"
    assert run(env, suite, "12", Fail(by="runtime")) == 0.0 and env.answer == ""
    assert run(env, suite, "12", CallUser(question="Which store?")) == 0.0 and env.answer == ""
    assert run(env, suite, "0", Fail()) == 0.0  # a feasible task: "N/A" is a wrong answer
    assert run(env, suite, "0", Done(answer='"$12.50"')) == 1.0


def test_an_unreachable_site_is_an_infrastructure_error(env, suite: Suite, site: str) -> None:
    with pytest.raises(PageLoadError, match="did not load"):
        env.reset(suite.make_task("9", None))
    assert issubclass(PageLoadError, EnvError)
    env.reset(suite.make_task("0", None))  # the env is still usable
    with pytest.raises(PageLoadError, match="HTTP 502"):
        env.open_site(f"{site}/down")


def test_get_suite_reads_the_config_named_by_the_env_var(tmp_path: Path, site: str, monkeypatch) -> None:
    (tmp_path / "sites.json").write_text(json.dumps({"sites": {"shopping": site}}))
    monkeypatch.setenv("CUA_WEBARENA_SITES", str(tmp_path / "sites.json"))
    for var in ("SHOPPING_ADMIN", "GITLAB", "REDDIT", "MAP", "WIKIPEDIA", "HOMEPAGE"):
        monkeypatch.delenv(var, raising=False)
    suite = get_suite(f"webarena:{servers.TASKS}")
    assert suite.task_names() == ["0", "1", "2", "3", "4", "6", "13"]  # 13 names shopping_admin in sites only
    skipped = dict(suite.skipped())
    assert "needs an LLM judge" in skipped["8"] and "__SHOPPING_ADMIN__" in skipped["5"]
    verified = get_suite(f"webarena:{servers.VERIFIED}")
    assert verified.task_names() == ["1", "2", "3"]  # 0 names shopping_admin, not configured here
    assert "__SHOPPING_ADMIN__" in dict(verified.skipped())["0"]
