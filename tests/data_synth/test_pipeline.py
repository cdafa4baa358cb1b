"""Runs at scale: bad inputs are discarded with a reason and the run goes on; parallel workers;
stop and resume without duplicates."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from data_synth.pipeline import MANIFEST, TASKS_DIR, job_names, load_manifest, run
from data_synth.spec import SynthTask
from data_synth.templates import generate
from data_synth.validators import Validator, eq
from data_synth.verify import OUTCOME_FILE

from .conftest import require_chromium


def _make(name: str) -> SynthTask:
    """Real tasks, some broken on purpose (picked by the job name)."""
    kind, seed = name.rsplit("-", 1)
    if kind == "throws":
        raise RuntimeError("template bug")
    if kind == "unstable":
        t = generate("auth-reset-easy", int(seed))
        return t.model_copy(update={"app": {**t.app, "liveClockMs": 4}})  # the DOM never rests
    if kind == "no-checks":
        return generate("auth-reset-easy", int(seed)).model_copy(update={"validator": Validator(checks=[])})
    if kind == "always-true":
        t = generate("auth-reset-easy", int(seed))
        return t.model_copy(update={"validator": Validator(checks=[eq(["page"], "login", "")])})
    if kind == "weak":  # does not check "remember me": leaving that step out still passes
        t = generate("auth-login-medium", int(seed))
        return t.model_copy(update={"validator": Validator(checks=t.validator.checks[:1])})
    return generate(name)


def test_bad_inputs_are_discarded_and_the_run_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    require_chromium()
    names = ["throws", "unstable", "no-checks", "always-true", "weak", "auth-reset-easy"]
    with caplog.at_level(logging.WARNING):
        report = run(tmp_path, names, [0], workers=0, ablations=0, make=_make, show_progress=False,
                     stable_timeout_s=1.5)
    got = {name.rsplit("-", 1)[0]: (o.status, o.reason) for name, o in report.outcomes.items()}
    assert got == {
        "throws": ("discarded", "template-error"), "unstable": ("discarded", "page-unstable"),
        "no-checks": ("discarded", "validator-error"), "always-true": ("discarded", "validator-passes-initially"),
        "weak": ("discarded", "ablation-passes"), "auth-reset-easy": ("verified", None),
    }
    assert "template bug" in caplog.text and "ablation-passes" in caplog.text
    manifest = load_manifest(tmp_path)
    assert manifest["generated"] == 6 and manifest["verified"] == 1
    assert manifest["discard_reasons"]["template-error"] == 1
    assert "without step" in report.outcomes["weak-0000"].detail


def test_a_live_clock_ticking_each_second_still_stabilises(env) -> None:
    from data_synth.env import task_from_synth

    t = generate("auth-reset-easy", 1)
    env.reset(task_from_synth(t.model_copy(update={"app": {**t.app, "liveClockMs": 1000}})))


def test_parallel_run_stops_and_resumes_without_duplicates(tmp_path: Path) -> None:
    require_chromium()
    names = ["auth-reset-easy"]
    first = run(tmp_path, names, range(2), workers=2, ablations=1, show_progress=False)
    assert first.verified == 2 and (tmp_path / MANIFEST).exists()
    outcome_files = {n: tmp_path / TASKS_DIR / n / OUTCOME_FILE for n in job_names(names, range(3))}
    kept = outcome_files["auth-reset-easy-0000"].stat().st_mtime_ns
    # a run killed while a task was in flight leaves that task without its outcome
    outcome_files["auth-reset-easy-0001"].unlink()
    second = run(tmp_path, names, range(3), workers=0, ablations=1, show_progress=False)
    assert sorted(second.outcomes) == job_names(names, range(3))
    assert outcome_files["auth-reset-easy-0000"].stat().st_mtime_ns == kept  # finished: not redone
    assert outcome_files["auth-reset-easy-0001"].exists() and outcome_files["auth-reset-easy-0002"].exists()
    assert load_manifest(tmp_path)["verified"] == 3
