"""Regression tests: whatever a model or its server sends, the episode ends cleanly.

Each case must end with:
- a clear recorded reason;
- no traceback escaping the runner;
- no model text ever executed;
- nothing lost from the run folder: result.json, steps.jsonl with a line per step and their
  screenshots, and the episode listed in results.json / results.md.

The model is the loopback stand-in with scripted answers; the policy, its HTTP client, the
agent loop, the runner and the store are the project's.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from policy_testkit import (
    KeepOpen,
    NativeRun,
    StillEnv,
    read_result,
    read_steps,
    require_chromium,
    run_native,
    spec,
    still_suite,
)
from standin import Seen, StandIn
from typer.testing import CliRunner

from cua.core import BASIC_ACTIONS, Click, Done, Fail, SetupError, TripleClick
from cua.policies.native.policy import FEEDBACK, MAX_KEPT_CHARS
from cua.stack import Stack

UITARS_CLICK = "Thought: Click the box.\nAction: click(point='<point>100 60</point>')"
QWEN_CLICK = ('Action: click the box.\n<tool_call>\n{"name": "computer_use", "arguments": '
              '{"action": "left_click", "coordinate": [300, 300]}}\n</tool_call>')
UITARS_DONE = "Thought: Done.\nAction: finished()"
QWEN_DONE = ('Action: finish.\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", '
             '"status": "success"}}\n</tool_call>')
OPENCUA_DONE = "## Action:\nfinish\n\n## Code:\n```python\ncomputer.terminate(status='success')\n```"


def qwen_call(**arguments: object) -> str:
    return "Action: do it.\n<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + \
        "\n</tool_call>"


def script(*replies: str | bytes) -> Callable[[int, Seen], str | bytes]:
    """The i-th request gets the i-th reply (the last one from then on)."""
    return lambda i, seen: replies[min(i, len(replies) - 1)]


def run_still(tmp_path: Path, profile: str, reply: Callable[[int, Seen], str | bytes], *,
              env: StillEnv | None = None, retries: int = 0, options: dict | None = None,
              standin_kw: dict | None = None, max_steps: int = 3) -> tuple[NativeRun, StillEnv]:
    env = env or StillEnv()
    run = run_native(profile, still_suite(env, max_steps=max_steps), tmp_path / "run", reply=reply,
                     options=options, standin_kw=standin_kw, retries=retries)
    return run, env


def assert_clean(run: NativeRun) -> None:
    """Nothing lost: result.json, one steps.jsonl line and screenshot per step, the episode in
    results.json and results.md, and no traceback in what a user reads."""
    rows = json.loads((run.run_dir / "results.json").read_text(encoding="utf-8"))["episodes"]
    markdown = (run.run_dir / "results.md").read_text(encoding="utf-8")
    assert len(rows) == len(run.report.results) >= 1
    for job, result in run.report.results.items():
        on_disk = read_result(job.folder)
        assert on_disk.status == result.status and on_disk.termination == result.termination
        steps = read_steps(job.folder)
        assert len(steps) == on_disk.steps
        assert all((job.folder / s.screenshot).is_file() for s in steps)
        if on_disk.status != "error":
            assert on_disk.trace is None and (job.folder / "final.png").is_file()
        for text in (on_disk.error or "", on_disk.reason or ""):
            assert "Traceback" not in text and "\n" not in text
    assert "Traceback" not in markdown
    assert all("trace" not in row for row in rows)


def gave_up(run: NativeRun, env: StillEnv, retries: int = 2) -> tuple[str, list]:
    """The episode ended as the runtime giving up after parse_retries + 1 refused replies, and
    nothing the model wrote was executed. Returns the reason and the refused replies."""
    assert_clean(run)
    (result,) = run.results()
    assert (result.status, result.termination, result.error) == ("failure", "gave_up", None)
    (step,) = read_steps(run.episode_dirs()[0])
    turn = step.turn
    assert turn is not None and turn.usage.calls == retries + 1 == len(turn.rejected) == len(run.standin.seen)
    assert isinstance(step.action, Fail) and step.action.by == "runtime"
    assert env.executed == [step.action]  # the runtime's Fail, nothing of the model's
    assert result.reason == turn.error and turn.rejected[-1].error in result.reason
    # every retry was told why: the refused reply and the parser's words follow in the next request
    for i, rejected in enumerate(turn.rejected[:-1]):
        later = run.standin.seen[i + 1].messages()
        assert later[-2] == ("assistant", [rejected.raw], 0)
        assert later[-1] == ("user", [FEEDBACK.format(error=rejected.error)], 0)
    return result.reason, turn.rejected


# ---- what the model says -------------------------------------------------------------------------

@pytest.mark.parametrize("profile", ["ui-tars-1.5", "qwen3-vl", "opencua"])
def test_empty_output(profile: str, tmp_path: Path) -> None:
    run, env = run_still(tmp_path, profile, script(""))
    reason, rejected = gave_up(run, env)
    assert "the reply is empty" in reason and [r.raw for r in rejected] == ["", "", ""]


@pytest.mark.parametrize("profile", ["ui-tars-1.5", "qwen2.5-vl", "evocua-s1"])
def test_garbage_output(profile: str, tmp_path: Path) -> None:
    garbage = "}}{{ import os; os.system('rm -rf /') ``` <tool_call> ((( \x00\x07 Action: rm -rf"
    run, env = run_still(tmp_path, profile, script(garbage))
    reason, rejected = gave_up(run, env)
    assert reason.startswith("no usable reply after 3 tries; last: ")
    assert all(r.raw == garbage for r in rejected)


def test_one_megabyte_output(tmp_path: Path) -> None:
    huge = UITARS_CLICK + "\n" + "x" * 1_000_000
    run, env = run_still(tmp_path, "ui-tars-1.5", script(huge))
    reason, rejected = gave_up(run, env)
    assert "longer than 100000 characters" in reason
    assert all(len(r.raw) == MAX_KEPT_CHARS and huge.startswith(r.raw) for r in rejected)
    steps_file = run.episode_dirs()[0] / "steps.jsonl"
    assert steps_file.stat().st_size < 100_000  # kept short on disk
    assert all(len(body) < 200_000 for body in (json.dumps(s.body) for s in run.standin.seen[1:]))


def test_a_lone_surrogate_in_the_json_is_refused_then_the_episode_goes_on(tmp_path: Path) -> None:
    """Valid JSON whose text holds a lone surrogate (a half UTF-16 pair, escaped): it cannot be
    written as UTF-8 as it is; the record keeps it replaced, and the next reply is used."""
    body = (b'{"choices": [{"message": {"role": "assistant", "content": "Thought: \\udcff\\ud800 x\\n'
            b'Action: clik(point=\'<point>1 2</point>\')"}}]}')
    run, env = run_still(tmp_path, "ui-tars-1.5", script(body, UITARS_DONE))
    assert_clean(run)
    (result,) = run.results()
    assert (result.status, result.termination) == ("success", "done")
    (step,) = read_steps(run.episode_dirs()[0])
    (rejected,) = step.turn.rejected
    assert "unknown UI-TARS action 'clik'" in rejected.error and "\\ud800" not in rejected.raw
    rejected.raw.encode("utf-8")  # no surrogate left in what was written
    (run.episode_dirs()[0] / "steps.jsonl").read_bytes().decode("utf-8")
    assert env.executed == [Done()]


@pytest.mark.parametrize("body", [
    b'{"choices": [{"message": {"role": "assistant", "content": "Thought: \xff\xfe\nAction: finished()"}}]}',
    b"\xff\xfe\x00\x81 not utf-8 at all \xc3\x28",
], ids=["bytes-inside-json", "whole-body"])
def test_a_body_that_is_not_utf8_is_a_server_error(body: bytes, tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are not JSON (RFC 8259 says JSON text is UTF-8): a broken server,
    not model output. One line says so; the episode is an infrastructure error, retried, and
    nothing was executed."""
    run, env = run_still(tmp_path, "ui-tars-1.5", script(body), retries=1, options={"retries": 0})
    assert_clean(run)
    (result,) = run.results()
    assert (result.status, result.error_kind, result.steps) == ("error", "infra", 0)
    assert result.error.startswith("ModelServerError: ") and "not JSON" in result.error
    assert len(run.standin.seen) == 2 and env.executed == []  # the episode ran twice: retried once


