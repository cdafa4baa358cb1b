"""End to end in a real browser: the app on a loopback port, driven by Playwright + system
Chromium. Starts a MiniWoB task paused, steps it, watches the annotated step and verdict
stream in, then opens the finished run in the trajectory browser and exports the report;
pauses and resumes a run mid-way; approves / rejects actions by hand; reads the dashboard; and
a policy that asks for the user (``--plugin ui_policies:AskUserPolicy``): its turn shown
escaped with the screenshots it was sent, answered from the page, or approved (needs_user).
Screenshots of the app go to test-output/ui/ (and the test's tmp folder) for a person to see."""

from __future__ import annotations

import json
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
    here = str(Path(__file__).resolve().parent)  # ui_policies, the policy that asks for the user
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost",
           "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--runs-dir", str(runs),
                             "--plugin", "ui_policies:AskUserPolicy"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
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
        pytest.fail("app did not come up in 120 s")
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


SHOTS = ROOT / "test-output" / "ui"
WAIT_MS = 90_000  # generous: conditions are awaited, never slept on; a loaded 2-core machine is slow


def _shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / f"{name}.png")


def _poll(condition, what: str, timeout_s: float = WAIT_MS / 1000) -> None:
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _run_dir(page) -> Path:
    box = page.locator("#live-run-dir textarea, #live-run-dir input").first
    _poll(lambda: bool(box.input_value()), "the run folder to be shown")
    return Path(box.input_value())


def _start(page, url: str, task: str, **options) -> None:
    page.goto(url)
    page.locator("#start").wait_for(timeout=WAIT_MS)
    box = page.locator("#task input")
    box.fill(task)
    box.press("Enter")
    for elem_id, value in options.items():
        field = page.locator(f"#{elem_id} input").first
        if isinstance(value, bool):
            field.set_checked(value)
        else:
            field.fill(str(value))
    page.locator("#start").click()


def _wait_text(page, selector: str, text: str) -> None:
    """Wait until an element's text contains ``text`` (tables keep hidden copies of their
    cells, so get_by_text would find an invisible one)."""
    _poll(lambda: text in page.locator(selector).first.inner_text(), f"{text!r} in {selector}")


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_live_run_then_trajectory_browser(app_url, page, tmp_path):
    url, runs = app_url
    page.goto(url)
    page.locator("#start").wait_for(timeout=WAIT_MS)
    page.locator("#start-paused input").check()
    page.locator("#start").click()
    status = page.locator("#live-status")
    status.get_by_text("paused").wait_for(timeout=WAIT_MS)  # reset done, waiting at the gate
    page.locator("#live-shot img").wait_for(timeout=WAIT_MS)  # the reset screenshot
    _shot(page, tmp_path, "1-paused")
    run_dir = _run_dir(page)
    assert run_dir.is_relative_to(runs) and not list(run_dir.glob("episodes/*/steps.jsonl")), \
        "no step may run while paused"

    page.locator("#step").click()
    status.get_by_text("success").wait_for(timeout=WAIT_MS)
    details = page.locator("#live-details")
    assert "APPROVED" in details.inner_text()
    assert "Coordinate chain" in details.inner_text() and "screenshot" in details.inner_text()
    assert page.locator("#live-shot img").is_visible()
    assert "APPROVED" in page.locator("#live-steps").inner_text()
    _shot(page, tmp_path, "2-live-step")
    assert list(run_dir.glob("episodes/*/result.json")) and (run_dir / "results.json").exists()

    page.locator("#to-browser").click()
    page.locator("#browse-result").get_by_text("success").wait_for(timeout=WAIT_MS)
    page.locator("#browse-shot img").wait_for(timeout=WAIT_MS)
    assert "Step 0" in page.locator("#browse-details").inner_text()
    page.locator("#export").click()
    page.locator("#report").get_by_text(".html").first.wait_for(timeout=WAIT_MS)
    _shot(page, tmp_path, "3-trajectory-browser")


