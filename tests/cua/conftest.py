from __future__ import annotations

import os
import shutil

import pytest

from envs.miniwob import MiniWoBEnv


def _require_chromium() -> None:
    if not shutil.which(os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")) and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (CI fails instead of skipping)")


@pytest.fixture(scope="module")
def miniwob_env():
    _require_chromium()
    env = MiniWoBEnv()
    yield env
    env.close()
