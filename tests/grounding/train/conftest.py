"""Fixtures for the trainers: a small verified synthetic run exported in the ScreenSpot layout
(screenshots downscaled 4x, boxes with them, so CPU steps stay short)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"


def _synth_data():
    spec = importlib.util.spec_from_file_location("_synth_data", Path(__file__).with_name("synth_data.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth_data().make_run(tmp_path_factory.mktemp("synth") / "run")


@pytest.fixture(scope="session")
def small_export(synth_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _synth_data().make_export(synth_run, tmp_path_factory.mktemp("export"))
