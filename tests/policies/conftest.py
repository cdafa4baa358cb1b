"""Fixtures of the native-policy tests. The helpers (``standin``, ``policy_testkit``) are plain
modules of this folder: importlib import mode puts no test folder on sys.path, so it goes on here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

FIXTURES = HERE / "fixtures"


@pytest.fixture(scope="session")
def fixture_text():
    def read(name: str) -> str:
        return (FIXTURES / name).read_text(encoding="utf-8")
    return read


def _tiny_models():
    """tests/grounding/tiny_models.py, loaded by its path (it is not a package module)."""
    import importlib.util

    if not os.environ.get("CI"):  # in CI the `models` extra is installed: a missing torch fails
        pytest.importorskip("torch")
        pytest.importorskip("transformers")
    path = HERE.parent / "grounding" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("policies_tiny_models", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_qwen25_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init Qwen2.5-VL checkpoint (28-pixel cells: Qwen2.5-VL, UI-TARS-1.5, OpenCUA profiles)."""
    return _tiny_models().build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny") / "qwen2_5_vl")


@pytest.fixture(scope="session")
def tiny_qwen3_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init Qwen3-VL checkpoint (32-pixel cells: the Qwen3-VL and EvoCUA profiles)."""
    return _tiny_models().build_tiny_qwen3_vl(tmp_path_factory.mktemp("tiny") / "qwen3_vl")
