"""``app.py`` lives at the repository root, outside the installed packages: make it importable
(``--import-mode=importlib`` does not put the rootdir on sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
HERE = str(Path(__file__).resolve().parent)  # for ui_helpers (shared by the tests here)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(autouse=True)
def _pages_may_open_tmp_path(tmp_path):
    """The app opens folders only under its runs folder (``app.build`` sets that); tests that
    call its callbacks directly open folders under their tmp_path."""
    from cua.ui import folders

    before = folders.POLICY
    folders.allow([tmp_path])
    yield
    folders.POLICY = before
