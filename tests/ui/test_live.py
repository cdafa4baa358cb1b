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

from cua.core.store import load_episode
from cua.ui import live_view
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
