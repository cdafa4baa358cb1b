"""Trajectory store: step-by-step atomic writes, tolerant reads, secrets never on disk."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from cua.core import Click, CuaError, EpisodeResult, StepRecord
from cua.core.store import EpisodeWriter, episode_dirname, episode_file, load_episode


def _shot(colour: str = "white") -> Image.Image:
    return Image.new("RGB", (64, 48), colour)


def test_steps_are_readable_as_written(tmp_path):
    w = EpisodeWriter(tmp_path / "ep")
    for i in range(3):
        w.write_step(StepRecord(index=i, screenshot=w.screenshot_name(i), action=Click(x=i, y=2)), _shot())
    w.finish(EpisodeResult(task_id="miniwob/click-test", seed=1, status="success", reward=1.0, steps=3))
    ep = load_episode(tmp_path / "ep")
    assert [s.index for s in ep.steps] == [0, 1, 2]
    assert ep.steps[2].action == Click(x=2, y=2)
    assert ep.result is not None and ep.result.status == "success"
    assert ep.screenshot(ep.steps[0]).size == (64, 48)
    # readable without the project's code: plain JSON with a schema version
    first = json.loads((tmp_path / "ep" / "steps.jsonl").read_text().splitlines()[0])
    assert first["schema_version"] == 2 and first["action"]["type"] == "click"


def test_truncated_last_line_keeps_earlier_steps(tmp_path):
    w = EpisodeWriter(tmp_path / "ep")
    for i in range(2):
        w.write_step(StepRecord(index=i, screenshot=w.screenshot_name(i)), _shot())
    with open(tmp_path / "ep" / "steps.jsonl", "a") as f:
        f.write('{"schema_version": 1, "index": 2, "screensh')  # killed mid-write
    ep = load_episode(tmp_path / "ep")
    assert [s.index for s in ep.steps] == [0, 1]
    assert ep.result is None
    assert ep.warnings and "steps.jsonl:3" in ep.warnings[0]


def test_no_temp_files_left_behind(tmp_path):
    w = EpisodeWriter(tmp_path / "ep")
    w.write_step(StepRecord(index=0, screenshot=w.screenshot_name(0)), _shot())
    w.finish(EpisodeResult(task_id="t", status="failure"))
    assert sorted(p.name for p in (tmp_path / "ep").iterdir()) == ["result.json", "step_0000.png", "steps.jsonl"]


def test_secrets_are_masked(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-123")
    monkeypatch.setenv("MY_ENDPOINT_CRED", "hunter2-hunter2")
    w = EpisodeWriter(tmp_path / "ep", secret_env=("MY_ENDPOINT_CRED",))
    record = StepRecord(index=0, screenshot=w.screenshot_name(0),
                        info={"echo": "key is sk-very-secret-123", "other": "hunter2-hunter2"})
    w.write_step(record, _shot())
    w.finish(EpisodeResult(task_id="t", status="error", error="auth failed for sk-very-secret-123"))
    text = (tmp_path / "ep" / "steps.jsonl").read_text() + (tmp_path / "ep" / "result.json").read_text()
    assert "sk-very-secret-123" not in text and "hunter2-hunter2" not in text
    assert text.count("***") == 3


def test_credential_query_parameters_are_masked(tmp_path):
    """A site token in a URL (GitLab's private_token, OAuth's access_token) never reaches disk;
    ordinary parameters, even ones whose name or value mentions a token, stay readable."""
    w = EpisodeWriter(tmp_path / "ep")
    url = "http://git.local/api/v4/projects?private_token=glpat-abc123&page=2&q=token"
    record = StepRecord(index=0, screenshot=w.screenshot_name(0),
                        info={"url_after": url, "next": "https://a.test/cb?code=1&access_token=ya29.zz#top",
                              "search": "https://shop.test/s?keyword=tokens&sort=price"})
    w.write_step(record, _shot())
    info = load_episode(tmp_path / "ep").steps[0].info
    assert info["url_after"] == "http://git.local/api/v4/projects?private_token=***&page=2&q=token"
    assert info["next"] == "https://a.test/cb?code=1&access_token=***#top"
    assert info["search"] == "https://shop.test/s?keyword=tokens&sort=price"


def test_rerun_of_unfinished_episode_starts_clean(tmp_path):
    w = EpisodeWriter(tmp_path / "ep")
    w.write_step(StepRecord(index=0, screenshot=w.screenshot_name(0)), _shot())
    EpisodeWriter(tmp_path / "ep")  # the resumed run reopens it
    assert not (tmp_path / "ep" / "steps.jsonl").exists()


def test_bad_paths_are_clear_errors(tmp_path):
    with pytest.raises(CuaError, match="no episode folder"):
        load_episode(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CuaError, match="not an episode folder"):
        load_episode(tmp_path / "empty")


def test_episode_dirname_is_safe():
    assert episode_dirname("miniwob/click-button", 3) == "miniwob_click-button__seed3"
    assert "/" not in episode_dirname("../../etc/passwd", None)


def test_episode_file_accepts_only_plain_names_inside_the_folder(tmp_path):
    folder = tmp_path / "ep"
    folder.mkdir()
    secret = tmp_path / "secret.png"
    _shot("red").save(secret)
    (folder / "leak.png").symlink_to(secret)  # a link inside that leads out
    assert episode_file(folder, "step_0000.png") == folder / "step_0000.png"
    for bad in (str(secret), "../secret.png", "sub/step.png", "..", ".", "", "leak.png", "a\\b.png"):
        assert episode_file(folder, bad) is None, bad


def test_loader_refuses_screenshot_names_leading_out(tmp_path):
    """A doctored steps.jsonl naming an image elsewhere on the machine: a warning, never the image."""
    secret = tmp_path / "secret.png"
    _shot("red").save(secret)
    w = EpisodeWriter(tmp_path / "ep")
    w.write_step(StepRecord(index=0, screenshot=w.screenshot_name(0)), _shot())
    with open(tmp_path / "ep" / "steps.jsonl", "a") as f:
        f.writelines(StepRecord(index=i, screenshot=name).model_dump_json() + "\n" for i, name in enumerate((str(secret), "../secret.png"), 1))
    ep = load_episode(tmp_path / "ep")
    assert [s.index for s in ep.steps] == [0, 1, 2]
    assert len(ep.warnings) == 2 and all("refused" in w for w in ep.warnings)
    assert ep.screenshot(ep.steps[0]).size == (64, 48)
    for step in ep.steps[1:]:
        with pytest.raises(CuaError, match="not a file of"):
            ep.screenshot(step)
