"""The live worker on real MiniWoB++ pages (Playwright + system Chromium): pause mid-run and
resume, Stop between steps (status "stopped", steps kept), and the approve-each-action mode
(reject → re-plan, a moved point runs as the user's own action, Stop while waiting)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cua.core import CuaError
from cua.core.store import load_episode
from cua.ui import live_view, render
from cua.ui.human import Decision, moved
from cua.ui.live import Control, Event, LiveRun, RunSpec

pytestmark = pytest.mark.skipif(not shutil.which(os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")),
                                 reason="Chromium is not installed")
WAIT_S = 90.0  # generous: a loaded 2-core machine starts Chromium slowly


def next_event(run: LiveRun, kind: str) -> Event:
    deadline = time.time() + WAIT_S
    while time.time() < deadline:
        try:
            ev = run.events.get(timeout=0.5)
        except Exception:  # noqa: BLE001 — queue.Empty: keep waiting
            if run.finished and run.events.empty():
                break
            continue
        if ev.kind == "error":
            pytest.fail(f"run failed: {ev.message}")
        if ev.kind == kind:
            return ev
    pytest.fail(f"no {kind!r} event within {WAIT_S:g} s (error: {run.error})")


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.time() + WAIT_S
    while not condition():
        if time.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def finish(run: LiveRun):
    run.thread.join(WAIT_S)
    assert run.finished, "the worker thread did not end"
    assert run.error is None, run.error
    return run.result


def test_pause_mid_run_then_resume(tmp_path: Path):
    run = LiveRun(RunSpec(task="miniwob-cpu/login-user", step_delay_s=1.0, runs_root=tmp_path)).start()
    next_event(run, "step")
    run.control.pause()  # lands in the 1 s watch-pace delay after step 0
    wait_until(lambda: run.control.waiting, "the worker to block at the pause gate")
    held = len(run.records)
    assert not run.finished and 1 <= held < 5
    assert len((run.episode_dir / "steps.jsonl").read_text().splitlines()) == held
    run.control.resume()
    result = finish(run)
    assert result.status == "success" and result.steps == 5


def test_stop_between_steps_keeps_the_steps(tmp_path: Path):
    run = LiveRun(RunSpec(task="miniwob-cpu/login-user", start_paused=True, runs_root=tmp_path)).start()
    next_event(run, "reset")
    run.control.step()  # exactly one step, then paused again
    next_event(run, "step")
    wait_until(lambda: run.control.waiting, "the pause after one step")
    run.control.stop()
    result = finish(run)
    assert result.status == "stopped" and result.steps == 1 and result.error is None
    episode = load_episode(run.episode_dir)
    assert episode.result is not None and episode.result.status == "stopped"
    assert len(episode.steps) == 1 and not episode.warnings
    assert (run.run_dir / "results.json").exists()


def test_approve_each_action_reject_edit_approve(tmp_path: Path):
    run = LiveRun(RunSpec(task="miniwob-cpu/enter-text", approve_each=True, critic="rules",
                          runs_root=tmp_path)).start()
    first = next_event(run, "proposal").proposal
    assert first.step == 0 and first.attempt == 0 and first.action.type == "click"
    assert first.verdict.critic  # the wrapped critic's verdict is shown to the user
    run.human.decide(Decision("reject", note="not yet"))
    again = next_event(run, "proposal").proposal  # the planner proposes again
    assert again.step == 0 and again.attempt == 1
    mine = moved(again.action, again.action.x + 2, again.action.y + 1)  # still inside the text field
    run.human.decide(Decision("replace", action=mine))
    step0 = next_event(run, "step").record
    assert step0.action == mine
    kinds = [a.verdict.error_type for a in step0.attempts]
    assert kinds[:2] == ["user_reject", "user_edit"] and step0.attempts[-1].verdict.approve
    assert "not yet" in step0.attempts[0].verdict.reason
    for _ in range(2):  # type the text, press submit
        next_event(run, "proposal")
        run.human.decide(Decision("approve"))
    result = finish(run)
    assert result.status == "success" and result.steps == 3
    assert result.stack["critic"].startswith("human+rules")


def test_stop_while_waiting_for_a_decision(tmp_path: Path):
    run = LiveRun(RunSpec(task="miniwob-cpu/click-button", approve_each=True, runs_root=tmp_path)).start()
    next_event(run, "proposal")
    run.control.stop()
    result = finish(run)
    assert result.status == "stopped"
    assert run.human.pending is None


def chromium_children() -> list[int]:
    """Chromium processes started by this test process (through the Playwright driver)."""
    import psutil

    return [c.pid for c in psutil.Process().children(recursive=True)
            if "chrom" in c.name().lower() and c.status() != psutil.STATUS_ZOMBIE]


def test_paused_gate_stops_after_the_idle_limit():
    control = Control(idle_limit_s=0.3)
    control.pause()
    worker = threading.Thread(target=control.gate, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "a paused run nobody resumes must not wait forever"
    assert control.stopped and "0.3 s paused" in control.stop_reason


def test_run_waiting_for_a_decision_too_long_stops_and_closes_its_browser(tmp_path: Path):
    run = LiveRun(RunSpec(task="miniwob-cpu/click-button", approve_each=True, idle_limit_s=1.0,
                          runs_root=tmp_path)).start()
    next_event(run, "proposal")
    assert chromium_children(), "the run's browser should be up while it waits"
    result = finish(run)
    assert result.status == "stopped" and "without a decision" in run.control.stop_reason
    assert "without a decision" in live_view.status_text(run, "")
    wait_until(lambda: not chromium_children(), "the run's Chromium to exit")


def test_closing_the_stream_stops_the_run_and_forgets_it(tmp_path: Path):
    """The page went away: Gradio closes the start_run generator (GeneratorExit)."""
    stream = live_view.start_run("Suite task", "miniwob-cpu/click-button", 0, "", "", "instructions", "a11y",
                                 "approve-all", 0, True, False, 0, str(tmp_path))
    deadline = time.time() + WAIT_S
    for outputs in stream:  # until the run sits paused after reset, its browser open
        if "paused" in str(outputs[0]) or time.time() > deadline:
            break
    assert len(live_view.RUNS) == 1 and "paused" in str(outputs[0])
    run = next(iter(live_view.RUNS.values()))
    stream.close()
    assert not live_view.RUNS
    result = finish(run)
    assert result.status == "stopped" and "went away" in run.control.stop_reason
    wait_until(lambda: not chromium_children(), "the run's Chromium to exit")


# ---- a policy that asks for the user (CallUser) -------------------------------------------------

ASK_POLICY = "ui_policies.AskUserPolicy"


@pytest.fixture(scope="module", autouse=True)
def _ask_policy():
    """The test policy, registered as ``app.py --plugin ui_policies:AskUserPolicy`` does."""
    from cua.stack import import_plugins

    assert import_plugins(["ui_policies:AskUserPolicy"]) == [ASK_POLICY]


def _ask(tmp_path: Path, **spec) -> tuple[LiveRun, Event]:
    run = LiveRun(RunSpec(task="miniwob-cpu/click-button", policy=ASK_POLICY, runs_root=tmp_path, **spec)).start()
    asked = next_event(run, "proposal")
    p = asked.proposal
    assert p.asks_user and p.action.type == "call_user" and p.question.startswith("Which name")
    assert p.turn is not None and p.turn.thought and p.turn.images  # the approval panel shows the turn
    assert "the policy asks for you" in live_view.status_text(run, "")
    return run, asked


def test_call_user_waits_in_normal_mode_and_the_answer_reaches_the_policy(tmp_path: Path):
    from ui_policies import QUESTION

    run, _ = _ask(tmp_path)  # not approve-each: only the CallUser waits
    assert run.human.pending is not None and not run.human.every
    run.human.decide(Decision("answer", note="Kasey <b>&</b> Co"))
    step0 = next_event(run, "step").record
    result = finish(run)
    first, second = step0.attempts
    assert first.action.type == "call_user" and first.verdict.error_type == "user_answer"
    assert first.verdict.reason == "Kasey <b>&</b> Co" and first.verdict.critic == "human"
    assert second.action.type == "done" and second.verdict.approve  # the critic alone: nobody was asked
    assert step0.turn.feedback == "user_resp: Kasey <b>&</b> Co"  # what the policy was told
    assert render.badge_for(step0)[0] == "APPROVED after the user's answer"
    assert result.termination == "done" and result.answer == "Kasey <b>&</b> Co"
    assert result.status in ("success", "failure") and result.stack["critic"] == "approve-all"
    assert result.stack["policy"] == "ask-user"
    assert first.turn.actions == [first.action] and first.action.question == QUESTION


def test_call_user_approved_ends_the_episode_as_needs_user(tmp_path: Path):
    run, _ = _ask(tmp_path)
    run.human.decide(Decision("approve"))
    result = finish(run)
    assert result.status == "needs_user" and result.termination == "needs_user"
    assert result.reason.startswith("Which name") and result.reward == 0.0
    status = live_view.status_text(run, "")
    assert "needs_user" in status and "not graded (needs the user)" in status and "question:" in status
    episode = load_episode(run.episode_dir)
    assert episode.result.status == "needs_user" and len(episode.steps) == 1


def test_call_user_take_over_runs_the_users_action_under_veto_and_replan(tmp_path: Path):
    from cua.core.actions import Done

    run, _ = _ask(tmp_path)
    mine = Done(answer="I'll do it myself")
    run.human.decide(Decision("replace", action=mine))
    step0 = next_event(run, "step").record
    result = finish(run)
    assert step0.action == mine and step0.turn.source == "user" and step0.turn.actions == [mine]
    assert [a.verdict.error_type for a in step0.attempts] == ["user_edit", None]
    assert step0.attempts[-1].verdict.approve and step0.attempts[-1].verdict.critic == "human"
    assert result.termination == "done" and result.answer == "I'll do it myself"


def test_call_user_in_approve_each_mode_answer_then_approve(tmp_path: Path):
    run, _ = _ask(tmp_path, approve_each=True)
    with pytest.raises(CuaError, match="type an answer"):
        run.human.decide(Decision("answer", note="  "))
    run.human.decide(Decision("answer", note="Ann"))
    done = next_event(run, "proposal").proposal  # approve-each: the Done waits too
    assert done.action.type == "done" and done.action.answer == "Ann" and not done.asks_user
    with pytest.raises(CuaError, match="did not ask"):
        run.human.decide(Decision("answer", note="again"))
    run.human.decide(Decision("approve"))
    result = finish(run)
    assert result.answer == "Ann" and result.termination == "done"
    assert result.stack["critic"].startswith("human+approve-all")
