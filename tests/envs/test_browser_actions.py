"""BrowserEnv's richer actions (triple click, button and key holds, drop-down lists, navigation,
tabs, non-ASCII text) in the system Chromium, on real pages served on loopback: no mocks."""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cua.core import (
    ACTION_TYPES, Back, CallUser, Click, CloseTab, Done, Fail, Forward, Goto, Key, KeyDown, KeyUp,
    MouseDown, MouseUp, Move, NewTab, SelectOption, SwitchTab, TripleClick, Type,
    UnsupportedActionError,
)
from envs.base import StepResult, Task, supported_actions
from envs.browser import BrowserConfig, BrowserEnv

CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason=f"no Chromium at {CHROMIUM} (in CI this fails instead)")

# Everything placed absolutely, so the tests know where to point.
ACTIONS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Actions</title><style>
body { margin: 0; font: 16px sans-serif; }
#para { position: absolute; left: 20px; top: 20px; width: 560px; margin: 0; }
#other { position: absolute; left: 20px; top: 90px; margin: 0; }
#range { position: absolute; left: 20px; top: 130px; width: 200px; margin: 0; }
#pad { position: absolute; left: 300px; top: 120px; width: 120px; height: 40px; background: #cde; }
#fruit { position: absolute; left: 20px; top: 180px; width: 160px; }
#many { position: absolute; left: 220px; top: 180px; width: 160px; }
#btn { position: absolute; left: 420px; top: 180px; }
#text { position: absolute; left: 20px; top: 300px; width: 300px; }
#next { position: absolute; left: 20px; top: 350px; }
#blank { position: absolute; left: 120px; top: 350px; }
#away { position: absolute; left: 220px; top: 350px; }
#opener { position: absolute; left: 320px; top: 350px; }
</style></head><body>
<p id="para">The first paragraph has several words in it.</p>
<p id="other">Another paragraph.</p>
<input id="range" type="range" min="0" max="100" value="0">
<div id="pad">pad</div>
<select id="fruit"><option value="a">Apple</option><option value="b">Banana  split</option>
  <option value="c" disabled>Cherry</option></select>
<select id="many" multiple size="3"><option value="x">Xigua</option><option value="y">Yam</option>
  <option value="z">Zucchini</option></select>
<button id="btn">Button</button>
<input id="text" aria-label="Text">
<a id="next" href="next.html">Next</a>
<a id="blank" href="next.html" target="_blank">New tab</a>
<a id="away" href="{away}" target="_blank">Away</a>
<button id="opener" onclick="window.open('next.html')">Open</button>
<script>
window.log = [];
const pad = document.getElementById('pad');
for (const type of ['mousedown', 'mouseup', 'click'])
  pad.addEventListener(type, e => log.push([type, e.button, e.shiftKey]));
document.addEventListener('keydown', e => log.push(['keydown', e.key, e.shiftKey]));
for (const id of ['fruit', 'many'])
  document.getElementById(id).addEventListener('change', e => log.push(['change', id]));
</script></body></html>"""

NEXT_PAGE = """<!doctype html><html><head><title>Next</title></head><body>
<p>next</p><button onclick="window.close()" style="position:absolute;left:20px;top:100px">Close me</button>
</body></html>"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    away_dir = tmp_path_factory.mktemp("away")
    (away_dir / "x.html").write_text("<title>Away</title><p>away</p>")
    away_server, away = _serve(away_dir)
    home_dir = tmp_path_factory.mktemp("home")
    (home_dir / "index.html").write_text(ACTIONS_PAGE.replace("{away}", f"{away}/x.html"), encoding="utf-8")
    (home_dir / "next.html").write_text(NEXT_PAGE)
    home_server, home = _serve(home_dir)
    with socket.socket() as sock:  # a port nobody listens on: an allowed site that is down
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield {"origin": home, "url": f"{home}/index.html", "next": f"{home}/next.html", "away": f"{away}/x.html",
           "dead": dead}
    for server in (home_server, away_server):
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def env(site: dict[str, str]) -> Iterator[BrowserEnv]:
    browser = BrowserEnv(BrowserConfig(viewport=(640, 480), allowed_origins=[site["origin"], site["dead"]],
                                       settle_ms=30, navigation_timeout_s=5))
    yield browser
    browser.close()


