"""How a native policy's ending is scored.

Two benchmarks:
- WebArena string_match: the answer given through Done(answer) (UI-TARS `finished(content=...)`,
  Qwen `answer`) is graded, and reported in results.json and results.md;
- OSWorld infeasible tasks: the policy's own FAIL scores 1 and Done scores 0. A runtime
  Fail (unreadable output, parse retries exhausted) is no infeasibility claim: it scores 0.

Real envs (Chromium on the loopback stand-in shop; Xvfb for OSWorld's local provider), the
real runner and graders; the model is the stand-in with scripted answers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from policy_testkit import KeepOpen, NativeRun, read_steps, require_chromium, run_native

from cua.core import Done, Fail
from cua.suites import Suite

ENV_TESTS = Path(__file__).parent.parent / "envs"
OSWORLD = ENV_TESTS / "osworld_fixtures" / "evaluation_examples"
INFEASIBLE_TASK = "a8e5f2c1-7d34-4b91-9c0e-3f6a2b1d8e70"
PRICE_TASK = "0"  # "What is the price of the strap?", exact_match "$12.50"


def _servers():
    spec = importlib.util.spec_from_file_location("policies_webarena_servers",
                                                  ENV_TESTS / "webarena_fixtures" / "servers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def qwen(**arguments: object) -> str:
    return "Action: end it.\n<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + \
        "\n</tool_call>"


def answers(run: NativeRun) -> tuple[list[dict], str]:
    rows = json.loads((run.run_dir / "results.json").read_text(encoding="utf-8"))["episodes"]
    return rows, (run.run_dir / "results.md").read_text(encoding="utf-8")


# ---- WebArena: the answer is what gets graded --------------------------------------------------

@pytest.fixture(scope="module")
def shop() -> Iterator[Suite]:
    require_chromium()
    from cua.webarena_suite import webarena_suite
    from envs.webarena.sites import SiteConfig

    servers = _servers()
    with servers.serve_site() as site:
        suite = webarena_suite(str(servers.TASKS), sites=SiteConfig(sites={"shopping": site}, html_settle_s=0.0))
        env = suite.make_env()  # one Chromium for the module
        try:
            yield Suite(suite.name, suite.description, suite.task_names, lambda: KeepOpen(env), suite.make_task,
                        suite.skipped, suite.domain)
        finally:
            env.close()


@pytest.mark.parametrize("profile,reply", [
    ("ui-tars-1.5", "Thought: The page says the strap costs {answer}.\nAction: finished(content='{answer}')"),
    ("qwen3-vl", "answer"),
    ("opencua", "## Action:\nanswer\n\n## Code:\n```python\ncomputer.terminate(status='success', answer='{answer}')\n```"),
], ids=["ui-tars", "qwen3-vl", "opencua"])
@pytest.mark.parametrize("answer,score", [("$12.50", 1.0), ("$13.00", 0.0)], ids=["right", "wrong"])
def test_webarena_string_match_grades_the_answer(profile: str, reply: str, answer: str, score: float, shop: Suite,
                                                 tmp_path: Path) -> None:
    text = qwen(action="answer", text=answer) if reply == "answer" else reply.replace("{answer}", answer)
    run = run_native(profile, shop, tmp_path / "run", tasks=[PRICE_TASK], reply=lambda i, seen: text)
    (result,) = run.results()
    assert result.task_id == f"webarena/{PRICE_TASK}"
    assert (result.termination, result.answer, result.reward) == ("done", answer, score)
    assert result.status == ("success" if score == 1.0 else "failure")
    (step,) = read_steps(run.episode_dirs()[0])
    assert step.action == Done(answer=answer) and step.info.get("answer") == answer  # what the grader read
    rows, markdown = answers(run)
    assert [(r["task"], r["answer"], r["reward"]) for r in rows] == [(PRICE_TASK, answer, score)]
    section = markdown.split("## Answers and reasons", 1)[1].split("\n## ", 1)[0]
    assert f"| {PRICE_TASK} | 0 | {result.status} | done | {answer} |" in section


def test_webarena_answer_with_a_pipe_and_newline_stays_one_table_row(shop: Suite, tmp_path: Path) -> None:
    answer = "$12.50 | per strap\nsecond line"
    run = run_native("qwen3-vl", shop, tmp_path / "run", tasks=[PRICE_TASK],
                     reply=lambda i, seen: qwen(action="answer", text=answer))
    (result,) = run.results()
    assert result.answer == answer and result.reward == 0.0  # not the exact answer
    rows, markdown = answers(run)
    assert rows[0]["answer"] == answer
    assert "| 0 | 0 | failure | done | $12.50 \\| per strap second line |" in markdown


# ---- OSWorld: infeasible tasks ------------------------------------------------------------------

@pytest.fixture(scope="module")
def osworld() -> Iterator[Suite]:
    missing = [b for b in ("Xvfb", "xdotool") if shutil.which(b) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"missing {', '.join(missing)} (apt-get install -y xvfb xdotool)")
    from cua.osworld_suite import osworld_suite

    suite = osworld_suite(str(OSWORLD))
    assert INFEASIBLE_TASK in suite.task_names()
    env = suite.make_env()
    try:
        yield Suite(suite.name, suite.description, suite.task_names, lambda: KeepOpen(env), suite.make_task,
                    suite.skipped, suite.domain)
    finally:
        env.close()


GARBAGE = "I cannot see the screen well; maybe try again later?"


@pytest.mark.parametrize("profile,replies,options,expected", [
    # the policy says the task cannot be done: OSWorld's FAIL, scored 1
    ("qwen3-vl", [qwen(action="terminate", status="failure")], {}, ("success", 1.0, "infeasible", "agent")),
    ("evocua", [qwen(action="terminate", status="failure")], {}, ("success", 1.0, "infeasible", "agent")),
    ("opencua", ["## Action:\ngive up\n\n## Code:\n```python\ncomputer.terminate(status='failure')\n```"], {},
     ("success", 1.0, "infeasible", "agent")),
    # UI-TARS as OSWorld ran it: call_user() read as FAIL
    ("ui-tars-1.5-osworld", ["Thought: This needs new hardware.\nAction: call_user()"], {"call_user": "fail"},
     ("success", 1.0, "infeasible", "agent")),
    # the policy says done: scored 0
    ("qwen3-vl", [qwen(action="terminate", status="success")], {}, ("failure", 0.0, "done", None)),
    ("ui-tars-1.5-osworld", ["Thought: Done.\nAction: finished()"], {}, ("failure", 0.0, "done", None)),
    # the runtime gave up on unreadable output: no claim of infeasibility, scored 0
    ("qwen3-vl", [GARBAGE], {}, ("failure", 0.0, "gave_up", "runtime")),
    ("ui-tars-1.5-osworld", [GARBAGE], {}, ("failure", 0.0, "gave_up", "runtime")),
], ids=["qwen3-fail", "evocua-fail", "opencua-fail", "uitars-call-user-fail", "qwen3-done", "uitars-done",
        "qwen3-gave-up", "uitars-gave-up"])
def test_osworld_infeasible_is_scored_by_the_policys_own_fail(profile: str, replies: list[str], options: dict,
                                                              expected: tuple, osworld: Suite, tmp_path: Path) -> None:
    run = run_native(profile, osworld, tmp_path / "run", tasks=[INFEASIBLE_TASK], options=options,
                     reply=lambda i, seen: replies[min(i, len(replies) - 1)])
    (result,) = run.results()
    status, reward, termination, fail_by = expected
    assert (result.status, result.reward, result.termination) == (status, reward, termination), result
    last = read_steps(run.episode_dirs()[0])[-1]
    if fail_by is None:
        assert isinstance(last.action, Done)
    else:
        assert isinstance(last.action, Fail) and last.action.by == fail_by
    if fail_by == "runtime":  # three unreadable replies, then the runtime's Fail
        assert last.turn.usage.calls == 3 and "no usable reply after 3 tries" in result.reason
    assert run.standin.seen and run.standin.seen[0].images[-1] == run.profile.resized_size(1920, 1080)
