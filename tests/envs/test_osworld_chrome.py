"""OSWorld Chrome tasks on the local runner: the system Chromium on our Xvfb, OSWorld's Chrome
setup steps over CDP, its tab / URL / profile getters and its Chrome metrics. The task pages
come from a mirror on loopback that Chromium reaches as its HTTP proxy (no network here).
One Chromium for the whole module (one episode)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from cua.core import Key
from cua.osworld_suite import osworld_suite
from envs.osworld import chrome
from envs.osworld import chrome_metrics as CM
from envs.osworld.context import GetterContext
from envs.osworld.env import OSWorldLocalEnv
from envs.osworld.getters import LOCAL_GETTERS
from envs.osworld.setup import SetupRunner
from envs.osworld.support import local_notes, local_reason
from envs.osworld.task import SetupStep, parse_task

FIXTURES = Path(__file__).parent / "osworld_fixtures" / "evaluation_examples"
REOPEN_TASK = "3f1c6a52-8e0b-4d7a-9c41-5b2e7d90a6c3"  # modelled on upstream 06fe7178 (loopback pages)
UPSTREAM_REOPEN_TASK = "06fe7178-4491-4589-810f-2e2bc9502122"  # verbatim upstream (internet page)
HOME = "http://travel.osworld.test/"
LISBON = "http://travel.osworld.test/guides/lisbon.html"


class Mirror(BaseHTTPRequestHandler):
    """A proxy that serves every http:// page itself: title and body name the host and path."""

    def do_GET(self) -> None:
        url = urlparse(self.path)
        body = (f"<html><head><title>{url.hostname}{url.path}</title></head>"
                f"<body><h1>mirror of {url.hostname}{url.path}</h1><p>query {url.query}</p></body></html>")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # Chromium drops connections it no longer needs; not an error of the test


@pytest.fixture(scope="module")
def mirror() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def env(mirror: str) -> Iterator[OSWorldLocalEnv]:
    missing = [b for b in ("Xvfb", "xdotool") if shutil.which(b) is None]
    if chrome.chromium_executable() is None:
        missing.append("chromium")
    if missing and not os.environ.get("CI"):
        pytest.skip(f"missing {', '.join(missing)} (apt-get install -y xvfb xdotool chromium)")
    suite = osworld_suite(f"{FIXTURES}?chromium_proxy={mirror}")
    e = suite.make_env()
    assert isinstance(e, OSWorldLocalEnv) and e.config.chromium_flags == [f"--proxy-server={mirror}"]
    e.config.width, e.config.height = 1280, 800  # smaller screenshots; the task has no coordinates
    e.desktop.config.width, e.desktop.config.height = 1280, 800
    e.reset(suite.make_task(REOPEN_TASK, None))
    yield e
    e.close()


def ctx_of(env: OSWorldLocalEnv) -> GetterContext:
    assert env.machine is not None
    return GetterContext(env.machine, env.machine.cache_dir, None, env.desktop.xdotool, (1280, 800))


def get(env: OSWorldLocalEnv, kind: str, **config: Any) -> Any:
    return LOCAL_GETTERS[kind](ctx_of(env), config)


def urls_of(tabs: list[dict[str, str]]) -> list[str]:
    return [t["url"] for t in tabs]