# ---- coordinates ---------------------------------------------------------------------------------

@pytest.mark.parametrize("profile,reply,complaint", [
    ("ui-tars-1.5", "Thought: x\nAction: click(point='<point>400 100</point>')", "outside the 364x224 image"),
    ("ui-tars-1.5", "Thought: x\nAction: click(point='<point>-3 100</point>')", "outside the 364x224 image"),
    ("ui-tars-1.5", "Thought: x\nAction: click(point='<point>nan 100</point>')", "not a point"),
    ("ui-tars-1.5", "Thought: x\nAction: click(point='<point>inf 100</point>')", "not a point"),
    ("ui-tars-1.5", "Thought: x\nAction: click(point='<point>1e400 100</point>')", "finite"),
    # 0-1000 numbers from a relative-coordinate habit, for an absolute profile on a small image
    ("ui-tars-1.5", "Thought: x\nAction: click(point='<point>812 655</point>')", "outside the 364x224 image"),
    ("opencua", "## Action:\nx\n\n## Code:\n```python\npyautogui.click(x=700, y=500)\n```", "outside the 308x196 image"),
    ("qwen2.5-vl", qwen_call(action="left_click", coordinate=[500, 500]), "outside the 308x196 image"),
    ("qwen3-vl", qwen_call(action="left_click", coordinate=[1200, 50]), "outside the 999x999 grid"),
    ("qwen3-vl", qwen_call(action="left_click", coordinate=[-1, 50]), "outside the 999x999 grid"),
    ("qwen3-vl", qwen_call(action="left_click", coordinate=[float("nan"), 50]), "finite"),
    ("qwen3-vl", qwen_call(action="left_click", coordinate=[float("inf"), 50]), "finite"),
    ("qwen3-vl", qwen_call(action="left_click", coordinate=[1, 2, 3]), "2 numbers"),
    ("qwen3-vl", qwen_call(action="left_click", coordinate="middle"), "list of numbers"),
], ids=["uitars-outside", "uitars-negative", "uitars-nan", "uitars-inf", "uitars-overflow", "uitars-0-1000",
        "opencua-outside", "qwen25-outside", "qwen3-outside", "qwen3-negative", "qwen3-nan", "qwen3-inf",
        "qwen3-three-numbers", "qwen3-a-word"])
