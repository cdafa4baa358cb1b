"""A WebArena run folder written by the real runner, re-scored offline from what it stores."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from critic.base import ApproveAll
from cua.agent import Agent
from cua.core import Click, Done
from cua.batch import run_batch
from cua.stack import Stack
from cua.webarena_suite import print_rescore, rescore_run, webarena_suite
from envs.webarena.sites import SiteConfig
from grounding.a11y import A11yGrounder

_spec = importlib.util.spec_from_file_location("webarena_servers", Path(__file__).parent / "webarena_fixtures" / "servers.py")
servers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(servers)

CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason=f"no Chromium at {CHROMIUM} (in CI this fails instead)")

# What a (perfect or wrong) agent does per task: actions in screenshot pixels, then Done.
SCRIPTS = {
    "webarena/0": [Done(answer="$12.50")],
    "webarena/1": [Done(answer="there are 10 items")],  # wrong: "0" is not a token of it
    "webarena/3": [Click(x=120, y=35), Done()],
    "webarena/4": [Click(x=120, y=155), Click(x=120, y=155), Done()],
    "webarena/6": [Click(x=120, y=95), Done(answer="$12.50")],
}


class ScriptedPlanner:
    """Plays a fixed action list per task (stands in for an agent; the runner, env, store and
    evaluators are the real ones)."""

    name = "scripted"

    def propose(self, task, history, observation, critique=None):
        return SCRIPTS[task.id][len(history)]


def test_rescore_gives_the_live_scores_for_string_and_url_tasks(tmp_path: Path) -> None:
    with servers.serve_site() as site:
        sites = SiteConfig(sites={"shopping": site}, html_settle_s=0.0)
        suite = webarena_suite(str(servers.TASKS), sites=sites)
        agent = Agent.from_parts(ScriptedPlanner(), A11yGrounder(), ApproveAll())
        names = [task_id.split("/")[1] for task_id in SCRIPTS]
        summary = run_batch(suite, Stack(), tmp_path, [0], task_names=names, inline=True, agent=agent, show_progress=False)
    live = {r.task_id: r for r in list(summary.results.values())}
    assert {k: (r.status, r.reward) for k, r in live.items()} == {
        "webarena/0": ("success", 1.0), "webarena/1": ("failure", 0.0), "webarena/3": ("success", 1.0),
        "webarena/4": ("success", 1.0), "webarena/6": ("success", 1.0)}
    last_step = json.loads((tmp_path / "episodes" / "webarena_3__seed0" / "steps.jsonl").read_text().splitlines()[-1])
    assert last_step["info"]["url_after"].endswith("/search.html?page=1&cat=2&q=shoes")

    # Offline: the sites are gone; the task file comes from run.json's suite name.
    report = rescore_run(tmp_path, sites=sites)
    rows = {e["task"]: e for e in report["episodes"]}
    for name in ("0", "1", "3", "6"):
        assert rows[name]["rescored"] and rows[name]["score"] == live[f"webarena/{name}"].reward, name
    assert rows["6"]["parts"] == {"string_match": 1.0, "url_match": 1.0}
    assert rows["4"]["rescored"] is False and "program_html" in rows["4"]["reason"]
    assert (report["rescored"], report["not_rescoreable"], report["agree"], report["changed"]) == (4, 1, 4, 0)
    assert report["mean_score"] == 0.75

    # A stored answer edited by hand is scored again from the file, not from memory.
    steps_file = tmp_path / "episodes" / "webarena_1__seed0" / "steps.jsonl"
    lines = steps_file.read_text().splitlines()
    last = json.loads(lines[-1])
    last["info"]["answer"] = "there are 0 items"
    steps_file.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    again = {e["task"]: e for e in rescore_run(tmp_path, sites=sites)["episodes"]}
    assert again["1"]["score"] == 1.0 and again["1"]["original_reward"] == 0.0

    console = Console(record=True, width=160)
    print_rescore(report, console)
    assert "not rescoreable offline" in console.export_text()


def test_cua_eval_rescore_writes_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``cua eval --rescore RUN_DIR``: the same offline re-scoring from the command line, with the
    sites read from $CUA_WEBARENA_SITES as a user would configure them."""
    from typer.testing import CliRunner

    from cua.cli import app

    with servers.serve_site() as site:
        sites = SiteConfig(sites={"shopping": site}, html_settle_s=0.0)
        suite = webarena_suite(str(servers.TASKS), sites=sites)
        agent = Agent.from_parts(ScriptedPlanner(), A11yGrounder(), ApproveAll())
        run_batch(suite, Stack(), tmp_path / "run", [0], task_names=["0", "3"], inline=True, agent=agent, show_progress=False)
    config = tmp_path / "sites.json"
    config.write_text(json.dumps({"sites": {"shopping": site}}))
    monkeypatch.setenv("CUA_WEBARENA_SITES", str(config))
    result = CliRunner().invoke(app, ["eval", "--rescore", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "rescore.json").read_text())
    assert (report["rescored"], report["agree"], report["changed"]) == (2, 2, 0)
    assert "rescore.json" in result.output

    missing = CliRunner().invoke(app, ["eval", "--rescore", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no run folder" in missing.output
