"""VNCDesktopEnv against a real x11vnc serving a real Xvfb + xterm (no mocks)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from cua.core import Click, EnvError, Key, Type
from envs.base import Env, Task
from envs.desktop import DesktopConfig, DesktopEnv
from envs.vnc import VNCConfig, VNCDesktopEnv

BINARIES = ("Xvfb", "xdotool", "xterm", "x11vnc")
PASSWORD_VAR = "CUA_TEST_VNC_PASSWORD"


def require_binaries() -> None:
    """Skip when the binaries are missing on a dev machine; in CI a missing binary must fail."""
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"missing {', '.join(missing)} (apt-get install -y xvfb xdotool xterm x11vnc)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, server: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.poll() is None, "x11vnc exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"x11vnc did not listen on {port}")


def start_x11vnc(display: str, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen(
        ["x11vnc", "-display", display, "-rfbport", str(port), "-localhost", "-forever",
         "-quiet", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    wait_for_port(port, server)
    return server, port


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGKILL: x11vnc holds no state worth a clean exit, and under load it can take seconds
    to act on SIGTERM."""
    server.kill()
    server.wait(timeout=5)


def wait_for_text(path: Path, expected: str, timeout_s: float = 5.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not (path.exists() and expected in path.read_text()):
        time.sleep(0.05)
    return path.read_text() if path.exists() else ""


@pytest.fixture(scope="module")
def desktop() -> Iterator[DesktopEnv]:
    """The machine behind the VNC server: our own Xvfb with an xterm running /bin/sh."""
    require_binaries()
    env = DesktopEnv(DesktopConfig(width=1024, height=640, app=["xterm", "-e", "/bin/sh"]))
    env.reset(Task(id="desktop/xterm"))
    yield env
    env.close()


@pytest.fixture(scope="module")
def vnc_port(desktop: DesktopEnv) -> Iterator[int]:
    assert desktop.display
    server, port = start_x11vnc(desktop.display, "-nopw")
    yield port
    stop(server)


@pytest.fixture
def vnc(vnc_port: int) -> Iterator[VNCDesktopEnv]:
    env = VNCDesktopEnv(VNCConfig(port=vnc_port))
    yield env
    env.close()


def test_screenshot_has_the_framebuffer_size(vnc: VNCDesktopEnv) -> None:
    obs = vnc.reset(Task(id="vnc/look", instruction="look"))
    assert isinstance(vnc, Env)
    assert obs.size == (1024, 640)
    assert obs.instruction == "look"
    low, high = cast(tuple[int, int], obs.screenshot.convert("L").getextrema())
    assert low < 50 and high > 200, "xterm's white window on the black root"


def test_typing_through_vnc_reaches_the_xterm(vnc: VNCDesktopEnv, tmp_path: Path) -> None:
    vnc.reset(Task(id="vnc/type"))
    marker = f"CUA-vnc-{uuid.uuid4().hex[:10]}"
    out = tmp_path / "vnc.txt"
    vnc.step(Type(text=f"cat > {out}\n{marker}\n"))
    vnc.step(Key(keys=["ctrl", "d"]))  # EOF ends cat; without it the next line lands in the file
    vnc.step(Type(text=f"echo 'Done: $x' >> {out}"))
    vnc.step(Key(keys=["enter"]))
    assert wait_for_text(out, "Done") == f"{marker}\nDone: $x\n"


def test_click_through_vnc_moves_the_pointer(vnc: VNCDesktopEnv, desktop: DesktopEnv) -> None:
    vnc.reset(Task(id="vnc/click"))
    result = vnc.step(Click(x=300.2, y=200.7))
    assert result.info["executed_points"] == [[300, 201]]
    assert "x:300 y:201" in desktop.xdotool("getmouselocation")


def test_close_is_idempotent_and_blocks_steps(vnc: VNCDesktopEnv) -> None:
    vnc.reset(Task(id="vnc/close"))
    vnc.close()
    vnc.close()
    with pytest.raises(EnvError, match="reset"):
        vnc.step(Click(x=1, y=1))


def test_refused_connection_is_an_env_error() -> None:
    env = VNCDesktopEnv(VNCConfig(port=free_port(), timeout_s=5))
    with pytest.raises(EnvError, match="failed"):
        env.reset(Task(id="vnc/none"))
    env.close()


@pytest.mark.filterwarnings("ignore:TripleDES has been moved")  # inside vncdotool
def test_password_comes_from_the_named_variable(
    desktop: DesktopEnv, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert desktop.display
    server, port = start_x11vnc(desktop.display, "-passwd", "s3cret-pw")
    try:
        env = VNCDesktopEnv(VNCConfig(port=port, password_env=PASSWORD_VAR, timeout_s=5))
        monkeypatch.delenv(PASSWORD_VAR, raising=False)
        with pytest.raises(EnvError, match=PASSWORD_VAR):
            env.reset(Task(id="vnc/nopw"))
        monkeypatch.setenv(PASSWORD_VAR, "wrong")
        with pytest.raises(EnvError, match="failed"):
            env.reset(Task(id="vnc/badpw"))
        monkeypatch.setenv(PASSWORD_VAR, "s3cret-pw")
        assert env.reset(Task(id="vnc/pw")).size == (1024, 640)
        assert "s3cret-pw" not in repr(vars(env)) + repr(env.config)
        stop(server)
        time.sleep(0.3)  # the client notices the closed socket
        with pytest.raises(EnvError, match="closed the connection"):
            env.step(Click(x=5, y=5))
        env.close()
    finally:
        stop(server)