def test_bad_coordinates_are_refused_never_clamped(profile: str, reply: str, complaint: str, tmp_path: Path) -> None:
    run, env = run_still(tmp_path, profile, script(reply))
    reason, _ = gave_up(run, env)
    assert complaint in reason, reason


def test_a_bad_point_then_a_good_one(tmp_path: Path) -> None:
    """The parser's complaint goes back to the model; its corrected reply is mapped and run."""
    run, env = run_still(tmp_path, "ui-tars-1.5", script(
        "Thought: x\nAction: click(point='<point>900 100</point>')", UITARS_CLICK, UITARS_DONE))
    assert_clean(run)
    (result,) = run.results()
    assert (result.status, result.termination) == ("success", "done")
    click, done = env.executed
    assert done == Done()
    # 100, 60 on the 364x224 image the model saw is 87.9, 53.6 on the 320x200 screenshot
    assert isinstance(click, Click) and (click.x, click.y) == pytest.approx((100 * 320 / 364, 60 * 200 / 224))
    first = read_steps(run.episode_dirs()[0])[0]
    assert first.turn.usage.calls == 2 and "outside the 364x224 image" in first.turn.rejected[0].error
    assert run.standin.seen[1].messages()[-1][1][0].startswith("Your last reply could not be used: point (900, 100)")


# ---- another profile's grammar -----------------------------------------------------------------------

@pytest.mark.parametrize("profile,reply", [
    ("ui-tars-1.5", QWEN_CLICK),  # a Qwen tool call to UI-TARS
    ("ui-tars-1.5", OPENCUA_DONE),
    ("qwen3-vl", UITARS_CLICK),  # UI-TARS text to Qwen
    ("qwen3-vl", "```python\npyautogui.click(x=10, y=10)\n```"),
    ("opencua", UITARS_CLICK),
    ("opencua", QWEN_CLICK),
    ("evocua", "## Action:\nx\n\n## Code:\n```python\ncomputer.terminate(status='success')\n```"),
], ids=["qwen-to-uitars", "opencua-to-uitars", "uitars-to-qwen3", "pyautogui-to-qwen3", "uitars-to-opencua",
        "qwen-to-opencua", "opencua-to-evocua"])
def test_another_profiles_grammar_is_refused(profile: str, reply: str, tmp_path: Path) -> None:
    run, env = run_still(tmp_path, profile, script(reply))
    gave_up(run, env)


# ---- the server ------------------------------------------------------------------------------------

