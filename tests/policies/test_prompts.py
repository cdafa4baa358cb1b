"""Golden tests: the prompt each native profile sends is the authors' published text, byte for
byte (fixtures/README.md says where each file comes from).

Checked on the wire: a one-turn episode runs through the real runner and the policy's HTTP
client, and the texts are read from the first request the stand-in received. The prompt
functions are checked as well, so a failure says which side broke.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_testkit import StillEnv, run_native, still_suite
from standin import Seen

from cua.policies.native import get_native_profile, layouts, prompts

HELPFUL = "You are a helpful assistant."
PLACEHOLDER = "<INSTRUCTION>"
FINISH = {  # a first reply that ends the episode, in each layout's grammar
    "uitars": "Thought: Nothing is left to do.\nAction: finished()",
    "qwen": 'Action: finish.\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", '
            '"status": "success"}}\n</tool_call>',
    "opencua": "## Action:\nfinish\n\n## Code:\n```python\ncomputer.terminate(status='success')\n```",
}


def first_request(profile: str, tmp_path: Path, instruction: str = PLACEHOLDER, size: tuple[int, int] = (640, 400),
                  **options: object) -> Seen:
    """The first request of an episode, as the stand-in received it."""
    layout = get_native_profile(profile).layout
    env = StillEnv(size)
    run = run_native(profile, still_suite(env, instruction), tmp_path / "run", options=options,
                     reply=lambda i, seen: FINISH[layout])
    result = run.results()[0]
    assert result.termination == "done" and result.status == "success", result
    assert len(run.standin.seen) == 1
    return run.standin.seen[0]


# ---- UI-TARS: the prompt is the first user text, after "You are a helpful assistant." ----------

def test_ui_tars_computer_prompt_is_the_published_one(tmp_path: Path, fixture_text) -> None:
    published = fixture_text("uitars_COMPUTER_USE_DOUBAO_English.txt")
    seen = first_request("ui-tars-1.5", tmp_path, language="English")
    assert seen.messages() == [("system", [HELPFUL], 0), ("user", [published], 0), ("user", [], 1)]
    # The default language is English: the same text without the option.
    profile = get_native_profile("ui-tars-1.5")
    assert prompts.fill(layouts.system_text(profile, (644, 392))[0], instruction=PLACEHOLDER) == published


def test_ui_tars_prompt_carries_the_instruction_verbatim(tmp_path: Path, fixture_text) -> None:
    """A real instruction goes where <INSTRUCTION> is, as written (placeholders in it stay)."""
    instruction = "Type {language} and {instruction} into the box, then press 'OK'."
    seen = first_request("ui-tars-1.5", tmp_path, instruction=instruction)
    expected = fixture_text("uitars_COMPUTER_USE_DOUBAO_English.txt").replace(PLACEHOLDER, instruction)
    assert seen.messages()[1] == ("user", [expected], 0)


def test_ui_tars_browser_prompt_is_the_desktop_apps_with_the_instruction_appended(tmp_path: Path,
                                                                                 fixture_text) -> None:
    published = fixture_text("uitars_desktop_Doubao_15_20B_en_browser.txt")
    assert published.endswith("## User Instruction\n")
    instruction = "Open the settings page."
    seen = first_request("ui-tars-1.5-browser", tmp_path, instruction=instruction)
    assert seen.messages() == [("system", [HELPFUL], 0), ("user", [published + instruction], 0), ("user", [], 1)]


def test_ui_tars_osworld_prompt_in_chinese_is_osworlds(tmp_path: Path, fixture_text) -> None:
    published = fixture_text("osworld_uitars15_user_prompt_qwen25vl_normal_Chinese.txt")
    seen = first_request("ui-tars-1.5-osworld", tmp_path, language="Chinese")
    assert seen.messages() == [("system", [HELPFUL], 0), ("user", [published], 0), ("user", [], 1)]


# ---- Qwen layout: tool prompt as system, the instruction after the first screenshot ------------

def test_qwen3_vl_system_and_first_instruction_are_osworlds(tmp_path: Path, fixture_text) -> None:
    system = fixture_text("osworld_qwen3vl_system_relative.txt")
    first_step = fixture_text("osworld_qwen3vl_instruction_prompt_first_step.txt")
    seen = first_request("qwen3-vl", tmp_path)
    assert seen.messages() == [("system", [system], 0), ("user", [first_step], 1)]
    parts = seen.body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text"]  # the screenshot first, as OSWorld's agent
    # Relative coordinates: the prompt names a 1000x1000 screen whatever the screenshot's size.
    assert layouts.system_text(get_native_profile("qwen3-vl"), (1920, 1088)) == [system]


def test_evocua_s2_system_is_evocuas(tmp_path: Path, fixture_text) -> None:
    system = fixture_text("evocua_S2_system_relative.txt")
    first_step = fixture_text("osworld_qwen3vl_instruction_prompt_first_step.txt")  # S2's user text is the same
    seen = first_request("evocua", tmp_path, size=(1280, 800))
    assert seen.messages() == [("system", [system], 0), ("user", [first_step], 1)]
    assert layouts.system_text(get_native_profile("evocua"), (640, 416)) == [system]


# ---- OpenCUA layout: system prompt, then the screenshot with the task instruction -------------

def test_opencua_system_and_instruction_are_opencuas(tmp_path: Path, fixture_text) -> None:
    system = fixture_text("opencua_V1_L2_osworld_verified_override.txt")
    instruction = fixture_text("opencua_instruction_example.txt")
    seen = first_request("opencua", tmp_path)
    assert seen.messages() == [("system", [system], 0), ("user", [instruction], 1)]
    assert [p["type"] for p in seen.body["messages"][1]["content"]] == ["image_url", "text"]


def test_evocua_s1_system_is_evocuas_and_opencuas_v2(tmp_path: Path, fixture_text) -> None:
    system = fixture_text("evocua_S1_system_password-osworld-public-evaluation.txt")
    assert system == fixture_text("opencua_V2_l2_password-osworld-public-evaluation.txt")
    seen = first_request("evocua-s1", tmp_path)
    assert seen.messages() == [("system", [system], 0), ("user", [fixture_text("opencua_instruction_example.txt")], 1)]


def test_password_option_changes_only_the_password(tmp_path: Path, fixture_text) -> None:
    system = fixture_text("evocua_S1_system_password-osworld-public-evaluation.txt")
    seen = first_request("evocua-s1", tmp_path, password="hunter2")
    assert seen.messages()[0] == ("system", [system.replace("osworld-public-evaluation", "hunter2")], 0)


@pytest.mark.parametrize("profile", ["qwen3-vl", "evocua", "opencua", "evocua-s1", "ui-tars-1.5",
                                     "ui-tars-1.5-browser", "ui-tars-1.5-osworld", "qwen2.5-vl"])
def test_no_feedback_means_no_extra_text(profile: str, tmp_path: Path) -> None:
    """Without feedback the request is exactly the published layout: one image, no more text
    parts than the layout's own (checked above for each profile with a fixture)."""
    seen = first_request(profile, tmp_path)
    assert len(seen.images) == 1
    texts = [t for _, parts, _ in seen.messages() for t in parts]
    assert not any("could not be used" in t or "could not be run" in t for t in texts)
    assert len(texts) == (3 if profile == "qwen2.5-vl" else 2)  # qwen2.5-vl: two system parts


