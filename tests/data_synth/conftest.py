from __future__ import annotations

import os
import shutil

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach a hub


def require_chromium() -> None:
    if not shutil.which(os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")) and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (CI fails instead of skipping)")


@pytest.fixture(scope="module")
def env():
    require_chromium()
    from data_synth.env import SyntheticEnv

    e = SyntheticEnv()
    yield e
    e.close()
