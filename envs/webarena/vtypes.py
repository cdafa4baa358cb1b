"""WebArena-Verified's type-aware normalisation: the value types a results schema names.

Ported from ``webarena-verified`` 1.2.3 (PyPI; ServiceNow/webarena-verified)
``core/evaluation/data_types/{base,string,number,boolean,empty,date,month,currency,
string_list}.py``. A value normalises to a canonical form; a list of 2+ raw values is a set of
alternatives, and two values are equal when their alternatives overlap. Strings: drop ™ ® ℠ ©,
NFKC, hyphens next to letters → spaces, control characters dropped, ASCII transliteration,
whitespace collapsed, casefolded; ``^...$`` strings are regular expressions (full match,
case-insensitive), run through ``safe_regex`` (a time and length budget). A value built with
``literal=True`` (the agent's answer, when the evaluator's ``answer_patterns`` is off) is never
read as a pattern: only the expected side's patterns match.

Departures, each named: the ASCII transliteration uses ``unidecode`` when installed (as
upstream) and otherwise a built-in table (accents, typographic quotes and dashes, ligatures);
``currency`` parses with a small regex instead of ``price-parser``; number words (``"seven"``)
use a small table instead of ``word2number``; ``date`` needs ``python-dateutil`` (as upstream)
and is reported unsupported without it. The formats not ported (``duration``, ``distance``,
``coordinates``, ``full_address``, ``location-name``, ``json``, ``markdown``, ``base64``) are
listed in ``UNPORTED_FORMATS`` so that tasks using them are skipped with that reason.
"""

from __future__ import annotations

import calendar
import re
import unicodedata as ud
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from envs.webarena import safe_regex

UNPORTED_FORMATS = ("duration", "distance", "coordinates", "full_address", "location-name",
                    "json", "markdown", "base64")

# base.py: hyphen-like characters next to a letter become spaces ("Buffalo-Niagara"), not "123-4567".
_HYPHENS = r"[\u002D\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00AD]"
_HYPHEN_RE = re.compile(rf"(?<=[a-zA-Z]){_HYPHENS}|{_HYPHENS}(?=[a-zA-Z])")
# Fallback transliteration (unidecode's output for these characters).
_ASCII_TABLE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": ",", "\u201b": "'", "\u2032": "'", "\u201c": '"',
    "\u201d": '"', "\u201e": ',,', "\u201f": '"', "\u2033": '"', "\u00ab": "<<", "\u00bb": ">>",
    "\u2013": "-", "\u2014": "--", "\u2012": "-", "\u2015": "--", "\u2212": "-", "\u2026": "...",
    "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE", "\u00f8": "o",
    "\u00d8": "O", "\u0142": "l", "\u0141": "L", "\u0111": "d", "\u0110": "D", "\u00fe": "th",
    "\u00de": "Th", "\u00f0": "d", "\u00d0": "D", "\u20ac": "EUR", "\u00a3": "PS", "\u00a5": "Y",
    "\u00b0": "deg", "\u2044": "/", "\u00d7": "x", "\u2022": "*", "\u00b7": "*",
})


def is_regexp(value: Any) -> bool:
    """pattern_utils.is_regexp: a string that starts with ^ and ends with $."""
    return isinstance(value, str) and len(value) >= 2 and value.startswith("^") and value.endswith("$")


def to_ascii(s: str) -> str:
    try:
        from unidecode import unidecode  # upstream's transliteration, when installed
    except ImportError:
        s = ud.normalize("NFKD", s.translate(_ASCII_TABLE))
        s = "".join(ch for ch in s if not ud.combining(ch))
    else:
        s = unidecode(s)
    return s.encode("ascii", "ignore").decode("ascii")


def normalize_text(s: str, derender: Callable[[str], str] | None = None, literal: bool = False) -> str:
    """NormalizedType._normalize_string (a literal ``^...$`` is normalised as plain text)."""
    if not s or (is_regexp(s) and not literal):
        return s
    if derender is not None and "http" in s:
        try:
            s = derender(s)
        except Exception:  # noqa: BLE001 — upstream: best effort
            pass
    s = s.translate({0x2122: None, 0x00AE: None, 0x2120: None, 0x00A9: None})
    s = ud.normalize("NFKC", s)
    s = _HYPHEN_RE.sub(" ", s)
    s = "".join(" " if ch in "\t\n\r" else ch for ch in s if not ud.category(ch).startswith("C") or ch in "\t\n\r")
    s = to_ascii(s)
    return re.sub(r"\s+", " ", s.strip()).casefold()


