"""Run-folder browsing: listing, filters, a truncated steps.jsonl, the HTML report."""

from __future__ import annotations

import pytest
from PIL import Image

import app
from cua.core import Attempt, CuaError, EpisodeResult, Intent, StepRecord, Verdict
from cua.core.actions import Click
from cua.core.store import EpisodeWriter
from cua.ui.trajectories import filter_steps, find_runs, html_report, list_episodes


def _episode(run_dir, corrupt: bool = False):
    folder = run_dir / "episodes" / "miniwob_click-button__seed0"
    w = EpisodeWriter(folder)
    shot = Image.new("RGB", (660, 480), "white")
    ok, bad = Click(x=50, y=50), Click(x=300, y=300)
    w.write_step(StepRecord(index=0, screenshot="step_0000.png", action=ok,
                            attempts=[Attempt(intent=Intent(target="OK"), action=ok, verdict=Verdict(approve=True))]),
                 shot)
    w.write_step(StepRecord(index=1, screenshot="step_0001.png", error="no action approved",
                            attempts=[Attempt(intent=Intent(target="OK"), action=bad,
                                              verdict=Verdict(approve=False, error_type="wrong_element"))]), shot)
    w.write_step(StepRecord(index=2, screenshot="step_0002.png", action=ok,
                            attempts=[Attempt(action=ok, verdict=Verdict(approve=True))]), shot)
    w.finish(EpisodeResult(task_id="miniwob/click-button", seed=0, status="failure", steps=3))
    if corrupt:
        text = (folder / "steps.jsonl").read_text().splitlines()
        (folder / "steps.jsonl").write_text("\n".join(text[:2] + [text[2][:40]]) + "\n")
    return folder


def test_find_and_filter(tmp_path):
    folder = _episode(tmp_path / "runs" / "app" / "r1")
    assert find_runs(tmp_path / "runs") == [tmp_path / "runs" / "app" / "r1"]
    assert list_episodes(tmp_path / "runs" / "app" / "r1") == [folder]
    assert list_episodes(folder) == [folder]
    from cua.core.store import load_episode

    steps = load_episode(folder).steps
    assert filter_steps(steps, "vetoed") == [1]
    assert filter_steps(steps, "failed") == [1]
    assert filter_steps(steps, "all steps") == [0, 1, 2]
    with pytest.raises(CuaError):
        list_episodes(tmp_path / "nowhere")


def test_truncated_steps_show_up_to_last_good_step_with_warning(tmp_path):
    folder = _episode(tmp_path / "r", corrupt=True)
    _result, warn, slider, image, details, _evidence, _sent = app.show_episode(str(folder), "all steps")
    assert warn["visible"] and "unreadable step" in warn["value"] and "2 step(s)" in warn["value"]
    assert slider["maximum"] == 1
    assert image is not None and "Step 0" in details
    image, details, _evidence, _sent = app.show_step(str(folder), "vetoed", 0)
    assert "VETOED: wrong_element" in details


def test_corrupt_folder_is_a_message_not_a_crash(tmp_path):
    (tmp_path / "junk").mkdir()
    with pytest.warns(UserWarning):  # gr.Warning outside a request is a UserWarning
        assert app.open_run(str(tmp_path / "junk"))["choices"] == []
    with pytest.warns(UserWarning):
        _result, warn, *_ = app.show_episode(str(tmp_path / "junk"), "all steps")
    assert warn["visible"]


def test_html_report_is_self_contained(tmp_path):
    folder = _episode(tmp_path / "r")
    text = html_report(folder)
    assert text.count("data:image/png;base64,") == 3
    assert "VETOED: wrong_element" in text and "miniwob/click-button" in text
    assert "src='http" not in text and 'src="http' not in text
    out = app.export_report(str(folder))
    assert out.endswith(".html")
