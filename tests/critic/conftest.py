from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub: tests never reach a hub


def require_chromium() -> None:
    if not shutil.which(os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")) and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (CI fails instead of skipping)")


@pytest.fixture(scope="module")
def miniwob_env():
    require_chromium()
    from envs.miniwob import MiniWoBEnv

    env = MiniWoBEnv()
    yield env
    env.close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def serve() -> Iterator:
    """serve(folder) → base URL of a loopback http server for ``folder``."""
    servers: list[ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _tiny_models() -> ModuleType:
    if not os.environ.get("CI"):
        pytest.importorskip("torch")
        pytest.importorskip("transformers")
    # importlib import mode puts no test folder on sys.path: load the grounding tests' helper by path.
    path = Path(__file__).parent.parent / "grounding" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("tiny_models", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_qwen25(tmp_path_factory: pytest.TempPathFactory):
    from grounding.backends.local import LocalChatModel

    folder = _tiny_models().build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny") / "qwen2_5_vl")
    return LocalChatModel(str(folder))
