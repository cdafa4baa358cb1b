"""OSWorld tasks end to end on a real Xvfb + xterm: setup, the agent's input, OSWorld's score."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cua.core import Fail, Type
from cua.osworld_suite import osworld_suite
from envs.base import Env, Task
from envs.osworld.env import OSWorldLocalConfig, OSWorldLocalEnv
from envs.osworld.task import UnsupportedTaskError

FIXTURES = Path(__file__).parent / "osworld_fixtures" / "evaluation_examples"
COPY_TASK = "5ea617a3-0e86-4ba6-aab2-dac9aa2e8d57"
INFEASIBLE_TASK = "a8e5f2c1-7d34-4b91-9c0e-3f6a2b1d8e70"
CALC_TASK = "01b269ae-2111-4a07-81fd-3fcd711993b0"


def require_binaries() -> None:
    missing = [b for b in ("Xvfb", "xdotool", "xterm") if shutil.which(b) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"missing {', '.join(missing)} (apt-get install -y xvfb xdotool xterm)")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(path: Path, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("signed\n"):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def env() -> Iterator[OSWorldLocalEnv]:
    require_binaries()
    e = OSWorldLocalEnv(OSWorldLocalConfig(trust_commands=True))  # the fixtures' own commands
    yield e
    e.close()


def test_terminal_task_scores_one_after_the_agent_and_zero_before(env: OSWorldLocalEnv) -> None:
    suite = osworld_suite(str(FIXTURES))
    assert isinstance(env, Env)
    task = suite.make_task(COPY_TASK, None)
    obs = env.reset(task)
    assert obs.size == (1920, 1080) and obs.instruction == task.instruction
    notes = env.home / "Desktop" / "notes"
    assert (notes / "draft.txt").read_text() == "hello osworld\n"  # the `execute` setup ran
    assert env.home != Path.home() and not (Path.home() / "Desktop" / "notes" / "draft.txt").exists()
    assert env.evaluate() == 0.0  # no action yet: draft.txt is still there
    xterm_pids = list(env.machine.pids) if env.machine else []
    assert xterm_pids and all(pid_alive(p) for p in xterm_pids)

    # The "agent": typed into the xterm the task's setup launched (keyboard focus from setup).
    env.step(Type(text="mv ~/Desktop/notes/draft.txt ~/Desktop/notes/final.txt && "
                       "echo signed >> ~/Desktop/notes/final.txt\n"))
    assert wait_for(notes / "final.txt"), "the shell in xterm did not run the typed command"
    assert env.evaluate() == 1.0
    # vm_file copied the guest file into the task's cache dir, as OSWorld does.
    assert env.machine is not None and (env.machine.cache_dir / "final.txt").is_file()

    # A new episode: fresh sandbox, the previous xterm is gone, the score is back to 0.
    old_home = env.home
    env.reset(task)
    assert env.home != old_home and not old_home.exists()
    assert not any(pid_alive(p) for p in xterm_pids)
    assert env.evaluate() == 0.0


def test_infeasible_task_is_scored_by_the_agents_fail(env: OSWorldLocalEnv) -> None:
    task = osworld_suite(str(FIXTURES)).make_task(INFEASIBLE_TASK, None)
    env.reset(task)
    assert env.evaluate() == 0.0
    env.step(Fail(reason="a CPU cannot be changed by software"))
    assert env.evaluate() == 1.0


def test_pyautogui_setup_steps_drive_our_display(env: OSWorldLocalEnv) -> None:
    task = Task(id="osworld/pointer", config={"osworld": {
        "id": "pointer", "instruction": "nothing to do",
        "config": [{"type": "execute", "parameters": {"command": [
            "python", "-c", "import pyautogui; import time; pyautogui.moveTo(700, 300); time.sleep(0.1);"]}}],
        "evaluator": {"func": "check_include_exclude",
                      "result": {"type": "vm_command_line", "command": "echo ok", "shell": True},
                      "expected": {"type": "rule", "rules": {"include": ["ok"]}}}}})
    env.reset(task)
    where = dict(kv.split(":") for kv in env.desktop.xdotool("getmouselocation").split())
    assert (int(where["x"]), int(where["y"])) == (700, 300)
    assert env.evaluate() == 1.0


def test_unsupported_task_is_refused_at_reset(env: OSWorldLocalEnv) -> None:
    suite = osworld_suite(f"{FIXTURES}?provider=docker")  # the docker suite lists it; local cannot run it
    with pytest.raises(UnsupportedTaskError, match="needs LibreOffice"):
        env.reset(suite.make_task(CALC_TASK, None))