class NormalizedType:
    """base.NormalizedType: alternatives, overlap equality, per-type normalisation."""

    def __init__(self, raw: Any, *, derender_url_fct: Callable[[str], str] | None = None, literal: bool = False,
                 **_: Any) -> None:
        self.raw = raw
        self.derender = derender_url_fct
        self.literal = literal  # True: this value's ``^...$`` strings are text, not patterns
        if isinstance(raw, (list, tuple)):
            if len(raw) < 2:
                raise ValueError(f"Alternatives require 2+ items. Got {raw!r} with {len(raw)} item(s).")
            self.alternatives = tuple(self._pipeline(v) for v in raw)
        else:
            self.alternatives = (self._pipeline(raw),)
        self.normalized = self.alternatives[0]

    def _pipeline(self, value: Any) -> Any:
        if isinstance(value, str):
            value = self._normalize_string(value)
        return self._type_normalize(value)

    def _normalize_string(self, s: str) -> str:
        return normalize_text(s, self.derender, self.literal)

    def _type_normalize(self, value: Any) -> Any:
        raise NotImplementedError

    @property
    def is_regexp(self) -> bool:
        return not self.literal and any(is_regexp(str(a)) for a in self.alternatives)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, self.__class__) and bool(set(self.alternatives) & set(other.alternatives))

    def __hash__(self) -> int:
        return hash(str(self.alternatives[0]) if len(self.alternatives) == 1 else str(self.alternatives))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw!r} -> {self.normalized!r})"

    def __str__(self) -> str:
        return str(self.normalized)

    def report(self) -> Any:
        """What the results JSON shows (upstream: ``.normalized``)."""
        return self.normalized if not isinstance(self.normalized, Decimal) else float(self.normalized)


class NormalizedString(NormalizedType):
    __hash__ = NormalizedType.__hash__

    def _type_normalize(self, value: Any) -> str:
        if not value:
            return ""
        if is_regexp(value) and not self.literal:
            return str(value).strip()
        return str(value).lower().strip()

    @staticmethod
    def _strip(s: str) -> str:
        return s.strip("'\"`.,;:!?") if s else s

    def __eq__(self, other: Any) -> bool:
        """Regex full match either way (a literal side's strings are not patterns), then
        overlap, then overlap after stripping quotes and punctuation at both ends (string.py)."""
        if isinstance(other, str):
            other = NormalizedString(other)
        if not isinstance(other, NormalizedString):
            return False
        for side, targets in ((self, other.alternatives), (other, self.alternatives)):
            if side.literal:
                continue
            for p in side.alternatives:
                if is_regexp(p):
                    try:
                        safe_regex.compile_pattern(p, safe_regex.IGNORECASE)
                    except safe_regex.PatternError:
                        continue  # upstream: an invalid pattern simply does not match
                    if any(safe_regex.fullmatch(p, t, safe_regex.IGNORECASE) for t in targets):
                        return True
        if set(self.alternatives) & set(other.alternatives):
            return True
        return bool({self._strip(a) for a in self.alternatives} & {self._strip(a) for a in other.alternatives})


_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_NUMBER_WORDS.update({w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())})
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}


def words_to_number(text: str) -> float:
    """English number words ("twenty three", "one hundred and five") → a number."""
    total = current = 0
    seen = False
    for word in re.split(r"[\s-]+", text.lower().strip()):
        if word == "and" and seen:
            continue
        if word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
        elif word == "hundred" and seen:
            current *= 100
        elif word in _SCALES and seen:
            total += current * _SCALES[word]
            current = 0
        else:
            raise ValueError(f"Unable to parse number: {text}")
        seen = True
    if not seen:
        raise ValueError(f"Unable to parse number: {text}")
    return float(total + current)


class Number(NormalizedType):
    def _type_normalize(self, value: Any) -> float:
        if not value and not isinstance(value, (int, float, Decimal)):
            raise ValueError("Number value is empty or None")
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).replace(",", "").replace(" ", "")
        try:
            return float(text)
        except ValueError:
            return words_to_number(str(value))


class Boolean(NormalizedType):
    def _type_normalize(self, value: Any) -> bool:
        if not value and not isinstance(value, (int, float, bool)):
            raise ValueError(f"Cannot normalize empty value to boolean: {value!r}")
        if isinstance(value, (bool, int, float)):
            return bool(value)
        if isinstance(value, str):
            v = value.strip().lower()
            if v in ("true", "yes", "y", "1", "t", "on"):
                return True
            if v in ("false", "no", "n", "0", "f", "off"):
                return False
        raise ValueError(f"Cannot normalize to boolean: {value!r}")


