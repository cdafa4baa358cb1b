"""BrowserEnv against the system Chromium and real pages on loopback http."""

from __future__ import annotations

import functools
import io
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cua.core import (
    BrowserNotFoundError, Click, Done, EnvError, Key, PageLoadError, Point, Scroll, Type,
)
from envs.base import Env, Task
from envs.browser import BrowserConfig, BrowserEnv

CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason=f"no Chromium at {CHROMIUM} (in CI this fails instead)",
)

PAGE = """<!doctype html><html><head><title>Test page</title><style>
body {{ margin: 0; font: 16px sans-serif; }}
#b {{ position: absolute; left: 200px; top: 100px; width: 120px; height: 40px; }}
#name {{ position: absolute; left: 20px; top: 200px; width: 200px; }}
#away {{ position: absolute; left: 20px; top: 300px; }}
#tall {{ height: 3000px; background: linear-gradient(#f00, #00f); }}
</style></head><body>
<button id="b" onclick="window.clicks.push([event.clientX, event.clientY])">Press me</button>
<input id="name" aria-label="Name">
<a id="away" href="{away}">Elsewhere</a>
<div id="tall"></div>
<script>
window.clicks = []; window.keys = [];
document.getElementById('name').addEventListener('keydown', e => window.keys.push(
  (e.ctrlKey ? 'Control+' : '') + (e.shiftKey ? 'Shift+' : '') + e.key));
</script></body></html>"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The test page on one origin, and a second origin it links to."""
    away_dir = tmp_path_factory.mktemp("away")
    (away_dir / "x.html").write_text("<title>Away</title><p>away</p>")
    away_server, away = _serve(away_dir)
    home_dir = tmp_path_factory.mktemp("home")
    (home_dir / "index.html").write_text(PAGE.format(away=f"{away}/x.html"))
    home_server, home = _serve(home_dir)
    yield {"origin": home, "url": f"{home}/index.html", "away": f"{away}/x.html"}
    for server in (home_server, away_server):
        server.shutdown()
        server.server_close()


def _env(site: dict[str, str], dsf: float) -> BrowserEnv:
    return BrowserEnv(BrowserConfig(
        viewport=(640, 480), device_scale_factor=dsf, allowed_origins=[site["origin"]], settle_ms=50,
    ))


@pytest.fixture(scope="module")
def env1(site: dict[str, str]) -> Iterator[BrowserEnv]:
    env = _env(site, 1.0)
    yield env
    env.close()


@pytest.fixture(scope="module")
def env2(site: dict[str, str]) -> Iterator[BrowserEnv]:
    env = _env(site, 2.0)
    yield env
    env.close()


def _task(site: dict[str, str], **config: object) -> Task:
    return Task(id="test/page", instruction="press the button", start_url=site["url"], config=config)


def _element(obs, role: str, name: str):
    return next(e for e in obs.elements if e.role == role and e.name == name)


@needs_chromium
def test_implements_env_protocol(env1: BrowserEnv) -> None:
    assert isinstance(env1, Env)


@needs_chromium
@pytest.mark.parametrize("dsf", [1.0, 2.0])
def test_screenshot_is_viewport_times_dsf(site, env1, env2, dsf: float) -> None:
    env = env1 if dsf == 1.0 else env2
    obs = env.reset(_task(site))
    assert obs.size == (round(640 * dsf), round(480 * dsf)) == env.screenshot_size
    assert obs.screenshot.mode == "RGB"
    assert obs.url == site["url"] and obs.title == "Test page"
    assert obs.instruction == "press the button" and obs.device_scale_factor == dsf
    assert 'button "Press me"' in (obs.accessibility or "")


@needs_chromium
def test_element_box_matches_the_real_box_at_dsf2(site, env2) -> None:
    obs = env2.reset(_task(site))
    button = _element(obs, "button", "Press me")
    real = env2.page.locator("#b").bounding_box()
    centre = Point(x=(real["x"] + real["width"] / 2) * 2, y=(real["y"] + real["height"] / 2) * 2)
    assert button.box.contains(centre)
    assert abs(button.box.x1 - real["x"] * 2) < 1 and abs(button.box.y2 - (real["y"] + real["height"]) * 2) < 1
    assert any(e.role == "StaticText" and e.name == "Press me" for e in obs.elements)
    assert _element(obs, "textbox", "Name").editable


@needs_chromium
def test_click_at_screenshot_centre_hits_at_dsf2(site, env2) -> None:
    obs = env2.reset(_task(site))
    centre = _element(obs, "button", "Press me").box.center
    result = env2.step(Click(x=centre.x, y=centre.y))
    assert env2.page.evaluate("window.clicks") == [[260, 120]]  # CSS centre of the button
    assert result.info["executed_points"] == [[260, 120]]
    assert result.reward == 0 and not result.done


