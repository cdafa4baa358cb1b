"""OSWorld's Chrome metrics, with OSWorld's semantics.

Ported from xlang-ai/OSWorld ``desktop_env/evaluators/metrics/chrome.py`` (is_expected_active_tab,
is_expected_active_tab_approximate, is_expected_url_pattern_match,
is_expected_installed_extensions, is_expected_tabs, is_expected_bookmarks,
is_expected_search_query, is_cookie_deleted, is_shortcut_on_desktop, check_history_deleted,
check_enabled_experiments, check_font_size, is_added_to_steam_cart) and ``metrics/utils.py``
(are_lists_equal, compare_urls), as read in the karakuri-ai/OSWorld-JP copy (2026). Not ported:
compare_pdfs / compare_pdf_images (need PyMuPDF), compare_htmls, compare_archive.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from itertools import product
from typing import Any
from urllib.parse import ParseResult, urlparse, urlunparse

# --- metrics/utils.py -------------------------------------------------------------------------
# OSWorld's compare_urls drops the public suffix with tldextract (so airbnb.com == airbnb.com.sg).
# tldextract needs the Public Suffix List (a download); this keeps its result for the suffixes
# task files use: one label, or two where the second level is a generic one (co.uk, com.sg).
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "go"})


def _registered_parts(host: str) -> tuple[str, str]:
    """(subdomain, domain) as tldextract gives them, suffix dropped; an IP is all domain."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return "", host
    except ValueError:
        pass
    labels = [x for x in host.split(".") if x]
    if len(labels) <= 1:
        return "", host  # "localhost": tldextract finds no suffix, the name is the domain
    n_suffix = 2 if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 1
    rest = labels[:-n_suffix]
    return ".".join(rest[:-1]), rest[-1]


def compare_urls(url1: str | None, url2: str | None, full: bool = True) -> bool:
    if url1 is None or url2 is None:
        return url1 == url2

    def normalize(url: str) -> str:
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+\-.]*://", url):
            url = f"http://{url}"
        parsed = urlparse(url)
        # tldextract reads the host without user info or port.
        host = parsed.netloc.lower().rsplit("@", 1)[-1]
        host = host if host.startswith("[") else host.split(":", 1)[0]
        sub, domain = _registered_parts(host)
        netloc = f"{sub}.{domain}" if sub and sub != "www" else domain
        return urlunparse(ParseResult(
            scheme=parsed.scheme.lower(), netloc=netloc,
            path=parsed.path if parsed.path != "/" else "",
            params=parsed.params if full else "", query=parsed.query if full else "",
            fragment=parsed.fragment if full else ""))

    return normalize(url1) == normalize(url2)


def are_lists_equal(list1: list[Any], list2: list[Any], same: Callable[[Any, Any], bool]) -> bool:
    if len(list1) != len(list2):
        return False
    return all(any(same(a, b) for b in list2) for a in list1)


def _url_of(info: Any) -> Any:
    return info.get("url") if isinstance(info, dict) else info


# --- metrics/chrome.py ------------------------------------------------------------------------
def is_expected_active_tab(active_tab_info: Any, rule: dict[str, Any]) -> float:
    if not active_tab_info:
        return 0.0
    if rule["type"] != "url":
        return 0.0  # OSWorld logs "Unknown type" and scores 0
    return 1.0 if compare_urls(rule["url"], _url_of(active_tab_info)) else 0.0


def is_expected_active_tab_approximate(active_tab_info: Any, rule: dict[str, Any]) -> float:
    if not active_tab_info:
        return 0.0
    if rule["type"] != "url":
        return 0.0

    def strip_query(url: str) -> str:
        return urlunparse(urlparse(url)._replace(query=""))

    return 1.0 if strip_query(rule["url"]) == strip_query(_url_of(active_tab_info)) else 0.0


def is_expected_url_pattern_match(result: Any, rules: dict[str, Any]) -> float:
    """Every regex in ``rules["expected"]`` found (re.search) in the URL."""
    if not result:
        return 0.0
    url = result if isinstance(result, str) else result.get("url") if isinstance(result, dict) else None
    if not isinstance(url, str):
        return 0.0
    return 1.0 if all(re.search(p, url) for p in rules["expected"]) else 0.0


def is_expected_installed_extensions(installed_extensions: Any, expected: dict[str, Any]) -> float:
    if not installed_extensions:
        return 0.0
    return 1.0 if set(expected["expected"]) <= set(installed_extensions) else 0.0


