"""The batch runner (`cua eval`) with real worker processes and real browsers: 2 workers give
the same per-episode results as 1, a worker killed mid-episode is replaced and its episode
retried, and a run killed with SIGKILL resumes with nothing lost and nothing duplicated."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cua.batch import run_batch
from cua.stack import Stack
from cua.batch.jobs import read_events
from cua.batch.worker import read_state
from cua.cli import app

ROOT = Path(__file__).resolve().parents[2]
# click-button-sequence needs two clicks: with one step allowed it fails, click-test succeeds,
# so the comparison covers both outcomes.
MIXED = Stack(max_steps=1)


def outcomes(report) -> dict[tuple[str, int], tuple[str, float, int]]:
    return {(j.task, j.seed): (r.status, r.reward, r.steps) for j, r in report.results.items()}


def result_files(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "episodes").glob("*/result.json"))


def test_two_workers_give_the_same_results_as_one_on_miniwob(tmp_path):
    suite = "miniwob/click-test,click-button-sequence"
    one = run_batch(suite, MIXED, tmp_path / "one", seeds=[0, 1], workers=1, show_progress=False)
    two = run_batch(suite, MIXED, tmp_path / "two", seeds=[0, 1], workers=2, show_progress=False)
    assert outcomes(one) == outcomes(two) and len(two.results) == 4
    assert {s for s, _, _ in outcomes(one).values()} == {"success", "failure"}
    data = json.loads((tmp_path / "two" / "results.json").read_text())
    assert data["workers"] == 2 and data["stack_spec"]["max_steps"] == 1 and len(data["episodes"]) == 4
    assert data["overall"]["successes"] == 2 and data["overall"]["scored"] == 4
    starts = [e for e in read_events(tmp_path / "two") if e["event"] == "start"]
    assert len(starts) == 4 and {e["slot"] for e in starts} == {0, 1}  # both workers did episodes


def test_synthetic_two_workers_one_killed_mid_episode_match_one_worker(tmp_path):
    """A worker SIGKILLed mid-episode is replaced in its slot, its episode retried from scratch,
    and the results are still those of a 1-worker run."""
    suite, seeds = "synthetic-easy/auth-login-easy,settings-toggle-easy", [0, 1]
    one = run_batch(suite, Stack(), tmp_path / "one", seeds=seeds, workers=1, show_progress=False)
    run_dir = tmp_path / "two"
    killed: dict[str, object] = {}

    def kill_one_worker_mid_episode() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for slot, state in read_state(run_dir).items():
                job = state.get("job")
                if not job:
                    continue
                folder = Path(job["folder"])
                steps = folder / "steps.jsonl"
                # at least one step done, the episode (several steps) not finished
                if steps.exists() and steps.read_text().strip() and not (folder / "result.json").exists():
                    os.kill(int(state["pid"]), signal.SIGKILL)
                    killed.update(slot=slot, pid=state["pid"], task=job["task"], seed=job["seed"])
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_worker_mid_episode, daemon=True)
    killer.start()
    two = run_batch(suite, Stack(), run_dir, seeds=seeds, workers=2, show_progress=False)
    killer.join(timeout=5)
    assert killed, "no worker was caught mid-episode"
    assert outcomes(two) == outcomes(one)
    assert len(two.results) == 4 and len(result_files(run_dir)) == 4
    assert all(r.status == "success" for r in two.results.values())  # the retry finished it
    rows = {(row["task"], row["seed"]): row for row in two.episode_rows()}
    assert rows[(killed["task"], killed["seed"])]["attempts"] == 2
    assert sum(row["attempts"] for row in rows.values()) == 5  # the others ran once
    died = [e for e in read_events(run_dir) if e["event"] == "worker_died"]
    assert [(e["task"], e["seed"]) for e in died] == [(killed["task"], killed["seed"])]
    assert read_state(run_dir)[killed["slot"]]["pid"] != killed["pid"]  # a new worker in its slot
    assert len(list((run_dir / "retried").iterdir())) == 1  # the killed attempt, kept aside


def test_a_run_killed_with_sigkill_resumes_with_nothing_lost_or_duplicated(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "cua.cli", "eval", "--suite", "miniwob/click-test,click-button,click-link",
           "--seeds", "2", "--workers", "2", "--out", str(run_dir), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not result_files(run_dir) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the whole run: parent and workers
    finally:
        proc.wait(timeout=30)
    before = {p.parent.name: p.stat().st_mtime_ns for p in result_files(run_dir)}
    assert 1 <= len(before) < 6, "the run was not killed part-way"
    r = CliRunner().invoke(app, ["eval", "--resume", str(run_dir), "--no-progress"])
    assert r.exit_code == 0, r.output
    after = result_files(run_dir)
    assert len(after) == 6  # every (task, seed) exactly once: one folder each
    assert {p.parent.name: p.stat().st_mtime_ns for p in after if p.parent.name in before} == before
    data = json.loads((run_dir / "results.json").read_text())
    keys = [(e["task"], e["seed"]) for e in data["episodes"]]
    assert len(keys) == len(set(keys)) == 6
    assert data["overall"]["successes"] == 6
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    assert sorted((json.loads(x)["task"], json.loads(x)["seed"]) for x in lines) == sorted(keys)
    events = read_events(run_dir)
    resumed_runs = [e for e in events if e["event"] == "run"]
    assert len(resumed_runs) == 2 and resumed_runs[1]["done"] == len(before)
    # episodes in flight at the kill were moved aside and run again, not appended to
    for folder in (run_dir / "retried").iterdir() if (run_dir / "retried").exists() else []:
        assert not (folder / "result.json").exists()


def flat(output: str) -> str:
    return " ".join(output.split())  # rich wraps long lines


def test_eval_errors_are_one_line(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["eval", "--suite", "miniwob/click-test", "--grounder", "nosuch", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "unknown grounder 'nosuch'" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["eval", "--resume", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "no run.json" in flat(r.output)
    r = runner.invoke(app, ["eval", "--suite", "miniwob/click-test", "--workers", "0", "--out", str(tmp_path / "w")])
    assert r.exit_code == 2 and "--workers must be at least 1" in flat(r.output)
    busy = tmp_path / "busy"
    (busy / "episodes").mkdir(parents=True)
    with open(busy / ".lock", "a+") as held:  # as a running `cua eval` holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        r = runner.invoke(app, ["eval", "--suite", "miniwob/click-test", "--out", str(busy)])
    assert r.exit_code == 2 and "in use by another `cua eval`" in flat(r.output)
    assert not list((busy / "episodes").iterdir())


def test_eval_without_a_browser_stops_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CUA_CHROMIUM", str(tmp_path / "no-chromium"))  # the workers inherit it
    r = CliRunner().invoke(app, ["eval", "--suite", "miniwob/click-test", "--seeds", "1", "--workers", "2",
                                 "--out", str(tmp_path / "run"), "--no-progress"])
    assert r.exit_code == 2 and "no Chromium executable" in flat(r.output) and "Traceback" not in r.output
    assert not list((tmp_path / "run" / "episodes").glob("*/result.json"))  # nothing scored


def test_an_existing_run_folder_only_continues_the_same_run(tmp_path):
    """`--out` on a folder that holds a run continues it only with the same suite, tasks, seeds
    and stack; anything else would mix two runs' episodes in one report."""
    run_dir, runner = tmp_path / "run", CliRunner()
    first = ["eval", "--suite", "miniwob/click-test", "--seeds", "1", "--max-steps", "1",
             "--out", str(run_dir), "--no-progress"]
    r = runner.invoke(app, first)
    assert r.exit_code == 0, r.output
    run_json = (run_dir / "run.json").read_text()
    finished = {p: p.stat().st_mtime_ns for p in result_files(run_dir)}
    assert len(finished) == 1
    assert "±n/a" in (run_dir / "results.md").read_text()  # one seed: no interval over seeds, not ±0
    for change, word in [(["--max-steps", "2"], "max_steps"), (["--seeds", "2"], "seeds"),
                         (["--suite", "miniwob/click-button"], "suite")]:
        args = list(first)
        args[args.index(change[0]) + 1] = change[1]
        r = runner.invoke(app, args)
        out = flat(r.output)
        assert r.exit_code == 2 and "already holds another run" in out and word in out, out
        assert "cua eval --resume" in out and "Traceback" not in out
    assert (run_dir / "run.json").read_text() == run_json  # nothing was touched
    assert {p: p.stat().st_mtime_ns for p in result_files(run_dir)} == finished
    assert not (run_dir / "retried").exists()
    r = runner.invoke(app, first)  # the same run: it continues (here: nothing left to do)
    assert r.exit_code == 0, r.output
    assert [e["done"] for e in read_events(run_dir) if e["event"] == "run"] == [0, 1]


