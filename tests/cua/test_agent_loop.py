"""The agent loop on real MiniWoB++ pages in real Chromium: plan → ground → critique →
execute → record, vetoes and re-plans, refusals, time limits."""

from __future__ import annotations

import json
import time

import pytest

from critic.base import ApproveAll, ReviewContext
from cua.agent import Agent, AgentConfig
from cua.core import Click, Verdict
from cua.planners import InstructionListPlanner
from cua.core.store import EpisodeWriter, load_episode
from envs.miniwob import make_task
from grounding.a11y import A11yGrounder


class VetoFirstAttempt:
    """A critic that rejects the first proposal of every step (to exercise re-planning)."""

    name = "veto-first"

    def __init__(self) -> None:
        self.seen: list[ReviewContext] = []

    def review(self, context: ReviewContext) -> Verdict:
        self.seen.append(context)
        first = len(self.seen) % 2 == 1
        return Verdict(approve=not first, reason="looks off" if first else "fine", critic=self.name)


class RejectAll:
    name = "reject-all"

    def review(self, context: ReviewContext) -> Verdict:
        return Verdict(approve=False, reason="never", error_type="wrong_element", critic=self.name)


class SlowPlanner(InstructionListPlanner):
    name = "slow"

    def propose(self, *args, **kwargs):
        time.sleep(2)
        return super().propose(*args, **kwargs)


def cpu_agent(critic=None, **config) -> Agent:
    return Agent.from_parts(InstructionListPlanner(), A11yGrounder(), critic or ApproveAll(), AgentConfig(**config))


def test_episode_succeeds_and_records_the_coordinate_chain(miniwob_env, tmp_path):
    result = cpu_agent().run_episode(miniwob_env, make_task("click-button", 0), EpisodeWriter(tmp_path))
    assert result.status == "success" and result.reward == 1.0
    assert result.stack == {"policy": "planner", "planner": "instructions", "grounder": "a11y", "critic": "approve-all"}
    ep = load_episode(tmp_path)
    step = ep.steps[0]
    assert isinstance(step.action, Click) and step.done and step.reward > 0
    chain = step.chains[0]
    dsf = miniwob_env.config.device_scale_factor
    assert chain.device_scale_factor == dsf
    assert chain.screen_point.x == chain.screenshot_point.x / dsf
    # what the executor reports it clicked is the chain's last stage
    assert step.info["executed_points"][0] == pytest.approx([chain.screen_point.x, chain.screen_point.y], abs=0.01)
    assert step.attempts[0].grounding.grounder == "a11y"
    assert (tmp_path / "final.png").exists() and (tmp_path / step.screenshot).exists()


def test_veto_sends_the_critique_back_and_the_replan_executes(miniwob_env, tmp_path):
    critic = VetoFirstAttempt()
    result = cpu_agent(critic).run_episode(miniwob_env, make_task("enter-text", 1), EpisodeWriter(tmp_path))
    assert result.status == "success"
    steps = load_episode(tmp_path).steps
    assert all(len(s.attempts) == 2 for s in steps)
    assert all(not s.attempts[0].verdict.approve and s.attempts[1].verdict.approve for s in steps)
    assert steps[1].action.type == "type"


def test_every_attempt_vetoed_executes_nothing(miniwob_env, tmp_path):
    result = cpu_agent(RejectAll(), max_steps=2, max_retries=1).run_episode(
        miniwob_env, make_task("click-test", 0), EpisodeWriter(tmp_path))
    assert result.status == "failure" and result.steps == 2
    steps = load_episode(tmp_path).steps
    assert all(s.action is None and s.error.startswith("no action approved") for s in steps)
    assert all(len(s.attempts) == 2 for s in steps)


def test_grounder_refusal_is_recorded_and_retried(miniwob_env, tmp_path):
    task = make_task("click-test", 0)
    task.reference_plan = ['Click the "Nonexistent-Thing" button']
    result = cpu_agent(max_steps=1, max_retries=1).run_episode(miniwob_env, task, EpisodeWriter(tmp_path))
    assert result.status == "failure"
    attempts = load_episode(tmp_path).steps[0].attempts
    assert len(attempts) == 2 and all(a.grounding.point is None for a in attempts)
    assert "grounder found no" in attempts[0].error


def test_stage_timeout_ends_the_episode_as_an_error(miniwob_env, tmp_path):
    agent = Agent.from_parts(SlowPlanner(), A11yGrounder(), ApproveAll(), AgentConfig(stage_timeout_s=0.5))
    result = agent.run_episode(miniwob_env, make_task("click-test", 0), EpisodeWriter(tmp_path))
    assert result.status == "error" and "policy took longer than 0.5 s" in result.error
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["status"] == "error"