def test_qwen25_vl_names_the_size_the_model_sees(tmp_path: Path) -> None:
    """Qwen2.5-VL's tool prompt gives the resized image's size as the screen (the cookbook's
    display_width_px / display_height_px), not the screenshot's."""
    profile = get_native_profile("qwen2.5-vl")
    seen = first_request("qwen2.5-vl", tmp_path, size=(1920, 1080))
    w, h = profile.resized_size(1920, 1080)
    assert (w, h) == (1316, 728) and seen.images == [(w, h)]
    system = seen.messages()[0]
    assert system[1][0] == HELPFUL and f"The screen's resolution is {w}x{h}." in system[1][1]


@pytest.mark.parametrize(("profile", "level", "fixture"), [
    ("opencua", "l1", "opencua_V1_L1.txt"),
    ("opencua", "l3", "opencua_V1_L3.txt"),
    ("evocua-s1", "l1", "opencua_V2_l1_password-osworld-public-evaluation.txt"),
    ("evocua-s1", "l3", "opencua_V2_l3_password-osworld-public-evaluation.txt"),
])
def test_opencua_levels_are_the_published_prompts(profile: str, level: str, fixture: str, fixture_text) -> None:
    from cua.policies.native import make_native
    from cua.policies.native.layouts import system_text

    policy = make_native(profile, url="http://127.0.0.1:9", level=level)
    assert system_text(policy.profile, (1288, 812)) == [fixture_text(fixture)]


def test_an_unknown_level_is_refused() -> None:
    from cua.core import CuaError
    from cua.policies.native import make_native

    with pytest.raises(CuaError, match="level"):
        make_native("qwen3-vl", url="http://127.0.0.1:9", level="l2")
