"""Generated apps in real Chromium: they render, validators read real state, plans verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from critic.base import ApproveAll
from cua.agent import Agent, AgentConfig
from cua.core import Click
from cua.planners import InstructionListPlanner
from cua.core.store import load_episode
from data_synth.apps import FAMILIES, TEMPLATES
from data_synth.env import make_task, task_from_synth
from data_synth.instructions import describe, inventory
from data_synth.page import locate
from data_synth.planner import expand
from data_synth.rng import Rand
from data_synth.templates import generate, task_names
from data_synth.validators import STATE_JS
from data_synth.verify import verify
from grounding.a11y import A11yGrounder


@pytest.mark.parametrize("name", task_names())
def test_every_template_renders_and_fails_at_the_start(env, name: str) -> None:
    task = make_task(name, 5)
    obs = env.reset(task)
    synth = task.config["synth"]
    assert obs.size == (round(synth.viewport[0] * synth.device_scale_factor),
                        round(synth.viewport[1] * synth.device_scale_factor))
    assert env.evaluate() == 0.0, synth.validator.explain(env.page.evaluate(STATE_JS))
    assert env.page.evaluate("() => window.__app.errors") == []
    first = expand(synth.plan)[0]
    assert locate(env.page, first.selector, synth.device_scale_factor) is not None


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_verifies_by_execution(env, family: str, tmp_path: Path) -> None:
    """One template per family, through the agent loop, recorded."""
    key = min(k for k in TEMPLATES if k.startswith(family + "-"))
    synth = generate(f"{key}-{TEMPLATES[key].levels[0]}", 11)
    outcome = verify(env, synth, tmp_path / synth.name, ablations=1)
    assert outcome.status == "verified", outcome.detail
    assert outcome.grounding_samples > 0 and len(outcome.ablations) == 1
    episode = load_episode(tmp_path / synth.name / "episode")
    assert episode.result is not None and episode.result.status == "success"
    assert len(episode.steps) == outcome.actions + 1  # every grounded action, then Done


def test_plan_survives_a_different_layout(env) -> None:
    """Same app, narrower screen and twice the pixels: every target is found again live."""
    synth = generate("shop-cart-medium", 3)
    moved = synth.model_copy(update={"viewport": (1024, 640), "device_scale_factor": 2.0})
    assert verify(env, moved, None, ablations=0).status == "verified"


def test_cpu_default_stack_solves_easy_tasks(env) -> None:
    agent = Agent.from_parts(InstructionListPlanner(), A11yGrounder(), ApproveAll(), AgentConfig(stage_timeout_s=None))
    for name in ("auth-login-easy", "settings-toggle-easy", "shop-cart-easy"):
        result = agent.run_episode(env, make_task(name, 2))
        assert result.status == "success", (name, result.error)


def test_a_wrong_action_leaves_the_task_failed(env) -> None:
    task = make_task("auth-reset-easy", 4)
    env.reset(task)
    env.step(Click(x=3, y=3))
    assert env.evaluate() == 0.0


def test_ambiguous_instructions_are_dropped(env) -> None:
    """A catalogue with one "Add to cart" button per product: never 'the "Add to cart" button'."""
    synth = next(s for s in (generate("shop-cart-medium", i) for i in range(40)) if s.app["addStyle"] == "text")
    env.reset(task_from_synth(synth))
    elements = inventory(env.page)
    adds = [e for e in elements if e.sid and e.sid.startswith("add-")]
    assert len(adds) > 1 and len({e.name for e in adds}) == 1
    rng = Rand(0)
    for e in adds:
        said = dict(describe(e, elements, synth.viewport, rng))
        assert "text" not in said
        assert said["function"].endswith("to the " + synth.app["copy"]["cart"].lower())
    link = next(e for e in elements if e.sid == f"prod-{synth.app['products'][0]['id']}")
    assert dict(describe(link, elements, synth.viewport, rng))["text"] == f'the "{link.name}" link'


def test_reference_planner_finds_the_env_through_the_task(env) -> None:
    """As a suite runner would use it: built with no arguments, the task carries its env."""
    from data_synth.planner import ReferencePlanPlanner

    agent = Agent.from_parts(ReferencePlanPlanner(), A11yGrounder(), ApproveAll(), AgentConfig(stage_timeout_s=None))
    result = agent.run_episode(env, make_task("table-sort-easy", 9))
    assert result.status == "success", result.error
