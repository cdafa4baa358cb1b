"""Infrastructure errors in a batch run, with real sockets on loopback: a site that refuses
connections and one that accepts and never answers. Both are retried, then reported apart from
what the agent did; a page that loads is scored once, never retried.

This module is also the ``--plugin`` the workers import: importing it registers the suite
``deadsite`` (as a user's plugin would), reading the two ports from the environment.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from cua.core import Task
from cua.suites import SUITES, Suite

HERE = Path(__file__).resolve().parent
OK_PAGE = "data:text/html,<button onclick='window.clicked=true'>OK</button>"


def _clicked(page) -> float:
    return 1.0 if page.evaluate("window.clicked === true") else 0.0


def _task(name: str, seed: int | None) -> Task:
    urls = {"alive": OK_PAGE,
            "refused": f"http://127.0.0.1:{os.environ.get('CUA_TEST_REFUSED_PORT', '9')}/",
            "silent": f"http://127.0.0.1:{os.environ.get('CUA_TEST_SILENT_PORT', '9')}/"}
    return Task(id=f"deadsite/{name}", seed=seed, start_url=urls[name], max_steps=2,
                instruction='Click the "OK" button.', config={"validator": _clicked})


def _env():
    from envs.browser import BrowserConfig, BrowserEnv

    return BrowserEnv(BrowserConfig(viewport=(400, 300)))


SUITES["deadsite"] = Suite("deadsite", "loopback sites that refuse or never answer (tests)",
                           lambda: ["alive", "refused", "silent"], _env, _task,
                           skipped=lambda: [("needs-vm", "no VM provider here (test)")],
                           domain=lambda name: "up" if name == "alive" else "down")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sites_that_do_not_answer_are_infra_errors_retried_and_reported_apart(tmp_path, monkeypatch):
    from cua.batch import run_batch
    from cua.stack import Stack

    silent = socket.socket()  # listens, never accepts or answers: the page load hangs
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    monkeypatch.setenv("CUA_TEST_SILENT_PORT", str(silent.getsockname()[1]))
    monkeypatch.setenv("CUA_TEST_REFUSED_PORT", str(_closed_port()))
    monkeypatch.syspath_prepend(str(HERE))  # spawned workers get the parent's sys.path
    try:
        report = run_batch("deadsite", Stack(), tmp_path, seeds=[0], workers=2, retries=1,
                           episode_timeout_s=10, show_progress=False, plugins=("test_batch_infra",))
    finally:
        silent.close()
    rows = {row["task"]: row for row in report.episode_rows()}
    assert rows["alive"]["status"] == "success" and rows["alive"]["attempts"] == 1
    refused = rows["refused"]
    assert refused["status"] == "error" and refused["error_kind"] == "infra" and refused["attempts"] == 2
    assert refused["error"].startswith("PageLoadError")
    silent_row = rows["silent"]
    assert silent_row["error_kind"] == "infra" and silent_row["attempts"] == 2
    assert "episode timeout" in silent_row["error"]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["overall"]["scored"] == 1 and data["overall"]["successes"] == 1  # infra errors not scored
    assert data["overall"]["infra_errors"] == 2
    assert sorted(e["task"] for e in data["infra_errors"]) == ["refused", "silent"]
    assert data["skipped"] == [{"task": "needs-vm", "reason": "no VM provider here (test)"}]
    assert {d["name"]: d["infra_errors"] for d in data["domains"]} == {"down": 2, "up": 0}
    md = (tmp_path / "results.md").read_text()
    assert "## Infrastructure errors (not scored)" in md and "| needs-vm | no VM provider here (test) |" in md
    assert len(list((tmp_path / "retried").iterdir())) == 2  # the first attempt of each, kept aside


GRADER_FIXTURE = HERE.parent / "envs" / "osworld_fixtures" / "grader_error"
GRADER_TASK = "7b3e0c1a-5d2f-4e8b-9a61-c4f0d2e8b7a3"  # its gold file is missing: the metric raises


def test_a_metric_that_raises_is_a_grader_error_never_retried(tmp_path):
    """An OSWorld task whose metric raises, on the real local runner (Xvfb): neither the agent's
    failure nor a flaky infrastructure. It ends as a grader error, is not retried although
    retries are allowed, is not scored, and has its own column in results.md / results.json."""
    import shutil

    import pytest

    from cua.batch import run_batch
    from cua.stack import Stack

    if shutil.which("Xvfb") is None and not os.environ.get("CI"):
        pytest.skip("Xvfb is not installed (apt-get install -y xvfb)")
    report = run_batch(f"osworld:{GRADER_FIXTURE}", Stack(max_steps=1), tmp_path, seeds=[0],
                       workers=1, retries=2, show_progress=False)
    (row,) = report.episode_rows()
    assert row["status"] == "error" and row["error_kind"] == "grader" and row["attempts"] == 1
    assert row["error"].startswith("EvaluationError: metric 'compare_text_file' failed: FileNotFoundError")
    assert not (tmp_path / "retried").exists() or not any((tmp_path / "retried").iterdir())
    data = json.loads((tmp_path / "results.json").read_text())
    total = data["overall"]
    assert total["grader_errors"] == 1 and total["scored"] == 0 and total["agent_errors"] == 0
    assert total["infra_errors"] == 0 and total["errors"] == 1
    assert [(e["task"], e["seed"]) for e in data["grader_errors"]] == [(GRADER_TASK, 0)]
    assert data["infra_errors"] == []
    md = (tmp_path / "results.md").read_text()
    assert "| grader errors |" in md and "## Grader errors" in md
    overall_row = next(line for line in md.splitlines() if line.startswith("| overall |"))
    assert overall_row.rstrip(" |").split("|")[-1].strip() == "1"  # the last column: grader errors
