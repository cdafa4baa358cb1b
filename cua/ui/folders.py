"""Which folders the app may open. Paths typed in the page (Trajectories path, Dashboard root,
Compare sides) come from whoever reaches the app, so they are confined to the runs folder and
the folders given with ``--allow-path``; anything else is refused with a message."""

from __future__ import annotations

from pathlib import Path

from cua.core import CuaError


class FolderPolicy:
    def __init__(self, roots: list[Path | str]) -> None:
        self.roots = [Path(r).expanduser().resolve() for r in roots]

    def check(self, path: Path | str) -> Path:
        """``path`` resolved (links and ``..`` followed) when it lies under an allowed root."""
        resolved = Path(path).expanduser().resolve()
        if any(resolved.is_relative_to(root) for root in self.roots):
            return resolved
        allowed = ", ".join(f"`{r}`" for r in self.roots) or "none"
        raise CuaError(f"refused: {path} is outside the folders this app may open ({allowed}; "
                       "start the app with --allow-path to add one)")


# Set by ``app.build`` (one app per process); the callbacks stay plain functions of their inputs.
POLICY = FolderPolicy(["runs"])


def allow(roots: list[Path | str]) -> FolderPolicy:
    global POLICY
    POLICY = FolderPolicy(roots)
    return POLICY


def check(path: Path | str) -> Path:
    return POLICY.check(path)