def wait_until(check: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


# --- the task, end to end ---------------------------------------------------------------------
def test_reopen_closed_tab_task_scores_zero_then_one(env: OSWorldLocalEnv) -> None:
    assert env.machine is not None and env.machine.chromium is not None
    profile = env.machine.chromium_profile
    assert profile.is_relative_to(env.home) and (profile / "Default").is_dir()  # sandbox profile
    # Setup opened both pages (the default tab closed) and closed Lisbon: one tab left.
    tabs = get(env, "open_tabs_info")
    assert urls_of(tabs) == [HOME] and tabs[0]["title"] == "travel.osworld.test/"
    assert env.evaluate() == 0.0

    # The "agent": Chromium's reopen-closed-tab shortcut, through env.step like any action.
    env.step(Key(keys=["ctrl", "shift", "t"]))
    assert wait_until(lambda: len(get(env, "open_tabs_info")) == 2), "the tab did not come back"
    assert sorted(urls_of(get(env, "open_tabs_info"))) == [HOME, LISBON]
    assert env.evaluate() == 1.0


# --- getters against the live Chromium ----------------------------------------------------------
def test_active_tab_getters_follow_the_tab_in_front(env: OSWorldLocalEnv) -> None:
    assert env.machine is not None
    search = "http://travel.osworld.test/search/results?q=lisbon&lang=pt"
    chrome.open_tabs(env.machine, [search])  # the setup step: a new tab in front
    active = get(env, "active_tab_info")
    assert active["url"] == search and "mirror of travel.osworld.test/search/results" in active["content"]
    assert get(env, "active_url_from_accessTree", goto_prefix="http://") == search
    assert get(env, "active_url_from_accessTree") == "https://travel.osworld.test/search/results?q=lisbon&lang=pt"
    assert get(env, "url_dashPart", goto_prefix="http://", partIndex=-1, needDeleteId=True,
               returnType="json", key="page") == {"page": "results"}
    assert get(env, "active_tab_url_parse", goto_prefix="http://", parse_keys=["q", "lang"],
               replace={"lang": "language"}) == {"q": "lisbon", "language": "pt"}
    assert CM.is_expected_url_pattern_match(active, {"expected": [r"q=lisbon", r"lang=pt"]}) == 1.0
    assert CM.is_expected_url_pattern_match(active, {"expected": [r"q=porto"]}) == 0.0
    assert CM.is_expected_active_tab(active, {"type": "url", "url": search}) == 1.0

    # The user switches to the first tab with the keyboard: the getters see the switch.
    env.step(Key(keys=["ctrl", "1"]))
    assert wait_until(lambda: get(env, "active_tab_info")["url"] != search)
    assert CM.is_expected_active_tab(get(env, "active_tab_info"), {"type": "url", "url": search}) == 0.0
    page = get(env, "page_info", url=LISBON)
    assert page["title"] == "travel.osworld.test/guides/lisbon.html"
    assert search in urls_of(get(env, "open_tabs_info"))  # page_info left no tab behind
    assert len(get(env, "open_tabs_info")) == len(set(urls_of(get(env, "open_tabs_info"))))


def test_profile_getters_after_pkill_chrome(env: OSWorldLocalEnv) -> None:
    assert env.machine is not None
    # Bookmark the page in front (Ctrl+D files it under "Other bookmarks", not the bar).
    env.step(Key(keys=["ctrl", "d"]))
    time.sleep(0.8)
    env.step(Key(keys=["Escape"]))
    pid = env.machine.chromium.pid if env.machine.chromium else None
    # OSWorld's postconfig: kill Chrome so it writes its files (here at once: Chromium would
    # otherwise save the bookmark 2.5 s and the history up to 10 s later), then read them.
    runner = SetupRunner(env.machine, env.desktop.xdotool, lambda a: None, [])
    runner.run([SetupStep(type="launch", parameters={"command": "pkill chrome"})])
    assert env.machine.chromium is None and pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert get(env, "open_tabs_info") == []  # nothing to connect to
    assert CM.is_expected_tabs([], {"type": "url", "urls": [HOME]}) == 0.0

    bookmarks = get(env, "bookmarks")
    other = [b["url"] for b in bookmarks["other"]["children"]]
    assert len(other) == 1 and other[0] in (HOME, LISBON, "http://travel.osworld.test/search/results?q=lisbon&lang=pt")
    rule = {"type": "bookmark_bar_websites_urls", "urls": other}
    assert CM.is_expected_bookmarks(bookmarks, rule) == 0.0  # on the bar: not there
    bar = {**bookmarks, "bookmark_bar": {**bookmarks["bookmark_bar"], "children": bookmarks["other"]["children"]}}
    assert CM.is_expected_bookmarks(bar, rule) == 1.0

    history = get(env, "history", dest="History.sqlite")
    visited = [row[0] for row in history]
    assert HOME in visited and LISBON in visited
    assert (env.machine.cache_dir / "History.sqlite").is_file()  # copied before reading
    assert CM.check_history_deleted(history, {"type": "keywords", "keywords": ["lisbon"]}) == 0.0
    assert CM.check_history_deleted(history, {"type": "keywords", "keywords": ["porto"]}) == 1.0

    assert get(env, "chrome_font_size")["default_font_size"] == 16
    assert get(env, "enable_do_not_track") == "false"
    assert isinstance(get(env, "default_search_engine"), str)
    assert get(env, "new_startup_page") in ("true", "false")
    assert isinstance(get(env, "enabled_experiments"), list)


# --- support: what runs locally, what is skipped and why ----------------------------------------
def test_suite_lists_the_chrome_tasks_as_supported() -> None:
    suite = osworld_suite(str(FIXTURES))
    assert REOPEN_TASK in suite.task_names() and UPSTREAM_REOPEN_TASK in suite.task_names()
    assert suite.domain(REOPEN_TASK) == "chrome"
    upstream = parse_task(suite.make_task(UPSTREAM_REOPEN_TASK, None).config["osworld"])
    assert "lonelyplanet.com" in local_notes(upstream)[0]
    assert local_notes(parse_task(suite.make_task(REOPEN_TASK, None).config["osworld"])) != []


def chrome_task(func: str, result: dict[str, Any], config: list[dict[str, Any]] | None = None) -> Any:
    return parse_task({"id": "c", "instruction": "x", "related_apps": ["chrome"], "config": config or [],
                       "evaluator": {"func": func, "result": result,
                                     "expected": {"type": "rule", "rules": {}}}})


def test_unsupported_chrome_tasks_name_the_missing_piece() -> None:
    assert local_reason(chrome_task("compare_pdfs", {"type": "pdf_from_url", "path": "x", "dest": "y"})) \
        == "getter 'pdf_from_url' needs the OSWorld VM"
    assert local_reason(chrome_task("is_expected_active_tab", {"type": "active_tab_info"},
                                    [{"type": "update_browse_history", "parameters": {"history": []}}])) \
        == "setup step 'update_browse_history' needs the OSWorld VM"
    assert local_reason(chrome_task("compare_pdfs", {"type": "vm_file", "path": "a", "dest": "b"})) \
        == "metric 'compare_pdfs' is not available locally"
    assert "kills processes by name" in str(local_reason(chrome_task(
        "is_expected_tabs", {"type": "open_tabs_info"},
        [{"type": "execute", "parameters": {"command": ["pkill", "-f", "xterm"]}}])))
    assert local_reason(chrome_task("is_expected_tabs", {"type": "open_tabs_info"}, [
        {"type": "launch", "parameters": {"command": ["google-chrome", "--remote-debugging-port=1337"]}},
        {"type": "launch", "parameters": {"command": ["socat", "tcp-listen:9222,fork", "tcp:localhost:1337"]}},
        {"type": "launch", "parameters": {"command": "pkill chrome"}}])) is None


# --- metrics with upstream semantics (no browser) ------------------------------------------------
def test_compare_urls_normalises_like_upstream() -> None:
    assert CM.compare_urls("https://www.lonelyplanet.com", "https://lonelyplanet.com/")
    assert CM.compare_urls("airbnb.com", "http://www.airbnb.com.sg/")  # scheme default, suffix dropped
    assert CM.compare_urls("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/a")  # tldextract drops ports
    assert not CM.compare_urls("https://a.com/x", "https://a.com/y")
    assert not CM.compare_urls("https://a.com/?q=1", "https://a.com/?q=2")
    assert CM.compare_urls("https://a.com/?q=1", "https://a.com/?q=2", full=False)
    assert not CM.compare_urls("https://maps.google.com", "https://google.com")
    assert CM.compare_urls(None, None) and not CM.compare_urls(None, "x")


def test_chrome_metrics_match_upstream() -> None:
    tabs = [{"url": "https://www.a.com/"}, {"url": "https://b.com/x"}]
    assert CM.is_expected_tabs(tabs, {"type": "url", "urls": ["https://b.com/x", "https://a.com"]}) == 1.0
    assert CM.is_expected_tabs(tabs, {"type": "url", "urls": ["https://a.com"]}) == 0.0
    assert CM.is_expected_tabs(tabs, {"type": "title"}) == 0.0
    assert CM.is_expected_active_tab_approximate({"url": "https://a.com/p?x=1"}, {"type": "url", "url": "https://a.com/p"}) == 1.0
    assert CM.is_expected_active_tab(None, {"type": "url", "url": "x"}) == 0.0
    folders = {"bookmark_bar": {"children": [{"type": "folder", "name": "Favorites", "children": []}]}}
    assert CM.is_expected_bookmarks(folders, {"type": "bookmark_bar_folders_names", "names": ["Favorites"]}) == 1.0
    liked = {"bookmark_bar": {"children": [{"type": "folder", "name": "Liked Authors", "children": [
        {"type": "url", "url": "u1"}, {"type": "url", "url": "u2b"}]}]}}
    assert CM.is_expected_bookmarks(liked, {"type": "liked_authors_websites_urls", "urls": ["u1", ["u2a", "u2b"]]}) == 1.0
    assert CM.is_expected_bookmarks([], {"type": "bookmark_bar_folders_names", "names": []}) == 0.0
    with pytest.raises(TypeError):
        CM.is_expected_bookmarks(folders, {"type": "nope"})
    cookies = [(0, ".amazon.com", "session-id"), (0, "example.org", "x")]
    assert CM.is_cookie_deleted(cookies, {"type": "domains", "domains": [".amazon.com"]}) == 0.0
    assert CM.is_cookie_deleted(cookies[1:], {"type": "domains", "domains": [".amazon.com"]}) == 1.0
    assert CM.check_enabled_experiments(["a@1", "b@2"], {"type": "names", "names": ["a", "b"]}) == 1.0
    assert CM.check_font_size({"default_font_size": 20}, {"type": "range", "min": 16, "max": 24}) == 1.0
    assert CM.check_font_size({"default_font_size": 16}, {"type": "value", "value": 20}) == 0.0
    assert CM.is_expected_installed_extensions(["A", "B"], {"expected": ["A"]}) == 1.0
    assert CM.is_shortcut_on_desktop({"x.desktop": "Name=Travel\nExec=chrome\n"}, {"type": "name", "name": "Travel"}) == 1.0
    assert CM.is_expected_search_query({"url": "https://g.com/search?q=cats"}, {"expect": {"pattern": "q=cats"}}) == 1.0
    assert CM.is_added_to_steam_cart({"content": "<li>Dota</li>"}, {"items": ["Dota", "Portal"]}) == 0.0
