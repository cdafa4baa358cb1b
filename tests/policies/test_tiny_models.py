"""Tiny random-init Qwen2.5-VL and Qwen3-VL checkpoints drive a whole MiniWoB episode through
the LOCAL backend (transformers on the CPU).

Everything is real: the processor, the chat template, generation, the policy, the agent loop,
the runner and the store. Only the weights are random, so every reply is nonsense. The episode
must still end cleanly:
- termination "gave_up", a Fail(by="runtime") whose reason names the parser's complaint;
- exactly parse_retries + 1 model calls in that turn;
- every rejected reply recorded with its error;
- each retry's request holding the earlier rejected replies and the feedback on them (checked
  by token count against the records).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from policy_testkit import KeepOpen, read_result, read_steps, require_chromium

from cua.agent import Agent
from cua.batch import run_batch
from cua.core import Fail
from cua.policies.native import NativePolicy, layouts
from cua.policies.native.policy import FEEDBACK, MAX_KEPT_CHARS
from cua.stack import Stack
from cua.suites import Suite, get_suite
from envs.browser import BrowserConfig

PARSE_RETRIES = 2
TASK = "click-button"
CASES = [("qwen2.5-vl", "qwen25"), ("ui-tars-1.5", "qwen25"), ("opencua", "qwen25"), ("qwen3-vl", "qwen3")]


@pytest.fixture(scope="module")
def miniwob() -> Iterator:
    """One browser for the module: MiniWoB's 330x240 CSS viewport at scale factor 1, so the
    screenshot (and the image the tiny model sees) stays small."""
    require_chromium()
    from envs.miniwob import MINIWOB_VIEWPORT, MiniWoBEnv

    env = MiniWoBEnv(BrowserConfig(viewport=MINIWOB_VIEWPORT, device_scale_factor=1.0, settle_ms=50))
    yield env
    env.close()


@pytest.fixture(scope="module")
def checkpoints(request: pytest.FixtureRequest) -> dict[str, Path]:
    return {"qwen25": request.getfixturevalue("tiny_qwen25_checkpoint"),
            "qwen3": request.getfixturevalue("tiny_qwen3_checkpoint")}


def prompt_tokens(policy: NativePolicy, messages: list[dict]) -> int:
    """What the local backend counts as one request's prompt tokens (its attention mask)."""
    return int(policy.chat_model.encode([messages])["attention_mask"].sum())


@pytest.mark.parametrize("profile,checkpoint", CASES)
def test_nonsense_output_ends_the_episode_as_gave_up(profile: str, checkpoint: str, checkpoints: dict[str, Path],
                                                     miniwob, tmp_path: Path) -> None:
    stack = Stack(policy=f"native:profile={profile},backend=local,path={checkpoints[checkpoint]},"
                         f"max_new_tokens=16,parse_retries={PARSE_RETRIES}")
    agent: Agent = stack.build()
    policy = agent.policy
    assert isinstance(policy, NativePolicy) and policy.max_new_tokens == 16
    base = get_suite("miniwob-cpu")
    suite = Suite(base.name, "", base.task_names, lambda: KeepOpen(miniwob), base.make_task)
    report = run_batch(suite, stack, tmp_path, [0], task_names=[TASK], inline=True, agent=agent,
                       show_progress=False)

    # The run folder: the episode is final, scored and reported, nothing errored.
    folder = tmp_path / "episodes" / f"miniwob_{TASK}__seed0"
    result = read_result(folder)
    assert (result.status, result.termination, result.error) == ("failure", "gave_up", None), result.error
    assert result.turns == 1 and result.steps == 1
    rows = json.loads((tmp_path / "results.json").read_text())["episodes"]
    assert [(r["task"], r["termination"]) for r in rows] == [(TASK, "gave_up")]
    assert report.overall().as_dict()["agent_errors"] == 0

    (step,) = read_steps(folder)
    turn = step.turn
    assert turn is not None and isinstance(step.action, Fail) and step.action.by == "runtime"
    # exactly parse_retries + 1 calls, every reply refused with the parser's reason
    assert turn.usage.calls == PARSE_RETRIES + 1 == len(turn.rejected)
    assert all(r.error for r in turn.rejected)
    assert turn.rejected[-1].error in result.reason and turn.error == result.reason == step.action.reason
    assert result.reason.startswith(f"no usable reply after {PARSE_RETRIES + 1} tries")
    assert turn.raw_output is None and turn.actions == [step.action]
    for rejected in turn.rejected:  # the reason is what the parser says about this very text
        with pytest.raises(Exception) as refused:
            layouts.read(policy.profile, rejected.raw)
        assert getattr(refused.value, "reason", None) == rejected.error

    # Each retry asked again with the rejected replies and the feedback on them: the prompt
    # tokens the backend counted are the first request's plus, per retry, those turns.
    shot = Image.open(folder / step.screenshot).convert("RGB")
    size = policy.profile.resized_size(*shot.size)
    first = layouts.build(policy.profile, result.instruction or "", [], shot, step.screenshot, size, None).messages
    assert turn.image_size == size and turn.images == [step.screenshot]
    messages, expected = list(first), 0
    for rejected in turn.rejected:
        expected += prompt_tokens(policy, messages)
        messages += [{"role": "assistant", "content": [{"type": "text", "text": rejected.raw[:MAX_KEPT_CHARS]}]},
                     {"role": "user", "content": [{"type": "text", "text": FEEDBACK.format(error=rejected.error)}]}]
    assert turn.usage.prompt_tokens == expected
    assert turn.usage.completion_tokens is not None and 0 <= turn.usage.completion_tokens <= 16 * len(turn.rejected)


def test_a_checkpoint_of_the_wrong_grid_is_refused(checkpoints: dict[str, Path]) -> None:
    """Qwen3-VL's 32-pixel cells under a 28-pixel profile would put every point off: refused
    when the stack is built, naming both."""
    from cua.core import CuaError

    with pytest.raises(CuaError, match="28-pixel grid.*32-pixel cells"):
        Stack(policy=f"native:profile=ui-tars-1.5,backend=local,path={checkpoints['qwen3']}").build()
    with pytest.raises(CuaError, match="32-pixel grid.*28-pixel cells"):
        Stack(policy=f"native:profile=qwen3-vl,backend=local,path={checkpoints['qwen25']}").build()

