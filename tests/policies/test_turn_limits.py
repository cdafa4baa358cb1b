"""Turns, budgets and edges the review found: a vetoed queued action cannot buy turns past the
budget, OpenCUA's section reader is linear on hostile text, a point on the image's far edge
stays on the screenshot, and a server never gets a key it was not named for."""

from __future__ import annotations

import threading

import pytest
from policy_testkit import StillEnv, run_native, still_suite
from standin import StandIn

from cua.agent import Agent, AgentConfig
from cua.core import Click, ModelSpace, StepRecord, Task, TurnRecord, Type, Verdict
from cua.policies.base import PolicyInput, Proposal, Turn
from cua.policies.native import get_native_profile, layouts
from cua.policies.native.policy import NativePolicy
from grounding.backends.openai_compat import HttpChatModel


class ClickThenType:
    """Every turn: click the box, then type (a UI-TARS-style two-action turn)."""

    name = "click-then-type"

    def act(self, inp: PolicyInput) -> Turn:
        record = TurnRecord(index=inp.turn_index, policy=self.name, actions=[Click(x=100, y=60), Type(text="hi")])
        return Turn([Proposal(a) for a in record.actions], record)


class VetoTyping:
    name = "veto-typing"

    def review(self, context) -> Verdict:
        return Verdict(approve=not isinstance(context.action, Type), reason="no typing here", critic=self.name)


def test_a_vetoed_queued_action_does_not_buy_turns_past_the_budget() -> None:
    env, stop = StillEnv(), threading.Event()
    timer = threading.Timer(30, stop.set)  # a loop that never ends would be stopped here, and fail below
    timer.start()
    try:
        result = Agent(ClickThenType(), VetoTyping(), AgentConfig(max_steps=3, max_retries=2)).run_episode(
            env, Task(id="still/t", instruction="type hi"), stop=stop)
    finally:
        timer.cancel()
    assert result.termination == "step_budget" and result.turns == 3
    assert result.steps <= 6


@pytest.mark.timeout(20)
def test_opencua_sections_of_a_hostile_reply_are_read_in_linear_time() -> None:
    profile = get_native_profile("opencua")
    reply = "Thought:\n" + " " * 90_000 + "x\n## Code:\n```python\npyautogui.click(x=1, y=2)\n```"
    parsed = layouts.read(profile, reply)
    assert parsed.actions == [Click(x=1, y=2)]


def test_the_far_edge_of_the_image_stays_on_the_screenshot() -> None:
    profile = get_native_profile("qwen3-vl")  # 0-999: 999 maps to the width itself
    policy = NativePolicy(profile, HttpChatModel("http://127.0.0.1:9", "x"))
    proposal = policy._proposal(Click(x=999, y=999), ModelSpace.rel_999(), (320, 200))
    assert (proposal.action.x, proposal.action.y) == (319, 199)
    assert proposal.chains[0].screenshot_point.x == 319 and proposal.chains[0].model_point.x == 999


def test_no_key_is_sent_unless_its_variable_is_named(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leave")
    monkeypatch.setenv("MY_SERVER_KEY", "named-key")
    answers = []

    def reply(i, seen):
        answers.append(seen)
        return "Thought: done.\nAction: finished()"

    env = StillEnv()
    run = run_native("ui-tars-1.5", still_suite(env, "finish"), tmp_path / "a", reply=reply)
    assert run.results()[0].termination == "done"
    headers = [dict(h) for h in run.standin.headers]
    assert headers and all("authorization" not in {k.lower() for k in h} for h in headers)
    run = run_native("ui-tars-1.5", still_suite(env, "finish"), tmp_path / "b", reply=reply,
                     options={"api_key_env": "MY_SERVER_KEY"})
    assert run.results()[0].termination == "done"
    assert run.standin.headers[-1].get("Authorization") == "Bearer named-key"
