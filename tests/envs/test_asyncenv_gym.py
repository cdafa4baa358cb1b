"""AsyncEnv (sync envs under asyncio) and GymEnv (gymnasium API) over real browser envs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from cua.core import ActionParseError, Click, EnvError, Type
from envs.asyncenv import AsyncEnv
from envs.base import Task
from envs.browser import BrowserConfig, BrowserEnv
from envs.gym import GymEnv, parse_action
from envs.miniwob import MiniWoBEnv, make_task

CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason=f"no Chromium at {CHROMIUM} (in CI this fails instead)",
)

FORM = (
    "data:text/html,<title>Form</title><input aria-label=Name style='position:absolute;"
    "left:10px;top:10px;width:200px'>"
)


@needs_chromium
def test_async_env_runs_a_sync_browser_inside_an_event_loop() -> None:
    async def episode() -> tuple[str, float, set[int]]:
        env = BrowserEnv(BrowserConfig(viewport=(400, 300), settle_ms=20))
        threads: set[int] = set()
        async with AsyncEnv(env) as aenv:
            task = Task(id="test/form", start_url=FORM, config={
                "validator": lambda page: float(page.input_value("input") == "hi"),
            })
            obs = await aenv.reset(task)
            box = next(e for e in obs.elements if e.role == "textbox").box
            # other coroutines keep running while the browser works
            ticks, step = 0, asyncio.ensure_future(aenv.step(Click(x=box.center.x, y=box.center.y)))
            while not step.done():
                ticks += 1
                await asyncio.sleep(0.001)
            await step
            await aenv.step(Type(text="hi"))
            threads.add(await aenv.call(threading.get_ident))
            threads.add(await aenv.call(threading.get_ident))
            score = await aenv.evaluate()
            assert ticks > 0
        with pytest.raises(EnvError, match="closed"):
            await aenv.evaluate()
        await aenv.close()  # idempotent
        return obs.title or "", score, threads

    title, score, threads = asyncio.run(episode())
    assert title == "Form" and score == 1.0
    assert len(threads) == 1 and threading.get_ident() not in threads


@needs_chromium
def test_sync_browser_refuses_other_threads() -> None:
    env = BrowserEnv(BrowserConfig(viewport=(400, 300)))

    async def reset_in_worker() -> None:
        with pytest.raises(EnvError, match="asyncio loop: wrap the env in envs.asyncenv.AsyncEnv"):
            env.reset(Task(id="test/form", start_url=FORM))
        aenv = AsyncEnv(env)
        await aenv.reset(Task(id="test/form", start_url=FORM))
        with pytest.raises(EnvError, match="AsyncEnv"):
            env.observe()  # the event loop's thread is not the browser's
        await aenv.close()

    asyncio.run(reset_in_worker())


@pytest.fixture(scope="module")
def gym_env() -> Iterator[GymEnv]:
    env = GymEnv(MiniWoBEnv(), task=make_task("click-button"), max_steps=3)
    yield env
    env.close()


def test_parse_action() -> None:
    assert parse_action('{"type": "click", "x": 1, "y": 2}') == Click(x=1, y=2)
    for bad in ("click(1, 2)", '{"type": "exec", "code": "rm -rf /"}', '{"type": "click"}', ""):
        with pytest.raises(ActionParseError):
            parse_action(bad)


@needs_chromium
def test_gym_episode_on_miniwob(gym_env: GymEnv) -> None:
    obs, info = gym_env.reset(seed=1)
    assert gym_env.observation_space.contains(obs)
    assert obs["screenshot"].dtype == np.uint8 and obs["screenshot"].shape == (480, 660, 3)
    assert obs["url"].startswith("http://127.0.0.1:") and obs["instruction"].startswith("Click on")
    target = re.search(r'"(.*)"', obs["instruction"]).group(1)
    button = next(e for e in info["observation"].elements if e.role == "button" and e.name == target)
    action = json.dumps({"type": "click", "x": button.box.center.x, "y": button.box.center.y})
    obs, reward, terminated, truncated, info = gym_env.step(action)
    assert terminated and not truncated and reward > 0 and info["raw_reward"] == 1.0
    assert gym_env.observation_space.contains(obs)


@needs_chromium
def test_gym_truncates_at_max_steps_and_rejects_bad_actions(gym_env: GymEnv) -> None:
    task = make_task("click-button")
    task.time_limit_s = 60  # the wait steps must not run into the page's own limit
    gym_env.reset(seed=2, options={"task": task})
    with pytest.raises(ActionParseError):
        gym_env.step("pyautogui.click(10, 10)")
    wait = '{"type": "wait", "seconds": 0}'
    assert gym_env.step(wait)[2:4] == (False, False)
    assert gym_env.step(wait)[2:4] == (False, False)
    assert gym_env.step(wait)[2:4] == (False, True)


@needs_chromium
def test_gym_needs_a_task() -> None:
    env = GymEnv(MiniWoBEnv())
    with pytest.raises(ValueError, match="task"):
        env.reset()
    env.close()