@pytest.fixture
def page_env(env: BrowserEnv, site: dict[str, str]) -> BrowserEnv:
    env.reset(Task(id="t/actions", instruction="act", start_url=site["url"]))
    return env


def js(env: BrowserEnv, expression: str) -> Any:
    return env.page.evaluate(expression)


def tabs(result: StepResult) -> list[tuple[str, bool]]:
    """(url path tail, active) per tab, from the observation."""
    return [(t["url"].rsplit("/", 1)[-1], t["active"]) for t in result.observation.extra["tabs"]]


def test_the_browser_declares_every_action() -> None:
    assert BrowserEnv.supported_actions == ACTION_TYPES


def test_triple_click_selects_the_paragraph(page_env: BrowserEnv) -> None:
    result = page_env.step(TripleClick(x=60, y=28))
    assert result.info["executed_points"] == [[60, 28]]
    assert js(page_env, "getSelection().toString().trim()") == "The first paragraph has several words in it."


def test_mouse_down_move_up_drags_the_slider(page_env: BrowserEnv) -> None:
    page_env.step(MouseDown(x=27, y=138))  # the thumb at the slider's left end
    page_env.step(Move(x=210, y=138))
    assert js(page_env, "document.getElementById('range').value") != "0"  # it follows while held
    page_env.step(Move(x=260, y=138))
    result = page_env.step(MouseUp())  # where the pointer is
    assert result.info["executed_points"] == [[260, 138]]
    assert js(page_env, "document.getElementById('range').value") == "100"
    page_env.step(Move(x=20, y=138))  # released: moving no longer drags
    assert js(page_env, "document.getElementById('range').value") == "100"


def test_mouse_down_and_up_select_text(page_env: BrowserEnv) -> None:
    page_env.step(MouseDown(x=21, y=98))
    page_env.step(Move(x=90, y=98))
    page_env.step(MouseUp(x=157, y=98))
    assert js(page_env, "getSelection().toString()") == "Another paragraph."


def test_buttons_and_held_shift_reach_the_page(page_env: BrowserEnv) -> None:
    page_env.step(MouseDown(x=340, y=140, button="right"))
    page_env.step(MouseUp(button="right"))
    page_env.step(KeyDown(keys=["shift"]))
    page_env.step(Click(x=340, y=140))  # shift is still down on this later step
    page_env.step(Key(keys=["shift", "a"]))  # a chord with a held key leaves it held
    page_env.step(Click(x=340, y=140))
    page_env.step(KeyUp(keys=["shift"]))
    page_env.step(Click(x=340, y=140))
    log = js(page_env, "log")
    assert log[:2] == [["mousedown", 2, False], ["mouseup", 2, False]]
    clicks = [entry for entry in log if entry[0] == "click"]
    assert clicks == [["click", 0, True], ["click", 0, True], ["click", 0, False]]
    assert ["keydown", "A", True] in log


def test_held_keys_are_released_on_a_reset_that_reuses_the_page(env: BrowserEnv, site: dict[str, str]) -> None:
    class Reusing(BrowserEnv):
        def reset(self, task: Task) -> Any:
            self.task = task
            self._open(task.start_url or "about:blank", fresh=self._context is None)
            return self.observe()

    reusing = Reusing(BrowserConfig(viewport=(640, 480), allowed_origins=[site["origin"]], settle_ms=30))
    try:
        task = Task(id="t/reuse", start_url=site["url"])
        reusing.reset(task)
        reusing.step(KeyDown(keys=["shift"]))
        reusing.step(NewTab(url=site["next"]))
        assert len(reusing.tabs) == 2
        reusing.reset(task)
        assert len(reusing.tabs) == 1  # the extra tab is gone
        reusing.step(Click(x=340, y=140))
        assert js(reusing, "log") == [["mousedown", 0, False], ["mouseup", 0, False], ["click", 0, False]]
    finally:
        reusing.close()


