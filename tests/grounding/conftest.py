from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub: tests never reach a hub


def _tiny_models() -> ModuleType:
    if not os.environ.get("CI"):  # in CI the `models` extra is installed: a missing torch fails
        pytest.importorskip("torch")
        pytest.importorskip("transformers")
    # importlib import mode puts no test folder on sys.path: load the helper by its path.
    spec = importlib.util.spec_from_file_location("tiny_models", Path(__file__).with_name("tiny_models.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_qwen25_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_models().build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny") / "qwen2_5_vl")


@pytest.fixture(scope="session")
def tiny_qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_models().build_tiny_qwen3_vl(tmp_path_factory.mktemp("tiny") / "qwen3_vl")


@pytest.fixture(scope="session")
def tiny_qwen25(tiny_qwen25_dir: Path):
    from grounding.backends.local import LocalChatModel

    return LocalChatModel(str(tiny_qwen25_dir))


@pytest.fixture(scope="session")
def tiny_qwen3(tiny_qwen3_dir: Path):
    from grounding.backends.local import LocalChatModel

    return LocalChatModel(str(tiny_qwen3_dir))
