"""Macro-action history on a recorded 30-step trajectory (a three-page settings site on
loopback, driven by the CPU agent in Chromium), and the VLM compressor on a tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from critic.base import ApproveAll
from critic.history import (
    MacroAction,
    RuleCompressor,
    VLMCompressor,
    bound,
    parse_history_answer,
    target_name,
)
from cua.agent import Agent, AgentConfig
from cua.core import Task
from cua.planners import InstructionListPlanner
from cua.core.store import EpisodeWriter, load_episode
from grounding.a11y import A11yGrounder

from .conftest import require_chromium

STYLE = "<style>body{font:18px sans-serif;margin:20px} input,button,a{font:18px sans-serif;margin:6px}</style>"
PAGES = {
    "index.html": '<h1>Home</h1><a href="settings.html">Settings</a> <a href="help.html">Help</a>',
    "settings.html": '<h1>Settings</h1><a href="privacy.html">Privacy</a> <a href="display.html">Display</a>',
    "privacy.html": "<h1>Privacy</h1><form action='saved.html'>" + "".join(
        f'<label for="{f}">{f.title()}</label> <input id="{f}" name="{f}"><br>'
        for f in ("name", "street", "city", "zip", "phone", "email")) + "".join(
        f'<label><input type="checkbox" name="c{i}"> {c}</label><br>'
        for i, c in enumerate(("Share usage data", "Personalised ads", "Third-party cookies", "Location history")))
    + '<button type="submit">Save</button></form>',
    "saved.html": '<h1>Saved</h1><a href="display.html">Display settings</a>',
    "display.html": "<h1>Display</h1>" + "".join(
        f'<label><input type="checkbox"> {c}</label><br>' for c in ("Dark mode", "Large text", "High contrast", "Reduce motion"))
    + '<label for="nick">Nickname</label> <input id="nick"><br><label for="tag">Tagline</label> <input id="tag"><br>'
    '<button type="button">Apply</button>',
}
PLAN = [
    'Click the "Settings" link', 'Click the "Privacy" link',
    'Enter "Ada Lovelace" into the name field', 'Enter "12 Analytical Row" into the street field',
    'Enter "London" into the city field', 'Enter "NW1" into the zip field',
    'Enter "555 0100" into the phone field', 'Enter "ada@example.org" into the email field',
    'Click the "Share usage data" checkbox', 'Click the "Personalised ads" checkbox',
    'Click the "Third-party cookies" checkbox', 'Click the "Location history" checkbox',
    'Click the "Save" button', 'Click the "Display settings" link',
    'Click the "Dark mode" checkbox', 'Click the "Large text" checkbox', 'Click the "High contrast" checkbox',
    'Click the "Reduce motion" checkbox', 'Enter "ada" into the nickname field',
    'Enter "first programmer" into the tagline field', 'Click the "Apply" button',
]


@pytest.fixture(scope="module")
def recorded(serve, tmp_path_factory) -> Path:
    """A 30-step trajectory recorded by the agent loop (approve-all critic): 29 actions, then done."""
    require_chromium()
    from envs.browser import BrowserConfig, BrowserEnv

    site = tmp_path_factory.mktemp("site")
    for name, body in PAGES.items():
        (site / name).write_text(f"<!doctype html><html><head><title>{name}</title>{STYLE}</head><body>{body}</body></html>")
    base = serve(site)
    env = BrowserEnv(BrowserConfig(viewport=(800, 1000), allowed_origins=[base]))
    folder = tmp_path_factory.mktemp("episode")
    task = Task(id="site/settings", instruction="Fill in the privacy settings, save them, then set up the display.",
                start_url=base + "index.html", max_steps=30, reference_plan=PLAN)
    try:
        Agent.from_parts(InstructionListPlanner(), A11yGrounder(), ApproveAll(), AgentConfig(max_retries=0)).run_episode(
            env, task, EpisodeWriter(folder))
    finally:
        env.close()
    return folder


def test_recorded_trajectory_is_30_executed_steps(recorded):
    steps = load_episode(recorded).steps
    assert len(steps) == 30 and all(s.action is not None for s in steps) and steps[-1].action.type == "done"


def test_compressed_history_names_the_sub_goals(recorded):
    ep = load_episode(recorded)
    task = Task(id="site/settings", instruction=ep.result.instruction)
    macro = RuleCompressor().compress(task, ep.steps)
    text = macro.text()
    assert "opened Settings ▸ Privacy" in text
    assert "filled the form: name, street, city, zip, phone, +1 more" in text
    assert "clicked Share usage data, Personalised ads, Third-party cookies, Location history" in text
    assert "Location history, then 'Save', which opened a new page" in text
    assert "opened Display settings (step 20)" in text
    assert "filled the form: nickname, tagline" in text and "declared the task done" in text
    assert macro.entries[0].first == 0 and macro.entries[-1].last == 29 and macro.steps == 30


def test_history_stays_bounded_as_the_episode_grows(recorded):
    ep = load_episode(recorded)
    task = Task(id="site/settings")
    small = RuleCompressor(max_entries=4, max_entry_chars=80)
    for n in range(len(ep.steps) + 1):
        for compressor in (RuleCompressor(), small):
            macro = compressor.compress(task, ep.steps[:n])
            assert len(macro.entries) <= compressor.max_entries
            assert all(len(e.text) <= compressor.max_entry_chars for e in macro.entries)
            assert len(macro.text()) <= compressor.max_entries * (compressor.max_entry_chars + 20)
    folded = small.compress(task, ep.steps)
    assert folded.entries[0].kind == "earlier" and folded.entries[0].text.startswith("earlier: opened Settings")


def test_bound_folds_oldest_entries():
    entries = [MacroAction(f"did thing {i}", i, i, "click") for i in range(10)]
    out = bound(entries, 3, 40)
    assert [e.kind for e in out] == ["earlier", "click", "click"] and out[0].last == 7
    assert out[0].text.endswith("…") and len(out[0].text) <= 40


def test_target_names():
    assert target_name('the "Ok" button') == "Ok"
    assert target_name("the username field") == "username"
    assert target_name("the 3rd input textbox") == "3rd input textbox"
    assert target_name("Tab #2") == "Tab #2"


def test_history_answer_parser():
    assert parse_history_answer("<history>\n- opened Settings\n- filled the form: name\n</history>") == \
        ["opened Settings", "filled the form: name"]
    assert parse_history_answer("1. opened Settings\n2) saved") == ["opened Settings", "saved"]
    assert parse_history_answer("<history>") is None and parse_history_answer("- 12\n- ...") is None


def test_vlm_compressor_on_a_tiny_model_is_bounded_and_falls_back(recorded, tiny_qwen25):
    ep = load_episode(recorded)
    task = Task(id="site/settings", seed=0, instruction=ep.result.instruction)
    frames = {s.index: ep.screenshot(s) for s in ep.steps[:6]}
    compressor = VLMCompressor(tiny_qwen25, max_entries=5, max_new_tokens=24)
    for n in (3, 6):
        macro = compressor.compress(task, ep.steps[:n], frames)
        assert len(macro.entries) <= 5 and macro.steps == n
    # A random-init model writes no list: the rules stand in, and say so.
    assert compressor.failures >= 1 and "fallback from vlm:" in macro.source
    assert compressor.compress(task, ep.steps[:6], frames) is macro  # cached: no new call