def server_error(run: NativeRun, env: StillEnv, *words: str) -> str:
    assert_clean(run)
    (result,) = run.results()
    assert (result.status, result.termination, result.error_kind, result.steps) == ("error", "error", "infra", 0)
    assert result.error.startswith("ModelServerError: ") and all(w in result.error for w in words), result.error
    assert env.executed == []
    events = [json.loads(line)["event"] for line in (run.run_dir / "events.jsonl").read_text().splitlines()]
    assert events.count("retry") == 1 and events.count("start") == 2  # the runner retried it once
    return result.error


def test_5xx_is_retried_then_an_infra_error(tmp_path: Path) -> None:
    run, env = run_still(tmp_path, "ui-tars-1.5", script(UITARS_DONE), retries=1, options={"retries": 1},
                         standin_kw={"status": 503})
    server_error(run, env, "failed after 2 tries", "HTTP 503")
    assert len(run.standin.seen) == 4  # 2 tries of the client x 2 attempts of the episode
    assert "## Infrastructure errors" in (run.run_dir / "results.md").read_text()


def test_a_server_that_does_not_answer_times_out(tmp_path: Path) -> None:
    run, env = run_still(tmp_path, "qwen3-vl", script(QWEN_DONE), retries=1,
                         options={"retries": 0, "timeout": 1}, standin_kw={"mode": "hang", "hang_s": 10})
    server_error(run, env, "no answer within 1 s")
    assert all(r.duration_s < 4 for r in run.results())


def test_a_dripping_answer_is_cut_at_the_whole_request_deadline(tmp_path: Path) -> None:
    """A byte every 0.15 s never trips a per-read timeout; the request's own deadline does."""
    run, env = run_still(tmp_path, "qwen3-vl", script(QWEN_DONE), retries=1,
                         options={"retries": 0, "timeout": 1.5}, standin_kw={"mode": "drip", "drip_s": 0.15})
    server_error(run, env, "no complete answer within 1.5 s")
    assert all(r.duration_s < 5 for r in run.results())  # the whole answer would take over 40 s


def test_a_connection_closed_mid_answer(tmp_path: Path) -> None:
    run, env = run_still(tmp_path, "opencua", script(OPENCUA_DONE), retries=1, options={"retries": 1},
                         standin_kw={"mode": "cut"})
    server_error(run, env, "failed after 2 tries", "cannot reach it")