def test_select_option_by_label_and_by_value(page_env: BrowserEnv) -> None:
    result = page_env.step(SelectOption(x=60, y=190, values=["Banana split"]))
    assert js(page_env, "document.getElementById('fruit').value") == "b"
    assert result.info["selected"] == ["Banana split"]
    page_env.step(SelectOption(x=60, y=190, values=["a"]))
    assert js(page_env, "document.getElementById('fruit').value") == "a"
    page_env.step(SelectOption(x=260, y=190, values=["Yam", "zucchini"]))
    assert js(page_env, "[...document.getElementById('many').selectedOptions].map(o => o.value)") == ["y", "z"]
    assert js(page_env, "log.filter(e => e[0] === 'change')") == [
        ["change", "fruit"], ["change", "fruit"], ["change", "many"]]


def test_select_option_where_there_is_no_list_is_the_agents_mistake(page_env: BrowserEnv) -> None:
    with pytest.raises(UnsupportedActionError, match=r"select_option at \(440, 190\): no drop-down list there "
                                                     r"\(found <button>\)"):
        page_env.step(SelectOption(x=440, y=190, values=["Apple"]))
    with pytest.raises(UnsupportedActionError, match="no option \"Durian\" in the list"):
        page_env.step(SelectOption(x=60, y=190, values=["Durian"]))
    with pytest.raises(UnsupportedActionError, match="is disabled"):
        page_env.step(SelectOption(x=60, y=190, values=["Cherry"]))
    with pytest.raises(UnsupportedActionError, match="takes one option"):
        page_env.step(SelectOption(x=60, y=190, values=["Apple", "b"]))
    assert js(page_env, "document.getElementById('fruit').value") == "a"  # nothing changed
    assert js(page_env, "log") == []


def test_goto_inside_the_allow_list_and_refused_outside(page_env: BrowserEnv, site: dict[str, str]) -> None:
    result = page_env.step(Goto(url=site["next"]))
    assert result.observation.url == site["next"] and result.info["blocked"] == []
    result = page_env.step(Goto(url=site["away"]))  # refused: not loaded, reported, no error
    assert result.observation.url == site["next"]
    assert result.info["blocked"] == [site["away"]]
    assert not result.done
    result = page_env.step(Goto(url="javascript:document.title='owned'"))
    assert result.info["blocked"] == ["javascript:document.title='owned'"]
    assert result.observation.title == "Next"
    host_port = site["origin"].removeprefix("http://")
    result = page_env.step(Goto(url=f"{host_port}/index.html"))  # no scheme: http, as an address bar
    assert result.observation.url == site["url"]


def test_goto_to_a_dead_allowed_site_shows_the_error_not_an_infra_failure(
        page_env: BrowserEnv, site: dict[str, str]) -> None:
    result = page_env.step(Goto(url=f"{site['dead']}/nothing"))
    assert "ERR_CONNECTION_REFUSED" in result.info["navigation_error"]
    assert not result.done


def test_back_and_forward(page_env: BrowserEnv, site: dict[str, str]) -> None:
    assert page_env.step(Click(x=40, y=360)).observation.url == site["next"]
    assert page_env.step(Back()).observation.url == site["url"]
    assert page_env.step(Forward()).observation.url == site["next"]
    result = page_env.step(Forward())
    assert result.observation.url == site["next"] and result.info["navigation_error"] == "no page to go forward to"


