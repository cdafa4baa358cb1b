"""The batch runner with real browsers: a browser killed mid-episode, resume after a kill,
replay of a recorded episode, and the CLI's one-line errors."""

from __future__ import annotations

import json
import os
import signal

from typer.testing import CliRunner

from critic.base import ApproveAll, ReviewContext
from cua.agent import Agent
from cua.cli import app
from cua.core import Click, Verdict
from cua.planners import InstructionListPlanner
from cua.replay import replay_episode
from cua.batch import run_batch
from cua.stack import Stack
from cua.core.store import load_episode
from cua.suites import SUITES, Suite
from envs.miniwob import MiniWoBEnv
from grounding.a11y import A11yGrounder


def _agent(critic=None) -> Agent:
    return Agent.from_parts(InstructionListPlanner(), A11yGrounder(), critic or ApproveAll())


class KillBrowserOnSecondStep:
    """Approves everything, but SIGKILLs the browser while reviewing the 2nd step of the
    first episode: a crash in the middle of an episode, as happens in long runs."""

    name = "kill-browser"

    def __init__(self, envs: list[MiniWoBEnv]) -> None:
        self.envs, self.fired = envs, False

    def review(self, context: ReviewContext) -> Verdict:
        if not self.fired and len(context.history) == 1:
            self.fired = True
            pid = self.envs[-1].browser_pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
        return Verdict(approve=True, critic=self.name)


def test_browser_killed_mid_episode_is_an_error_with_its_steps_and_the_run_goes_on(tmp_path):
    made: list[MiniWoBEnv] = []

    def make_env() -> MiniWoBEnv:
        made.append(MiniWoBEnv())
        return made[-1]

    base = SUITES["miniwob"]
    suite = Suite("crashy", "test", base.task_names, make_env, base.make_task)
    summary = run_batch(suite, Stack(), tmp_path, [0], task_names=["click-button-sequence", "click-test"], inline=True,
                        agent=_agent(KillBrowserOnSecondStep(made)), retries=0, show_progress=False)
    first, second = list(summary.results.values())
    assert first.status == "error" and first.error
    crashed = load_episode(tmp_path / "episodes" / "miniwob_click-button-sequence__seed0")
    assert crashed.result.status == "error"
    assert len(crashed.steps) >= 1 and isinstance(crashed.steps[0].action, Click)  # earlier step intact
    assert second.status == "success"  # on a fresh browser
    assert len(made) == 2
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["overall"]["errors"] == 1 and data["overall"]["successes"] == 1


def test_resume_skips_finished_episodes_and_redoes_the_unfinished(tmp_path):
    suite = SUITES["miniwob"]
    run_batch(suite, Stack(), tmp_path, [0], task_names=["click-test", "click-button"], inline=True, agent=_agent(), show_progress=False)
    done = tmp_path / "episodes" / "miniwob_click-test__seed0" / "result.json"
    in_flight = tmp_path / "episodes" / "miniwob_click-button__seed0" / "result.json"
    stamp = done.stat().st_mtime_ns
    in_flight.unlink()  # as if the run was killed during this episode
    summary = run_batch(suite, Stack(), tmp_path, [0], task_names=["click-test", "click-button"], inline=True, agent=_agent(), show_progress=False)
    assert done.stat().st_mtime_ns == stamp
    assert in_flight.exists()
    assert sorted(r.task_id for r in summary.results.values()) == ["miniwob/click-button", "miniwob/click-test"]
    assert len(load_episode(in_flight.parent).steps) == 1  # redone once, not appended twice


def test_replay_reproduces_and_detects_divergence(tmp_path, miniwob_env):
    run_batch(SUITES["miniwob"], Stack(), tmp_path, [3], task_names=["click-button"], inline=True, agent=_agent(), show_progress=False)
    folder = tmp_path / "episodes" / "miniwob_click-button__seed3"
    report = replay_episode(folder, env=miniwob_env)
    assert report.first_divergence is None and report.score_matches
    # move the recorded click off its target: the replayed reward and score differ
    lines = (folder / "steps.jsonl").read_text().splitlines()
    step = json.loads(lines[0])
    step["action"]["x"], step["action"]["y"] = 2, 2
    (folder / "steps.jsonl").write_text(json.dumps(step) + "\n")
    report = replay_episode(folder, env=miniwob_env)
    assert report.replayed_score == 0.0 and not report.score_matches


def test_cli_errors_are_one_line(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["run", "--suite", "miniwob/click-buton", "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert "unknown task miniwob/click-buton" in r.output and "click-button" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["run", "--suite", "nosuch"])
    assert r.exit_code == 2 and "unknown suite 'nosuch'" in r.output
    r = runner.invoke(app, ["run", "--grounder", "nosuch", "--suite", "miniwob/click-test"])
    assert r.exit_code == 2 and "unknown grounder 'nosuch'" in r.output
    r = runner.invoke(app, ["replay", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "no episode folder" in r.output


def test_cli_missing_browser_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CUA_CHROMIUM", str(tmp_path / "no-chromium"))
    r = CliRunner().invoke(app, ["run", "--suite", "miniwob/click-test", "--seeds", "1",
                                 "--out", str(tmp_path / "run"), "--no-progress"])
    assert r.exit_code == 2 and "no Chromium executable" in r.output and "Traceback" not in r.output


def test_cli_lists_suites_and_tasks():
    r = CliRunner().invoke(app, ["tasks"])
    assert r.exit_code == 0 and "miniwob-cpu" in r.output
    r = CliRunner().invoke(app, ["tasks", "miniwob"])
    names = r.output.split()
    assert len(names) >= 120 and "miniwob/click-button" in names


def test_cli_run_writes_tables_and_trajectories(tmp_path):
    r = CliRunner().invoke(app, ["run", "--suite", "miniwob/click-test,click-link", "--seeds", "1",
                                 "--out", str(tmp_path), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "overall success 2/2" in r.output
    per_task = (tmp_path / "results.md").read_text().split("## Per task", 1)[1]
    assert "| click-test |" in per_task and "| click-link |" in per_task
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["backend"] == "inline" and run["stack_spec"]["policy"] == "planner"
    assert json.loads((tmp_path / "results.json").read_text())["overall"]["success_rate"] == 1.0