def test_a_missing_api_key_stops_the_build_and_cua_run_says_one_line(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from cua.cli import app

    monkeypatch.delenv("CUA_TEST_NO_SUCH_KEY", raising=False)
    standin = StandIn(reply=script(UITARS_DONE))
    try:
        policy = spec("ui-tars-1.5", standin.url, api_key_env="CUA_TEST_NO_SUCH_KEY")
        with pytest.raises(SetupError, match="CUA_TEST_NO_SUCH_KEY is not set"):
            Stack(policy=policy).build()
        out = tmp_path / "run"
        result = CliRunner().invoke(app, ["run", "--suite", "miniwob-cpu/click-button", "--seeds", "1",
                                          "--policy", policy, "--out", str(out), "--no-progress"])
        assert result.exit_code == 2, result.output
        # one message (rich wraps it at the console's width, 80 columns here)
        message = " ".join(line.strip() for line in result.output.splitlines() if line.strip())
        assert message == ("error: the API key variable CUA_TEST_NO_SUCH_KEY is not set (api_key_env="
                           "CUA_TEST_NO_SUCH_KEY); export it, or leave api_key_env out for a server without keys")
        assert "Traceback" not in result.output
        assert standin.seen == []  # nothing was asked without the key
        # with the key set, the same spec builds
        monkeypatch.setenv("CUA_TEST_NO_SUCH_KEY", "sk-test")
        Stack(policy=policy).build()
    finally:
        standin.close()


# ---- actions the environment cannot do ----------------------------------------------------------

def test_an_action_the_env_cannot_do_is_recorded_and_told_to_the_model(tmp_path: Path) -> None:
    env = StillEnv(supported=BASIC_ACTIONS - {"triple_click"})
    assert "triple_click" not in env.supported_actions
    run, _ = run_still(tmp_path, "qwen3-vl", script(qwen_call(action="triple_click", coordinate=[500, 500]),
                                                      QWEN_DONE), env=env)
    assert_clean(run)
    (result,) = run.results()
    assert (result.status, result.termination, result.steps, result.turns) == ("success", "done", 2, 2)
    first, second = read_steps(run.episode_dirs()[0])
    assert isinstance(first.turn.actions[0], TripleClick) and first.action is None
    assert first.error == "still cannot do 'triple_click' (it can: " + ", ".join(sorted(BASIC_ACTIONS)) + ")"
    told = f"The last action (triple_click) could not be run: {first.error}"
    assert second.turn.feedback == told
    assert run.standin.seen[1].messages()[-1][1] == [told]  # after the current screenshot
    assert env.executed == [Done()]


@pytest.fixture
def desktop():
    missing = [b for b in ("Xvfb", "xdotool") if shutil.which(b) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"missing {', '.join(missing)}")
    from envs.desktop import DesktopConfig, DesktopEnv

    env = DesktopEnv(DesktopConfig(width=400, height=300))
    yield env
    env.close()


def test_goto_in_the_desktop_env_is_recorded_and_the_episode_goes_on(desktop, tmp_path: Path) -> None:
    """UI-TARS' browser prompt offers navigate(); a desktop has no address bar."""
    assert "goto" not in desktop.supported_actions
    suite = still_suite(StillEnv())
    suite = type(suite)(suite.name, "", suite.task_names, lambda: KeepOpen(desktop), suite.make_task)
    run = run_native("ui-tars-1.5-browser", suite, tmp_path / "run",
                     reply=script("Thought: open it.\nAction: navigate(content='https://example.com')", UITARS_DONE))
    assert_clean(run)
    (result,) = run.results()
    assert (result.termination, result.steps) == ("done", 2)
    first, second = read_steps(run.episode_dirs()[0])
    assert first.action is None and first.error.startswith("desktop cannot do 'goto' (it can: ")
    assert second.turn.feedback == f"The last action (goto) could not be run: {first.error}"


# ---- the feedback path and call_user --------------------------------------------------------------

def test_a_parse_error_then_a_good_reply_succeeds_on_miniwob(tmp_path: Path) -> None:
    """A real page: the first reply is nonsense, the retry is the reference action, and the task
    is solved within the same turn."""
    require_chromium()
    from envs.miniwob import MiniWoBEnv

    oracle_run = run_native("ui-tars-1.5", "miniwob-cpu", tmp_path / "ok", tasks=["click-button"])
    assert oracle_run.report.overall().as_dict()["successes"] == 1  # the reference run
    good = oracle_run.standin.seen[0].answer
    assert isinstance(good, str) and good.startswith("Thought:")

    env = MiniWoBEnv()
    try:
        run = run_native("ui-tars-1.5", "miniwob-cpu", tmp_path / "run", tasks=["click-button"],
                         make_env=lambda: KeepOpen(env), reply=script("I think I should click it.", good))
    finally:
        env.close()
    assert_clean(run)
    (result,) = run.results()
    assert result.status == "success"
    steps = read_steps(run.episode_dirs()[0])
    turn = steps[0].turn
    assert turn.usage.calls == 2 and len(turn.rejected) == 1 and turn.raw_output == good
    assert turn.rejected[0].raw == "I think I should click it."
    assert run.standin.seen[1].messages()[-2:] == [
        ("assistant", ["I think I should click it."], 0),
        ("user", [FEEDBACK.format(error=turn.rejected[0].error)], 0)]
    assert isinstance(steps[0].action, Click)  # the click ran


def test_call_user_ends_as_needs_user_and_is_not_graded(tmp_path: Path) -> None:
    env = StillEnv(expected_answer=None)
    run, _ = run_still(tmp_path, "ui-tars-1.5", script(
        "Thought: I need the user's password to log in.\nAction: call_user()"), env=env)
    assert_clean(run)
    (result,) = run.results()
    assert (result.status, result.termination, result.reward) == ("needs_user", "needs_user", 0.0)
    assert result.reason == "I need the user's password to log in."
    assert env.evaluations == 0  # not graded: nobody was there to answer
    overall = run.report.overall().as_dict()  # counted as not solved by the agent on its own
    assert (overall["scored"], overall["successes"], overall["needs_user"]) == (1, 0, 1)


def test_call_user_fail_is_the_agents_fail(tmp_path: Path) -> None:
    run, env = run_still(tmp_path, "ui-tars-1.5", script(
        "Thought: I need the user's password.\nAction: call_user()"), options={"call_user": "fail"})
    assert_clean(run)
    assert env.evaluations == 1
    (result,) = run.results()
    assert (result.status, result.termination) == ("failure", "infeasible")
    (action,) = env.executed
    assert isinstance(action, Fail) and action.by == "agent" and "I need the user's password." in action.reason
    assert run.report.overall().as_dict()["scored"] == 1
