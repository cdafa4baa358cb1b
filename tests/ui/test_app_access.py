"""What the app refuses to someone who reaches it: serving off loopback (or --share) without a
password, file:// and other non-web URLs in the browser it drives, folders outside its runs
folder, and file names in a run folder that lead out of the episode (a doctored steps.jsonl)."""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest
from PIL import Image

import app
from cua.core import EpisodeResult, StepRecord
from cua.core.store import EpisodeWriter, load_episode, write_json
from cua.ui import folders
from cua.ui.browse_view import evidence_images
from cua.ui.live import web_browser_config
from cua.ui.trajectories import html_report

CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")
SECRET_RED = (255, 0, 0)


@pytest.mark.parametrize("argv", [["--host", "0.0.0.0"], ["--host", "192.168.1.5"], ["--host", "myhost"],
                                  ["--share"]])
def test_refuses_to_serve_beyond_loopback_without_a_password(argv, monkeypatch):
    monkeypatch.delenv("CUA_APP_PASSWORD", raising=False)
    with pytest.raises(SystemExit, match="without a password"):
        app.main(argv)


def test_loopback_hosts():
    assert all(app.is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"))
    assert not any(app.is_loopback(h) for h in ("0.0.0.0", "10.0.0.1", "example.org", "::"))


def test_browser_config_is_web_only_and_one_origin():
    assert web_browser_config("http://127.0.0.1:8000/a?b=1").allowed_origins == ["http://127.0.0.1:8000"]
    assert web_browser_config("https://example.org/x").allowed_origins == ["https://example.org:443"]
    for bad in ("file:///home/u/.aws/credentials", "FILE:///etc/passwd", "javascript:alert(1)", "chrome://version",
                "http://", "127.0.0.1:8000", ""):
        with pytest.raises(Exception, match="only http:// and https://"):
            web_browser_config(bad)


@pytest.fixture()
def web_page(tmp_path):
    (tmp_path / "index.html").write_text("<html><body style='background:#00f'><h1>hello</h1></body></html>")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Chromium is not installed")
def test_capture_takes_web_pages_but_not_local_files(web_page, tmp_path):
    shot = app.capture(web_page)
    assert isinstance(shot, Image.Image) and shot.getpixel((5, 300))[:3] == (0, 0, 255)
    secret = tmp_path / "secret.html"
    secret.write_text("<html><body style='background:#f00'>credentials</body></html>")
    with pytest.warns(UserWarning, match="only http:// and https://"):
        refused = app.capture(f"file://{secret}")
    assert not isinstance(refused, Image.Image)


def test_live_url_run_refuses_file_urls(tmp_path):
    stream = app.start_run("URL", "", 0, "file:///etc/passwd", "read it", "instructions", "a11y", "approve-all",
                           1, False, False, 0, str(tmp_path))
    with pytest.warns(UserWarning, match="only http"):
        outputs = list(stream)
    assert len(outputs) == 1 and "only http" in outputs[0][0]
    assert not app.RUNS and not (tmp_path / "app").exists()  # no worker, no browser, no folder


def _episode(folder: Path, screenshot: str = "step_0000.png", evidence: str = "ev.png",
             final: str | None = None) -> Path:
    w = EpisodeWriter(folder)
    Image.new("RGB", (80, 40), "white").save(folder / "ev.png")
    w.write_step(StepRecord(index=0, screenshot="step_0000.png"), Image.new("RGB", (80, 40), "white"))
    lines = [StepRecord(index=1, screenshot=screenshot,
                        info={"agent": {"critic": [{"attempt": 0, "critic": "cpu", "outcome": "vetoed",
                                                    "evidence": evidence}]}}).model_dump_json()]
    with open(folder / "steps.jsonl", "a") as f:
        f.write("\n".join(lines) + "\n")
    w.finish(EpisodeResult(task_id="t/a", status="failure", steps=2, final_screenshot=final))
    return folder


def _secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.png"
    path.parent.mkdir()
    Image.new("RGB", (64, 64), SECRET_RED).save(path)
    return path


def test_folders_outside_the_runs_folder_are_refused_with_a_message(tmp_path):
    runs = tmp_path / "runs"
    inside = _episode(runs / "r1" / "episodes" / "t_a__seed0")
    write_json(runs / "r1" / "run.json", {"suite": "t", "tasks": ["a"], "seeds": [0]})
    outside = _episode(tmp_path / "elsewhere" / "episodes" / "t_a__seed0")
    (runs / "link").symlink_to(tmp_path / "elsewhere")
    folders.allow([runs])
    assert app.open_run(str(inside))["choices"]  # the runs folder opens
    for path in (outside, runs / ".." / "elsewhere", runs / "link", "/etc", "~"):
        with pytest.warns(UserWarning, match="outside the folders this app may open"):
            assert app.open_run(str(path))["choices"] == []
    with pytest.warns(UserWarning, match="outside"):
        _result, warn, _slider, image, *_ = app.show_episode(str(outside), "all steps")
    assert warn["visible"] and "outside the folders" in warn["value"] and image is None
    with pytest.warns(UserWarning, match="outside"):
        assert app.show_step(str(outside), "all steps", 0)[0] is None
    with pytest.warns(UserWarning, match="outside"):
        assert app.export_report(str(outside)) is None
    with pytest.warns(UserWarning, match="outside"):
        assert app.compare_episodes(str(inside), str(outside))[3] is None
    rows, _dd, summary, _eps = app.dashboard_view(str(tmp_path), None)
    assert rows == [] and "outside the folders" in summary
    rows, *_ = app.dashboard_view(str(runs), None)
    assert [r[0] for r in rows] == ["r1"]  # the link is not listed either
    folders.allow([runs, tmp_path / "elsewhere"])  # what --allow-path adds
    assert app.open_run(str(outside))["choices"]


def test_names_leading_out_of_the_episode_show_nothing_of_the_file(tmp_path):
    secret = _secret(tmp_path)
    folder = _episode(tmp_path / "runs" / "r" / "episodes" / "t_a__seed0", screenshot=str(secret),
                      evidence="../../../../outside/secret.png", final=str(secret))
    _result, warn, _slider, *_ = app.show_episode(str(folder), "all steps")
    assert "refused" in warn["value"]
    episode = load_episode(folder)
    assert app.show_step(str(folder), "all steps", 1)[0] is None  # the step's screenshot is not shown
    pictures = evidence_images(episode, episode.steps[1])
    assert len(pictures) == 1 and "refused" in pictures[0][1]
    assert pictures[0][0].getpixel((5, 5)) != SECRET_RED
    report = html_report(folder)
    assert report.count("data:image/png") == 1  # step 0 only: not the secret, not a "final screen"
    assert "Final screen" not in report


def test_plugins_are_imported_at_start_and_their_policies_offered(monkeypatch):
    with pytest.raises(SystemExit, match="cannot import no_such_module_for_cua_tests"):
        app.main(["--plugin", "no_such_module_for_cua_tests:Policy"])
    with pytest.raises(SystemExit, match="has no class"):
        app.main(["--plugin", "ui_policies:NoSuchPolicy"])
    # What build(plugins=...) does first. (Not app.build itself here: once another test has
    # imported Twisted's reactor (the VNC env), Gradio components cannot be created in this
    # process; the e2e tests start the app with --plugin in a process of its own.)
    from cua.stack import import_plugins

    import_plugins(["ui_policies:AskUserPolicy"])
    choices = app.policy_choices()
    assert choices[0] == "planner" and "ui_policies.AskUserPolicy" in choices
    assert any(c.startswith("native:profile=qwen3-vl,backend=http,url=") for c in choices)
