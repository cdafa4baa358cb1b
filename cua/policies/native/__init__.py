"""Native computer-use models (UI-TARS-1.5, Qwen2.5-VL, Qwen3-VL, OpenCUA, EvoCUA) as whole
policies: ``--policy native:profile=NAME,backend=http,url=URL,model=NAME`` (or
``backend=local,path=/ckpt``). Profiles are data (``profiles``), layouts and reading in
``layouts``, the turn in ``policy``."""

from __future__ import annotations

from cua.core import CuaError
from cua.policies.base import POLICIES
from cua.policies.native.policy import NativePolicy
from cua.policies.native.profiles import PROFILES, NativeProfile, get_native_profile

__all__ = ["PROFILES", "NativePolicy", "NativeProfile", "get_native_profile", "make_native"]

_POLICY_OPTIONS = {"parse_retries", "max_new_tokens", "temperature", "language", "password", "call_user", "level"}


@POLICIES.register("native")
def make_native(profile: str, backend: str = "http", url: str | None = None, path: str | None = None,
                **options: str) -> NativePolicy:
    """``backend=http``: ``url`` (or ``path``) of an OpenAI-compatible server, with ``model``,
    ``api_key_env`` (the variable holding the key; required once named), ``timeout``, ``retries``.
    ``backend=local``: ``path`` of a transformers checkpoint, with ``device``, ``dtype``, ``attn``.
    Policy options: ``parse_retries`` (2), ``max_new_tokens`` / ``temperature`` (the profile's),
    ``language`` (UI-TARS' Thought language), ``password`` (OpenCUA / EvoCUA prompts),
    ``call_user`` (needs_user or fail), ``level`` (OpenCUA / EvoCUA-S1 prompt level: l1 action
    only, l2 thought + action (default), l3 observation + thought + action)."""
    from dataclasses import replace

    from grounding.model_grounder import make_chat_model

    chosen = get_native_profile(profile)
    policy_opts = {k: options.pop(k) for k in list(options) if k in _POLICY_OPTIONS}
    changes = {k: policy_opts.pop(k) for k in ("language", "password", "call_user") if k in policy_opts}
    if changes.get("call_user", "needs_user") not in ("needs_user", "fail"):
        raise CuaError(f"call_user must be needs_user or fail, got {changes['call_user']!r}")
    level = policy_opts.pop("level", None)
    if level is not None:
        if chosen.layout != "opencua" or level not in ("l1", "l2", "l3"):
            raise CuaError(f"level={level!r}: only the opencua and evocua-s1 profiles have levels, l1, l2 or l3")
        changes["system"] = chosen.system[:-2] + level
    chosen = replace(chosen, **changes) if changes else chosen
    where = url or path
    if not where:
        raise CuaError("native policy needs url=... (backend=http) or path=... (backend=local)")
    if backend == "http":
        options.setdefault("timeout", "120")
    chat_model = make_chat_model(backend, where, **options)
    factor = getattr(chat_model, "factor", None)  # known for local models, not over HTTP
    if factor is not None and factor != chosen.resize.factor:
        raise CuaError(f"profile {chosen.name} resizes for a {chosen.resize.factor}-pixel grid but {chat_model.name} "
                       f"sees in {factor}-pixel cells: wrong profile for this checkpoint?")
    return NativePolicy(chosen, chat_model, parse_retries=int(policy_opts.get("parse_retries", 2)),
                        max_new_tokens=int(policy_opts["max_new_tokens"]) if "max_new_tokens" in policy_opts else None,
                        temperature=float(policy_opts["temperature"]) if "temperature" in policy_opts else None)
