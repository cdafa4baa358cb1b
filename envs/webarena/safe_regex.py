"""Running the regular expressions that task files supply, with a time and size budget.

WebArena-Verified writes expected values, URL patterns, ignored-parameter patterns and JSONPath
keys as regexes (``^...$``), and the scorer runs them on the agent's answer and on page traffic.
A pattern with nested alternatives (``^(a|a)*$``) backtracks exponentially in Python's ``re``:
40 characters of answer hang the scorer, and offline rescoring has no other timeout. Every place
that runs a task-supplied pattern goes through here instead: the ``regex`` package (same syntax
as ``re`` for the dataset's patterns, see the parity fixture test) with a per-match timeout and
a cap on the subject's length. Running out of either raises ``RegexBudgetError`` naming the
pattern; the evaluators report it as a grader error, never as a silent pass or fail.
"""

from __future__ import annotations

import functools
from typing import Any

import regex

MATCH_TIMEOUT_S = 1.0  # per match call; the dataset's patterns take microseconds
MAX_SUBJECT_CHARS = 20_000  # an answer, URL or key longer than this is not matched against a pattern
IGNORECASE = regex.IGNORECASE
PatternError = regex.error  # an invalid pattern (``regex`` does not subclass ``re.error``)


class RegexBudgetError(RuntimeError):
    """A task-supplied pattern ran past its time budget or was given too long a subject.

    Deliberately not a ``ValueError``: the non-strict normalisers keep a value raw on
    ``ValueError``, and this must reach the evaluator as an error instead."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"regex {pattern!r} was stopped: {reason}")
        self.pattern = pattern


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str, flags: int = 0) -> regex.Pattern[str]:
    """``regex.compile`` (VERSION0, the ``re``-compatible dialect); ``PatternError`` if invalid."""
    return regex.compile(pattern, flags | regex.VERSION0)


def _run(method: str, pattern: str, subject: Any, flags: int) -> regex.Match[str] | None:
    text = str(subject)
    if len(text) > MAX_SUBJECT_CHARS:
        raise RegexBudgetError(pattern, f"the value to match is {len(text)} characters (limit {MAX_SUBJECT_CHARS})")
    compiled = compile_pattern(pattern, flags)
    try:
        return getattr(compiled, method)(text, timeout=MATCH_TIMEOUT_S)
    except TimeoutError as e:
        raise RegexBudgetError(pattern, f"matching a {len(text)}-character value took over {MATCH_TIMEOUT_S:g} s "
                                        "(catastrophic backtracking)") from e


def search(pattern: str, subject: Any, flags: int = 0) -> regex.Match[str] | None:
    return _run("search", pattern, subject, flags)


def match(pattern: str, subject: Any, flags: int = 0) -> regex.Match[str] | None:
    return _run("match", pattern, subject, flags)


def fullmatch(pattern: str, subject: Any, flags: int = 0) -> regex.Match[str] | None:
    return _run("fullmatch", pattern, subject, flags)
