"""Native computer-use models as data: one row per published agent setup.

A row says everything the runtime must do the way the model's authors did: which prompt, how
the conversation is laid out (``layout``), which output grammar (``codec``), the coordinate
space and the exact smart-resize the model sees, how many screenshots a request carries, how
the model ends an episode, and what to tell the server (vLLM's ``--limit-mm-per-prompt``).
Sources: ``source`` per row; notes in the project's ``tests/policies/fixtures/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cua.core import CuaError, ModelSpace
from cua.core.codecs import CodecName
from cua.core.coords import Resize

Layout = Literal["uitars", "qwen", "opencua"]
NativeSpace = Literal["abs_resized", "rel_999", "rel_1"]
Q28 = 28 * 28


@dataclass(frozen=True)
class Published:
    benchmark: str
    setting: str
    value: float
    source: str
    model: str


@dataclass(frozen=True)
class NativeProfile:
    name: str
    aliases: tuple[str, ...]
    layout: Layout
    codec: CodecName
    space: NativeSpace
    resize: Resize
    image_window: int  # screenshots per request, the current one included
    system: str  # prompt file (uitars: the first user text; others: the system prompt), or a builder key
    source: str
    max_steps: int  # the published run's step budget
    max_new_tokens: int = 1000
    temperature: float = 0.0
    # What ``call_user()`` means: a person is asked (the app; a batch run ends "needs_user"), or
    # it is OSWorld's FAIL (its UI-TARS agent's reading after the tolerance).
    call_user: Literal["needs_user", "fail"] = "needs_user"
    # OpenCUA / EvoCUA turn a last-step action that does not end the task into FAIL.
    fail_at_budget: bool = False
    language: str = "English"  # UI-TARS: the language of the Thought part
    password: str = "osworld-public-evaluation"  # OpenCUA / EvoCUA prompts name the VM's password
    published: tuple[Published, ...] = field(default=())

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the image the model sees for a ``width`` x ``height`` screenshot."""
        return self.resize.size(width, height, f"profile {self.name}")

    def model_space(self, resized_width: int, resized_height: int) -> ModelSpace:
        return ModelSpace.of_kind(self.space, resized_width, resized_height)

    @property
    def serve_limit(self) -> str:
        """vLLM's flag for this profile's image window."""
        return f"--limit-mm-per-prompt '{{\"image\": {self.image_window}}}'"


