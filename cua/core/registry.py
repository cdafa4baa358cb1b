"""Name → factory tables, so ``--grounder NAME[:k=v,...]`` picks a component from the CLI."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, TypeVar

from cua.core.errors import CuaError

T = TypeVar("T")


class UnknownComponentError(CuaError):
    pass


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"ocr:threshold=0.6,lang=en"`` → ``("ocr", {"threshold": "0.6", "lang": "en"})``."""
    name, _, rest = spec.partition(":")
    args: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise CuaError(f"bad argument {part!r} in {spec!r}: expected key=value")
        args[key.strip()] = value.strip()
    return name.strip(), args


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return deco

    def names(self) -> list[str]:
        return sorted(self._factories)

    def make(self, spec: str) -> T:
        name, args = parse_spec(spec)
        if name not in self._factories:
            close = difflib.get_close_matches(name, self.names(), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownComponentError(
                f"unknown {self.kind} {name!r}{hint}; known: {', '.join(self.names())}"
            )
        try:
            return self._factories[name](**args)
        except TypeError as e:
            raise CuaError(f"bad arguments for {self.kind} {name!r}: {e}") from e
