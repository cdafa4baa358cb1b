"""A Chromium browser behind the Env protocol, driven by Playwright's sync API.

Actions arrive in screenshot pixels and are divided by the device scale factor before they
reach ``page.mouse``. Observations carry the screenshot, the ARIA snapshot as text and the
accessible elements with boxes in screenshot pixels (``envs.axtree``).

Playwright's sync API is bound to the thread that started it: use ``AsyncEnv`` from asyncio.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
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
    Action, BrowserNotFoundError, Click, Done, DoubleClick, Drag, EnvError, Fail, Key, Move,
    Observation, PageLoadError, RightClick, Scroll, Type, UIElement, Wait,
)
from envs.axtree import ax_elements, snapshot_boxes
from envs.base import StepResult, Task

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Quiet offline Chromium; smooth scrolling off so a scroll has landed when we observe.
LAUNCH_FLAGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-smooth-scrolling",
)
ALWAYS_ALLOWED_SCHEMES = frozenset({"data", "about", "blob"})
WHEEL_NOTCH_PX = 100

_PW_KEYS = {
    "enter": "Enter", "tab": "Tab", "space": "Space", "backspace": "Backspace",
    "delete": "Delete", "escape": "Escape", "up": "ArrowUp", "down": "ArrowDown",
    "left": "ArrowLeft", "right": "ArrowRight", "home": "Home", "end": "End",
    "pageup": "PageUp", "pagedown": "PageDown", "insert": "Insert", "ctrl": "Control",
    "alt": "Alt", "shift": "Shift", "meta": "Meta", "capslock": "CapsLock",
    "contextmenu": "ContextMenu", **{f"f{i}": f"F{i}" for i in range(1, 13)},
}
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
    """reset(task) opens ``task.start_url`` in a fresh browser context; step executes one action."""

    name = "browser"

    def __init__(self, config: BrowserConfig | None = None) -> None:
        self.config = config or BrowserConfig()
        self._check_executable()
        self._allowed = self.config.allowed_origins
        self._viewport = self.config.viewport
        self._marker = f"--cua-env={uuid.uuid4().hex}"  # finds our browser process by cmdline
        self._driver: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._cdp: CDPSession | None = None
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
        with self._guard("step"):
            points = self._execute(action)
            self._settle()
            info: dict[str, Any] = {
                "executed_points": [[round(x, 2), round(y, 2)] for x, y in points],
                "device_scale_factor": self.config.device_scale_factor,
            }
            if isinstance(action, Done):
                info["answer"] = action.answer
            if isinstance(action, Fail):
                info["fail_reason"] = action.reason
        obs = self.observe()
        obs.instruction = self.task.instruction if self.task else None
        info["blocked"] = self._drain_blocked()
        return StepResult(obs, 0.0, isinstance(action, (Done, Fail)), info)

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
            self._driver = None
            _release_driver()

    # ---- browser lifecycle --------------------------------------------------------------

    @property
    def page(self) -> Page:
        """The current page (for subclasses and validators)."""
        self._check_alive()
        if self._page is None:
            raise EnvError("no page open: call reset(task) first")
        return self._page

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
        otherwise the page is reused (about 0.2 s faster per reset)."""
        self._check_alive()
        if self._browser is None:
            self._launch()
        viewport = viewport or self.config.viewport
        if not fresh and self._page is not None:
            with self._guard("reset"):
                if viewport != self._viewport:
                    self._page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
                    self._viewport = viewport
                self._blocked = []
                self._goto(url)
            return
        self._viewport = viewport
        with self._guard("reset"):
            if self._context is not None:
                self._context.close()
            self._context = self._browser.new_context(
                viewport={"width": self._viewport[0], "height": self._viewport[1]},
                device_scale_factor=self.config.device_scale_factor,
                accept_downloads=False, service_workers="block",  # workers would bypass routing
            )
            self._context.set_default_timeout(self.config.navigation_timeout_s * 1000)
            self._blocked = []
            if self._allowed is not None:
                self._context.route("**/*", self._route)
            self._page = self._context.new_page()
            self._cdp = self._context.new_cdp_session(self._page)
            self._goto(url)

    def _goto(self, url: str) -> None:
        if not is_allowed(url, self._allowed):
            self._blocked.append(url)
            raise PageLoadError(f"{url} is outside the allowed origins {self._allowed}")
        timeout = self.config.navigation_timeout_s
        try:
            self._page.goto(url, wait_until="load", timeout=timeout * 1000)
        except PlaywrightTimeout as e:
            raise PageLoadError(f"{url} did not load within {timeout:g} s") from e
        except PlaywrightError as e:
            if self._browser is not None and self._browser.is_connected():
                raise PageLoadError(f"{url} did not load: {str(e).splitlines()[0]}") from e
            raise

    def _route(self, route: Route) -> None:
        url = route.request.url
        if is_allowed(url, self._allowed):
            route.continue_()
        else:
            self._blocked.append(url)
            if route.request.is_navigation_request():
                route.fulfill(status=204)  # "No Content": the page stays where it was
            else:
                route.abort("blockedbyclient")

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
        """Run one action on the page; returns the CSS points it used."""
        mouse, keyboard = self.page.mouse, self.page.keyboard
        if isinstance(action, (Click, DoubleClick, RightClick, Move)):
            x, y = self._css(action.x, action.y)
            if isinstance(action, Click):
                mouse.click(x, y, button=action.button)
            elif isinstance(action, DoubleClick):
                mouse.dblclick(x, y)
            elif isinstance(action, RightClick):
                mouse.click(x, y, button="right")
            else:
                mouse.move(x, y)
            return [(x, y)]
        if isinstance(action, Drag):
            start, end = self._css(action.x, action.y), self._css(action.to_x, action.to_y)
            mouse.move(*start)
            mouse.down()
            mouse.move(*end, steps=10)  # intermediate moves: drag handlers need them
            mouse.up()
            return [start, end]
        if isinstance(action, Scroll):
            return [self._scroll(action)]
        if isinstance(action, Type):
            keyboard.type(action.text)
        elif isinstance(action, Key):
            self._press(action.keys)
        elif isinstance(action, Wait):
            self.page.wait_for_timeout(action.seconds * 1000)  # keeps Playwright's loop turning
        return []

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
        """Hold every key but the last, press the last, release in reverse order."""
        names = [_PW_KEYS.get(k) or _key_code(k) for k in keys]
        keyboard = self.page.keyboard
        for held in names[:-1]:
            keyboard.down(held)
        keyboard.press(names[-1])
        for held in reversed(names[:-1]):
            keyboard.up(held)

    def _settle(self) -> None:
        self.page.wait_for_timeout(self.config.settle_ms)
        try:  # a click may have started a navigation: let it load before we look
            self.page.wait_for_load_state("load", timeout=self.config.navigation_timeout_s * 1000)
        except PlaywrightTimeout:
            pass  # the observation shows the half-loaded page; the agent may wait

    # ---- observation --------------------------------------------------------------------

    def screenshot(self) -> Image.Image:
        """The viewport as the screenshot (viewport × DSF pixels), without the a11y tree.

        Straight over CDP: a third of page.screenshot()'s time, same pixels. The clip is in
        page coordinates, so it starts where the visual viewport is scrolled to."""
        vw, vh = self._viewport
        port = self._cdp.send("Page.getLayoutMetrics")["cssVisualViewport"]
        clip = {"x": port["pageX"], "y": port["pageY"], "width": vw, "height": vh,
                "scale": self.config.device_scale_factor}
        png = base64.b64decode(self._cdp.send(
            "Page.captureScreenshot", {"format": "png", "clip": clip})["data"])
        return Image.open(io.BytesIO(png)).convert("RGB")

    def observe(self) -> Observation:
        with self._guard("observe"):
            page = self.page
            shot = self.screenshot()
            try:
                aria = page.locator("body").aria_snapshot(timeout=2000)
            except PlaywrightError:
                aria = None  # no body (e.g. an image or a page mid-navigation)
            return Observation(
                screenshot=shot, url=page.url, title=page.title(), accessibility=aria,
                elements=self._elements(), device_scale_factor=self.config.device_scale_factor,
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
