"""A Chromium browser behind the Env protocol, driven by Playwright's sync API.

Actions arrive in screenshot pixels and are divided by the device scale factor before they
reach ``page.mouse``. Observations carry the screenshot, the ARIA snapshot as text and the
accessible elements with boxes in screenshot pixels (``envs.axtree``).

Playwright's sync API is bound to the thread that started it: use ``AsyncEnv`` from asyncio.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Playwright, Route
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from cua.core import (
    ACTION_TYPES, TERMINAL_ACTIONS, Action, Back, BrowserNotFoundError, CallUser, Click, CloseTab,
    Done, DoubleClick, Drag, EnvError, Fail, Forward, Goto, Key, KeyDown, KeyUp, MouseDown, MouseUp,
    Move, NewTab, Observation, PageLoadError, RightClick, Scroll, SelectOption, SwitchTab,
    TripleClick, Type, UIElement, UnsupportedActionError, Wait,
)
from envs.axtree import ax_elements, snapshot_boxes
from envs.base import StepResult, Task, check_supported

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Quiet offline Chromium; smooth scrolling off so a scroll has landed when we observe.
LAUNCH_FLAGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-smooth-scrolling",
)
ALWAYS_ALLOWED_SCHEMES = frozenset({"data", "about", "blob"})
# What a Goto (or NewTab) may open; anything else (javascript:, chrome:, view-source: ...) is
# refused like a URL outside the allow-list.
GOTO_SCHEMES = frozenset({"http", "https", "file", "about", "data"})
WHEEL_NOTCH_PX = 100
SCREENSHOT_TRIES = 4  # a capture during a navigation's document swap fails; it works a moment later
_MODIFIERS = frozenset({"Shift", "Control", "Alt", "Meta"})

_PW_KEYS = {
    "enter": "Enter", "tab": "Tab", "space": "Space", "backspace": "Backspace",
    "delete": "Delete", "escape": "Escape", "up": "ArrowUp", "down": "ArrowDown",
    "left": "ArrowLeft", "right": "ArrowRight", "home": "Home", "end": "End",
    "pageup": "PageUp", "pagedown": "PageDown", "insert": "Insert", "ctrl": "Control",
    "alt": "Alt", "shift": "Shift", "meta": "Meta", "capslock": "CapsLock",
    "contextmenu": "ContextMenu", **{f"f{i}": f"F{i}" for i in range(1, 13)},
}
# The element under a CSS point (through same-origin frames and open shadow roots), its
# <select>, and the options chosen by label or value: all or nothing, then the events a user's
# choice fires (input, change), as Playwright's own selectOption does.
_SELECT_JS = """([x, y, values]) => {
  let el = document.elementFromPoint(x, y), px = x, py = y;
  for (let hops = 0; el && hops < 20; hops++) {
    if (el.shadowRoot) {
      const inner = el.shadowRoot.elementFromPoint(px, py);
      if (inner && inner !== el) { el = inner; continue; }
    }
    if (el.tagName === 'IFRAME' || el.tagName === 'FRAME') {
      let doc = null;
      try { doc = el.contentDocument; } catch (e) { doc = null; }
      if (!doc) break;
      const r = el.getBoundingClientRect();
      px -= r.left + el.clientLeft; py -= r.top + el.clientTop;
      const inner = doc.elementFromPoint(px, py);
      if (!inner) break;
      el = inner; continue;
    }
    break;
  }
  const found = el ? el.tagName.toLowerCase() : 'nothing';
  const select = el && el.closest ? el.closest('select') : null;
  if (!select) return {error: `no drop-down list there (found <${found}>)`};
  const norm = s => s.replace(/\\s+/g, ' ').trim();
  const options = [...select.options];
  const labels = options.map(o => norm(o.label));
  if (select.disabled) return {error: 'the drop-down list there is disabled'};
  const chosen = [], missing = [];
  for (const v of values) {
    const low = norm(v).toLowerCase();
    const o = options.find(o => o.label === v) || options.find(o => norm(o.label) === norm(v))
      || options.find(o => o.value === v) || options.find(o => norm(o.label).toLowerCase() === low);
    if (o) chosen.push(o); else missing.push(v);
  }
  if (missing.length) return {error: `no option ${missing.map(v => JSON.stringify(v)).join(', ')} in the list`
    + ` (it has: ${labels.map(l => JSON.stringify(l)).join(', ')})`};
  if (!select.multiple && new Set(chosen).size > 1) return {error: 'the list takes one option'};
  const off = chosen.filter(o => o.disabled || (o.parentElement && o.parentElement.disabled));
  if (off.length) return {error: `option ${JSON.stringify(norm(off[0].label))} is disabled`};
  select.focus();
  if (select.multiple) { for (const o of options) o.selected = chosen.includes(o); }
  else { chosen[0].selected = true; }
  select.dispatchEvent(new Event('input', {bubbles: true, composed: true}));
  select.dispatchEvent(new Event('change', {bubbles: true}));
  return {selected: chosen.map(o => norm(o.label))};
}"""


@dataclass
class BrowserConfig:
    executable: str = field(default_factory=lambda: os.environ.get("CUA_CHROMIUM", DEFAULT_CHROMIUM))
    headless: bool = True
    viewport: tuple[int, int] = (1280, 720)  # CSS pixels (width, height)
    device_scale_factor: float = 1.0
    allowed_origins: list[str] | None = None  # None allows all; "http://127.0.0.1:8000", "file://"
    navigation_timeout_s: float = 15.0
    settle_ms: int = 100  # pause after each action so the page can react before we look
    extra_args: list[str] = field(default_factory=list)


# One Playwright driver per thread: a second sync_playwright() in the same thread refuses to
# start, so every env of a thread shares one, stopped when its last env closes.
_DRIVERS = threading.local()


def _acquire_driver() -> Playwright:
    if getattr(_DRIVERS, "users", 0) == 0:
        _refuse_asyncio()
        _DRIVERS.playwright = sync_playwright().start()
        _DRIVERS.users = 0
    _DRIVERS.users += 1
    return _DRIVERS.playwright


def _refuse_asyncio() -> None:
    """Say what to do instead of Playwright's own error (once a driver runs in this thread,
    its loop counts as running, so only call this before starting one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise EnvError(
        "the browser envs use Playwright's sync API, which cannot run inside an asyncio loop:"
        " wrap the env in envs.asyncenv.AsyncEnv"
    )


