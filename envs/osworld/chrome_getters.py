"""OSWorld's Chrome getters on the episode's Chromium, with OSWorld's names and return values.

Ported from xlang-ai/OSWorld ``desktop_env/evaluators/getters/chrome.py`` (karakuri-ai/OSWorld-JP
copy, 2026). Two kinds:

* over CDP (chrome.py): open_tabs_info, active_tab_info, active_url_from_accessTree,
  url_dashPart, active_tab_url_parse, page_info;
* from the profile files under ``~/.config/google-chrome`` in the sandbox (OSWorld's Linux
  paths): Preferences (default_search_engine, profile_name, chrome_font_size,
  enable_do_not_track, enable_enhanced_safety_browsing, enable_safe_browsing, new_startup_page,
  find_unpacked_extension_path, find_installed_extension_name, data_delete_automacally),
  ``Local State`` (enabled_experiments, chrome_language), Bookmarks (bookmarks), the History
  and Cookies sqlite files (history, cookie_data: copied into the cache dir first, as OSWorld
  does, so the running browser's lock is never touched), and ``~/Desktop/*.desktop``
  (shortcuts_on_desktop).

Chromium writes its profile files lazily; OSWorld's task files kill Chrome in ``postconfig``
(``pkill chrome``, emulated in setup.py) before reading them, and so does this port.
Where OSWorld falls back to a value on error (e.g. "Google" for the search engine) the port does
too, including its odd ones.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from cua.core import CuaError
from envs.osworld import chrome
from envs.osworld.context import Getter, GetterContext
from envs.osworld.machine import inside

_DEFAULT_WEBPREFS = {"default_fixed_font_size": 13, "default_font_size": 16, "minimum_font_size": 13}


# --- over CDP -------------------------------------------------------------------------------
def get_open_tabs_info(env: GetterContext, config: dict[str, Any]) -> list[dict[str, str]]:
    return chrome.tabs_info(env.machine)


def get_active_tab_info(env: GetterContext, config: dict[str, Any]) -> dict[str, str] | None:
    return chrome.active_tab(env.machine)


def _address_bar_text(url: str) -> str:
    """What Chrome's address bar shows for ``url``: no scheme, no leading ``www.``."""
    rest = url.split("://", 1)[1] if "://" in url else url
    return rest.removeprefix("www.")


def get_active_url_from_accessTree(env: GetterContext, config: dict[str, Any]) -> str | None:
    """OSWorld reads the address bar's text from the accessibility tree and prefixes
    ``goto_prefix`` (default ``https://``); here the text is the active tab's URL as the bar
    shows it (scheme and ``www.`` elided), prefixed the same way."""
    tab = chrome.active_tab(env.machine)
    if tab is None or not tab.get("url"):
        return None
    return f"{config.get('goto_prefix', 'https://')}{_address_bar_text(tab['url'])}"


def get_url_dashPart(env: GetterContext, config: dict[str, Any]) -> Any:
    """One ``/``-separated part of the active URL (``partIndex``), as a string or
    ``{key: part}`` (``returnType`` "json")."""
    url = get_active_url_from_accessTree(env, config)
    if url is None:
        return None
    part = url.split("/")[config["partIndex"]]
    if config.get("needDeleteId", False):
        part = part.split("?")[0]
    if config["returnType"] == "string":
        return part
    if config["returnType"] == "json":
        return {config["key"]: part}
    return None


def get_active_tab_url_parse(env: GetterContext, config: dict[str, Any]) -> dict[str, Any] | None:
    """Query parameters ``parse_keys`` of the active URL ('' when absent), keys renamed by
    ``replace``, empty values filled from the key named in ``or``, split on commas with
    ``split_list``."""
    url = get_active_url_from_accessTree(env, config)
    if url is None:
        return None
    query = parse_qs(urlparse(url).query)
    params: dict[str, Any] = {k: query.get(k, [""])[0] for k in config["parse_keys"]}
    for old, new in config.get("replace", {}).items():
        params[new] = params.pop(old)
    for key, fallback in config.get("or", {}).items():
        params[key] = params[key] or params[fallback]
    if config.get("split_list", False):
        params = {k: v.split(",") for k, v in params.items()}
    return params


def get_page_info(env: GetterContext, config: dict[str, Any]) -> dict[str, str]:
    """``url`` loaded in a window of its own; the keyboard focus goes back where it was (with
    no window manager, closing the focused window would leave the keyboard nowhere)."""
    try:
        focused: str | None = env.xdotool("getwindowfocus").strip()
    except CuaError:
        focused = None
    try:
        return chrome.page_info(env.machine, config["url"])
    finally:
        if focused:
            with contextlib.suppress(CuaError):
                env.xdotool("windowfocus", focused)


# --- profile files ----------------------------------------------------------------------------
def _profile_json(env: GetterContext, name: str) -> Any:
    """``Default/<name>`` or ``<name>`` (Local State) of the profile, parsed; raises when
    missing or not JSON (callers fall back as OSWorld does)."""
    root = env.machine.chromium_profile
    path = root / name if name == "Local State" else root / "Default" / name
    return json.loads(path.read_text(encoding="utf-8"))


def _prefs(env: GetterContext) -> Any:
    return _profile_json(env, "Preferences")


