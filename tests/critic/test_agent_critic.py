"""The critic in the agent loop on real MiniWoB++ pages: a grounder that misses by N pixels is
caught, the critic's suggestion runs instead and the episode succeeds; the other policies, the
abstain threshold, what the planner is told, what the trajectory keeps; the online comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from critic.base import CRITICS, ApproveAll, Critique, PlanContext, ReviewContext
from critic.online import compare_runs
from cua.agent import Agent, AgentConfig
from cua.core import CuaError, Grounding, Observation, Point, Verdict
from cua.planners import InstructionListPlanner
from cua.batch import run_batch
from cua.stack import Stack
from cua.core.store import EpisodeWriter, load_episode
from cua.suites import get_suite
from envs.miniwob import make_task
from grounding.a11y import A11yGrounder

OFFSET = (0.0, 45.0)  # screenshot pixels: below each login-user target, onto blank space


class OffsetGrounder:
    """The a11y grounder with every point moved by a fixed offset (a miscalibrated model)."""

    name = "a11y+offset"

    def __init__(self, dx: float, dy: float) -> None:
        self.inner, self.dx, self.dy = A11yGrounder(), dx, dy

    def ground(self, image: Image.Image, instruction: str, observation: Observation | None = None) -> Grounding:
        g = self.inner.ground(image, instruction, observation)
        if g.point is None:
            return g
        p = Point(x=g.point.x + self.dx, y=g.point.y + self.dy)
        return g.model_copy(update={"point": p, "model_point": p, "box": None, "grounder": self.name})


class ContextPlanner(InstructionListPlanner):
    """The instruction planner, recording what the loop tells it."""

    name = "instructions+context"

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, PlanContext | None]] = []

    def propose(self, task, history, observation, critique=None, context: PlanContext | None = None):
        self.seen.append((critique, context))
        return super().propose(task, history, observation, critique)


def agent(critic, planner=None, **config) -> Agent:
    return Agent.from_parts(planner or InstructionListPlanner(), OffsetGrounder(*OFFSET), critic, AgentConfig(**config))


def test_offset_grounder_fails_without_a_critic(miniwob_env, tmp_path):
    result = agent(ApproveAll()).run_episode(miniwob_env, make_task("login-user", 0), EpisodeWriter(tmp_path))
    assert result.status == "failure"


def test_critic_catches_the_offset_and_its_suggestion_rescues_the_episode(miniwob_env, tmp_path):
    critic = CRITICS.make("cpu")
    result = agent(critic, critic_policy="veto-and-accept-suggestion").run_episode(
        miniwob_env, make_task("login-user", 0), EpisodeWriter(tmp_path))
    assert result.status == "success", result
    steps = load_episode(tmp_path).steps
    clicks = [s for s in steps if s.action is not None and s.action.type == "click"]
    assert len(clicks) == 3  # username, password, login: each vetoed, then its suggestion ran
    for s in clicks:
        first, second = s.attempts[0], s.attempts[1]
        assert not first.verdict.approve and first.verdict.error_type in ("off_target", "not_interactable")
        assert first.verdict.suggestion is not None and s.action == first.verdict.suggestion
        assert second.error == "suggested by the critic" and second.verdict.approve
        notes = s.info["agent"]["critic"]
        assert [n["outcome"] for n in notes] == ["vetoed", "approved"]
        assert notes[0]["action_before"]["y"] == first.action.y and notes[0]["action_after"] == s.action.model_dump()
        for n in notes:  # every verdict's evidence image lies next to the step's screenshot
            assert (tmp_path / n["evidence"]).exists() and n["evidence"].startswith(Path(s.screenshot).stem)
        assert s.info["agent"]["elements"] and s.info["agent"]["macro_history"]
    types = [s for s in steps if s.action is not None and s.action.type == "type"]
    assert all(s.attempts[0].verdict.approve for s in types)  # the field was focused by the suggestion
    assert "filled the form: username, password" in steps[-1].info["agent"]["macro_history"]


def test_replan_policy_sends_the_critique_and_the_macro_history_to_the_planner(miniwob_env, tmp_path):
    planner = ContextPlanner()
    result = agent(CRITICS.make("rules"), planner, max_steps=2, max_retries=1).run_episode(
        miniwob_env, make_task("login-user", 0), EpisodeWriter(tmp_path))
    assert result.status == "failure"  # a stateless planner proposes the same miss again
    first_critique = planner.seen[1][0]
    assert isinstance(first_critique, Critique) and first_critique.verdict is not None
    assert first_critique.suggestion is not None and "suggested instead" in first_critique
    assert all(ctx is not None and ctx.macro_history is not None for _, ctx in planner.seen)
    steps = load_episode(tmp_path).steps
    assert all(s.action is None and s.error.startswith("no action approved") for s in steps)
    assert "tried username — not executed" in steps[1].info["agent"]["macro_history"]


def test_advisory_and_unsure_critics_only_advise(miniwob_env, tmp_path):
    for config, folder in (({"critic_policy": "advisory"}, "advisory"), ({"critic_min_score": 0.95}, "threshold")):
        out = tmp_path / folder
        result = agent(CRITICS.make("rules"), max_steps=2, **config).run_episode(
            miniwob_env, make_task("login-user", 0), EpisodeWriter(out))
        steps = load_episode(out).steps
        assert result.status == "failure" and all(s.action is not None for s in steps)
        first = steps[0].info["agent"]["critic"][0]
        assert first["outcome"] == "advised" and not first["intervened"]
        assert not steps[0].attempts[0].verdict.approve  # the verdict itself is kept as given


def test_abstaining_critic_never_intervenes(miniwob_env, tmp_path):
    class Unreadable:
        name = "unreadable"

        def review(self, context: ReviewContext) -> Verdict:
            from critic.base import abstain

            return abstain("critic abstains: no <score> tag", self.name)

    result = Agent.from_parts(InstructionListPlanner(), A11yGrounder(), Unreadable()).run_episode(
        miniwob_env, make_task("click-button", 0), EpisodeWriter(tmp_path))
    assert result.status == "success"
    assert load_episode(tmp_path).steps[0].info["agent"]["critic"][0]["outcome"] == "abstained"


def test_unknown_policy_is_a_clear_error():
    with pytest.raises(CuaError, match="unknown critic policy"):
        AgentConfig(critic_policy="veto-sometimes")


def test_online_comparison_counts_recoveries(tmp_path):
    suite = get_suite("miniwob")
    runs = {}
    for label, critic, policy in (("without", ApproveAll(), "veto-and-replan"),
                                  ("with", CRITICS.make("cpu"), "veto-and-accept-suggestion")):
        a = Agent.from_parts(InstructionListPlanner(), OffsetGrounder(*OFFSET), critic, AgentConfig(critic_policy=policy))
        run_batch(suite, Stack(), tmp_path / label, [0], task_names=["login-user", "click-button"], inline=True, agent=a, show_progress=False)
        runs[label] = tmp_path / label
    report = compare_runs(runs["without"], runs["with"])
    m = report.metrics()
    assert m["episodes"] == 2 and m["success_with"] > m["success_without"]
    assert m["recoveries"] >= 1 and m["interventions"] >= 3 and m["harmed_episodes"] == 0
    assert m["per_task"]["miniwob/login-user"] == {"episodes": 1, "without": 0, "with": 1, "interventions": 3}
