"""GRPO rollouts through a vLLM server, and the policy's weights pushed to it after each update.

The server is the one TRL trainers use::

    trl vllm-serve --model <model.path> --port 8000
    # = VLLM_SERVER_DEV_MODE=1 vllm serve <model.path> --enable-scale-out \\
    #     --weight-transfer-config '{"backend": "nccl"}' --logprobs-mode processed_logprobs --max-logprobs -1

and this client speaks exactly the HTTP that TRL 1.16's ``trl.generation.vllm_client.VLLMClient``
speaks (that class itself refuses to start without the ``vllm`` package, which the trainer does
not otherwise need):

* ``GET /health``, ``GET /v1/models`` (the served model's id);
* prompts with images, as TRL sends them: ``POST /v1/chat/completions/render`` with the image
  alone (a data-URL PNG) returns its processed ``features``; their ``mm_placeholders`` are moved
  onto the runs of image tokens in our own prompt ids; ``POST /inference/v1/generate`` with
  ``token_ids`` + ``features`` + ``sampling_params`` (``n`` completions, ``output_kind`` 2) returns
  ``choices[*].token_ids``. The prompt ids are the runtime's encoding (profile prompt, chat
  template, prefill), so the server continues the very sequence the trainer scores;
* weights: ``GET /server_info``, ``GET /get_world_size``, ``POST /init_weight_transfer_engine``
  once, then per update ``POST /start_weight_update``, ``POST /update_weights`` with
  ``{"update_info": {"names", "dtype_names", "shapes"}}`` while the tensors stream over the
  weight-transfer channel, ``POST /finish_weight_update``, ``POST /reset_prefix_cache``.

The tensors themselves do not travel over HTTP: vLLM receives them in an NCCL broadcast from
the trainer, which joins the server's workers as rank 0 (``NcclChannel``, needs ``vllm`` on the
trainer and a CUDA device). The channel is a parameter so that other transports can be used.
The server's log-probs are not asked for: the trainer re-scores the completions itself.
"""

from __future__ import annotations

import base64
import io
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import torch
from PIL import Image

from cua.core import CuaError
from grounding.train.weight_sync import WeightSpec

FINAL_ONLY = 2  # vLLM's RequestOutputKind.FINAL_ONLY: all n sequences in one answer (TRL sets it too)


class WeightChannel(Protocol):
    """How tensors reach the server's workers once ``/update_weights`` announced them."""

    stateful: bool  # vLLM >= 0.28's trainer engine: ``packed`` goes in init_info, not update_info

    def open(self, init_info: dict[str, Any]) -> None: ...

    def send(self, tensors: Iterator[tuple[str, torch.Tensor]]) -> None: ...


class NcclChannel:
    """vLLM's NCCL weight-transfer engine, trainer side (what TRL's client calls)."""

    def __init__(self, device: torch.device) -> None:
        if device.type != "cuda":
            raise CuaError("generation.backend vllm_server pushes weights over NCCL, which needs the trainer on a "
                           f"CUDA device (got {device})")
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise CuaError("generation.backend vllm_server needs the vllm package on the trainer too (it holds the "
                           "NCCL weight-transfer client): pip install vllm") from None
        try:
            from vllm.distributed.weight_transfer.nccl_common import trainer_init
            from vllm.distributed.weight_transfer.packed_tensor import (
                packed_nccl_broadcast_producer,
            )

            self._init, self._broadcast, self.stateful = trainer_init, packed_nccl_broadcast_producer, True
        except ImportError:  # vLLM < 0.28: the static engine methods
            from vllm.distributed.weight_transfer.nccl_engine import (
                NCCLWeightTransferEngine,
            )

            self._init, self._broadcast, self.stateful = NCCLWeightTransferEngine.trainer_init, None, False
        self.device, self.group = device, None

    def open(self, init_info: dict[str, Any]) -> None:
        if self.device.index is not None:
            torch.cuda.set_device(self.device)
        self.group = self._init(init_info)

    def send(self, tensors: Iterator[tuple[str, torch.Tensor]]) -> None:
        on_device = ((name, t.to(self.device)) for name, t in tensors)
        if self._broadcast is not None:
            self._broadcast(iterator=on_device, group=self.group, src=0, post_iter_func=lambda item: item[1])
        else:
            from vllm.distributed.weight_transfer.nccl_engine import (
                NCCLTrainerSendWeightsArgs,
                NCCLWeightTransferEngine,
            )

            NCCLWeightTransferEngine.trainer_send_weights(
                iterator=on_device, trainer_args=NCCLTrainerSendWeightsArgs(group=self.group, packed=True))


