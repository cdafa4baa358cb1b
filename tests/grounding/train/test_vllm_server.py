"""GRPO with ``generation.backend: vllm_server`` against a loopback stand-in for ``trl vllm-serve``.

vLLM needs a GPU and is not installed here, so ``VllmStandIn`` below stands in for the server
that ``trl vllm-serve`` starts (``vllm serve`` with dev mode, ``--enable-scale-out`` and the NCCL
weight transfer): real HTTP on 127.0.0.1, the endpoints and payloads TRL 1.16's VLLMClient uses,
and completions sampled by the same tiny Qwen2.5-VL loaded from its checkpoint, as vLLM would
load it. The one part that is substituted is the tensor transport: vLLM receives the weights in
an NCCL broadcast (CUDA only); here ``LoopbackChannel`` hands the same stream of tensors to the
stand-in, which checks each against what ``/update_weights`` announced and loads it by name
into its model, as vLLM's ``load_weights`` does.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import queue
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText

from cua.core import CuaError
from grounding.backends.local import load_processor
from grounding.profiles import get_profile
from grounding.train.config import GRPOConfig
from grounding.train.grpo import RewardTerm, build_rewards, train_grpo
from grounding.train.metrics import read_metrics
from grounding.train.types import RewardSample
from grounding.train.vllm_server import VllmServer, place_features


class LoopbackChannel:
    """The NCCL broadcast's place: tensors go through a queue to the stand-in's worker."""

    stateful = True

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.tensors: queue.Queue[tuple[str, torch.Tensor]] = queue.Queue()

    def open(self, init_info: dict[str, Any]) -> None:
        self.opened.set()

    def send(self, tensors: Iterator[tuple[str, torch.Tensor]]) -> None:
        for name, tensor in tensors:
            self.tensors.put((name, tensor.detach().cpu().clone()))


class VllmStandIn:
    def __init__(self, model_dir: Path, channel: LoopbackChannel) -> None:
        self.model_dir, self.channel = str(model_dir), channel
        self.model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.processor = load_processor(self.model_dir, "qwen2_5_vl")
        self.params = dict(self.model.named_parameters())
        self.images: dict[str, Image.Image] = {}
        self.calls: list[str] = []
        self.generations: list[dict[str, Any]] = []  # {"token_ids", "completions"}
        self.updates: list[dict[str, Any]] = []
        self.init_info: dict[str, Any] | None = None
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                stand_in._answer(self, "GET", None)

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                stand_in._answer(self, "POST", json.loads(self.rfile.read(size) or b"{}"))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler, method: str, body: dict[str, Any] | None) -> None:
        path = urlparse(handler.path).path
        self.calls.append(path)
        routes = {("GET", "/health"): lambda b: {}, ("GET", "/v1/models"): lambda b: {"data": [{"id": self.model_dir}]},
                  ("GET", "/server_info"): lambda b: {"vllm_config": {"weight_transfer_config": {"backend": "nccl"}}},
                  ("GET", "/get_world_size"): lambda b: {"world_size": 1},
                  ("POST", "/init_weight_transfer_engine"): self._init, ("POST", "/start_weight_update"): lambda b: {},
                  ("POST", "/update_weights"): self._update, ("POST", "/finish_weight_update"): lambda b: {},
                  ("POST", "/reset_prefix_cache"): lambda b: {"success": True},
                  ("POST", "/v1/chat/completions/render"): self._render, ("POST", "/inference/v1/generate"): self._generate}
        route = routes.get((method, path))
        try:
            status, answer = (200, route(body)) if route else (404, {"detail": "Not Found"})
        except AssertionError as e:  # a malformed request: vLLM answers 400
            status, answer = 400, {"error": str(e)}
        data = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _init(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.channel.opened.wait(10), "the trainer never joined the rendezvous"
        self.init_info = body["init_info"]
        return {}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        info = body["update_info"]
        received = []
        for name, dtype, shape in zip(info["names"], info["dtype_names"], info["shapes"]):
            got_name, tensor = self.channel.tensors.get(timeout=10)
            assert got_name == name and list(tensor.shape) == shape and str(tensor.dtype) == f"torch.{dtype}"
            assert name in self.params and list(self.params[name].shape) == shape, f"no parameter {name} {shape}"
            with torch.no_grad():
                self.params[name].copy_(tensor)
            received.append((name, dtype, tuple(shape)))
        self.updates.append({"received": received, "calls_before": list(self.calls)})
        return {}

    def _render(self, body: dict[str, Any]) -> dict[str, Any]:
        hashes, placeholders = [], []
        for part in body["messages"][0]["content"]:
            url = part["image_url"]["url"]
            assert url.startswith("data:image/png;base64,")
            image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
            key = hashlib.sha256(image.tobytes()).hexdigest()
            self.images[key] = image
            grid = self.processor.image_processor(images=[image], return_tensors="pt")["image_grid_thw"][0]
            tokens = int(grid.prod()) // self.processor.image_processor.merge_size ** 2
            hashes.append(key)
            placeholders.append({"offset": 3, "length": tokens})  # where it sits in the rendered chat
        return {"features": {"mm_hashes": {"image": hashes}, "mm_placeholders": {"image": placeholders}}}

    def _generate(self, body: dict[str, Any]) -> dict[str, Any]:
        ids, params, features = body["token_ids"], body["sampling_params"], body["features"]
        assert params["output_kind"] == 2 and params["top_p"] == 1.0 and params["repetition_penalty"] == 1.0
        images = [self.images[h] for h in features["mm_hashes"]["image"]]
        image_id = self.model.config.image_token_id
        for place in features["mm_placeholders"]["image"]:  # the client moved them onto its prompt
            run = ids[place["offset"]:place["offset"] + place["length"]]
            assert len(run) == place["length"] and set(run) == {image_id}, "features not placed on the image tokens"
        pixels = self.processor.image_processor(images=images, return_tensors="pt")
        input_ids = torch.tensor([ids])
        banned = [int(t) for t, bias in params["logit_bias"].items() if bias <= -100]
        with self.lock, torch.no_grad():
            out = self.model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                mm_token_type_ids=(input_ids == image_id).long(), pixel_values=pixels["pixel_values"],
                image_grid_thw=pixels["image_grid_thw"], do_sample=True, temperature=params["temperature"],
                top_k=None, top_p=1.0, max_new_tokens=params["max_tokens"], num_return_sequences=params["n"],
                suppress_tokens=banned, pad_token_id=self.processor.tokenizer.pad_token_id)
        eos = self.model.generation_config.eos_token_id
        stops = set(eos if isinstance(eos, list) else [eos])
        completions = []
        for row in out[:, len(ids):].tolist():
            end = next((i + 1 for i, t in enumerate(row) if t in stops), len(row))  # vLLM keeps the stop token
            completions.append(row[:end])
        self.generations.append({"token_ids": ids, "completions": completions})
        return {"request_id": body["request_id"],
                "choices": [{"index": i, "token_ids": c, "logprobs": None} for i, c in enumerate(completions)]}


@pytest.fixture
def stand_in(tiny_qwen25_dir: Path):
    channel = LoopbackChannel()
    server = VllmStandIn(tiny_qwen25_dir, channel)
    yield server
    server.close()


def test_grpo_generates_on_the_server_and_pushes_merged_lora_weights(
        tmp_path: Path, tiny_qwen25_dir: Path, small_export: dict[str, Path], stand_in: VllmStandIn) -> None:
    seen: list[str] = []

    def recording(samples: Sequence[RewardSample]) -> list[float]:
        seen.extend(s.completion for s in samples)
        return [float(len(s.completion) % 3) for s in samples]

    cfg = GRPOConfig.model_validate({
        "output_dir": str(tmp_path), "model": {"path": str(tiny_qwen25_dir), "profile": "qwen2.5-vl",
                                               "finetune": "lora"},
        "lora": {"r": 4, "alpha": 8},
        "data": {"train": str(small_export["train"]), "max_samples": 4},
        "optim": {"lr": 1e-2, "max_steps": 2, "batch_size": 2},
        "grpo": {"num_generations": 4, "max_new_tokens": 10, "micro_batch_size": 4},
        "generation": {"backend": "vllm_server", "port": stand_in.port, "timeout": 5, "group_port": 29123},
        "logging": {"progress": False}})
    terms = build_rewards(cfg.grpo.rewards) + [RewardTerm("recording", 1.0, recording)]
    summary = train_grpo(cfg, rewards=terms, weight_channel=stand_in.channel)
    assert summary["steps"] == 2 and summary["generation"] == "vllm_server"

    # Rollouts: 2 steps x 2 prompts, each asked once for 4 completions; the rewards saw exactly them.
    assert len(stand_in.generations) == 4
    assert all(len(g["completions"]) == 4 for g in stand_in.generations)
    tokenizer = stand_in.processor.tokenizer
    eos = stand_in.model.generation_config.eos_token_id
    served = [tokenizer.decode([t for t in c if t != eos], skip_special_tokens=False)
              for g in stand_in.generations for c in g["completions"]]
    assert sorted(seen) == sorted(served)
    prompt = tokenizer.decode(stand_in.generations[0]["token_ids"])  # the runtime's encoding, prefill included
    assert "<|vision_start|><|image_pad|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n" + get_profile("qwen2.5-vl").prefill)

    # Weights: at the start, after step 1, and the final policy: each bracketed like TRL's client.
    assert stand_in.init_info == {"master_address": "127.0.0.1", "master_port": 29123, "rank_offset": 1,
                                  "world_size": 2, "packed": True}
    assert len(stand_in.updates) == 3
    lora_targets = {n for n in stand_in.params if n.endswith(".weight") and ".visual." not in f".{n}"
                    and n.split(".")[-2] in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")}
    for update in stand_in.updates:
        names = [name for name, _, _ in update["received"]]
        assert set(names) == lora_targets and len(names) == len(lora_targets)
        assert all(shape == tuple(stand_in.params[n].shape) and dtype == "float32"
                   for n, dtype, shape in update["received"])
        assert update["calls_before"][-2:] == ["/start_weight_update", "/update_weights"]
    assert stand_in.calls[-2:] == ["/finish_weight_update", "/reset_prefix_cache"]

    # After the last push the server holds the trained policy: peft's own merge, saved as final/.
    final = AutoModelForImageTextToText.from_pretrained(tmp_path / "final", dtype=torch.float32)
    trained = dict(final.named_parameters())
    assert trained.keys() == stand_in.params.keys()
    assert all(torch.allclose(stand_in.params[k], trained[k], atol=1e-6) for k in trained)
    base = AutoModelForImageTextToText.from_pretrained(tiny_qwen25_dir, dtype=torch.float32)
    assert any(not torch.equal(p, trained[n]) for n, p in base.named_parameters())  # training moved something
    train = [m for m in read_metrics(tmp_path) if m["kind"] == "train"]
    assert len(train) == 2 and all(m["weight_sync_s"] >= 0 for m in train)


def test_full_finetune_pushes_the_trainable_parameters(tiny_qwen25_dir: Path) -> None:
    from grounding.train.config import LoraSection, ModelSection
    from grounding.train.modeling import load_model
    from grounding.train.weight_sync import PolicyWeights

    model, _, _ = load_model(ModelSection(path=str(tiny_qwen25_dir), profile="qwen2.5-vl", finetune="full"),
                             LoraSection(), torch.device("cpu"))
    policy = PolicyWeights(model)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert [s.name for s in policy.specs] == trainable and not any(".visual." in f".{n}" for n in trainable)
    streamed = dict(policy)
    assert all(torch.equal(streamed[n], p) for n, p in model.named_parameters() if p.requires_grad)


def test_an_absent_server_is_a_clear_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CuaError, match=r"no vLLM server answers at http://127.0.0.1:\d+ after 0.2 s: start it"):
        VllmServer("127.0.0.1", port, timeout=0.2)


def test_features_of_another_size_are_refused() -> None:
    ids = [5, 9, 9, 9, 9, 6, 7]
    placed = place_features({"mm_placeholders": {"image": [{"offset": 0, "length": 4}]}, "mm_hashes": {}}, ids, 9)
    assert placed["mm_placeholders"]["image"] == [{"offset": 1, "length": 4}]
    with pytest.raises(CuaError, match=r"into \[16\] tokens where the trainer's prompt has \[4\]"):
        place_features({"mm_placeholders": {"image": [{"offset": 0, "length": 16}]}}, ids, 9)
