"""Our key names (``cua.core.actions.KEY_NAMES``) as X11 keysyms, shared by every X-based backend.

xdotool takes keysym *names* (``Control_L+c``); the VNC protocol takes keysym *codes*
(RFB KeyEvent carries an X11 keysym). One table gives both, so the two backends cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterator

from cua.core.actions import normalize_key

# our name -> (X keysym name, keysym code); codes from X11/keysymdef.h
_NAMED: dict[str, tuple[str, int]] = {
    "enter": ("Return", 0xFF0D),
    "tab": ("Tab", 0xFF09),
    "space": ("space", 0x0020),
    "backspace": ("BackSpace", 0xFF08),
    "delete": ("Delete", 0xFFFF),
    "escape": ("Escape", 0xFF1B),
    "up": ("Up", 0xFF52),
    "down": ("Down", 0xFF54),
    "left": ("Left", 0xFF51),
    "right": ("Right", 0xFF53),
    "home": ("Home", 0xFF50),
    "end": ("End", 0xFF57),
    "pageup": ("Prior", 0xFF55),
    "pagedown": ("Next", 0xFF56),
    "insert": ("Insert", 0xFF63),
    "ctrl": ("Control_L", 0xFFE3),
    "alt": ("Alt_L", 0xFFE9),
    "shift": ("Shift_L", 0xFFE1),
    "meta": ("Super_L", 0xFFEB),
    "capslock": ("Caps_Lock", 0xFFE5),
    "contextmenu": ("Menu", 0xFF67),
    **{f"f{i}": (f"F{i}", 0xFFBE + i - 1) for i in range(1, 13)},
}

# Characters that ``type`` sends as keys rather than as symbols.
_CONTROL_CHARS: dict[str, str] = {"\n": "enter", "\r": "enter", "\t": "tab"}


def keysym_name(key: str) -> str:
    """The X keysym name xdotool understands for one of our keys or a single character."""
    norm = normalize_key(key)
    if norm in _NAMED:
        return _NAMED[norm][0]
    _require_char(key, norm)
    # Letters and digits are their own keysym names; ``U+XXXX`` covers every other character
    # (Xlib maps U+0020..U+00FF to the Latin-1 keysyms, the rest to Unicode keysyms).
    return norm if norm.isascii() and norm.isalnum() else f"U{ord(norm):04X}"


def keysym_code(key: str) -> int:
    """The X keysym code (what RFB KeyEvent carries) for one of our keys or a single character."""
    norm = normalize_key(key)
    if norm in _NAMED:
        return _NAMED[norm][1]
    _require_char(key, norm)
    code = ord(norm)
    # Latin-1 keysyms equal their code points; anything else is a Unicode keysym.
    return code if 0x20 <= code <= 0xFF else 0x01000000 | code


def xdotool_chord(keys: list[str]) -> str:
    """``["ctrl", "c"]`` → ``"Control_L+c"`` (the argument of ``xdotool key``)."""
    return "+".join(keysym_name(k) for k in keys)


def text_keysyms(text: str) -> list[int]:
    """The keysym codes that type ``text`` one key at a time (newline → Return, tab → Tab)."""
    return [keysym_code(_CONTROL_CHARS.get(ch, ch)) for ch in text]


# Upper-case Latin-1 letters: their keysyms equal their code points, and X reads a keycode bound
# to one alone (how xdotool and x11vnc type what the keymap lacks) as the lower case; with
# Shift held they come out right. (× U+00D7 has no case and types as it is.)
SHIFTED_LATIN1: frozenset[str] = frozenset(chr(c) for c in range(0xC0, 0xDF) if c != 0xD7)


def type_runs(text: str) -> Iterator[tuple[str, bool]]:
    """``text`` cut into runs: (run, False) to type as it is, (run, True) of SHIFTED_LATIN1
    letters, each to send as Shift + its keysym."""
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or (text[i] in SHIFTED_LATIN1) != (text[start] in SHIFTED_LATIN1):
            yield text[start:i], text[start] in SHIFTED_LATIN1
            start = i


def chunks(text: str, size: int) -> Iterator[str]:
    """Split text for typing in short calls (Anthropic's computer-use demo types 50 characters
    per xdotool call): a slow or stuck client then costs one short call, not the whole text."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    for start in range(0, len(text), size):
        yield text[start:start + size]


def _require_char(key: str, norm: str) -> None:
    if len(norm) != 1 or not norm.isprintable():
        raise ValueError(f"no X keysym for key {key!r}")
