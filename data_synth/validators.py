"""Validators as data: checks over the app's real state (``window.__app.state``), never the screen.

A validator is a list of checks that must all hold ("the cart holds exactly 2 × Blue Mug",
"shipping is Express"). Each check names a path into the state and a comparison; a path step
is a key, an index, or ``Where`` (the one list item whose fields match). Nothing is compiled
or evaluated from strings: the comparisons are a fixed table of Python functions.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

# The state as JSON, so the validator sees exactly what an exported RL reward would see.
STATE_JS = "() => JSON.parse(JSON.stringify(window.__app.state))"


class Where(BaseModel):
    model_config = ConfigDict(frozen=True)

    where: dict[str, str | int | float | bool | None]


PathPart = str | int | Where
Op = Literal["eq", "ne", "contains", "not_contains", "len", "absent", "present", "items"]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


def _norm(v: Any) -> Any:
    """Outer whitespace and runs of spaces never decide a comparison."""
    return " ".join(v.split()) if isinstance(v, str) else v


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return _norm(a) == _norm(b)


def resolve(state: Any, path: list[PathPart]) -> Any:
    """The value at ``path``, or MISSING (absent key, bad index, no or several ``Where`` hits)."""
    cur = state
    for part in path:
        if isinstance(part, Where):
            if not isinstance(cur, list):
                return MISSING
            hits = [item for item in cur if isinstance(item, dict)
                    and all(_equal(item.get(k, MISSING), v) for k, v in part.where.items())]
            if len(hits) != 1:
                return MISSING
            cur = hits[0]
        elif isinstance(part, int):
            if not isinstance(cur, list) or not -len(cur) <= part < len(cur):
                return MISSING
            cur = cur[part]
        else:
            if not isinstance(cur, dict) or part not in cur:
                return MISSING
            cur = cur[part]
    return cur


def _text(v: Any) -> str:
    return " ".join(str(v).split()).lower()


def _items(actual: Any, expected: Any, keys: list[str]) -> bool:
    if not isinstance(actual, list) or not isinstance(expected, list):
        return False
    def project(items: list[Any]) -> Counter[tuple[Any, ...]] | None:
        if not all(isinstance(i, dict) for i in items):
            return None
        return Counter(tuple(_norm(i.get(k)) for k in keys) for i in items)
    got, want = project(actual), project(expected)
    return got is not None and got == want


class Check(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: list[PathPart]
    op: Op = "eq"
    value: Any = None
    keys: list[str] = []  # for "items": the fields compared, the list's order ignored
    describe: str = ""

    def holds(self, state: Any) -> bool:
        v = resolve(state, self.path)
        if self.op == "absent":
            return v is MISSING
        if v is MISSING:
            return False
        if self.op == "present":
            return True
        if self.op == "eq":
            return _equal(v, self.value)
        if self.op == "ne":
            return not _equal(v, self.value)
        if self.op == "contains":
            return _text(self.value) in _text(v)
        if self.op == "not_contains":
            return _text(self.value) not in _text(v)
        if self.op == "len":
            return isinstance(v, (list, dict, str)) and len(v) == self.value
        return _items(v, self.value, self.keys)


class _Page(Protocol):
    def evaluate(self, expression: str) -> Any: ...


class Validator(BaseModel):
    """All checks must hold. Called with a Playwright page, as ``BrowserEnv.evaluate`` does."""

    model_config = ConfigDict(frozen=True)

    checks: list[Check]

    def __call__(self, page: _Page) -> float:
        return self.score(page.evaluate(STATE_JS))

    def score(self, state: Any) -> float:
        if not self.checks:
            raise ValueError("a validator without checks cannot fail")
        return 1.0 if all(c.holds(state) for c in self.checks) else 0.0

    def explain(self, state: Any) -> list[str]:
        """One line per failing check, for discard reasons and logs."""
        return [f"{c.describe or c.path}: got {resolve(state, c.path)!r}"
                for c in self.checks if not c.holds(state)]


def eq(path: list[PathPart], value: Any, describe: str) -> Check:
    return Check(path=path, op="eq", value=value, describe=describe)


def where(**fields: str | float | bool | None) -> Where:
    return Where(where=fields)
