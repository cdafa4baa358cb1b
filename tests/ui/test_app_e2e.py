"""End to end in a real browser: the app on a loopback port, driven by Playwright + system
Chromium. Starts a MiniWoB task paused, steps it, watches the annotated step and verdict
stream in, then opens the finished run in the trajectory browser and exports the report."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    if not shutil.which(CHROMIUM):
        pytest.skip("Chromium is not installed")
    runs = tmp_path_factory.mktemp("runs")
    port = _free_port()
    log = open(runs / "app.log", "w")  # noqa: SIM115 (closed in teardown)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--runs-dir", str(runs)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app exited: {(runs / 'app.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("app did not come up in 60 s")
    yield url, runs
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture()
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1300})
        yield pg
        browser.close()


def _shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    Path("/tmp/ui-shots").mkdir(exist_ok=True)
    shutil.copy(path, f"/tmp/ui-shots/{name}.png")


def test_live_run_then_trajectory_browser(app_url, page, tmp_path):
    url, runs = app_url
    page.goto(url)
    page.locator("#start").wait_for(timeout=30_000)
    page.locator("#start-paused input").check()
    page.locator("#start").click()
    status = page.locator("#live-status")
    status.get_by_text("paused").wait_for(timeout=60_000)  # reset done, waiting at the gate
    page.locator("#live-shot img").wait_for(timeout=10_000)  # the reset screenshot
    _shot(page, tmp_path, "1-paused")
    assert not list((runs / "app").glob("*/episodes/*/steps.jsonl")), "no step may run while paused"

    page.locator("#step").click()
    status.get_by_text("success").wait_for(timeout=60_000)
    details = page.locator("#live-details")
    assert "APPROVED" in details.inner_text()
    assert "Coordinate chain" in details.inner_text() and "screenshot" in details.inner_text()
    assert page.locator("#live-shot img").is_visible()
    assert "okay" in page.locator("#live-steps").inner_text().lower() or page.locator("#live-steps").count()
    _shot(page, tmp_path, "2-live-step")
    assert list((runs / "app").glob("*/episodes/*/result.json"))
    assert list((runs / "app").glob("*/results.json"))

    page.locator("#to-browser").click()
    page.locator("#browse-result").get_by_text("success").wait_for(timeout=30_000)
    page.locator("#browse-shot img").wait_for(timeout=15_000)
    assert "Step 0" in page.locator("#browse-details").inner_text()
    page.locator("#export").click()
    page.locator("#report").get_by_text(".html").first.wait_for(timeout=20_000)
    _shot(page, tmp_path, "3-trajectory-browser")


def test_unknown_task_is_a_visible_error(app_url, page, tmp_path):
    url, _ = app_url
    page.goto(url)
    page.locator("#start").wait_for(timeout=30_000)
    box = page.locator("#task input")
    box.fill("miniwob-cpu/no-such-task")
    box.press("Enter")
    page.locator("#start").click()
    page.locator("#live-status").get_by_text("unknown task").wait_for(timeout=30_000)
    assert "unknown task" in page.locator("#live-status").inner_text()
    _shot(page, tmp_path, "4-unknown-task")
    # the app keeps working: the browser tab still answers
    page.get_by_role("tab", name="Trajectories").click()
    page.locator("#browse-path input, #browse-path textarea").first.fill(str(tmp_path / "missing"))
    page.locator("#browse-open").click()
    page.get_by_text("no such folder").first.wait_for(timeout=15_000)