def test_a_killed_worker_that_just_finished_gets_no_new_episode_until_reaped(tmp_path):
    """The timeout race: the worker sends "done", the scheduler's timeout kills it before that
    message is read, and the death shows only later. Its slot must stay busy until then, or the
    next episode would be charged with a death (and a retry) it never caused."""
    from cua.batch.backend import Died, Finished, Started
    from cua.batch.jobs import plan_jobs
    from cua.batch.local import LocalBackend
    from cua.batch.worker import WorkerConfig
    from cua.suites import resolve

    suite, _ = resolve("miniwob/click-test")
    job = plan_jobs(suite, ["click-test"], [0], tmp_path)[0]
    backend = LocalBackend(WorkerConfig("miniwob/click-test", Stack(max_steps=1), str(tmp_path)), 1)
    try:
        old_pid = backend.pids()[0]
        backend.assign(0, job, 1)
        deadline = time.monotonic() + 120
        while not any(isinstance(e, Started) for e in backend.poll(0.5)):
            assert time.monotonic() < deadline, "the worker never started the episode"
        slot = backend._slots[0]
        assert slot.conn.poll(120), "the worker never reported the episode done"  # "done" is waiting
        backend.kill(0, "episode timeout: ran past 1 s")
        # read the message half of poll() alone: "done" is seen, the death is not yet
        assert [type(e) for e in backend._receive(0)] == [Finished]
        assert backend.idle_slots() == []  # killed: not free for the next episode
        events: list = []
        while not any(isinstance(e, Died) for e in events):
            assert time.monotonic() < deadline, "the killed worker was never reaped"
            events += backend.poll(0.5)
        died = next(e for e in events if isinstance(e, Died))
        assert died.job is None and died.reason.startswith("episode timeout")  # no episode blamed
        assert backend.idle_slots() == [0] and backend.pids()[0] != old_pid  # a fresh worker
    finally:
        backend.close()


def test_seed_intervals_use_the_exact_student_t_quantile():
    from cua.batch.stats import mean_ci, t_quantile_975

    # t(0.975, df) as tabulated (Abramowitz & Stegun table 26.10; scipy.stats.t.ppf(0.975, df))
    published = {1: 12.7062, 2: 4.3027, 10: 2.2281, 30: 2.0423, 40: 2.0211, 60: 2.0003, 120: 1.9799}
    for df, t in published.items():
        assert t_quantile_975(df) == pytest.approx(t, abs=1e-4), df
    values = [0.0, 1.0] * 20  # 40 seeds: df 39, not the normal's 1.96
    _, half = mean_ci(values)
    assert half == pytest.approx(2.0227 * statistics.stdev(values) / 40 ** 0.5, abs=1e-4)