def _release_driver() -> None:
    _DRIVERS.users -= 1
    if _DRIVERS.users == 0:
        _DRIVERS.playwright.stop()
        _DRIVERS.playwright = None


def _key_code(key: str) -> str:
    """Letters and digits by their key code, so Shift+q gives "Q" and Shift+1 gives "!"."""
    if len(key) == 1 and key.isascii() and key.islower():
        return f"Key{key.upper()}"
    if len(key) == 1 and key.isascii() and key.isdigit():
        return f"Digit{key}"
    return key


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the default port filled in; ``file://`` for files."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return "file://"
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or default}"


def is_allowed(url: str, allowed: list[str] | None) -> bool:
    if allowed is None or urlsplit(url).scheme in ALWAYS_ALLOWED_SCHEMES:
        return True
    return origin_of(url) in {origin_of(a) for a in allowed}


class BrowserEnv:
    """reset(task) opens ``task.start_url`` in a fresh browser context; step executes one action.

    Tabs: the pages of the context in opening order. A page a page opens (``target=_blank``,
    ``window.open``) becomes a tab and the active one, as in a browser; ``new_tab`` /
    ``switch_tab`` / ``close_tab`` manage them, and closing the last tab leaves ``about:blank``.
    Actions, screenshots and the accessibility tree are always the active tab's, and every
    observation lists the tabs in ``extra["tabs"]``. The allow-list covers every tab."""

    name = "browser"
    supported_actions: frozenset[str] = ACTION_TYPES

    def __init__(self, config: BrowserConfig | None = None) -> None:
        self.config = config or BrowserConfig()
        self._check_executable()
        self._allowed = self.config.allowed_origins
        self._viewport = self.config.viewport
        self._marker = f"--cua-env={uuid.uuid4().hex}"  # finds our browser process by cmdline
        self._driver: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None  # the active tab (None: closed, a neighbour takes over)
        self._cdp: CDPSession | None = None
        self._cdp_page: Page | None = None  # the tab self._cdp belongs to
        self._tabs: list[Page] = []
        self._task_page: Page | None = None  # the tab reset() opened
        self._closed_index = 0  # where the last closed active tab was
        self._held_keys: list[str] = []  # Playwright key names pressed by KeyDown, not yet up
        self._held_buttons: list[str] = []
        self._pointer: dict[Page, tuple[float, float]] = {}  # last CSS point per tab
        self._note: dict[str, Any] = {}  # what the current step adds to its info
        self._thread: int | None = None
        self._crashed = False
        self._blocked: list[str] = []
        self.task: Task | None = None

    # ---- Env protocol -------------------------------------------------------------------

    def reset(self, task: Task) -> Observation:
        self.task = task
        self._open(task.start_url or "about:blank")
        obs = self.observe()
        obs.instruction = task.instruction
        obs.extra["blocked"] = self._drain_blocked()
        return obs

    def step(self, action: Action) -> StepResult:
        check_supported(self, action)
        self._note = {}
        with self._guard("step"):
            points = self._execute(action)
            self._settle()
            info: dict[str, Any] = {
                "executed_points": [[round(x, 2), round(y, 2)] for x, y in points],
                "device_scale_factor": self.config.device_scale_factor,
                **self._note,
            }
            if isinstance(action, Done):
                info["answer"] = action.answer
            if isinstance(action, Fail):
                info["fail_reason"] = action.reason
                info["fail_by"] = action.by
            if isinstance(action, CallUser):
                info["question"] = action.question
        obs = self.observe()
        obs.instruction = self.task.instruction if self.task else None
        info["blocked"] = self._drain_blocked()
        return StepResult(obs, 0.0, isinstance(action, TERMINAL_ACTIONS), info)

    def evaluate(self) -> float:
        validator = self.task.config.get("validator") if self.task else None
        if not callable(validator):
            return 0.0
        with self._guard("evaluate"):
            return min(1.0, max(0.0, float(validator(self.page))))

    def close(self) -> None:
        if self._driver is None:
            return
        self._check_thread()
        try:
            if self._browser is not None:
                self._browser.close()
        except PlaywrightError:
            pass  # already dead: nothing left to close
        finally:
            self._browser = self._context = self._page = self._cdp = None
            self._forget_tabs()
            self._driver = None
            _release_driver()

    # ---- browser lifecycle --------------------------------------------------------------

    @property
    def page(self) -> Page:
        """The active tab's page (for subclasses and validators)."""
        self._check_alive()
        if self._context is None:
            raise EnvError("no page open: call reset(task) first")
        return self._active()

    @property
    def task_page(self) -> Page:
        """The tab reset() opened the task in, while it is open; else the active tab."""
        page = self._task_page
        return page if page is not None and not page.is_closed() else self.page

    @property
    def tabs(self) -> list[Page]:
        """The open tabs, in opening order."""
        return [p for p in self._tabs if not p.is_closed()]

    @property
    def screenshot_size(self) -> tuple[int, int]:
        """(width, height) of the screenshots: the viewport times the device scale factor."""
        dsf = self.config.device_scale_factor
        return round(self._viewport[0] * dsf), round(self._viewport[1] * dsf)

    def restart(self) -> None:
        """Relaunch the browser (after a crash); call reset(task) next."""
        self.close()
        self._crashed = False
        self._launch()

    def browser_pid(self) -> int | None:
        """Process id of the browser's main process, found by a marker in its command line."""
        marker = self._marker.encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in argv and not any(a.startswith(b"--type=") for a in argv):
                return int(proc.name)
        return None

    def _check_executable(self) -> None:
        exe = self.config.executable
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise BrowserNotFoundError(
                f"no Chromium executable at {exe!r}: install Debian's chromium or set CUA_CHROMIUM"
                " to the browser's path"
            )

    def _launch(self) -> None:
        self._check_executable()
        self._driver = _acquire_driver()
        self._thread = threading.get_ident()
        try:
            self._browser = self._driver.chromium.launch(
                executable_path=self.config.executable, headless=self.config.headless,
                args=[*LAUNCH_FLAGS, self._marker, *self.config.extra_args],
            )
        except PlaywrightError as e:
            self.close()
            raise EnvError(f"could not launch {self.config.executable}: {e}") from e

    def _open(self, url: str, viewport: tuple[int, int] | None = None, fresh: bool = True) -> None:
        """Load ``url``; ``fresh`` makes a new context first (a clean profile per episode),
        otherwise the active tab is reused (about 0.2 s faster per reset), the other tabs are
        closed and every key or button still held is released."""
        self._check_alive()
        if self._browser is None:
            self._launch()
        viewport = viewport or self.config.viewport
        if not fresh and self._context is not None:
            with self._guard("reset"):
                page = self._single_tab()
                if viewport != self._viewport:
                    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
                    self._viewport = viewport
                self._blocked = []
                self._task_page = page
                self._goto(url)
            return
        self._viewport = viewport
        with self._guard("reset"):
            if self._context is not None:
                self._context.close()
            self._forget_tabs()
            self._context = self._browser.new_context(
                viewport={"width": self._viewport[0], "height": self._viewport[1]},
                device_scale_factor=self.config.device_scale_factor,
                accept_downloads=False, service_workers="block",  # workers would bypass routing
            )
            self._context.set_default_timeout(self.config.navigation_timeout_s * 1000)
            self._context.on("page", self._on_page)
            self._blocked = []
            if self._allowed is not None:
                self._context.route("**/*", self._route)
            page = self._context.new_page()
            self._on_page(page)  # in case the event has not arrived yet
            self._task_page = page
            self._active()
            self._goto(url)

    def _single_tab(self) -> Page:
        """Release held input and close every tab but the active one (a reused context)."""
        page = self._active()
        self._release_held(page)
        self._held_keys, self._held_buttons = [], []
        for other in self.tabs:
            if other is not page:
                other.close()
        self._tabs = [page]
        return page

    def _release_held(self, page: Page) -> None:
        """Let go of every key (last pressed first) and button held on ``page``."""
        for key in reversed(self._held_keys):
            page.keyboard.up(key)
        for button in self._held_buttons:
            page.mouse.up(button=button)  # type: ignore[arg-type]

    def _forget_tabs(self) -> None:
        self._page = self._cdp = self._cdp_page = self._task_page = None
        self._tabs, self._pointer = [], {}
        self._held_keys, self._held_buttons = [], []

    # ---- tabs ---------------------------------------------------------------------------
    # Playwright's event handlers only record what happened; the next call that needs the
    # active tab (_active) attaches to it. No round trip while the tab does not change.

    def _on_page(self, page: Page) -> None:
        if page in self._tabs:
            return
        self._tabs.append(page)
        page.on("close", self._on_close)
        self._page = page  # a new tab or popup comes to the front, as in a browser

    def _on_close(self, page: Page) -> None:
        if page in self._tabs:
            index = self._tabs.index(page)
            self._tabs.remove(page)
            if page is self._page:
                self._page, self._closed_index = None, index
        self._pointer.pop(page, None)

    def _active(self) -> Page:
        """The active tab, with the CDP session for its screenshots attached: after a close,
        the tab that took the closed one's place (else the last); no tab left: about:blank."""
        page = self._page
        if page is None or page.is_closed():
            self._tabs = self.tabs
            if self._tabs:
                page = self._tabs[min(self._closed_index, len(self._tabs) - 1)]
            else:
                with self._guard("open a tab"):
                    page = self._context.new_page()  # type: ignore[union-attr]
                self._on_page(page)
            self._page = page
        if self._cdp_page is not page:
            self._attach(page)
        return page

    def _attach(self, page: Page) -> None:
        with self._guard("switch tabs"):
            old, old_page = self._cdp, self._cdp_page
            self._cdp = self._context.new_cdp_session(page)  # type: ignore[union-attr]
            self._cdp_page = page
            if old_page is not None and not old_page.is_closed():
                # Modifiers held with key_down follow the focus to the new tab; other held keys
                # and buttons are let go on the old one.
                self._release_held(old_page)
                with contextlib.suppress(PlaywrightError):
                    old.detach()  # type: ignore[union-attr]
            self._held_keys = [k for k in self._held_keys if k in _MODIFIERS]
            self._held_buttons = []
            for key in self._held_keys:
                page.keyboard.down(key)

    def _tab_list(self, active: Page, active_title: str) -> list[dict[str, Any]]:
        out = []
        for i, page in enumerate(self.tabs):
            title = active_title
            if page is not active:
                try:
                    title = page.title()
                except PlaywrightError:
                    title = ""  # closed while we looked
            out.append({"index": i, "title": title, "url": page.url, "active": page is active})
        return out

    # ---- navigation ---------------------------------------------------------------------

    def _goto(self, url: str) -> None:
        if not is_allowed(url, self._allowed):
            self._blocked.append(url)
            raise PageLoadError(f"{url} is outside the allowed origins {self._allowed}")
        timeout = self.config.navigation_timeout_s
        try:
            self.page.goto(url, wait_until="load", timeout=timeout * 1000)
        except PlaywrightTimeout as e:
            raise PageLoadError(f"{url} did not load within {timeout:g} s") from e
        except PlaywrightError as e:
            if self._browser is not None and self._browser.is_connected():
                raise PageLoadError(f"{url} did not load: {str(e).splitlines()[0]}") from e
            raise

    def _agent_goto(self, page: Page, url: str) -> None:
        """A Goto the agent asked for: a refused URL is recorded in ``info["blocked"]`` and not
        loaded; a page that fails to load is the agent's to see (Chromium's error page, the
        reason in ``info["navigation_error"]``), never an infrastructure error."""
        url = _with_scheme(url.strip())
        if urlsplit(url).scheme.lower() not in GOTO_SCHEMES or not is_allowed(url, self._allowed):
            self._blocked.append(url)
            return
        self._navigate(lambda: page.goto(url, wait_until="load",
                                         timeout=self.config.navigation_timeout_s * 1000))

    def _navigate(self, go: Any) -> Any:
        try:
            return go()
        except PlaywrightTimeout:
            self._note["navigation_error"] = (
                f"did not load within {self.config.navigation_timeout_s:g} s")
        except PlaywrightError as e:
            if self._browser is None or not self._browser.is_connected():
                raise
            self._note["navigation_error"] = str(e).splitlines()[0]
        return None

    def _route(self, route: Route) -> None:
        url = route.request.url
        if is_allowed(url, self._allowed):
            route.continue_()
        else:
            self._blocked.append(url)
            if route.request.is_navigation_request() and self._known_frame(route):
                route.fulfill(status=204)  # "No Content": the page stays where it was
            else:
                # A sub-resource, or a popup's first page: Playwright announces a popup only
                # once that navigation ends, which a 204 never does; it shows the block instead.
                route.abort("blockedbyclient")

    def _known_frame(self, route: Route) -> bool:
        try:
            return route.request.frame.page in self._tabs
        except PlaywrightError:
            return False

    def _drain_blocked(self) -> list[str]:
        blocked, self._blocked = self._blocked, []
        return blocked

    def _check_thread(self) -> None:
        if self._thread is not None and self._thread != threading.get_ident():
            raise EnvError(
                f"{type(self).__name__} is bound to the thread that launched its browser;"
                " wrap it in envs.asyncenv.AsyncEnv to use it from other threads or asyncio"
            )

    def _check_alive(self) -> None:
        self._check_thread()
        if self._crashed:
            raise EnvError("browser crashed earlier: call restart() then reset(task)")

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn Playwright errors into EnvError, telling a dead browser from a failed call."""
        self._check_alive()
        try:
            yield
        except PlaywrightError as e:
            if self._browser is None or not self._browser.is_connected():
                self._crashed = True
                raise EnvError(f"browser crashed during {what}: call restart() ({e})") from e
            raise EnvError(f"{what} failed: {str(e).splitlines()[0]}") from e

    # ---- actions ------------------------------------------------------------------------

    def _css(self, x: float, y: float) -> tuple[float, float]:
        dsf = self.config.device_scale_factor
        return x / dsf, y / dsf

    def _execute(self, action: Action) -> list[tuple[float, float]]:
        """Run one action on the active tab; returns the CSS points it used."""
        page = self.page
        points = self._pointer_action(page, action)
        if points is not None:
            if points:
                self._pointer[page] = points[-1]
            return points
        keyboard = page.keyboard
        if isinstance(action, Type):
            # Characters outside the US layout (accents, CJK, emoji) go in as text input
            # (Input.insertText), the rest as key presses.
            keyboard.type(action.text)
        elif isinstance(action, Key):
            self._press(action.keys)
        elif isinstance(action, KeyDown):
            for name in map(_pw_key, action.keys):
                if name not in self._held_keys:
                    keyboard.down(name)
                    self._held_keys.append(name)
        elif isinstance(action, KeyUp):
            for name in reversed([_pw_key(k) for k in action.keys]):
                keyboard.up(name)
                if name in self._held_keys:
                    self._held_keys.remove(name)
        elif isinstance(action, SelectOption):
            return [self._select_option(page, action)]
        elif isinstance(action, (Goto, Back, Forward, NewTab, SwitchTab, CloseTab)):
            self._tab_or_history(page, action)
        elif isinstance(action, Wait):
            page.wait_for_timeout(action.seconds * 1000)  # keeps Playwright's loop turning
        return []

    def _pointer_action(self, page: Page, action: Action) -> list[tuple[float, float]] | None:
        """Mouse actions (their CSS points); None for any other action."""
        mouse = page.mouse
        if isinstance(action, (Click, DoubleClick, TripleClick, RightClick, Move)):
            x, y = self._css(action.x, action.y)
            if isinstance(action, Click):
                mouse.click(x, y, button=action.button)
            elif isinstance(action, DoubleClick):
                mouse.dblclick(x, y)
            elif isinstance(action, TripleClick):
                mouse.click(x, y, click_count=3)
            elif isinstance(action, RightClick):
                mouse.click(x, y, button="right")
            else:
                mouse.move(x, y)
            return [(x, y)]
        if isinstance(action, (MouseDown, MouseUp)):
            at = None if action.x is None or action.y is None else self._css(action.x, action.y)
            if at is not None:
                mouse.move(*at)
            if isinstance(action, MouseDown):
                mouse.down(button=action.button)
                if action.button not in self._held_buttons:
                    self._held_buttons.append(action.button)
            else:
                mouse.up(button=action.button)
                if action.button in self._held_buttons:
                    self._held_buttons.remove(action.button)
            at = at or self._pointer.get(page)
            return [at] if at is not None else []
        if isinstance(action, Drag):
            start, end = self._css(action.x, action.y), self._css(action.to_x, action.to_y)
            mouse.move(*start)
            mouse.down()
            mouse.move(*end, steps=10)  # intermediate moves: drag handlers need them
            mouse.up()
            return [start, end]
        if isinstance(action, Scroll):
            return [self._scroll(action)]
        return None

    def _select_option(self, page: Page, action: SelectOption) -> tuple[float, float]:
        x, y = self._css(action.x, action.y)
        result = page.evaluate(_SELECT_JS, [x, y, list(action.values)])
        if "error" in result:
            # The agent's mistake (no list there, no such option), not the infrastructure's.
            raise UnsupportedActionError(f"select_option at ({action.x:g}, {action.y:g}): {result['error']}")
        self._note["selected"] = result["selected"]
        return x, y

    def _tab_or_history(self, page: Page, action: Action) -> None:
        timeout = self.config.navigation_timeout_s * 1000
        if isinstance(action, Goto):
            self._agent_goto(page, action.url)
        elif isinstance(action, (Back, Forward)):
            go, where = (page.go_back, "back") if isinstance(action, Back) else (page.go_forward, "forward")
            if self._navigate(lambda: go(wait_until="load", timeout=timeout)) is None \
                    and "navigation_error" not in self._note:
                self._note["navigation_error"] = f"no page to go {where} to"
        elif isinstance(action, NewTab):
            tab = self._context.new_page()  # type: ignore[union-attr]
            self._on_page(tab)
            self._page = tab  # active even if the page event came first and returned early
            tab = self._active()
            if action.url:
                self._agent_goto(tab, action.url)
        elif isinstance(action, SwitchTab):
            tabs = self.tabs
            if action.index >= len(tabs):
                raise UnsupportedActionError(
                    f"switch_tab {action.index}: there {'is' if len(tabs) == 1 else 'are'} only "
                    f"{len(tabs)} tab{'' if len(tabs) == 1 else 's'} (0..{len(tabs) - 1})")
            self._page = tabs[action.index]
            self._active().bring_to_front()
        elif isinstance(action, CloseTab):
            index = self._tabs.index(page) if page in self._tabs else 0
            page.close()
            self._on_close(page)  # in case the event has not arrived yet
            self._closed_index = index
            self._active()

    def _scroll(self, action: Scroll) -> tuple[float, float]:
        if action.x is None or action.y is None:
            point = (self._viewport[0] / 2, self._viewport[1] / 2)
        else:
            point = self._css(action.x, action.y)
        px = action.amount * WHEEL_NOTCH_PX
        dx, dy = {"up": (0, -px), "down": (0, px), "left": (-px, 0), "right": (px, 0)}[
            action.direction
        ]
        self.page.mouse.move(*point)
        self.page.mouse.wheel(dx, dy)
        return point

    def _press(self, keys: list[str]) -> None:
        """Hold every key but the last, press the last, release in reverse order (keys already
        held by key_down stay held)."""
        names = [_pw_key(k) for k in keys]
        keyboard = self.page.keyboard
        chord = [k for k in names[:-1] if k not in self._held_keys]
        for held in chord:
            keyboard.down(held)
        keyboard.press(names[-1])
        for held in reversed(chord):
            keyboard.up(held)

    def _settle(self) -> None:
        """Let the page react; a click may have started a navigation, opened a popup (which is
        then the active tab) or closed the tab: wait for the active tab's load."""
        page = self.page
        try:
            page.wait_for_timeout(self.config.settle_ms)
        except PlaywrightError:
            if not page.is_closed():
                raise
        page = self.page
        try:
            page.wait_for_load_state("load", timeout=self.config.navigation_timeout_s * 1000)
        except PlaywrightTimeout:
            pass  # the observation shows the half-loaded page; the agent may wait
        except PlaywrightError:
            if not page.is_closed():
                raise

    # ---- observation --------------------------------------------------------------------

    def screenshot(self) -> Image.Image:
        """The active tab's viewport as the screenshot (viewport × DSF pixels), without the a11y
        tree.

        Straight over CDP: a third of page.screenshot()'s time, same pixels. The clip is in
        page coordinates, so it starts where the visual viewport is scrolled to."""
        self._active()
        vw, vh = self._viewport
        for attempt in range(SCREENSHOT_TRIES):
            try:
                port = self._cdp.send("Page.getLayoutMetrics")["cssVisualViewport"]
                clip = {"x": port["pageX"], "y": port["pageY"], "width": vw, "height": vh,
                        "scale": self.config.device_scale_factor}
                png = base64.b64decode(self._cdp.send(
                    "Page.captureScreenshot", {"format": "png", "clip": clip})["data"])
                return Image.open(io.BytesIO(png)).convert("RGB")
            except PlaywrightError as e:
                # A document being swapped by a navigation has no frame to capture for a moment.
                if "Unable to capture screenshot" not in str(e) or attempt == SCREENSHOT_TRIES - 1:
                    raise
                self.page.wait_for_timeout(100 * (attempt + 1))
        raise AssertionError("unreachable")

    def observe(self) -> Observation:
        with self._guard("observe"):
            for _ in range(3):
                page = self.page
                try:
                    obs = self._observe(page)
                except PlaywrightError:
                    if not page.is_closed():
                        raise
                    continue  # it closed while we looked: its neighbour is active now
                if self._page is page:
                    return obs
                self._settle()  # a tab opened (a popup arriving late) while we looked
            return self._observe(self.page)

    def _observe(self, page: Page) -> Observation:
        shot = self.screenshot()
        try:
            aria = page.locator("body").aria_snapshot(timeout=2000)
        except PlaywrightError:
            aria = None  # no body (e.g. an image or a page mid-navigation)
        title = page.title()
        return Observation(
            screenshot=shot, url=page.url, title=title, accessibility=aria,
            elements=self._elements(), device_scale_factor=self.config.device_scale_factor,
            extra={"tabs": self._tab_list(page, title)},
        )

    def _elements(self) -> list[UIElement]:
        snap = self._cdp.send(
            "DOMSnapshot.captureSnapshot", {"computedStyles": [], "includeDOMRects": True}
        )
        boxes, frames = snapshot_boxes(snap)
        out: list[UIElement] = []
        for i, frame_id in enumerate(frames):
            if i > 0 and not frame_id:
                continue
            params = {} if i == 0 else {"frameId": frame_id}
            try:
                nodes = self._cdp.send("Accessibility.getFullAXTree", params)["nodes"]
            except PlaywrightError:
                continue  # an out-of-process or detached frame: not reachable in this session
            out.extend(ax_elements(nodes, boxes, self._viewport, self.config.device_scale_factor))
        return out


def _pw_key(key: str) -> str:
    return _PW_KEYS.get(key) or _key_code(key)


_HOST_PORT = re.compile(r"^[^/?#:@]+:\d+(?:[/?#]|$)")  # "localhost:8080/x" has no scheme
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _with_scheme(url: str) -> str:
    """What an address bar does with ``example.com/x`` or ``localhost:8080``: http:// in front."""
    if _SCHEME.match(url) and not _HOST_PORT.match(url):
        return url
    return "http://" + url