@needs_chromium
def test_typing_and_key_chords(site, env1) -> None:
    obs = env1.reset(_task(site))
    box = _element(obs, "textbox", "Name").box
    env1.step(Click(x=box.center.x, y=box.center.y))
    result = env1.step(Type(text="hello world"))
    assert env1.page.input_value("#name") == "hello world"
    focused = result.observation.focused_element()
    assert focused is not None and focused.role == "textbox" and focused.value == "hello world"
    env1.step(Key(keys=["ctrl", "a"]))
    env1.step(Key(keys=["backspace"]))
    assert env1.page.input_value("#name") == ""
    env1.step(Key(keys=["shift", "q"]))
    keys = env1.page.evaluate("window.keys")
    assert "Control+a" in keys and "Backspace" in keys and "Shift+Q" in keys


@needs_chromium
def test_scroll_moves_the_page_and_the_boxes(site, env2) -> None:
    obs = env2.reset(_task(site))
    assert any(e.name == "Press me" for e in obs.elements)
    result = env2.step(Scroll(direction="down", amount=3, x=100, y=100))
    assert env2.page.evaluate("window.scrollY") == 300
    assert result.info["executed_points"] == [[50, 50]]
    # the button (top 100 px) is scrolled out of view: no box for it any more
    assert not any(e.name == "Press me" for e in result.observation.elements)
    after = env2.step(Scroll(direction="up", amount=1)).observation
    assert env2.page.evaluate("window.scrollY") == 200
    # the screenshot shows the scrolled viewport, pixel for pixel what Playwright captures
    reference = Image.open(io.BytesIO(env2.page.screenshot())).convert("RGB")
    assert after.screenshot.size == reference.size
    assert not np.abs(np.asarray(after.screenshot, int) - np.asarray(reference, int)).any()


@needs_chromium
def test_allowlist_blocks_off_origin_navigation(site, env1) -> None:
    obs = env1.reset(_task(site))
    link = _element(obs, "link", "Elsewhere").box.center
    result = env1.step(Click(x=link.x, y=link.y))
    assert result.info["blocked"] == [site["away"]]
    assert result.observation.url == site["url"]
    assert env1.step(Done()).info["blocked"] == []  # reported once, for the step that caused it
    with pytest.raises(PageLoadError, match="x.html"):
        env1.reset(Task(id="test/away", start_url=site["away"]))


@needs_chromium
def test_validator_and_done(site, env1) -> None:
    task = _task(site, validator=lambda page: float(len(page.evaluate("window.clicks")) > 0))
    obs = env1.reset(task)
    assert env1.evaluate() == 0.0
    centre = _element(obs, "button", "Press me").box.center
    env1.step(Click(x=centre.x, y=centre.y))
    assert env1.evaluate() == 1.0
    result = env1.step(Done(answer="pressed"))
    assert result.done and result.info["answer"] == "pressed"
    env1.reset(_task(site))
    assert env1.evaluate() == 0.0  # no validator: nothing to check


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/never.html"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


@needs_chromium
def test_page_that_never_loads(hanging_server: str) -> None:
    env = BrowserEnv(BrowserConfig(navigation_timeout_s=1.5))
    try:
        with pytest.raises(PageLoadError, match=r"never\.html.*1\.5 s"):
            env.reset(Task(id="test/hang", start_url=hanging_server))
    finally:
        env.close()


def test_missing_executable() -> None:
    with pytest.raises(BrowserNotFoundError, match=r"/nonexistent/chromium.*CUA_CHROMIUM"):
        BrowserEnv(BrowserConfig(executable="/nonexistent/chromium"))


def test_executable_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUA_CHROMIUM", "/nonexistent/from-env")
    with pytest.raises(BrowserNotFoundError, match="/nonexistent/from-env"):
        BrowserEnv()


def _wait_gone(pid: int) -> None:
    """Until the process is dead (gone, or a zombie waiting for its parent)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        except (FileNotFoundError, IndexError):
            return
        if state == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"browser {pid} still alive")


@needs_chromium
def test_killed_browser_raises_then_restart_recovers(site) -> None:
    env = _env(site, 1.0)
    try:
        obs = env.reset(_task(site))
        pid = env.browser_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        centre = _element(obs, "button", "Press me").box.center
        with pytest.raises(EnvError, match="browser crashed"):
            env.step(Click(x=centre.x, y=centre.y))
        with pytest.raises(EnvError, match="browser crashed"):
            env.observe()
        env.restart()
        assert env.browser_pid() not in (None, pid)
        env.reset(_task(site))
        env.step(Click(x=centre.x, y=centre.y))
        assert env.page.evaluate("window.clicks.length") == 1
    finally:
        env.close()
        env.close()  # idempotent