def is_expected_tabs(open_tabs: list[dict[str, str]], rule: dict[str, Any]) -> float:
    """As many tabs as expected URLs, each expected URL matching one of them (any order)."""
    if not open_tabs:
        return 0.0
    if rule["type"] != "url":
        return 0.0
    actual = [tab["url"] for tab in open_tabs]
    return 1.0 if are_lists_equal(rule["urls"], actual, compare_urls) else 0.0


def _bar_children(bookmarks: dict[str, Any]) -> list[dict[str, Any]]:
    return list(bookmarks["bookmark_bar"]["children"])


def is_expected_bookmarks(bookmarks: Any, rule: dict[str, Any]) -> float:
    if not bookmarks:
        return 0.0
    kind = rule["type"]
    if kind == "bookmark_bar_folders_names":
        names = [b["name"] for b in _bar_children(bookmarks) if b["type"] == "folder"]
        return 1.0 if set(names) == set(rule["names"]) else 0.0
    if kind == "bookmark_bar_websites_urls":
        urls = [b["url"] for b in _bar_children(bookmarks) if b["type"] == "url"]
        return 1.0 if set(urls) == set(rule["urls"]) else 0.0
    if kind == "liked_authors_websites_urls":
        allowed = rule.get("names", ["Liked Authors"])
        folder = next((b for b in _bar_children(bookmarks)
                       if b["type"] == "folder" and b["name"] in allowed), None)
        if folder is None:
            return 0.0
        liked = {b["url"] for b in folder["children"] if b["type"] == "url"}
        options = [[u] if isinstance(u, str) else list(u) for u in rule["urls"]]
        return 1.0 if any(set(combo) == liked for combo in product(*options)) else 0.0
    raise TypeError(f"{kind} not support yet!")  # OSWorld's own message


def is_expected_search_query(active_tab_info: Any, rules: dict[str, Any]) -> float:
    if not active_tab_info:
        return 0.0
    return 1.0 if re.search(rules["expect"]["pattern"], active_tab_info["url"]) else 0.0


def is_cookie_deleted(cookie_data: Any, rule: dict[str, Any]) -> float:
    """No cookie row (``host_key`` is column 1 of Chrome's ``cookies`` table) of the domains."""
    if rule["type"] != "domains":
        raise TypeError(f"{rule['type']} not support yet!")
    hosts = [cookie[1] for cookie in cookie_data]
    return 0.0 if any(compare_urls(d, h) for d in rule["domains"] for h in hosts) else 1.0


def is_shortcut_on_desktop(shortcuts: dict[str, str], rule: dict[str, Any]) -> float:
    if rule["type"] == "name":
        return 1.0 if any(f"Name={rule['name']}\n" in c for c in shortcuts.values()) else 0.0
    if rule["type"] == "exec":
        return 1.0 if any(f"Exec={rule['exec']}\n" in c for c in shortcuts.values()) else 0.0
    raise TypeError(f"{rule['type']} not support yet!")


def check_history_deleted(history_data: Any, rule: dict[str, Any]) -> float:
    """No history URL (column 0 of ``SELECT url, title, last_visit_time``) has a keyword."""
    if rule["type"] != "keywords":
        raise TypeError(f"{rule['type']} not support yet!")
    urls = [row[0] for row in history_data]
    return 0.0 if any(k in u for k in rule["keywords"] for u in urls) else 1.0


def check_enabled_experiments(enabled_experiments: list[str], rule: dict[str, Any]) -> float:
    if rule["type"] != "names":
        raise TypeError(f"{rule['type']} not support yet!")
    names = [e.split("@")[0] for e in enabled_experiments]
    return 1.0 if names == rule["names"] else 0.0


def check_font_size(font_size: dict[str, Any], rule: dict[str, Any]) -> float:
    size = font_size["default_font_size"]
    if rule["type"] == "value":
        return 1.0 if size == rule["value"] else 0.0
    if rule["type"] == "range":
        return 1.0 if rule["min"] < size < rule["max"] else 0.0
    raise TypeError(f"{rule['type']} not support yet!")


def is_added_to_steam_cart(active_tab_info: dict[str, Any], rule: dict[str, Any]) -> float:
    content = active_tab_info["content"]
    return 1.0 if all(item in content for item in rule["items"]) else 0.0


CHROME_METRICS: dict[str, Callable[..., float]] = {f.__name__: f for f in (
    is_expected_active_tab, is_expected_active_tab_approximate, is_expected_url_pattern_match,
    is_expected_installed_extensions, is_expected_tabs, is_expected_bookmarks,
    is_expected_search_query, is_cookie_deleted, is_shortcut_on_desktop, check_history_deleted,
    check_enabled_experiments, check_font_size, is_added_to_steam_cart,
)}