def get_default_search_engine(env: GetterContext, config: dict[str, Any]) -> str:
    try:
        data = _prefs(env)
        return str(data.get("default_search_provider_data", {}).get("template_url_data", {})
                   .get("short_name", "Google"))
    except (OSError, ValueError):
        return "Google"


def get_profile_name(env: GetterContext, config: dict[str, Any]) -> str | None:
    try:
        return _prefs(env).get("profile", {}).get("name", None)
    except (OSError, ValueError):
        return None


def get_chrome_font_size(env: GetterContext, config: dict[str, Any]) -> dict[str, int]:
    try:
        return dict(_prefs(env).get("webkit", {}).get("webprefs", _DEFAULT_WEBPREFS))
    except (OSError, ValueError):
        return {"default_fixed_font_size": 13, "default_font_size": 16}


def _flag(env: GetterContext, read: Any, on_error: str) -> str:
    try:
        return "true" if read(_prefs(env)) else "false"
    except (OSError, ValueError, KeyError, AttributeError):
        return on_error


def get_enable_do_not_track(env: GetterContext, config: dict[str, Any]) -> str:
    return _flag(env, lambda d: d.get("enable_do_not_track", {}), "false")


def get_enable_enhanced_safety_browsing(env: GetterContext, config: dict[str, Any]) -> str:
    return _flag(env, lambda d: d.get("safebrowsing", {}).get("enhanced", {}), "Google")


def get_enable_safe_browsing(env: GetterContext, config: dict[str, Any]) -> str:
    def on(d: Any) -> bool:
        sb = d.get("safebrowsing", {})
        return bool(sb.get("enhanced", False)) or bool(sb.get("enabled", False))
    return _flag(env, on, "false")


def get_new_startup_page(env: GetterContext, config: dict[str, Any]) -> str:
    # No "session" key: a fresh profile, which opens the New Tab page (OSWorld counts it true).
    return _flag(env, lambda d: "session" not in d or d["session"].get("restore_on_startup", {}) == 5,
                 "Google")


def get_data_delete_automacally(env: GetterContext, config: dict[str, Any]) -> str:
    return _flag(env, lambda d: d["profile"].get("default_content_setting_values", None) is not None,
                 "Google")


def _extension_settings(env: GetterContext) -> dict[str, Any]:
    return dict(_prefs(env).get("extensions", {}).get("settings", {}))


def get_find_unpacked_extension_path(env: GetterContext, config: dict[str, Any]) -> Any:
    try:
        return [ext["path"] for ext in _extension_settings(env).values()]
    except (OSError, ValueError, KeyError):
        return "Google"


def get_find_installed_extension_name(env: GetterContext, config: dict[str, Any]) -> Any:
    try:
        return [ext["manifest"]["name"] for ext in _extension_settings(env).values()]
    except (OSError, ValueError, KeyError):
        return "Google"


def get_enabled_experiments(env: GetterContext, config: dict[str, Any]) -> list[str]:
    try:
        return list(_profile_json(env, "Local State").get("browser", {})
                    .get("enabled_labs_experiments", []))
    except (OSError, ValueError):
        return []


def get_chrome_language(env: GetterContext, config: dict[str, Any]) -> str:
    try:
        return str(_profile_json(env, "Local State").get("intl", {}).get("app_locale", "en-US"))
    except (OSError, ValueError):
        return "en-US"


def get_bookmarks(env: GetterContext, config: dict[str, Any]) -> Any:
    """The ``roots`` of the Bookmarks file; [] when there is none (OSWorld: empty content)."""
    path = env.machine.chromium_profile / "Default" / "Bookmarks"
    if not path.is_file() or path.stat().st_size == 0:
        return []
    return json.loads(path.read_text(encoding="utf-8")).get("roots", {})


def _sqlite_rows(env: GetterContext, name: str, dest: str, query: str) -> list[tuple[Any, ...]] | None:
    src = env.machine.chromium_profile / "Default" / name
    if not src.is_file():
        return None  # OSWorld: the file fetch fails, logged, None
    local = inside(env.cache_dir, str(dest), f"{name} dest")
    local.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, local)
    try:
        with sqlite3.connect(local) as conn:
            return list(conn.execute(query).fetchall())
    except sqlite3.Error:
        return None


def get_history(env: GetterContext, config: dict[str, Any]) -> list[tuple[Any, ...]] | None:
    """``(url, title, last_visit_time)`` of every History row."""
    return _sqlite_rows(env, "History", config["dest"], "SELECT url, title, last_visit_time FROM urls")


def get_cookie_data(env: GetterContext, config: dict[str, Any]) -> list[tuple[Any, ...]] | None:
    return _sqlite_rows(env, "Cookies", config["dest"], "SELECT * FROM cookies")


def get_shortcuts_on_desktop(env: GetterContext, config: dict[str, Any]) -> dict[str, str]:
    """``{file name: content}`` of the ``.desktop`` files on the (sandbox) Desktop."""
    desktop = env.machine.home / "Desktop"
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(Path(desktop).glob("*.desktop"))}


CHROME_GETTERS: dict[str, Getter] = {
    name.removeprefix("get_"): fn for name, fn in globals().items()
    if name.startswith("get_") and callable(fn)
}