class Empty(NormalizedType):
    PATTERNS: ClassVar[set[str]] = {"n/a", "na", "nan", "null", "none"}

    def _normalize_string(self, s: str) -> str:
        s = re.sub(r"\s+", " ", s.strip().lower())
        return re.sub(r"\s*/\s*", "/", s)

    def _type_normalize(self, value: Any) -> None:
        if not value:
            if isinstance(value, (int, float, Decimal)):
                raise ValueError("Numeric zero is not considered empty")
            return None
        if isinstance(value, str) and value in self.PATTERNS:
            return None
        raise ValueError(f"Value is not an empty representation: {value!r}")


def dateutil_parser() -> Any | None:
    try:
        from dateutil import parser
    except ImportError:
        return None
    return parser


class Date(NormalizedType):
    def _type_normalize(self, value: Any) -> str:
        if not value:
            raise ValueError("Empty date value")
        parser = dateutil_parser()
        if parser is None:
            raise ValueError("the date format needs python-dateutil (pip install python-dateutil)")
        value = re.sub(r",(?! )", ", ", str(value))
        return parser.parse(value, dayfirst=False).date().isoformat()


class Month(NormalizedType):
    def _type_normalize(self, value: Any) -> str:
        if not value and not isinstance(value, (int, float, Decimal)):
            raise ValueError("Empty month value")
        if isinstance(value, (int, float, Decimal)):
            if value != int(value) or not 1 <= int(value) <= 12:
                raise ValueError(f"Month must be a whole number in 1-12, got: {value}")
            return calendar.month_name[int(value)]
        text = str(value).strip()
        if re.fullmatch(r"[+-]?\d+", text):
            if not 1 <= int(text) <= 12:
                raise ValueError(f"Month number out of range (1-12): {text}")
            return calendar.month_name[int(text)]
        names = {n.lower(): i for i, n in enumerate(calendar.month_name) if n}
        names.update({n.lower(): i for i, n in enumerate(calendar.month_abbr) if n})
        if text.lower().rstrip(".") in names:
            return calendar.month_name[names[text.lower().rstrip(".")]]
        parser = dateutil_parser()
        if parser is None:
            raise ValueError(f"Unable to parse month: {value!r}")
        try:
            return calendar.month_name[parser.parse(text, default=parser.parse("2000-01-01")).month]
        except (ValueError, OverflowError) as e:
            raise ValueError(f"Unable to parse month: {value!r}") from e


_AMOUNT_RE = re.compile(r"\d[\d,.\s']*\d|\d")


class Currency(NormalizedType):
    """Decimal amount, equal within 0.1 (currency.py)."""

    TOLERANCE: ClassVar[Decimal] = Decimal("0.1")

    def _type_normalize(self, value: Any) -> Decimal:
        if not value and not isinstance(value, (int, float, Decimal)):
            raise ValueError("Currency value is empty or None")
        text = str(value)
        negative = text.startswith("-")
        text = text.replace("-", "") if negative else text
        decimal_sep = "." if text.rfind(".") > text.rfind(",") else ","
        m = _AMOUNT_RE.search(text)
        if m is None:
            raise ValueError(f"Unable to parse currency: {text}")
        digits = re.sub(r"[\s']", "", m.group(0)).replace("," if decimal_sep == "." else ".", "")
        try:
            amount = Decimal(str(float(digits.replace(decimal_sep, "."))))
        except (ValueError, InvalidOperation) as e:
            raise ValueError(f"Unable to parse currency: {text}") from e
        return -amount if negative else amount

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Currency):  # upstream compares the first alternatives only
            return abs(self.normalized - other.normalized) <= self.TOLERANCE
        return False

    def __hash__(self) -> int:
        return hash((self.normalized / (self.TOLERANCE * 2)).quantize(Decimal("1")))


class StringList(NormalizedType):
    def _type_normalize(self, value: Any) -> tuple[str, ...]:
        if not value:
            raise ValueError("StringList value is empty or None")
        items = [item.strip() for item in str(value).split(",") if item.strip()]
        if not items:
            raise ValueError(f"No valid items in StringList: {value!r}")
        return tuple(sorted(items))


def type_registry() -> dict[str, type[NormalizedType]]:
    """data_types/__init__.py TYPE_REGISTRY, for the ported types (``url`` lives in vurl)."""
    from envs.webarena.vurl import URL

    return {"currency": Currency, "date": Date, "url": URL, "boolean": Boolean, "string": NormalizedString,
            "string_list": StringList, "number": Number, "integer": Number, "month": Month, "null": Empty}


KNOWN_TYPE_NAMES = ("currency", "date", "url", "boolean", "string", "string_list", "number", "integer",
                    "month", "null")
