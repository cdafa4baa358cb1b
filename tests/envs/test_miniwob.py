"""MiniWoBEnv on the package's own task pages, served on loopback http, in the system Chromium."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest

from cua.core import Click, Observation, TaskNotFoundError, UIElement, Wait
from envs.base import Task
from envs.miniwob import (
    FLIGHT_VIEWPORT, MINIWOB_DSF, MINIWOB_VIEWPORT, MiniWoBEnv, make_task, miniwob_task_names,
)

CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason=f"no Chromium at {CHROMIUM} (in CI this fails instead)",
)


@pytest.fixture(scope="module")
def env() -> Iterator[MiniWoBEnv]:
    miniwob_env = MiniWoBEnv()
    yield miniwob_env
    miniwob_env.close()


def _target(obs: Observation) -> str:
    return re.fullmatch(r'Click on the "(.*)" button\.', obs.instruction or "").group(1)


def _buttons(obs: Observation) -> list[UIElement]:
    return [e for e in obs.elements if e.role == "button"]


def _click(env: MiniWoBEnv, element: UIElement):
    return env.step(Click(x=element.box.center.x, y=element.box.center.y))


def test_task_names() -> None:
    names = miniwob_task_names()
    assert 125 <= len(names) <= 140 and names == sorted(names) and len(set(names)) == len(names)
    assert {"click-button", "enter-text", "book-flight", "flight.AA", "flight.Alaska"} <= set(names)


def test_make_task() -> None:
    task = make_task("click-button", seed=3)
    assert (task.id, task.suite, task.name, task.seed) == ("miniwob/click-button", "miniwob", "click-button", 3)
    assert make_task("miniwob/book-flight").config["nondeterministic"] is True
    assert task.config["nondeterministic"] is False


def test_unknown_task_suggests_close_names() -> None:
    with pytest.raises(TaskNotFoundError, match="did you mean click-button"):
        make_task("click-buton")
    with pytest.raises(TaskNotFoundError, match="no-such-task"):
        make_task("no-such-task")


@needs_chromium
def test_reset_rejects_foreign_tasks(env: MiniWoBEnv) -> None:
    with pytest.raises(TaskNotFoundError):
        env.reset(Task(id="webarena/1"))
    with pytest.raises(TaskNotFoundError, match="click-buton"):
        env.reset(Task(id="miniwob/click-buton"))


@needs_chromium
def test_every_task_resets(env: MiniWoBEnv) -> None:
    regular = tuple(round(v * MINIWOB_DSF) for v in MINIWOB_VIEWPORT)
    flight = tuple(round(v * MINIWOB_DSF) for v in FLIGHT_VIEWPORT)
    started = time.monotonic()
    for name in miniwob_task_names():
        task = make_task(name, seed=0)
        obs = env.reset(task)
        assert obs.instruction and task.instruction == obs.instruction, name
        assert obs.size == (flight if name.startswith("flight.") else regular), name
        assert obs.extra["blocked"] == [] and obs.extra["time_limit_s"] > 0, name
        assert obs.elements, name
    print(f"{len(miniwob_task_names())} resets in {time.monotonic() - started:.1f} s")


@needs_chromium
def test_same_seed_same_page(env: MiniWoBEnv) -> None:
    for name in ("click-button", "enter-text", "email-inbox-nl-turk"):
        first = env.reset(make_task(name, seed=7))
        again = env.reset(make_task(name, seed=7))
        assert first.instruction == again.instruction, name
        assert [(e.role, e.name) for e in first.elements] == [(e.role, e.name) for e in again.elements]
    utterances = {env.reset(make_task("enter-text", seed=s)).instruction for s in range(5)}
    assert len(utterances) > 1


@needs_chromium
def test_screenshot_shows_the_task(env: MiniWoBEnv) -> None:
    obs = env.reset(make_task("click-button", seed=1))
    dsf = MINIWOB_DSF
    assert obs.screenshot.getpixel((int(150 * dsf), int(30 * dsf))) == (255, 255, 0)  # the query
    assert obs.screenshot.getpixel((int(80 * dsf), int(200 * dsf))) == (255, 255, 255)  # task area
    query = next(e for e in obs.elements if e.role == "StaticText" and e.name == obs.instruction)
    assert query.box.x2 <= 160 * dsf and query.box.y2 <= 50 * dsf


@needs_chromium
def test_clicking_the_right_button_succeeds(env: MiniWoBEnv) -> None:
    obs = env.reset(make_task("click-button", seed=1))
    button = next(b for b in _buttons(obs) if b.name == _target(obs))
    result = _click(env, button)
    assert result.done and 0 < result.reward <= 1
    assert result.info["raw_reward"] == 1.0 and result.info["episode_done"]
    assert env.evaluate() == 1.0
    again = _click(env, button)  # the episode is over: nothing runs, no reward twice
    assert again.done and again.reward == 0 and again.info["skipped"]
    assert env.evaluate() == 1.0


@needs_chromium
def test_clicking_a_wrong_button_fails(env: MiniWoBEnv) -> None:
    for seed in range(50):
        obs = env.reset(make_task("click-button", seed=seed))
        wrong = [b for b in _buttons(obs) if b.name != _target(obs)]
        if wrong:
            break
    else:
        pytest.fail("no click-button page with a wrong button in 50 seeds")
    result = _click(env, wrong[0])
    assert result.done and result.reward == -1.0 and result.info["raw_reward"] == -1.0
    assert env.evaluate() == 0.0


@needs_chromium
def test_time_limit_is_honoured(env: MiniWoBEnv) -> None:
    task = make_task("click-button", seed=1)
    task.time_limit_s = 0.5
    obs = env.reset(task)
    assert obs.extra["time_limit_s"] == 0.5
    result = env.step(Wait(seconds=1.0))
    assert result.done and result.reward == -1.0 and result.info["reason"] == "timed out"
    assert env.evaluate() == 0.0
    result = env.step(Click(x=80 * MINIWOB_DSF, y=100 * MINIWOB_DSF))
    assert result.done and result.reward == 0 and result.info["skipped"]
    # even a real click on the START cover does not begin a new (unseeded) episode
    env.page.mouse.click(80, 100)
    assert env.page.evaluate("WOB_DONE_GLOBAL") is True
