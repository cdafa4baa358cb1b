"""`cua serve` end to end: the tiny local Qwen2.5-VL behind our OpenAI-compatible server on
loopback, grounded through the HTTP backend exactly as a user's vLLM endpoint would be."""

from __future__ import annotations

import httpx
import pytest
from PIL import Image, ImageDraw

from grounding.backends.openai_compat import HttpChatModel
from grounding.base import GROUNDERS
from grounding.model_grounder import ModelGrounder
from grounding.profiles import get_profile
from grounding.server import ServerThread


@pytest.fixture(scope="module")
def served(tiny_qwen25):
    with ServerThread(tiny_qwen25, "tiny-qwen2.5-vl") as server:
        yield server


def _shot() -> Image.Image:
    img = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(img).rectangle((40, 40, 120, 80), fill="navy")
    return img


def test_http_grounding_equals_local_grounding(served, tiny_qwen25):
    """Greedy decoding on the same weights: the answer over HTTP is the local answer."""
    profile = get_profile("qwen2.5-vl")
    local = ModelGrounder(profile, tiny_qwen25, max_new_tokens=12).ground(_shot(), "the blue box")
    remote = ModelGrounder(profile, HttpChatModel(served.base_url, "tiny-qwen2.5-vl", api_key_env=None),
                           max_new_tokens=12).ground(_shot(), "the blue box")
    assert remote.raw_text == local.raw_text and remote.raw_text
    assert remote.point == local.point
    assert remote.model_space == local.model_space


def test_registry_builds_the_http_grounder(served):
    g = GROUNDERS.make(f"model:profile=qwen2.5-vl,backend=http,path={served.base_url},"
                       "model=tiny-qwen2.5-vl,max_new_tokens=8,retries=0")
    result = g.ground(_shot(), "the blue box")
    assert result.grounder == "model:qwen2.5-vl" and result.raw_text


def test_server_answers_openai_layout_and_rejects_bad_requests(served):
    models = httpx.get(served.base_url + "/models").json()
    assert models["data"][0]["id"] == "tiny-qwen2.5-vl"
    ok = httpx.post(served.base_url + "/chat/completions", timeout=60, json={
        "model": "x", "max_tokens": 4, "messages": [{"role": "user", "content": "hello"}]}).json()
    assert ok["object"] == "chat.completion" and isinstance(ok["choices"][0]["message"]["content"], str)
    bad = httpx.post(served.base_url + "/chat/completions", timeout=60, json={"messages": "nope"})
    assert bad.status_code == 400 and "non-empty list" in bad.json()["error"]["message"]
    remote_image = httpx.post(served.base_url + "/chat/completions", timeout=60, json={"messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://10.0.0.1/x.png"}}]}]})
    assert remote_image.status_code == 400  # the server never fetches URLs