def test_unknown_task_is_a_visible_error(app_url, page, tmp_path):
    url, runs = app_url
    page.goto(url)
    page.locator("#start").wait_for(timeout=WAIT_MS)
    box = page.locator("#task input")
    box.fill("miniwob-cpu/no-such-task")
    box.press("Enter")
    page.locator("#start").click()
    page.locator("#live-status").get_by_text("unknown task").wait_for(timeout=WAIT_MS)
    assert "unknown task" in page.locator("#live-status").inner_text()
    _shot(page, tmp_path, "4-unknown-task")
    # the app keeps working: the browser tab still answers
    page.get_by_role("tab", name="Trajectories").click()
    path_box = page.locator("#browse-path input, #browse-path textarea").first
    path_box.fill(str(runs / "missing"))
    page.locator("#browse-open").click()
    page.get_by_text("no such folder").first.wait_for(timeout=WAIT_MS)
    path_box.fill("/etc")  # outside --runs-dir: refused, in words
    page.locator("#browse-open").click()
    page.get_by_text("outside the folders this app may open").first.wait_for(timeout=WAIT_MS)


def test_pause_and_resume_mid_run_then_dashboard(app_url, page, tmp_path):
    url, _runs = app_url
    _start(page, url, "miniwob-cpu/login-user", delay=1.5)  # 5 steps at a watchable pace
    status = page.locator("#live-status")
    _wait_text(page, "#live-steps", "APPROVED")  # a step is in
    page.locator("#pause").click()
    status.get_by_text("paused").wait_for(timeout=WAIT_MS)
    steps_file = next(_run_dir(page).glob("episodes/*/steps.jsonl"))
    held = _lines(steps_file)
    assert 1 <= held < 5, f"paused after {held} steps"
    _shot(page, tmp_path, "5-paused-mid-run")
    # still paused: the next step waits for Resume (the status says so, the file does not grow)
    page.get_by_role("tab", name="Dashboard").click()
    _wait_text(page, "#dash-runs", "0 / 1")
    _wait_text(page, "#dash-episodes", "running")
    _shot(page, tmp_path, "6-dashboard-running")
    assert _lines(steps_file) == held
    page.get_by_role("tab", name="Live run").click()
    page.locator("#resume").click()
    status.get_by_text("success").wait_for(timeout=WAIT_MS)
    assert _lines(steps_file) == 5
    page.get_by_role("tab", name="Dashboard").click()
    _wait_text(page, "#dash-runs", "1 / 1")
    _wait_text(page, "#dash-episodes", "success")
    _shot(page, tmp_path, "7-dashboard-done")

    page.locator("#dash-open").click()
    page.locator("#browse-result").get_by_text("login-user").wait_for(timeout=WAIT_MS)
    page.locator("#browse-details").get_by_text("Step 0").wait_for(timeout=WAIT_MS)
    page.keyboard.press("ArrowRight")  # the keyboard shortcut for Next
    page.locator("#browse-details").get_by_text("Step 1").wait_for(timeout=WAIT_MS)
    page.locator("#browse-next").click()
    page.locator("#browse-details").get_by_text("Step 2").wait_for(timeout=WAIT_MS)
    _shot(page, tmp_path, "8-browser-step-2")


def test_approve_each_action_by_hand(app_url, page, tmp_path):
    url, _ = app_url
    _start(page, url, "miniwob-cpu/click-button", **{"approve-each": True})
    status = page.locator("#live-status")
    status.get_by_text("waiting for your decision").wait_for(timeout=WAIT_MS)
    details = page.locator("#live-details")
    assert "Proposed" in details.inner_text() and "click" in details.inner_text()
    _shot(page, tmp_path, "9-proposal")
    page.locator("#reject").click()
    details.get_by_text("attempt 1").wait_for(timeout=WAIT_MS)  # the planner proposed again
    # a click on the screenshot moves the point: x / y follow, the overlay shows it
    hx = page.locator("#hx input")
    before = hx.input_value()
    shot = page.locator("#live-shot img")
    shot.click()  # the centre: always on the picture (the element may be wider than the image)
    _poll(lambda: hx.input_value() != before, "the clicked point in x")
    _shot(page, tmp_path, "10-moved-point")
    page.locator("#approve").click()  # the agent's own proposal runs, not the moved point
    status.get_by_text("success").wait_for(timeout=WAIT_MS)
    steps = page.locator("#live-steps").inner_text()
    assert "APPROVED after veto" in steps
    _shot(page, tmp_path, "11-approved-by-hand")


# ---- a policy that asks for the user ------------------------------------------------------------


