"""Hostile OSWorld task files (issue #8): Chrome flags and URLs, task ids that climb out of the
cache root, the environment and HOME of our own programs, sleep caps. No display needed: the
checks run on the task JSON and on the argv / environment our programs would get."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from cua.osworld_suite import osworld_suite
from envs.osworld import chrome, jail
from envs.osworld.chrome_flags import chrome_args_reason, url_reason
from envs.osworld.env import task_cache_dirs
from envs.osworld.getters import LOCAL_GETTERS, GetterContext
from envs.osworld.machine import LocalMachine
from envs.osworld.setup import SetupRunner
from envs.osworld.support import local_reason
from envs.osworld.task import SetupStep, TaskFileError, UnsupportedTaskError, parse_task


@pytest.fixture(autouse=True)
def no_trust_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(jail.TRUST_ENV_VAR, raising=False)


def no_display(*args: object) -> str:
    raise AssertionError("no display in this test")


def task(config: list[dict[str, Any]], task_id: str = "t-1", evaluator: dict[str, Any] | None = None) -> Any:
    return parse_task({"id": task_id, "instruction": "x", "config": config,
                       "evaluator": evaluator or {"func": "infeasible"}})


def launch(*args: str) -> dict[str, Any]:
    return {"type": "launch", "parameters": {"command": ["google-chrome", *args]}}


# --- 1. Chrome flags: an allow-list, single-dash spellings included -----------------------------
@pytest.mark.parametrize("arg", [
    "-renderer-cmd-prefix=/bin/sh -c 'id > /tmp/pwn' sh", "--renderer-cmd-prefix=sh -c id",
    "-user-data-dir=/root/.config/google-chrome", "-remote-debugging-address=0.0.0.0",
    "-proxy-server=http://evil:1", "--debug", "-g", "--load-extension=/tmp/x", "--",
    "-utility-cmd-prefix=sh", "--window-size=1;id", "/etc/passwd", "file:///root/.aws/credentials",
    "chrome://settings", "javascript:alert(1)", "data:text/html,hi", "http://169.254.169.254/latest",
    "http://[fd00:ec2::254]/", "http://metadata.google.internal/",
])
def test_unsafe_chrome_arguments_make_the_task_unsupported(arg: str) -> None:
    reason = local_reason(task([launch("--remote-debugging-port=1337", arg)]))
    assert reason is not None


def test_safe_chrome_arguments_pass_and_are_normalised(tmp_path: Path) -> None:
    args = ["--remote-debugging-port=1337", "-start-maximized", "--window-size=1280,800",
            "--incognito", "--lang=de", "https://example.org/a?b=c", "about:blank"]
    assert chrome_args_reason(args) is None
    assert local_reason(task([launch(*args)])) is None
    machine = LocalMachine(tmp_path / "sandbox", display=None)
    argv = chrome.chromium_argv(["google-chrome", *args], machine, [])
    assert "--start-maximized" in argv and "-start-maximized" not in argv
    assert "--remote-debugging-port=1337" not in argv and "--remote-debugging-port=0" in argv
    with pytest.raises(UnsupportedTaskError, match="allow-list"):
        chrome.chromium_argv(["google-chrome", "-renderer-cmd-prefix=sh -c id"], machine, [])


def test_the_real_chromium_binary_is_started_not_debians_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(chrome.CHROMIUM_ENV_VAR, raising=False)
    exe = chrome.chromium_executable()
    if Path("/usr/lib/chromium/chromium").is_file():
        assert exe == "/usr/lib/chromium/chromium"
    assert exe is None or Path(exe).read_bytes()[:2] != b"#!"  # not a script
    monkeypatch.setenv(chrome.CHROMIUM_ENV_VAR, "/bin/true")
    assert chrome.chromium_executable() == "/bin/true"  # the override still wins


# --- 2. task ids and meta files never name a folder outside the root ----------------------------
@pytest.mark.parametrize("bad", ["abcdefgh/../../../../../../../..", "..", ".", "a/b", "x y", "é"])
def test_unsafe_task_ids_are_refused_at_parse(bad: str) -> None:
    with pytest.raises(TaskFileError, match="id"):
        task([], task_id=bad)
    with pytest.raises(UnsupportedTaskError):
        task_cache_dirs(bad, "/tmp/cache-root")


def test_file_urls_compare_against_the_configured_root(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    (root / "t-1").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    step = {"type": "download", "parameters": {"files": [{"url": secret.as_uri(), "path": "~/s.txt"}]}}
    # Even with a task cache folder whose parent is "/" (what a hostile id used to give).
    assert "not cached" in str(local_reason(task([step]), None, [Path("/x")], False, root))
    machine = LocalMachine(tmp_path / "sandbox", display=None)
    ctx = GetterContext(machine, Path("/tmp/x"), None, no_display, (1, 1), root)
    with pytest.raises(Exception, match="outside the OSWorld cache root"):
        LOCAL_GETTERS["cloud_file"](ctx, {"path": secret.as_uri(), "dest": "s.txt"})


def test_meta_file_domains_and_ids_are_checked(tmp_path: Path) -> None:
    base = tmp_path / "evaluation_examples"
    (base / "examples" / "os").mkdir(parents=True)
    ok = {"id": "good", "instruction": "x", "evaluator": {"func": "infeasible"}}
    (base / "examples" / "os" / "good.json").write_text(json.dumps(ok))
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({**ok, "id": "outside"}))
    (base / "test_all.json").write_text(json.dumps(
        {"os": ["good", "../../../outside"], "../..": ["x"]}))
    suite = osworld_suite(str(base))
    skipped = dict(suite.skipped())
    assert suite.task_names() == ["good"]
    assert "may hold only" in skipped["../../../outside"] and "may hold only" in skipped["x"]


# --- 3/4. what our own programs get --------------------------------------------------------------
def test_our_programs_get_a_scrubbed_env_and_no_network_without_trust(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    machine = LocalMachine(tmp_path / "sandbox", display=":99")
    env = machine.env()
    assert "OPENAI_API_KEY" not in env and env["HOME"] == str(machine.home) and env["DISPLAY"] == ":99"
    argv = chrome.chromium_argv(["google-chrome"], machine, [])
    assert chrome.DEAD_PROXY in argv and chrome.NO_LOOPBACK_BYPASS in argv
    mirror = chrome.chromium_argv(["google-chrome"], machine, ["--proxy-server=http://127.0.0.1:8000"])
    assert chrome.DEAD_PROXY not in mirror and chrome.NO_LOOPBACK_BYPASS in mirror
    trusted = LocalMachine(tmp_path / "t", display=None, trust_commands=True)
    assert chrome.DEAD_PROXY not in chrome.chromium_argv(["google-chrome"], trusted, [])


def test_after_task_commands_our_programs_use_a_home_out_of_the_jails_reach(tmp_path: Path) -> None:
    machine = LocalMachine(tmp_path / "sandbox", display=None, trust_commands=True)
    machine.isolated = False  # the HOME switch does not depend on the jail
    assert machine.run(["true"]) is not None and machine.commands_ran
    home = Path(machine.env()["HOME"])
    assert home != machine.home and not home.is_relative_to(machine.root) and home.is_dir()
    assert "--disable-extensions" in chrome.chromium_argv(["google-chrome"], machine, [])
    machine.stop()
    assert not home.exists()


@pytest.mark.parametrize("step", [
    {"type": "chrome_open_tabs", "parameters": {"urls_to_open": ["file:///etc/passwd"]}},
    {"type": "chrome_open_tabs", "parameters": {"urls_to_open": ["http://169.254.169.254/"]}},
    {"type": "open", "parameters": {"path": "/home/user/run.desktop"}},
    {"type": "open", "parameters": {"path": "/home/user/x.sh"}},
    {"type": "open", "parameters": {"path": "~/.config/x.html"}},
    {"type": "download", "parameters": {"files": [{"url": "https://x/y", "path": "~/.gdbinit"}]}},
    {"type": "sleep", "parameters": {"seconds": 3600}},
])
def test_untrusted_steps_that_reach_outside_are_unsupported(step: dict[str, Any]) -> None:
    assert local_reason(task([step])) is not None


def test_page_info_urls_are_checked() -> None:
    evaluator = {"func": "is_expected_active_tab", "result": {"type": "page_info", "url": "file:///etc/passwd"},
                 "expected": {"type": "rule", "rules": {}}}
    assert "page_info" in str(local_reason(task([], evaluator=evaluator)))
    assert url_reason("https://example.org/") is None


def test_runtime_refuses_long_sleeps_and_executable_opens(tmp_path: Path) -> None:
    machine = LocalMachine(tmp_path / "sandbox", display=None)
    runner = SetupRunner(machine, no_display, lambda a: None, [])
    with pytest.raises(UnsupportedTaskError, match="more than 60"):
        runner.run([SetupStep(type="sleep", parameters={"seconds": 3600})])
    script = machine.home / "page.html"
    script.write_text("<html></html>")
    os.chmod(script, 0o755)
    with pytest.raises(UnsupportedTaskError, match="non-executable"):
        runner.run([SetupStep(type="open", parameters={"path": "~/page.html"})])


# --- 5. a command's background children do not outlive it ---------------------------------------
def test_background_children_die_with_the_command_and_do_not_hold_the_runner(tmp_path: Path) -> None:
    machine = LocalMachine(tmp_path / "sandbox", display=None, trust_commands=True)  # jailed where it works
    started = time.monotonic()
    done = machine.run("sleep 1733 & echo started", shell=True, timeout_s=30)
    assert done is not None and done.output.strip() == "started"
    assert time.monotonic() - started < 15  # not the 30 s timeout
    deadline = time.monotonic() + 5  # SIGKILL is delivered, then the process is reaped
    while _left_over(b"sleep\x001733\x00") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _left_over(b"sleep\x001733\x00") == []


def _left_over(cmdline: bytes) -> list[Path]:
    return [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p) == cmdline]


def _cmdline(proc_dir: Path) -> bytes:
    try:
        return (proc_dir / "cmdline").read_bytes()
    except OSError:
        return b""


# --- 3. the live Chromium: no network but the mirror, no secrets in its environment ------------------
def test_untrusted_chromium_reaches_no_loopback_service_and_gets_no_secrets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from envs.base import Task
    from envs.osworld.env import OSWorldLocalConfig, OSWorldLocalEnv

    if any(shutil.which(b) is None for b in ("Xvfb", "xdotool")) or chrome.chromium_executable() is None:
        pytest.skip("needs Xvfb, xdotool and Chromium")

    class Secret(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<title>host service</title>host secret")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Secret)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    env = OSWorldLocalEnv(OSWorldLocalConfig(width=800, height=600, trust_commands=False))
    try:
        env.reset(Task(id="osworld/net", config={"osworld": {
            "id": "net", "instruction": "x", "evaluator": {"func": "infeasible"},
            "config": [launch("--remote-debugging-port=1337"),
                       {"type": "chrome_open_tabs", "parameters": {"urls_to_open": [url]}}]}}))
        assert env.machine is not None and env.machine.chromium is not None
        environ = Path(f"/proc/{env.machine.chromium.pid}/environ").read_bytes()
        assert b"sk-secret" not in environ and b"HOME=" in environ
        tab = chrome.active_tab(env.machine, settle_ms=5000)
        assert tab is not None and "host secret" not in tab["content"]
    finally:
        env.close()
        server.shutdown()
        server.server_close()