def test_new_switch_and_close_tabs(page_env: BrowserEnv, site: dict[str, str]) -> None:
    first = page_env.step(Type(text="x"))
    assert tabs(first) == [("index.html", True)]
    result = page_env.step(NewTab(url=site["next"]))
    assert tabs(result) == [("index.html", False), ("next.html", True)]
    assert result.observation.title == "Next" and result.observation.url == site["next"]
    assert [t["title"] for t in result.observation.extra["tabs"]] == ["Actions", "Next"]
    assert result.observation.screenshot.tobytes() != first.observation.screenshot.tobytes()
    result = page_env.step(SwitchTab(index=0))
    assert tabs(result) == [("index.html", True), ("next.html", False)]
    assert result.observation.title == "Actions"
    page_env.step(Type(text="y"))  # typing goes to the active tab
    assert js(page_env, "document.getElementById('text').value") == ""  # no focus, sanity
    with pytest.raises(UnsupportedActionError, match="switch_tab 5: there are only 2 tabs"):
        page_env.step(SwitchTab(index=5))
    result = page_env.step(CloseTab())
    assert tabs(result) == [("next.html", True)]
    result = page_env.step(CloseTab())  # the last one: about:blank takes its place
    assert tabs(result) == [("about:blank", True)] and result.observation.url == "about:blank"
    result = page_env.step(NewTab())
    assert tabs(result) == [("about:blank", False), ("about:blank", True)]


def test_a_new_tab_outside_the_allow_list_stays_blank(page_env: BrowserEnv, site: dict[str, str]) -> None:
    result = page_env.step(NewTab(url=site["away"]))
    assert tabs(result) == [("index.html", False), ("about:blank", True)]
    assert result.info["blocked"] == [site["away"]]


def test_popups_become_the_active_tab(page_env: BrowserEnv, site: dict[str, str]) -> None:
    result = page_env.step(Click(x=140, y=360))  # target=_blank
    assert tabs(result) == [("index.html", False), ("next.html", True)]
    assert result.observation.title == "Next"
    assert any(e.name == "Close me" for e in result.observation.elements)  # the popup's tree
    result = page_env.step(Click(x=50, y=110))  # the popup closes itself
    assert tabs(result) == [("index.html", True)]
    result = page_env.step(Click(x=340, y=360))  # window.open
    assert tabs(result) == [("index.html", False), ("next.html", True)]
    page_env.step(SwitchTab(index=0))
    result = page_env.step(Click(x=240, y=360))  # a popup to a refused origin: not loaded
    assert result.info["blocked"] == [site["away"]]
    assert [t["active"] for t in result.observation.extra["tabs"]] == [False, False, True]
    assert result.observation.url.startswith("chrome-error:")  # Chromium's "blocked" page


def test_non_ascii_text_lands_exactly(page_env: BrowserEnv) -> None:
    page_env.step(Click(x=100, y=310))
    page_env.step(Type(text="café 東京 😀"))
    assert js(page_env, "document.getElementById('text').value") == "café 東京 😀"
    page_env.step(Key(keys=["ctrl", "a"]))
    page_env.step(Type(text="Ünïcödé ß ÀÉ ñ"))
    assert js(page_env, "document.getElementById('text').value") == "Ünïcödé ß ÀÉ ñ"


def test_terminal_actions_end_the_episode(page_env: BrowserEnv) -> None:
    result = page_env.step(CallUser(question="Which account?"))
    assert result.done and result.info["question"] == "Which account?"
    result = page_env.step(Fail(by="runtime", reason="unreadable"))
    assert result.done and result.info["fail_by"] == "runtime"
    assert page_env.step(Done(answer="42")).info["answer"] == "42"
    assert supported_actions(page_env) == ACTION_TYPES


def test_actions_at_device_scale_factor_two(env: BrowserEnv, site: dict[str, str]) -> None:
    env.config.device_scale_factor = 2.0  # the next reset's context (as SyntheticEnv does)
    try:
        env.reset(Task(id="t/dsf", start_url=site["url"]))
        result = env.step(SelectOption(x=120, y=380, values=["Banana split"]))  # screenshot pixels
        assert result.info["executed_points"] == [[60, 190]]
        assert js(env, "document.getElementById('fruit').value") == "b"
        env.step(TripleClick(x=120, y=56))
        assert js(env, "getSelection().toString().trim()").startswith("The first paragraph")
        result = env.step(NewTab(url=site["next"]))
        assert result.observation.screenshot.size == (1280, 960)
    finally:
        env.config.device_scale_factor = 1.0