class VllmServer:
    def __init__(self, host: str, port: int, timeout: float = 240.0, request_timeout: float = 600.0,
                 group_port: int = 51216) -> None:
        import httpx

        self.base_url = f"http://{host}:{port}"
        self.host, self.port, self.group_port = host, port, group_port
        self._http = httpx.Client(timeout=request_timeout)
        self._wait_until_up(timeout)
        models = self._get("/v1/models").get("data") or []
        if not models or "id" not in models[0]:
            raise CuaError(f"vLLM server {self.base_url}: /v1/models lists no model")
        self.model: str = models[0]["id"]
        self.channel: WeightChannel | None = None

    # ---- plumbing ------------------------------------------------------------------------

    def _wait_until_up(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._http.get(self.base_url + "/health", timeout=5.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() >= deadline:
                raise CuaError(f"no vLLM server answers at {self.base_url} after {timeout:g} s: start it with "
                               "`trl vllm-serve --model <model.path> --port <generation.port>`")
            time.sleep(min(2.0, max(0.05, deadline - time.monotonic())))

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            r = self._http.request(method, self.base_url + path, **kwargs)
        except httpx.TimeoutException:
            raise CuaError(f"vLLM server {self.base_url}{path}: no answer in time") from None
        except httpx.TransportError as e:
            raise CuaError(f"vLLM server {self.base_url}{path}: {type(e).__name__}: {e}") from None
        if r.status_code == 404:
            raise CuaError(f"vLLM server {self.base_url} has no {path}: start it with `trl vllm-serve` (it sets "
                           "VLLM_SERVER_DEV_MODE=1, --enable-scale-out and the NCCL weight transfer)")
        if r.status_code != 200:
            raise CuaError(f"vLLM server {self.base_url}{path}: HTTP {r.status_code}: {r.text[:300]}")
        if not r.content:
            return {}
        try:
            return r.json()
        except ValueError:
            raise CuaError(f"vLLM server {self.base_url}{path} answered non-JSON: {r.text[:200]}") from None

    def _get(self, path: str, **kwargs: Any) -> Any:
        return self._request("GET", path, **kwargs)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._request("POST", path, json=body if body is not None else {})

    # ---- generation ----------------------------------------------------------------------

    def image_features(self, images: Sequence[Image.Image]) -> dict[str, Any]:
        """The server's processed form of one prompt's images (``/v1/chat/completions/render``)."""
        content = [{"type": "image_url", "image_url": {"url": _data_url(im)}} for im in images]
        body = {"model": self.model, "messages": [{"role": "user", "content": content}], "max_tokens": 1}
        answer = self._post("/v1/chat/completions/render", body)
        if not isinstance(answer, dict) or not isinstance(answer.get("features"), dict):
            raise CuaError(f"vLLM server {self.base_url}: /v1/chat/completions/render answered without features")
        return answer["features"]

    def generate(self, token_ids: Sequence[Sequence[int]], features: Sequence[dict[str, Any] | None],
                 sampling: dict[str, Any]) -> list[list[list[int]]]:
        """``n`` completions (token ids) per prompt, one request per prompt, sent concurrently."""
        params = {**sampling, "output_kind": FINAL_ONLY}

        def send(i: int) -> list[list[int]]:
            body = {"request_id": f"cua-{uuid.uuid4().hex}", "model": self.model, "token_ids": list(token_ids[i]),
                    "features": features[i], "sampling_params": params}
            choices = self._post("/inference/v1/generate", body).get("choices")
            if not isinstance(choices, list) or len(choices) != params.get("n", 1):
                raise CuaError(f"vLLM server {self.base_url}: /inference/v1/generate returned "
                               f"{len(choices) if isinstance(choices, list) else 'no'} choices for n={params.get('n')}")
            return [_token_list(c.get("token_ids") if isinstance(c, dict) else None) for c in choices]

        with ThreadPoolExecutor(max_workers=max(1, min(16, len(token_ids)))) as pool:
            return list(pool.map(send, range(len(token_ids))))

    # ---- weights -------------------------------------------------------------------------

    def connect_weights(self, channel: WeightChannel) -> None:
        """Join the server's weight-transfer group (once, before the first push)."""
        config = self._get("/server_info", params={"config_format": "json"}).get("vllm_config") or {}
        if config.get("weight_transfer_config") is None:
            raise CuaError(f"vLLM server {self.base_url} has no weight-transfer engine: restart it with "
                           """`--weight-transfer-config '{"backend": "nccl"}'` (trl vllm-serve sets it)""")
        world = int(self._get("/get_world_size")["world_size"])
        init_info: dict[str, Any] = {"master_address": self._own_address(), "master_port": self.group_port,
                                     "rank_offset": 1, "world_size": world + 1}
        if channel.stateful:
            init_info["packed"] = True
        # The server blocks in the rendezvous while answering, so the trainer joins concurrently.
        with ThreadPoolExecutor(max_workers=1) as pool:
            answer = pool.submit(self._post, "/init_weight_transfer_engine", {"init_info": init_info})
            channel.open(init_info)
            answer.result()
        self.channel = channel

    def push_weights(self, specs: Sequence[WeightSpec], tensors: Iterator[tuple[str, torch.Tensor]]) -> None:
        """Announce ``specs`` and stream ``tensors`` (same order) into the served model."""
        if self.channel is None:
            raise CuaError("push_weights before connect_weights")
        update_info: dict[str, Any] = {"names": [s.name for s in specs], "dtype_names": [s.dtype for s in specs],
                                       "shapes": [list(s.shape) for s in specs]}
        if not self.channel.stateful:
            update_info["packed"] = True
        self._post("/start_weight_update")
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:  # the workers block receiving while answering
                answer = pool.submit(self._post, "/update_weights", {"update_info": update_info})
                self.channel.send(_checked(specs, tensors))
                answer.result()
        finally:
            self._post("/finish_weight_update")
        self._request("POST", "/reset_prefix_cache")

    def _own_address(self) -> str:
        """The trainer's address as the server sees it (the interface that routes to it)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((self.host, self.port))
            return s.getsockname()[0]

    def close(self) -> None:
        self._http.close()


def _data_url(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _token_list(value: Any) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        raise CuaError(f"vLLM server answered a choice without a list of integer token_ids: {str(value)[:120]}")
    return value


def _checked(specs: Sequence[WeightSpec], tensors: Iterator[tuple[str, torch.Tensor]]
             ) -> Iterator[tuple[str, torch.Tensor]]:
    """The stream, checked against what was announced (a mismatch would corrupt the server's model)."""
    count = 0
    for spec, (name, tensor) in zip(specs, tensors):
        if name != spec.name or tuple(tensor.shape) != spec.shape or str(tensor.dtype).removeprefix("torch.") != spec.dtype:
            raise CuaError(f"weight stream out of step with its announcement at {spec.name}: got {name} "
                           f"{tuple(tensor.shape)} {tensor.dtype}")
        count += 1
        yield name, tensor
    if count != len(specs):
        raise CuaError(f"weight stream ended after {count} of {len(specs)} announced tensors")


def place_features(features: dict[str, Any], prompt_ids: Sequence[int], image_token_id: int) -> dict[str, Any]:
    """Point the server's image features at the runs of image tokens in ``prompt_ids`` (TRL's
    ``_place_features``): the server reports positions in the throwaway conversation it
    rendered. A run of another length means the server resized the image differently from the
    profile: its processor's pixel bounds differ, and the model would see other pixels."""
    runs, i = [], 0
    while i < len(prompt_ids):
        if prompt_ids[i] == image_token_id:
            j = i
            while j < len(prompt_ids) and prompt_ids[j] == image_token_id:
                j += 1
            runs.append({"offset": i, "length": j - i})
            i = j
        else:
            i += 1
    try:
        theirs = features["mm_placeholders"]["image"]
        lengths = [int(p["length"]) for p in theirs]
    except (KeyError, TypeError, ValueError):
        raise CuaError("vLLM server's image features have no mm_placeholders.image") from None
    if lengths != [r["length"] for r in runs]:
        raise CuaError(f"the vLLM server turned the image into {lengths} tokens where the trainer's prompt has "
                       f"{[r['length'] for r in runs]}: start it with the profile's pixel bounds "
                       "(--mm-processor-kwargs '{\"min_pixels\": ..., \"max_pixels\": ...}')")
    return {**features, "mm_placeholders": {**features["mm_placeholders"], "image": runs}}
