"""DesktopEnv against a real Xvfb, xdotool and xterm (no mocks)."""

from __future__ import annotations

import gc
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from PIL import Image

from cua.core import (
    Click, Done, DoubleClick, Drag, EnvError, Fail, Key, Move, RightClick, Scroll, Type,
)
from envs.base import Env, Task
from envs.desktop import DesktopConfig, DesktopEnv
from envs.keymap import keysym_code, keysym_name, text_keysyms, xdotool_chord

BINARIES = ("Xvfb", "xdotool", "xterm")
# /bin/sh without rc files: a prompt-free, predictable shell whatever the user's $SHELL is.
XTERM = ["xterm", "-e", "/bin/sh"]


def require_binaries() -> None:
    """Skip when the binaries are missing on a dev machine; in CI a missing binary must fail."""
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"missing {', '.join(missing)} (apt-get install -y xvfb xdotool xterm)")


def wait_for_text(path: Path, expected: str, timeout_s: float = 5.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and expected in path.read_text():
            break
        time.sleep(0.05)
    return path.read_text() if path.exists() else ""


def luminance_range(image: Image.Image) -> tuple[int, int]:
    return cast(tuple[int, int], image.convert("L").getextrema())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def mouse_location(env: DesktopEnv) -> tuple[int, int]:
    fields = dict(part.split(":") for part in env.xdotool("getmouselocation").split())
    return int(fields["x"]), int(fields["y"])


@pytest.fixture
def env() -> Iterator[DesktopEnv]:
    require_binaries()
    desktop = DesktopEnv(DesktopConfig(width=1024, height=700, app=XTERM))
    yield desktop
    desktop.close()


def test_reset_starts_xvfb_and_app_with_configured_size(env: DesktopEnv) -> None:
    assert env.screenshot_size == (1024, 700)
    with pytest.raises(EnvError, match="reset"):
        env.observe()  # before reset there is no display, and $DISPLAY is never used
    obs = env.reset(Task(id="desktop/xterm", instruction="type something"))
    assert isinstance(env, Env)
    assert obs.size == env.screenshot_size == (1024, 700)
    assert obs.instruction == "type something"
    assert obs.extra["display"] == env.display
    low, high = luminance_range(obs.screenshot)
    assert low < 50 and high > 200, "xterm's white window on the black root"
    assert env.xvfb_pid and pid_alive(env.xvfb_pid)
    assert env.app_pid and pid_alive(env.app_pid)
    argv = Path(f"/proc/{env.xvfb_pid}/cmdline").read_bytes().split(b"\0")
    assert argv[1].decode() == env.display


def test_typing_into_xterm_creates_the_file(env: DesktopEnv, tmp_path: Path) -> None:
    env.reset(Task(id="desktop/xterm"))
    marker = f"CUA-{uuid.uuid4().hex[:10]}-$x"
    out = tmp_path / "typed.txt"
    result = env.step(Type(text=f"echo '{marker}' > {out}"))
    assert result.info["executed_points"] == [] and not result.done
    env.step(Key(keys=["Return"]))
    assert wait_for_text(out, marker).strip() == marker


def test_key_chord_sends_ctrl_d(env: DesktopEnv, tmp_path: Path) -> None:
    env.reset(Task(id="desktop/xterm"))
    out = tmp_path / "cat.txt"
    env.step(Type(text=f"cat > {out}\nhello\n"))
    env.step(Key(keys=["ctrl", "d"]))  # EOF ends cat; without it the next line lands in the file
    env.step(Type(text=f"echo after >> {out}\n"))
    assert wait_for_text(out, "after") == "hello\nafter\n"


def test_click_moves_the_pointer(env: DesktopEnv) -> None:
    env.reset(Task(id="desktop/xterm"))
    result = env.step(Click(x=321.4, y=123.6))
    assert result.info["executed_points"] == [[321, 124]]
    assert mouse_location(env) == (321, 124)
    clamped = env.step(Move(x=5000, y=-3))
    assert clamped.info["executed_points"] == [[1023, 0]]
    assert mouse_location(env) == (1023, 0)


def test_other_pointer_actions_report_their_points(env: DesktopEnv) -> None:
    env.reset(Task(id="desktop/xterm"))
    assert env.step(DoubleClick(x=10, y=20)).info["executed_points"] == [[10, 20]]
    assert env.step(RightClick(x=600, y=600)).info["executed_points"] == [[600, 600]]
    assert env.step(Scroll(direction="down", amount=2)).info["executed_points"] == [[512, 350]]
    drag = env.step(Drag(x=700, y=100, to_x=900, to_y=400))
    assert drag.info["executed_points"] == [[700, 100], [900, 400]]
    assert mouse_location(env) == (900, 400)


def test_done_ends_the_episode_and_validator_scores_it(env: DesktopEnv) -> None:
    task = Task(id="desktop/score", config={"app": None, "validator": lambda e: 3.0})
    env.reset(task)
    result = env.step(Done(answer="42"))
    assert result.done and result.info["answer"] == "42"
    gave_up = env.step(Fail(reason="stuck"))
    assert gave_up.done and gave_up.info["fail_reason"] == "stuck"
    assert env.evaluate() == 1.0  # clipped into [0, 1]
    env.reset(Task(id="desktop/unscored", config={"app": None}))
    assert env.evaluate() == 0.0


def test_close_leaves_no_process_behind() -> None:
    require_binaries()
    env = DesktopEnv(DesktopConfig(app=XTERM))
    env.reset(Task(id="desktop/xterm"))
    xvfb, app, display = env.xvfb_pid, env.app_pid, env.display
    assert xvfb and app and display
    env.close()
    env.close()  # idempotent
    assert not pid_alive(xvfb) and not pid_alive(app)
    assert not Path(f"/tmp/.X11-unix/X{display[1:]}").exists()
    with pytest.raises(EnvError, match="reset"):
        env.step(Click(x=1, y=1))


def test_garbage_collection_stops_xvfb() -> None:
    require_binaries()
    env = DesktopEnv()
    env.reset(Task(id="desktop/blank"))
    xvfb = env.xvfb_pid
    assert xvfb and pid_alive(xvfb)
    del env
    gc.collect()
    assert not pid_alive(xvfb)


def test_two_envs_get_different_displays() -> None:
    require_binaries()
    first, second = DesktopEnv(DesktopConfig(width=640, height=480)), DesktopEnv()
    try:
        assert first.reset(Task(id="a/a")).size == (640, 480)
        assert second.reset(Task(id="b/b")).size == (1280, 800)
        assert first.display != second.display
        with pytest.raises(EnvError, match="in use"):
            DesktopEnv(DesktopConfig(display=first.display)).reset(Task(id="c/c"))
    finally:
        first.close()
        second.close()


def test_app_that_exits_is_reported() -> None:
    require_binaries()
    env = DesktopEnv(DesktopConfig(app=["sh", "-c", "echo boom >&2; exit 3"]))
    try:
        with pytest.raises(EnvError, match="exited with 3.*boom"):
            env.reset(Task(id="desktop/broken"))
    finally:
        env.close()


@pytest.mark.parametrize(("field", "package"), [("xvfb_path", "xvfb"), ("xdotool_path", "xdotool")])
def test_missing_binary_names_the_debian_package(field: str, package: str) -> None:
    config = DesktopConfig()
    setattr(config, field, "/nonexistent/bin/tool")
    env = DesktopEnv(config)
    with pytest.raises(EnvError, match=f"Debian package '{package}'"):
        env.reset(Task(id="desktop/none"))
    env.close()


def test_key_names_map_to_x_keysyms() -> None:
    assert xdotool_chord(["ctrl", "c"]) == "Control_L+c"
    assert [keysym_name(k) for k in ("enter", "escape", "pageup", "backspace", "meta")] == [
        "Return", "Escape", "Prior", "BackSpace", "Super_L"]
    assert keysym_name("+") == "U002B" and keysym_name("F5") == "F5"
    assert keysym_code("enter") == 0xFF0D and keysym_code("A") == 0x41
    assert keysym_code("€") == 0x010020AC
    assert text_keysyms("a\n") == [0x61, 0xFF0D]
    with pytest.raises(ValueError):
        keysym_name("hyperdrive")
