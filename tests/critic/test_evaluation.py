"""Offline critic evaluation: the perturbed set built from trajectories the CPU stack wrote on
MiniWoB, the metrics, and GUI-Critic-Test's JSONL layout."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from critic.base import CRITICS, ReviewContext, abstain
from critic.evaluation import (
    KINDS,
    OfflineReport,
    Prediction,
    critic_eval,
    read_gui_critic_test,
)
from critic.perturb import build_perturbed_set, episode_folders
from critic.prompts import GUI_CRITIC_USER
from cua.agent import Agent
from cua.core import Click, CuaError, Verdict
from cua.planners import InstructionListPlanner
from cua.core.store import EpisodeWriter
from envs.miniwob import make_task
from grounding.a11y import A11yGrounder

TASKS = [("login-user", 0), ("login-user", 1), ("click-checkboxes", 0), ("click-button-sequence", 0),
         ("focus-text-2", 0), ("click-dialog-2", 0), ("enter-text", 0), ("click-tab", 0), ("click-option", 1)]


@pytest.fixture(scope="module")
def runs(miniwob_env, tmp_path_factory) -> Path:
    """Trajectories of the CPU stack, written as ``cua run`` writes them."""
    root = tmp_path_factory.mktemp("run")
    agent = Agent.from_parts(InstructionListPlanner(), A11yGrounder(), CRITICS.make("approve-all"))
    for name, seed in TASKS:
        result = agent.run_episode(miniwob_env, make_task(name, seed), EpisodeWriter(root / "episodes" / f"{name}_{seed}"))
        assert result.status == "success"
    return root


def test_perturbed_set_is_balanced_and_covers_every_kind(runs):
    folders = episode_folders([runs])
    assert len(folders) == len(TASKS)
    samples = build_perturbed_set(folders, seed=3)
    kinds = Counter(s.kind for s in samples)
    assert kinds["original"] == sum(not s.correct for s in samples) == len(samples) // 2
    assert set(kinds) == {"original", *KINDS}
    assert max(kinds[k] for k in KINDS) - min(kinds[k] for k in KINDS) <= 4  # as even as the steps allow
    assert [s.id for s in build_perturbed_set(folders, seed=3)] == [s.id for s in samples]  # deterministic
    by_kind = {s.kind: s for s in samples}
    near = by_kind["near_miss"].build()
    assert not any(e.box.contains(near.action.points()[0]) for e in near.observation.elements)
    typing = by_kind["type_no_focus"].build()
    assert typing.action.type == "type" and not any(e.focused for e in typing.observation.elements)
    loop = by_kind["repeat"].build()
    assert loop.history[-1].action == loop.action and loop.frames[loop.history[-1].index] is loop.observation.screenshot


def test_cpu_critic_meets_the_offline_goals(runs, tmp_path):
    out = tmp_path / "report.json"
    report = critic_eval(CRITICS.make("rules"), runs=[runs], seed=0, out=out)
    m = report.metrics()
    assert m["accept_correct"] >= 0.9 and m["reject_wrong"] >= 0.85, report.as_dict()
    assert m["format_error_rate"] == 0.0 and m["reject_f1"] >= 0.85
    assert m["per_kind"]["near_miss"]["error_type_match"] >= 0.8
    assert m["suggestion_accuracy"] >= 0.8  # a suggested point lands on the element that was meant
    saved = json.loads(out.read_text())
    assert saved["samples"] == len(saved["predictions"]) and saved["sources"] == [str(runs)]


def test_metrics_count_abstentions_as_misses():
    def p(correct: bool, approve: bool, abstained: bool = False, etype=None) -> Prediction:
        return Prediction("s", "x" if correct else "near_miss", correct, approve, abstained, etype,
                          None if correct else "off_target", None, None, 0.01, "")

    report = OfflineReport("t", [p(True, True), p(True, False, etype="wrong_element"), p(True, True, True),
                                 p(False, False, etype="off_target"), p(False, True), p(False, True, True)])
    m = report.metrics()
    assert m["accuracy"] == pytest.approx(2 / 6, abs=1e-4)
    assert m["accept_correct"] == pytest.approx(1 / 3, abs=1e-4) and m["reject_wrong"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["reject_precision"] == 0.5 and m["format_error_rate"] == pytest.approx(2 / 6, abs=1e-4)
    assert m["false_rejections"] == {"wrong_element": 1}
    assert m["per_kind"]["near_miss"]["error_type_match"] == 1.0


def test_gui_critic_test_layout(tmp_path):
    """Items as GUI-Critic-Test's JSONL holds them (prompt text, marked image, label + suggestion)."""
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (540, 1200), "white").save(tmp_path / "imgs" / "a.png")
    problem = "<image>\n" + GUI_CRITIC_USER.replace("{instruction}", "Get exhibition information about abstract art.") \
        .replace("{history}", "\nStep 1: Activate the input box. ") \
        .replace("{action}", '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [154, 703]}}')
    lines = [{"images": ["imgs/a.png"], "problem": problem,
              "solution": "Incorrect \n\"Click on the 'Art World Figures' thumbnail.\""},
             {"images": ["imgs/a.png"], "problem": problem.replace("[154, 703]", "[600, 90]"), "solution": "Correct \n\"x\""},
             {"images": ["imgs/a.png"], "problem": "no decision here", "solution": "Correct"}]
    path = tmp_path / "gui_web.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    samples = read_gui_critic_test(path)
    assert [s.correct for s in samples] == [False, True]  # the third has no decision: skipped
    ctx = samples[0].build()
    assert ctx.action == Click(x=154, y=703) and ctx.task.instruction == "Get exhibition information about abstract art."
    assert ctx.extra["gui_critic_problem"] == problem and ctx.observation.size == (540, 1200)

    class Unsure:
        name = "unsure"

        def review(self, context: ReviewContext) -> Verdict:
            return abstain("no evidence", self.name)

    m = critic_eval(Unsure(), gui_critic=path).metrics()
    assert m["samples"] == 2 and m["format_error_rate"] == 1.0 and m["accuracy"] == 0.0
    m = critic_eval(CRITICS.make("rules"), gui_critic=path).metrics()  # 600 > 540: out of bounds
    assert m["reject_wrong"] == 0.0 and m["accept_correct"] == 0.0
    with pytest.raises(CuaError, match="nothing to evaluate"):
        critic_eval(Unsure())
