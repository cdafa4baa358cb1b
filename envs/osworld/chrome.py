"""The guest's Google Chrome, played by the local Chromium, and what OSWorld does to it over CDP.

OSWorld starts Chrome with ``google-chrome --remote-debugging-port=1337`` and forwards port 9222
to it with ``socat`` (``desktop_env/controllers/setup.py::_launch_setup``); its setup steps and
getters then ``connect_over_cdp`` with Playwright. Here the launch runs the system Chromium
(``$CUA_CHROMIUM`` or ``/usr/bin/chromium``) on the episode's Xvfb display with quiet offline
flags, the profile in the sandbox at the guest's path (``~/.config/google-chrome``, where
OSWorld's getters read Preferences / Bookmarks / History), and the debugging port on a loopback
port Chromium picks itself (``--remote-debugging-port=0``, read back from ``DevToolsActivePort``):
no socat, the getters talk to that port directly.

This Chromium is ours and runs outside the jail, with the scrubbed environment of
``LocalMachine.env`` (no API keys): the task's part of its command line and the URLs a task
opens are allow-listed (chrome_flags.py), and without ``trust_commands`` its only network is
the configured mirror proxy (``chromium_proxy``), else none (a dead loopback proxy), so a task
page needs a mirror or the opt-in to load.

Ported: ``_chrome_open_tabs_setup`` / ``_chrome_close_tabs_setup`` from OSWorld's
``controllers/setup.py`` and the tab reading of ``get_open_tabs_info`` / ``get_active_tab_info``
from ``evaluators/getters/chrome.py`` (karakuri-ai/OSWorld-JP copy).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from cua.core import EnvError
from envs.osworld.chrome_flags import chrome_args_reason, kept_args, url_reason
from envs.osworld.machine import LocalMachine
from envs.osworld.task import UnsupportedTaskError

log = logging.getLogger(__name__)

CHROMIUM_ENV_VAR = "CUA_CHROMIUM"
# Debian's /usr/bin/chromium is a shell wrapper (its --debug starts gdb, it sources
# /etc/chromium.d): the binary it execs is started directly where it exists.
CHROMIUM_BINARIES = ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser")
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# What task files call the browser; all of them mean the local Chromium.
CHROME_NAMES = frozenset({"google-chrome", "google-chrome-stable", "chromium", "chromium-browser",
                          "chrome"})
QUIET_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--no-default-browser-check", "--password-store=basic", "--disable-dev-shm-usage")
# Without trust_commands a task page reaches only the configured mirror proxy; with none, this
# dead loopback port (nothing listens on discard), so pages reach nothing. "<-loopback>" makes
# loopback addresses go through the proxy too (Chromium bypasses it for them by default).
DEAD_PROXY = "--proxy-server=http://127.0.0.1:9"
NO_LOOPBACK_BYPASS = "--proxy-bypass-list=<-loopback>"
PORT_WAIT_S = 20.0
PAGE_TIMEOUT_MS = 30_000  # OSWorld's open_tabs waits 60 s per page; loopback pages need less


def chromium_executable() -> str | None:
    """``$CUA_CHROMIUM``, else the system Chromium's real binary (not Debian's wrapper script),
    else the system Chromium, else whatever Chrome-like program is on PATH."""
    env = os.environ.get(CHROMIUM_ENV_VAR)
    if env:
        return env if Path(env).is_file() else None
    for binary in (*CHROMIUM_BINARIES, DEFAULT_CHROMIUM):
        if Path(binary).is_file() and os.access(binary, os.X_OK):
            return binary
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def is_chrome(program: str) -> bool:
    return Path(program).name in CHROME_NAMES


def network_flags(machine: LocalMachine, extra_flags: list[str]) -> list[str]:
    """Untrusted: pages go through the configured mirror proxy (in ``extra_flags``) or a dead
    one, loopback included. After trusted commands ran, extensions they may have planted in
    the profile are not loaded (our Chromium runs outside the jail)."""
    flags: list[str] = []
    if not machine.trust_commands:
        if not any(f.startswith("--proxy-server") for f in extra_flags):
            flags.append(DEAD_PROXY)
        flags.append(NO_LOOPBACK_BYPASS)
    if machine.commands_ran:
        flags.append("--disable-extensions")
    return flags


def chromium_argv(argv: list[str], machine: LocalMachine, extra_flags: list[str],
                  own_targets: list[str] | None = None) -> list[str]:
    """The task's Chrome command as our Chromium's: only allow-listed flags and http(s)/about
    URLs of the task's (chrome_flags.py), the profile and debugging port the episode's;
    ``own_targets`` are pages of ours (a sandbox file ``open`` shows)."""
    exe = chromium_executable()
    if exe is None:
        raise EnvError(f"no Chromium to stand in for {argv[0]!r} (set ${CHROMIUM_ENV_VAR})")
    reason = chrome_args_reason(argv[1:])
    if reason:
        raise UnsupportedTaskError(reason)
    return [exe, *QUIET_FLAGS, *extra_flags, *network_flags(machine, extra_flags),
            f"--user-data-dir={machine.chromium_profile}", "--remote-debugging-port=0",
            *kept_args(argv[1:]), *(own_targets or [])]


def launch_chromium(machine: LocalMachine, argv: list[str], extra_flags: list[str],
                    own_targets: list[str] | None = None) -> subprocess.Popen[bytes]:
    if machine.chromium is not None and machine.chromium.poll() is None:
        # The guest would open a window in the running Chrome; ours is the same browser too.
        chromium_argv(argv, machine, extra_flags)  # the same checks as a fresh start
        pages = [a for a in kept_args(argv[1:]) if not a.startswith("-")] + list(own_targets or [])
        log.info("Chromium already runs for this episode; opening %s in it", pages or "nothing")
        if pages:
            _open_pages(machine, pages)
        return machine.chromium
    port_file = machine.chromium_profile / "DevToolsActivePort"
    port_file.unlink(missing_ok=True)  # a stale one from the previous run of this profile
    proc = machine.launch_own(chromium_argv(argv, machine, extra_flags, own_targets))  # not jailed
    machine.chromium = proc
    return proc


def stop_chromium(machine: LocalMachine, grace_s: float = 10.0) -> bool:
    """What ``pkill chrome`` does to the guest, for this episode's Chromium only: it quits and
    its profile files are written (OSWorld's postconfig kills Chrome before reading them).
    False when none was running."""
    proc = machine.chromium
    if proc is None or proc.poll() is not None:
        disconnect(machine)
        machine.chromium = None
        return False
    # CDP's Browser.close quits like the user closing the last window: History and Bookmarks
    # are written out. A SIGTERM skips their pending writes (Chromium saves bookmarks 2.5 s and
    # history up to 10 s after a change), which would make scores depend on timing.
    try:
        with cdp_browser(machine) as browser:
            if browser is not None:
                browser.new_browser_cdp_session().send("Browser.close")
    except (PlaywrightError, EnvError) as exc:
        log.warning("Browser.close over CDP failed (%s); sending SIGTERM", str(exc).splitlines()[0])
    disconnect(machine)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    machine.stop_one(proc, 2.0)  # whatever of its group is left
    return True


def debugging_port(machine: LocalMachine, wait_s: float = PORT_WAIT_S) -> int | None:
    """The running Chromium's DevTools port once it answers (None: no Chromium, or it died)."""
    deadline = time.monotonic() + wait_s
    port_file = machine.chromium_profile / "DevToolsActivePort"
    while True:
        proc = machine.chromium
        if proc is None or proc.poll() is not None:
            return None
        try:
            port = int(port_file.read_text().splitlines()[0])
            devtools_json(port, "version")
            return port
        except (OSError, ValueError, IndexError):
            pass
        if time.monotonic() > deadline:
            raise EnvError(f"Chromium (pid {proc.pid}) opened no DevTools port within {wait_s:.0f} s")
        time.sleep(0.1)


def devtools_json(port: int, what: str) -> Any:
    """GET ``/json/<what>`` of the DevTools HTTP endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/{what}", timeout=5) as resp:
        return json.load(resp)


@dataclass
class CdpLink:
    port: int
    browser: Browser


@contextmanager
def cdp_browser(machine: LocalMachine) -> Iterator[Browser | None]:
    """Playwright connected over CDP to the episode's Chromium (None when none runs). OSWorld
    connects anew in every step and getter; one connection per Chromium is kept here instead
    (connecting costs a second or two), dropped when the Chromium stops."""
    from envs.browser import _acquire_driver  # one Playwright driver per thread

    port = debugging_port(machine)
    if port is None:
        yield None
        return
    link: CdpLink | None = machine.cdp_link
    if link is None or link.port != port or not link.browser.is_connected():
        disconnect(machine)
        playwright = _acquire_driver()
        try:
            browser = playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
        except PlaywrightError:
            _release()
            raise
        machine.cdp_link = CdpLink(port, browser)
        machine.cleanups.append(lambda: disconnect(machine))
    yield machine.cdp_link.browser


def _release() -> None:
    from envs.browser import _release_driver

    _release_driver()


def disconnect(machine: LocalMachine) -> None:
    """Drop the CDP connection (the browser keeps running: ``Browser.close`` on a CDP
    connection only disconnects)."""
    link: CdpLink | None = machine.cdp_link
    if link is None:
        return
    machine.cdp_link = None
    try:
        link.browser.close()
    except PlaywrightError:
        pass  # the browser is gone already
    _release()


def open_tabs(machine: LocalMachine, urls: list[str]) -> None:
    """``_chrome_open_tabs_setup``: each URL in a new tab of the first context; after the first
    one the default tab is closed. A page that does not load in time is left as it is.
    The URLs are the task's: http(s)/about only (chrome_flags.url_reason)."""
    for url in urls:
        reason = url_reason(str(url))
        if reason:
            raise UnsupportedTaskError(f"chrome_open_tabs: {reason}")
    _open_pages(machine, urls, close_first=True)


def _open_pages(machine: LocalMachine, urls: list[str], close_first: bool = False) -> None:
    with cdp_browser(machine) as browser:
        if browser is None:
            raise EnvError("chrome_open_tabs: no Chromium runs (launch google-chrome first)")
        context = browser.contexts[0]
        for i, url in enumerate(urls):
            page = context.new_page()
            try:
                page.goto(url, timeout=PAGE_TIMEOUT_MS)
            except PlaywrightError as exc:
                log.warning("opening %s: %s", url, str(exc).splitlines()[0])
            if i == 0 and close_first:
                context.pages[0].close()


def close_tabs(machine: LocalMachine, urls: list[str], same_url: Any) -> None:
    """``_chrome_close_tabs_setup``: for each URL, close the first tab whose URL matches it
    (OSWorld's ``compare_urls``)."""
    with cdp_browser(machine) as browser:
        if browser is None:
            raise EnvError("chrome_close_tabs: no Chromium runs")
        context = browser.contexts[0]
        for url in urls:
            for page in context.pages:
                if same_url(page.url, url):
                    page.close()
                    break


def tabs_info(machine: LocalMachine, settle_ms: int = 10_000) -> list[dict[str, str]]:
    """``get_open_tabs_info``: ``{"title", "url"}`` of every tab once it has loaded (OSWorld
    waits for network idle, half a second more per tab); [] when no Chromium runs (OSWorld
    returns [] when it cannot connect either)."""
    out: list[dict[str, str]] = []
    with cdp_browser(machine) as browser:
        if browser is None:
            return out
        for context in browser.contexts:
            for page in context.pages:
                try:
                    page.wait_for_load_state("load", timeout=settle_ms)
                    out.append({"title": page.title(), "url": page.url})
                except PlaywrightError as exc:
                    title = "Load timeout" if "Timeout" in str(exc) else "Error encountered"
                    out.append({"title": title, "url": page.url})
    return out


def active_tab(machine: LocalMachine, settle_ms: int = 10_000) -> dict[str, str] | None:
    """The tab the user looks at: ``{"title", "url", "content"}``, or None.

    OSWorld reads the active URL from the address bar in the accessibility tree, then loads it
    again in a new page. We have no AT-SPI tree: the DevTools ``/json/list`` endpoint lists
    tabs most recently activated first, so its first page is the one in front; its title, URL
    and HTML are read in place (no reload)."""
    port = debugging_port(machine)
    if port is None:
        return None
    pages = [t for t in devtools_json(port, "list") if t.get("type") == "page"]
    if not pages:
        return None
    front = pages[0]
    with cdp_browser(machine) as browser:
        if browser is None:
            return None
        for context in browser.contexts:
            for page in context.pages:
                if page.url == front["url"] and _target_id(page) == front.get("id"):
                    try:
                        page.wait_for_load_state("load", timeout=settle_ms)
                        return {"title": page.title(), "url": page.url, "content": page.content()}
                    except PlaywrightError:
                        return {"title": "Load timeout", "url": page.url, "content": ""}
    return {"title": front.get("title", ""), "url": front["url"], "content": ""}


def page_info(machine: LocalMachine, url: str) -> dict[str, str]:
    """``get_page_info``: load ``url`` in a fresh page of its own and read it (then close it).
    The URL is the task's: http(s)/about only (chrome_flags.url_reason)."""
    reason = url_reason(str(url))
    if reason:
        raise UnsupportedTaskError(f"page_info: {reason}")
    with cdp_browser(machine) as browser:
        if browser is None:
            return {"title": "Connection failed", "url": url, "content": ""}
        page = browser.new_page()  # in a fresh context of its own, as OSWorld's
        try:
            page.goto(url, wait_until="networkidle", timeout=PAGE_TIMEOUT_MS)
            return {"title": page.title(), "url": page.url, "content": page.content()}
        except PlaywrightError:
            return {"title": "Load timeout", "url": page.url, "content": page.content()}
        finally:
            page.context.close()


def _target_id(page: Any) -> str | None:
    session = page.context.new_cdp_session(page)
    try:
        return str(session.send("Target.getTargetInfo")["targetInfo"]["targetId"])
    finally:
        session.detach()
