"""The batch dashboard reads run folders as another process writes them; Compare pairs two
episodes; the trajectory browser shows the critic's evidence images."""

from __future__ import annotations

import json
import os
import time

from PIL import Image

import app
from cua.core import Attempt, EpisodeResult, Intent, StepRecord, Verdict
from cua.core.actions import Click
from cua.core.store import RESULT_FILE, EpisodeWriter, load_episode, write_json
from cua.ui import compare, dashboard


def _write_episode(run_dir, task: str, seed: int, steps: int, status: str | None, action_x: float = 50):
    folder = run_dir / "episodes" / f"{task.replace('/', '_')}__seed{seed}"
    w = EpisodeWriter(folder)
    shot = Image.new("RGB", (200, 100), "white")
    for i in range(steps):
        a = Click(x=action_x + i, y=50)
        evidence = f"step_{i:04d}_critic0.png"
        Image.new("RGB", (80, 40), "red").save(folder / evidence)
        w.write_step(StepRecord(index=i, screenshot=f"step_{i:04d}.png", action=a,
                                attempts=[Attempt(intent=Intent(target="OK"), action=a, verdict=Verdict(approve=True))],
                                info={"agent": {"critic": [{"attempt": 0, "critic": "cpu", "outcome": "approved",
                                                            "evidence": evidence}]}}), shot)
    if status is not None:
        w.finish(EpisodeResult(task_id=task, seed=seed, status=status, steps=steps,
                               reward=1.0 if status == "success" else 0.0,
                               stack={"planner": "instructions", "grounder": "a11y", "critic": "cpu"}))
    return folder


def _run(tmp_path, name="r1"):
    run_dir = tmp_path / "runs" / name
    (run_dir / "episodes").mkdir(parents=True)
    write_json(run_dir / "run.json", {"suite": "miniwob-cpu", "tasks": ["a", "b", "c"], "seeds": [0, 1],
                                      "stack": {"planner": "instructions", "grounder": "a11y", "critic": "cpu"}})
    return run_dir


def test_dashboard_counts_running_done_failed_and_stale(tmp_path):
    run_dir = _run(tmp_path)
    _write_episode(run_dir, "miniwob-cpu/a", 0, 2, "success")
    _write_episode(run_dir, "miniwob-cpu/a", 1, 3, "failure")
    _write_episode(run_dir, "miniwob-cpu/b", 0, 1, "error")
    _write_episode(run_dir, "miniwob-cpu/b", 1, 2, None)  # still running
    stale = _write_episode(run_dir, "miniwob-cpu/c", 0, 1, None)  # killed an hour ago
    old = time.time() - 3600
    for f in [stale, *stale.iterdir()]:
        os.utime(f, (old, old))
    state = dashboard.run_state(run_dir)
    assert state.expected == 6 and state.finished == 3
    assert state.count("running") == 1 and state.count("stale") == 1
    assert abs(state.success_rate - 1 / 3) < 1e-9 and not state.complete
    rows = dashboard.runs_rows([state], tmp_path / "runs")
    assert rows[0][3] == "3 / 6" and rows[0][4] == 1 and rows[0][5] == 2 and rows[0][6] == 0
    assert rows[0][7].startswith("33%")
    episodes = dashboard.episode_rows(state)
    assert "running" in episodes[0][1] and episodes[0][2] == 2  # running first, with its steps so far
    assert "stale" in episodes[1][1]
    text = dashboard.summary_markdown(state)
    assert "1 not started" in text and "33.3%" in text

    _write_episode(run_dir, "miniwob-cpu/b", 1, 2, "success")  # the other process moves on
    assert dashboard.run_state(run_dir).count("running") == 0
    assert dashboard.run_state(run_dir).count("success") == 2


def test_dashboard_counts_needs_user_apart_and_does_not_grade_it(tmp_path):
    run_dir = _run(tmp_path)
    _write_episode(run_dir, "miniwob-cpu/a", 0, 2, "success")
    _write_episode(run_dir, "miniwob-cpu/a", 1, 3, "failure")
    asked = _write_episode(run_dir, "miniwob-cpu/b", 0, 1, None)
    (asked / RESULT_FILE).write_text(EpisodeResult(
        task_id="miniwob-cpu/b", seed=0, status="needs_user", termination="needs_user", steps=1,
        reason="Which account should I use?").model_dump_json())
    state = dashboard.run_state(run_dir)
    assert state.finished == 3 and state.count("needs_user") == 1
    assert state.success_rate == 0.5  # 1 of the 2 graded episodes: needs_user is not graded
    rows = dashboard.runs_rows([state], tmp_path / "runs")
    assert rows[0][3] == "3 / 6" and rows[0][5] == 0 and rows[0][6] == 1 and rows[0][7].startswith("50% of 2")
    episodes = {r[0]: r for r in dashboard.episode_rows(state)}
    row = episodes[asked.name]
    assert "needs_user" in row[1] and row[3] == "" and row[-1] == "needs_user: Which account should I use?"
    text = dashboard.summary_markdown(state)
    assert "1 needs user (not graded)" in text and "50.0%" in text
    rows, _dd, summary, episode_rows = app.dashboard_view(str(tmp_path / "runs"), None)
    assert rows[0][6] == 1 and "1 needs user" in summary
    assert episode_rows[0][0] == asked.name  # needs_user first, after any running episode