def _start_asking(page, url: str, approve_each: bool = False) -> None:
    page.goto(url)
    page.locator("#start").wait_for(timeout=WAIT_MS)
    for elem_id, value in (("task", "miniwob-cpu/click-button"), ("policy", "ui_policies.AskUserPolicy")):
        box = page.locator(f"#{elem_id} input")
        box.fill(value)
        box.press("Enter")
    page.locator("#approve-each input").set_checked(approve_each)
    page.locator("#start").click()
    page.locator("#live-status").get_by_text("the policy asks for you").wait_for(timeout=WAIT_MS)


def _shows_model_text_as_text(page, selector: str, thought: bool = True) -> None:
    """The injection attempts of ui_policies (the question; with ``thought``, the thought too)
    are on the page as characters, not as markup."""
    box = page.locator(selector)
    assert box.locator("img").count() == 0 and box.locator("script").count() == 0
    assert box.locator("a[href*='evil.example']").count() == 0 and box.locator("h1, h2").count() == 0
    text = box.inner_text()
    assert "<img src=x onerror=alert(1)>" in text and "[click me](http://evil.example/)" in text
    if thought:
        assert "![pixel](http://evil.example/p.png)" in text and "<script>alert('x')</script>" in text


def test_policy_asks_for_the_user_and_the_answer_reaches_it(app_url, page, tmp_path):
    url, _runs = app_url
    _start_asking(page, url)  # normal mode: only the question waits
    details = page.locator("#live-details")
    for part in ("Question", "Which name should I type?", "Raw model output", "Rejected reply 1",
                 "unknown action 'clik' <i>here</i>", "Usage", "1200 prompt + 40 completion tokens",
                 "call_user(", "proposed now"):
        assert part in details.inner_text(), part
    _shows_model_text_as_text(page, "#live-details")
    _shows_model_text_as_text(page, "#live-status", thought=False)  # the question is in the status line too
    assert "Action: call_user()" in details.locator("pre").first.inner_text()  # the raw output: a code block
    page.locator("#live-sent img").first.wait_for(timeout=WAIT_MS)  # the screenshot sent, as a thumbnail
    _shot(page, tmp_path, "12-policy-asks-for-you")

    answer = "Kasey <b>the admin</b> [x](http://evil.example/)"
    page.locator("#user-answer textarea, #user-answer input").first.fill(answer)
    page.locator("#answer").click()
    status = page.locator("#live-status")
    status.get_by_text("ended:").wait_for(timeout=WAIT_MS)
    assert "done" in status.inner_text() and answer in status.inner_text()
    assert status.locator("b, a").count() == 0  # the answer's <b> and link stay text
    assert "user_resp: " + answer in details.inner_text()  # the feedback the policy was given
    assert "executed in this step" in details.inner_text()
    _shot(page, tmp_path, "13-answered")
    result = json.loads(next(_run_dir(page).glob("episodes/*/result.json")).read_text())
    assert result["termination"] == "done" and result["answer"] == answer

    page.locator("#to-browser").click()  # the same turn, in the trajectory browser
    page.locator("#browse-result").get_by_text("ended:").wait_for(timeout=WAIT_MS)
    page.locator("#browse-details").get_by_text("Raw model output").first.wait_for(timeout=WAIT_MS)
    _shows_model_text_as_text(page, "#browse-details")
    page.locator("#browse-sent img").first.wait_for(timeout=WAIT_MS)
    _shot(page, tmp_path, "14-browser-turn")


def test_policy_asks_then_approve_ends_needs_user_and_the_dashboard_counts_it(app_url, page, tmp_path):
    url, _runs = app_url
    _start_asking(page, url, approve_each=True)  # approve-each mode: the same panel
    page.locator("#approve").click()
    status = page.locator("#live-status")
    status.get_by_text("not graded (needs the user)").wait_for(timeout=WAIT_MS)
    assert "needs_user" in status.inner_text() and "question:" in status.inner_text()
    _shows_model_text_as_text(page, "#live-details")
    _shot(page, tmp_path, "15-needs-user")
    page.get_by_role("tab", name="Dashboard").click()
    _wait_text(page, "#dash-episodes", "needs_user")
    _wait_text(page, "#dash-summary", "1 needs user")
    _shot(page, tmp_path, "16-dashboard-needs-user")