OSWORLD = "OSWorld"
UITARS_SOURCE = "bytedance/UI-TARS codes/ui_tars/prompt.py COMPUTER_USE_DOUBAO; OSWorld mm_agents/uitars15_v1.py layout"
PROFILES: tuple[NativeProfile, ...] = (
    NativeProfile(
        name="ui-tars-1.5", aliases=("ui-tars", "uitars", "ui-tars-1.5-7b", "ByteDance-Seed/UI-TARS-1.5-7B"),
        layout="uitars", codec="uitars", space="abs_resized", resize=Resize(28, 100 * Q28, 16384 * Q28),
        image_window=5, system="uitars_computer", source=UITARS_SOURCE, max_steps=100, max_new_tokens=1000),
    NativeProfile(
        name="ui-tars-1.5-browser", aliases=("ui-tars-browser",),
        layout="uitars", codec="uitars", space="abs_resized", resize=Resize(28, 100 * Q28, 16384 * Q28),
        image_window=5, system="uitars_browser", max_steps=100, max_new_tokens=1000,
        source="bytedance/UI-TARS-desktop apps/ui-tars/src/main/agent/prompts.ts getSystemPromptDoubao_15_20B"
               "(en, browser): navigate, navigate_back, press / release, call_user, several actions per step"),
    NativeProfile(
        name="ui-tars-1.5-osworld", aliases=("uitars-osworld",),
        layout="uitars", codec="uitars", space="abs_resized", resize=Resize(28, 100 * Q28, 16384 * Q28),
        image_window=5, system="uitars_osworld", max_steps=15, max_new_tokens=1000,
        source="OSWorld mm_agents/uitars15_v1.py UITARS_USR_PROMPT_THOUGHT + UITARS_NORMAL_ACTION_SPACE "
               "(infer_mode qwen25vl_normal; OSWorld ran it with language=Chinese)"),
    NativeProfile(
        name="qwen2.5-vl", aliases=("qwen25vl", "qwen2.5vl", "Qwen/Qwen2.5-VL-7B-Instruct", "Qwen/Qwen2.5-VL-72B-Instruct",
                                    "Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-32B-Instruct"),
        layout="qwen", codec="computer_use", space="abs_resized", resize=Resize(28, 56 * 56, 14 * 14 * 4 * 1280),
        image_window=5, system="qwen25vl", max_steps=15, max_new_tokens=1500,
        source="QwenLM/Qwen2.5-VL cookbooks computer_use tool (Qwen-Agent function-call prompt, the resized size "
               "as the screen); OSWorld qwen25vl_agent.py layout and resize (factor 28, max 1003520)"),
    NativeProfile(
        name="qwen3-vl", aliases=("qwen3vl", "Qwen/Qwen3-VL-8B-Instruct", "Qwen/Qwen3-VL-32B-Instruct",
                                  "Qwen/Qwen3-VL-2B-Instruct", "Qwen/Qwen3-VL-4B-Instruct"),
        layout="qwen", codec="computer_use", space="rel_999", resize=Resize(32, 56 * 56, 16 * 16 * 4 * 12800),
        image_window=5, system="qwen3vl", max_steps=15, max_new_tokens=32768,
        source="OSWorld mm_agents/qwen3vl_agent.py (history_n 4, relative coordinates mapped with /999, "
               "smart_resize factor 32, max_pixels 13107200)"),
    NativeProfile(
        name="opencua", aliases=("opencua-7b", "opencua-32b", "xlangai/OpenCUA-7B", "xlangai/OpenCUA-32B"),
        layout="opencua", codec="opencua", space="abs_resized", resize=Resize(28, 3136, 12_845_056),
        image_window=3, system="opencua_v1_l2", max_steps=100, max_new_tokens=2048, fail_at_budget=True,
        source="OSWorld mm_agents/opencua prompts.py SYSTEM_PROMPT_V1_L2 (the OSWorld-Verified testing prompt, "
               "--use_old_sys_prompt), opencua_agent.py layout (3 images, action history), coordinate_type qwen25"),
    NativeProfile(
        name="evocua", aliases=("evocua-s2", "evocua-8b", "evocua-32b", "meituan/EvoCUA-8B", "meituan/EvoCUA-32B"),
        layout="qwen", codec="computer_use", space="rel_999", resize=Resize(32, 56 * 56, 16 * 16 * 4 * 12800),
        image_window=5, system="evocua_s2", max_steps=50, max_new_tokens=32768, temperature=0.01,
        fail_at_budget=True,
        source="meituan/EvoCUA mm_agents/evocua prompts.py S2_SYSTEM_PROMPT, evocua_agent.py (max_history_turns 4 "
               "as in its README command, relative /999, resize factor 32; its utils.py min/max pixels were not "
               "available: OSWorld's qwen3vl values are used)"),
    NativeProfile(
        name="evocua-s1", aliases=(),
        layout="opencua", codec="opencua", space="abs_resized", resize=Resize(28, 3136, 12_845_056),
        image_window=3, system="opencua_v2_l2", max_steps=50, max_new_tokens=10240, temperature=0.01,
        source="meituan/EvoCUA mm_agents/evocua prompts.py S1_SYSTEM_PROMPT (= OpenCUA V2 L2), S1 layout "
               "(3 images, action history), coordinate_type qwen25, resize factor 28"),
)

_BY_KEY = {k.lower(): p for p in PROFILES for key in (p.name, *p.aliases) for k in (key, key.rsplit("/", 1)[-1])}


def get_native_profile(name: str) -> NativeProfile:
    """A profile by name, alias or hub id (case-insensitive); a checkpoint path matches by its
    last component ("/models/UI-TARS-1.5-7B" → ui-tars-1.5)."""
    key = name.strip().rstrip("/").lower()
    found = _BY_KEY.get(key) or _BY_KEY.get(key.rsplit("/", 1)[-1])
    if found is None:
        raise CuaError(f"unknown native profile {name!r}; known: {', '.join(p.name for p in PROFILES)}")
    return found
