"""What a task file may put on the command line of our Chromium, and which URLs it may open.

Our Chromium runs OUTSIDE the jail (it is the episode's browser, not a task command), so the
task's part of its command line is an allow-list: flags that only change how the window looks
or which pages open (what upstream OSWorld task files use: ``--remote-debugging-port``, window
size/position, maximized, incognito, new window, language), plus http/https/about URLs as
positional arguments. Chromium reads ``-flag`` like ``--flag``, so both are checked the same
way; anything else (``--renderer-cmd-prefix``, ``--user-data-dir``, ``--proxy-server``,
``--load-extension``, the Debian wrapper's ``--debug``, a file path, ``--`` ...) makes the task
unsupported. URLs a task opens (launch arguments, ``chrome_open_tabs``, ``page_info``) must be
http(s) or ``about:``, never ``file:``/``chrome:``/``javascript:``/``data:``, and never a
link-local or cloud-metadata address.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlparse

_VALUE = re.compile(r"[A-Za-z0-9_.,:-]{1,64}")
_SIZE = re.compile(r"\d{1,5},\d{1,5}")
_NUMBER = re.compile(r"\d{1,3}(\.\d{1,3})?")
# flag name → pattern its value must match (None: the flag takes no value).
SAFE_FLAGS: dict[str, re.Pattern[str] | None] = {
    "start-maximized": None, "start-fullscreen": None, "incognito": None, "new-window": None,
    "no-first-run": None, "no-default-browser-check": None, "disable-gpu": None,
    "disable-popup-blocking": None, "disable-notifications": None, "hide-scrollbars": None,
    "disable-infobars": None, "disable-dev-shm-usage": None, "no-sandbox": None,
    "window-size": _SIZE, "window-position": _SIZE, "force-device-scale-factor": _NUMBER,
    "lang": _VALUE, "accept-lang": _VALUE, "password-store": re.compile(r"basic"),
    "remote-debugging-port": re.compile(r"\d{1,5}"),  # OSWorld's; ours (0) replaces it
}
DROPPED_FLAGS = frozenset({"remote-debugging-port"})
URL_SCHEMES = ("http", "https", "about")
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"),
               ipaddress.ip_network("fd00:ec2::254/128"))


def normalise(arg: str) -> str:
    """``-flag=v`` → ``--flag=v`` (Chromium accepts both spellings)."""
    return "-" + arg if arg.startswith("-") and not arg.startswith("--") else arg


def url_reason(url: str) -> str | None:
    """Why our Chromium must not open ``url`` for a task (None: it may)."""
    try:
        parsed = urlparse(url.strip())
        host = parsed.hostname
    except ValueError:
        return f"{url[:80]!r} is not a valid URL"
    if parsed.scheme.lower() not in URL_SCHEMES:
        return f"{url[:80]!r}: only http, https and about: URLs are opened"
    if parsed.scheme.lower() == "about":
        return None
    if not host:
        return f"{url[:80]!r} has no host"
    host = host.rstrip(".").lower()
    if host in METADATA_HOSTS:
        return f"{url[:80]!r} is a cloud metadata address"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None) or addr
    if any(mapped.version == net.version and mapped in net for net in _LINK_LOCAL):
        return f"{url[:80]!r} is a link-local / metadata address"
    return None


def arg_reason(arg: str) -> str | None:
    """Why one argument of a task's Chrome command is refused (None: it is allowed)."""
    if not arg.startswith("-"):
        return url_reason(arg)
    flag = normalise(arg)
    name, has_value, value = flag[2:].partition("=")
    if name not in SAFE_FLAGS:
        return f"Chrome flag {arg!r} is not on the allow-list of safe flags"
    pattern = SAFE_FLAGS[name]
    if (pattern is None and has_value) or (pattern is not None and not pattern.fullmatch(value)):
        return f"Chrome flag {arg!r} has a value that is not allowed"
    return None


def chrome_args_reason(args: list[str]) -> str | None:
    """The first refused argument of a task's Chrome command (``args`` without the program)."""
    for arg in args:
        reason = arg_reason(arg)
        if reason:
            return reason
    return None


def kept_args(args: list[str]) -> list[str]:
    """The task's allowed arguments as passed to our Chromium: normalised, ours dropped.
    Call chrome_args_reason first."""
    out = []
    for arg in args:
        flag = normalise(arg)
        if flag.startswith("--") and flag[2:].partition("=")[0] in DROPPED_FLAGS:
            continue
        out.append(flag)
    return out
