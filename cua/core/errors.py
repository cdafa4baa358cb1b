"""Errors shared by every room. Each names the problem in one line a user can act on."""

from __future__ import annotations


class CuaError(Exception):
    """Base of every error the runtime raises on purpose (the CLI prints these as one line)."""


class ActionParseError(CuaError, ValueError):
    """Model output (or any action text) that is not a whitelisted action."""

    def __init__(self, reason: str, text: str = "") -> None:
        self.reason = reason
        self.text = text
        quoted = text if len(text) <= 200 else text[:200] + "…"
        super().__init__(f"{reason}: {quoted!r}" if text else reason)


class EnvError(CuaError):
    """The environment could not do what was asked (infrastructure, not the agent's fault)."""


class SetupError(EnvError):
    """The environment cannot start at all (a missing program, a bad path): retrying or
    moving to the next episode cannot help, so runs stop with this one line."""


class BrowserNotFoundError(SetupError):
    """No Chromium executable where we looked."""


class PageLoadError(EnvError):
    """A page did not load (timeout, refused, blocked)."""


class TaskNotFoundError(CuaError, KeyError):
    """An unknown task or suite name."""

    def __str__(self) -> str:  # KeyError quotes its message; we want the plain sentence
        return str(self.args[0]) if self.args else "unknown task"


class InvalidObservationError(EnvError):
    """A screenshot or observation that cannot be used (e.g. zero size)."""


class StepTimeoutError(CuaError, TimeoutError):
    """A stage of an agent step ran past its time limit."""


class UnsupportedActionError(CuaError):
    """An action this environment cannot do (a tab in a desktop, a key hold over a VNC link
    without it): the step records the reason and the episode goes on. Not an EnvError: the
    infrastructure is fine, the agent asked for something outside this env's action space."""
