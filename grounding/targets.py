"""Reading a target description ("the 3rd input textbox", 'the "Ok" button') into what
CPU grounders can match: the element's text, a role hint and an ordinal."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Words that name a kind of element → the accessibility roles they stand for.
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "button": ("button",),
    "link": ("link",),
    "tab": ("tab",),
    "textbox": ("textbox", "searchbox", "combobox"),
    "text field": ("textbox", "searchbox", "combobox"),
    "text fields": ("textbox", "searchbox", "combobox"),
    "text input": ("textbox", "searchbox", "combobox"),
    "input": ("textbox", "searchbox", "combobox"),
    "field": ("textbox", "searchbox", "combobox"),
    "textarea": ("textbox",),
    "checkbox": ("checkbox",),
    "radio": ("radio",),
    "option": ("radio", "option", "menuitem", "checkbox"),
    "menu item": ("menuitem",),
    "dropdown": ("combobox", "listbox"),
    "icon": ("img", "image", "button", "link"),
}
# Names icons go by: the instruction says what the user sees, the page names what it does.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "x": ("close", "×", "✕", "✖"),
    "close": ("x", "×", "✕"),
    "ok": ("okay",),
    "okay": ("ok",),
    "search": ("magnifier", "find"),
    "menu": ("hamburger", "☰"),
}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
_FILLER = re.compile(r"\b(the|a|an|on|into|in|element|labeled|labelled|named|called)\b")


def normalize_text(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form used for every comparison."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^\w#]+", " ", text.lower())
    return " ".join(text.split())


@dataclass(frozen=True)
class TargetQuery:
    text: str  # what the element says (normalised); "" when only a role is given
    roles: tuple[str, ...] = ()  # accepted roles, most likely first; () = any
    ordinal: int | None = None  # 1-based; -1 = last
    raw: str = ""
    exact: str = ""  # the quoted text as written (case kept), for tie-breaks

    @property
    def alternatives(self) -> tuple[str, ...]:
        """The text and the other names the same target goes by."""
        return (self.text, *SYNONYMS.get(self.text, ()))

    @classmethod
    def parse(cls, description: str) -> "TargetQuery":
        raw = description.strip()
        quoted = re.findall(r'"([^"]*)"|“([^”]*)”', raw)
        rest = re.sub(r'"[^"]*"|“[^”]*”', " ", raw).lower()
        ordinal = None
        m = re.search(r"\b(\d+)(?:st|nd|rd|th)\b", rest)
        if m:
            ordinal = int(m.group(1))
            rest = rest.replace(m.group(0), " ")
        for word, n in _ORDINALS.items():
            if re.search(rf"\b{word}\b", rest):
                ordinal, rest = n, re.sub(rf"\b{word}\b", " ", rest)
        roles: tuple[str, ...] = ()
        for word in sorted(ROLE_WORDS, key=len, reverse=True):  # "text field" before "field"
            if re.search(rf"\b{word}\b", rest):
                roles = roles or ROLE_WORDS[word]
                rest = re.sub(rf"\b{word}\b", " ", rest)
        if quoted:
            text = " ".join(a or b for a, b in quoted)
        else:
            text = _FILLER.sub(" ", rest)
        exact = " ".join(a or b for a, b in quoted)
        return cls(text=normalize_text(text), roles=roles, ordinal=ordinal, raw=raw, exact=exact)