def test_dashboard_names_a_policy_stack(tmp_path):
    run_dir = _run(tmp_path)
    write_json(run_dir / "run.json", {"suite": "miniwob-cpu", "tasks": ["a"], "seeds": [0],
                                      "stack": {"policy": "native:ui-tars-1.5", "model": "ui-tars", "critic": "cpu"}})
    assert dashboard.run_state(run_dir).stack == "native:ui-tars-1.5 / ui-tars / cpu"
    write_json(run_dir / "run.json", {"suite": "miniwob-cpu", "tasks": ["a"], "seeds": [0],
                                      "stack": {"policy": "planner", "planner": "instructions", "grounder": "a11y",
                                                "critic": "cpu"}})
    assert dashboard.run_state(run_dir).stack == "instructions / a11y / cpu"


def test_dashboard_reads_a_cua_eval_run_json(tmp_path):
    run_dir = _run(tmp_path)
    write_json(run_dir / "run.json", {"suite": "miniwob-cpu", "tasks": ["a"], "seeds": [0, 1, 2], "workers": 2,
                                      "stack_spec": {"planner": "instructions", "grounder": "ocr", "critic": "cpu"}})
    state = dashboard.run_state(run_dir)
    assert state.expected == 3 and state.stack == "instructions / ocr / cpu" and not state.warnings


def test_dashboard_survives_damaged_files(tmp_path):
    run_dir = _run(tmp_path)
    (run_dir / "run.json").write_text("{not json")
    folder = _write_episode(run_dir, "miniwob-cpu/a", 0, 1, "success")
    (folder / "result.json").write_text('{"status": "succ')  # truncated mid-write
    state = dashboard.run_state(run_dir)
    assert state.expected is None and "unreadable" in state.warnings[0]
    assert state.episodes[0].status == "unreadable"
    rows, _runs_dd, summary, episodes = app.dashboard_view(str(tmp_path / "runs"), None)
    assert rows[0][3] == "0 / ?" and "unreadable" in summary and episodes[0][0] == folder.name


def test_dashboard_view_with_no_runs(tmp_path):
    rows, _dd, summary, episodes = app.dashboard_view(str(tmp_path / "nothing"), None)
    assert rows == [] and episodes == [] and "No run folders" in summary


def test_compare_finds_the_first_difference(tmp_path):
    a = _write_episode(_run(tmp_path, "a"), "miniwob-cpu/a", 0, 3, "success")
    b = _write_episode(_run(tmp_path, "b"), "miniwob-cpu/a", 0, 3, "failure")
    lines = (b / "steps.jsonl").read_text().splitlines()
    step2 = json.loads(lines[2])
    step2["action"]["x"] = 150.0
    (b / "steps.jsonl").write_text("\n".join([*lines[:2], json.dumps(step2)]) + "\n")
    ea, eb = load_episode(a), load_episode(b)
    assert compare.first_divergence(ea, eb) == 2
    assert compare.first_divergence(ea, ea) is None
    rows = {r[0]: r[1:] for r in compare.compare_rows(ea, eb)}
    assert rows["status"] == ["success", "failure"] and rows["critic"] == ["cpu", "cpu"]
    _table, note, slider, shot_a, md_a, _shot_b, md_b = app.compare_episodes(str(a), str(b))
    assert "step 2" in note and slider["value"] == 2
    assert shot_a is not None and "Step 2" in md_a and "x=150" in md_b


def test_browser_shows_critic_evidence(tmp_path):
    folder = _write_episode(_run(tmp_path), "miniwob-cpu/a", 0, 2, "success")
    *_, image, _details, evidence, _sent = app.show_episode(str(folder), "all steps")
    assert image is not None and len(evidence) == 1
    picture, caption = evidence[0]
    assert picture.getpixel((5, 5)) == (255, 0, 0) and "cpu approved" in caption
    assert app.move_step(str(folder), "all steps", 0, +1) == 1
    assert app.move_step(str(folder), "all steps", 1, +1) == 1  # clamped at the last step
    assert app.move_step(str(folder), "all steps", 0, -1) == 0


def test_dashboard_survives_a_result_that_is_not_utf8_and_a_huge_line(tmp_path):
    run_dir = _run(tmp_path)
    bad = _write_episode(run_dir, "miniwob-cpu/a", 0, 1, "success")
    (bad / "result.json").write_bytes(b'{"status": "\xff\xfe"}')  # not UTF-8
    running = _write_episode(run_dir, "miniwob-cpu/b", 0, 2, None)
    with open(running / "steps.jsonl", "ab") as f:
        f.write(b"x" * 3_000_000)  # a step line still being written, no newline yet
    states = {e.name: e for e in dashboard.run_state(run_dir).episodes}
    assert states[bad.name].status == "unreadable"
    assert states[running.name].steps == 2
