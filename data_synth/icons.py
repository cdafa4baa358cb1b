"""Icons as 24×24 stroke paths (drawn for this project), rendered inline as SVG by the page.

Icon-only buttons carry ``aria-label`` and ``title``, as real UIs do; the ``data-icon`` name
is how instructions say what an icon looks like ("the trash can icon").
"""

from __future__ import annotations

ICONS: dict[str, str] = {
    "search": "M11 4a7 7 0 1 0 0 14a7 7 0 1 0 0-14zM16.5 16.5L21 21",
    "cart": "M3 4h2l2.4 10.2a1 1 0 0 0 1 .8h8.9a1 1 0 0 0 1-.8L20 8H6.2M9 19.5h.01M17 19.5h.01",
    "trash": "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
    "pencil": "M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4",
    "close": "M6 6l12 12M18 6L6 18",
    "plus": "M12 5v14M5 12h14",
    "minus": "M5 12h14",
    "heart": "M12 20s-7-4.5-7-10a4 4 0 0 1 7-2.5A4 4 0 0 1 19 10c0 5.5-7 10-7 10z",
    "star": "M12 3l2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17l-5.4 2.9 1-6.1-4.4-4.3 6.1-.9z",
    "gear": "M12 9a3 3 0 1 0 0 6a3 3 0 1 0 0-6zM12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9L7 7"
            "M17 17l2.1 2.1M4.9 19.1L7 17M17 7l2.1-2.1",
    "user": "M12 12a4 4 0 1 0 0-8a4 4 0 1 0 0 8zM4 21c0-4 4-6 8-6s8 2 8 6",
    "bell": "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0",
    "menu": "M4 6h16M4 12h16M4 18h16",
    "chevron-left": "M15 5l-7 7 7 7",
    "chevron-right": "M9 5l7 7-7 7",
    "chevron-down": "M5 9l7 7 7-7",
    "archive": "M3 5h18v4H3zM5 9v10h14V9M10 13h4",
    "reply": "M10 8L4 13l6 5M4 13h10a6 6 0 0 1 6 6",
    "forward": "M14 8l6 5-6 5M20 13H10a6 6 0 0 0-6 6",
    "mail": "M3 6h18v12H3zM3 6l9 7 9-7",
    "inbox": "M3 13l3-8h12l3 8v6H3zM3 13h5l1 3h6l1-3h5",
    "send": "M3 11l18-8-8 18-2-8z",
    "calendar": "M4 6h16v14H4zM4 10h16M8 3v4M16 3v4",
    "clock": "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 7v5l3 3",
    "eye": "M2 12s4-7 10-7 10 7 10 7-4 7-10 7S2 12 2 12zM12 9a3 3 0 1 0 0 6a3 3 0 1 0 0-6z",
    "filter": "M4 5h16l-6 8v6l-4-2v-4z",
    "download": "M12 4v12M7 11l5 5 5-5M4 20h16",
    "home": "M3 11l9-8 9 8M5 10v10h14V10",
    "lock": "M6 11h12v10H6zM8 11V8a4 4 0 0 1 8 0v3",
    "tag": "M3 12V4h8l10 10-8 8zM7.5 7.5h.01",
    "folder": "M3 6h6l2 2h10v11H3z",
    "dots": "M5 12h.01M12 12h.01M19 12h.01",
    "check": "M5 12l5 5L20 7",
    "flag": "M5 21V4h11l-2 4 2 4H5",
    "copy": "M8 8h12v12H8zM4 16V4h12",
    "refresh": "M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7",
    "sun": "M12 8a4 4 0 1 0 0 8a4 4 0 1 0 0-8zM12 2v2M12 20v2M2 12h2M20 12h2M5 5l1.4 1.4"
           "M17.6 17.6L19 19M5 19l1.4-1.4M17.6 6.4L19 5",
    "moon": "M20 14A8 8 0 1 1 10 4a6 6 0 0 0 10 10z",
    "info": "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 11v6M12 7.5h.01",
    "sort": "M8 4v16M4 16l4 4 4-4M16 20V4M12 8l4-4 4 4",
    "shield": "M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z",
    "globe": "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM3 12h18M12 3c3 3 3 15 0 18M12 3c-3 3-3 15 0 18",
}

# What a person calls each icon in an instruction ("the trash can icon").
ICON_WORDS: dict[str, str] = {
    "search": "magnifying glass", "cart": "shopping cart", "trash": "trash can",
    "pencil": "pencil", "close": "X", "plus": "plus", "minus": "minus", "heart": "heart",
    "star": "star", "gear": "gear", "user": "person", "bell": "bell", "menu": "hamburger menu",
    "chevron-left": "left arrow", "chevron-right": "right arrow", "chevron-down": "down arrow",
    "archive": "archive box", "reply": "reply arrow", "forward": "forward arrow",
    "mail": "envelope", "inbox": "inbox tray", "send": "paper plane", "calendar": "calendar",
    "clock": "clock", "eye": "eye", "filter": "funnel", "download": "download arrow",
    "home": "house", "lock": "padlock", "tag": "tag", "folder": "folder", "dots": "three dots",
    "check": "check mark", "flag": "flag", "copy": "copy", "refresh": "circular arrow",
    "sun": "sun", "moon": "moon", "info": "info", "sort": "sort arrows", "shield": "shield",
    "globe": "globe",
}


def icon_table(names: list[str] | None = None) -> dict[str, str]:
    """The path data the page needs (all icons by default; a few kB)."""
    return dict(ICONS) if names is None else {n: ICONS[n] for n in names}
