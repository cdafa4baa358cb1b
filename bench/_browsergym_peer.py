"""BrowserGym side of ``bench/env_step.py``, run by ``.venv-bench/bin/python`` (browsergym-core
pins playwright 1.44, our project needs 1.65, so it lives in its own virtualenv).

Usage: ``_browsergym_peer.py CONFIG_JSON``. Serves the miniwob html folder on loopback, opens
one MiniWoB page in BrowserGym's ``BrowserEnv`` (system Chromium) and answers commands, one
JSON line each way (stdin -> stdout), so the parent can interleave its steps with ours.

The module level is stdlib only: ``env_step.py`` imports the /proc memory helpers from here.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROLE_ARG = "--bench-role="  # tags each browser BrowserGym launches, to split its memory

# ---- memory of a process tree, read from /proc (shared with env_step.py) -------------------


def _proc_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (ppid, argv) of every process we can read."""
    table: dict[int, tuple[int, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])  # comm may hold spaces: skip past ")"
        table[int(entry.name)] = (ppid, [a for a in argv if a])
    return table


_FIELDS = {"Rss:": "rss", "Pss:": "pss", "Private_Clean:": "uss", "Private_Dirty:": "uss"}


def _mem_kb(pid: int) -> dict[str, int] | None:
    """RSS, PSS and USS (private pages) in KiB from smaps_rollup; None if unreadable."""
    out = {"rss": 0, "pss": 0, "uss": 0}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, *rest = line.split()
        if key in _FIELDS:
            out[_FIELDS[key]] += int(rest[0])
    return out


def tree_memory(root: int, exclude: frozenset[int] = frozenset()) -> dict[str, Any]:
    """RSS, PSS and USS (MiB) of ``root`` (a Python process), its Playwright driver and each
    browser it launched, every browser with all its processes (renderers, GPU, utility,
    zygotes). Subtrees rooted at an ``exclude`` pid are left out, and so is Chromium's crash
    handler (re-parented to init, ~1 MB). PSS counts a page shared by n processes as 1/n;
    summed over a tree it is the tree's fair share of memory."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)

    def group(name: str) -> dict[str, Any]:
        return {"name": name, "procs": 0, "unreadable": 0, "rss_mb": 0.0, "pss_mb": 0.0,
                "uss_mb": 0.0}

    def add(g: dict[str, Any], pid: int) -> None:
        g["procs"] += 1
        mem = _mem_kb(pid)
        if mem is None:
            g["unreadable"] += 1
            return
        for k, kb in mem.items():
            g[f"{k}_mb"] += kb / 1024

    python, driver = group("python"), group("driver")
    browsers: list[dict[str, Any]] = []
    add(python, root)
    stack: list[tuple[int, dict[str, Any] | None]] = [
        (c, None) for c in children.get(root, []) if c not in exclude
    ]
    while stack:  # depth-first; a browser main process opens a group for its descendants
        pid, owner = stack.pop()
        argv = table[pid][1]
        if len(argv) == 1:  # Chromium retitles its children: one space-separated string
            argv = argv[0].split(" ")
        exe = os.path.basename(argv[0]) if argv else ""
        if owner is None and "chrom" in exe and not any(a.startswith("--type=") for a in argv):
            role = next((a[len(ROLE_ARG):] for a in argv if a.startswith(ROLE_ARG)), "browser")
            owner = group(role)
            browsers.append(owner)
        add(owner if owner is not None else driver, pid)
        stack.extend((c, owner) for c in children.get(pid, []))
    out: dict[str, Any] = {"python": python, "driver": driver, "browsers": browsers}
    for k in ("rss_mb", "pss_mb", "uss_mb"):
        for g in (python, driver, *browsers):
            g[k] = round(g[k], 1)
        out[f"browser_{k}"] = round(sum(b[k] for b in browsers), 1)
        out[f"total_{k}"] = round(python[k] + driver[k] + out[f"browser_{k}"], 1)
    return out


# ---- the BrowserGym run ---------------------------------------------------------------------

# Same start as envs/miniwob.py: seed, data mode, no time limit, START cover made inert.
_START_JS = """([seed, maxMs]) => {
  Math.seedrandom(seed);
  core.setDataMode('train');
  core.EPISODE_MAX_TIME = maxMs;
  core.startEpisodeReal();
  if (core.cover_div) core.cover_div.onclick = null;
}"""
_STATE_JS = """() => [WOB_REWARD_GLOBAL, WOB_RAW_REWARD_GLOBAL, WOB_REWARD_REASON,
  WOB_DONE_GLOBAL, WOB_EPISODE_ID, WOB_TASK_READY]"""


def serve(cfg: dict[str, Any]) -> None:
    """Answer one JSON line on stdout per JSON command line on stdin: ``reset``,
    ``step`` (with ``delay``, BrowserGym's pre_observation_delay), ``memory``, ``close``.
    Times are taken here, around the env call alone, so the pipe costs nothing."""
    from importlib.metadata import version

    from browsergym.core import _get_global_playwright
    from browsergym.core.action.highlevel import HighLevelActionSet
    from browsergym.core.env import BrowserEnv
    from browsergym.core.task import AbstractBrowserTask

    class _Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=cfg["html_dir"])
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/miniwob/{cfg['task']}.html"
    width, height = cfg["viewport"]

    class MiniwobPage(AbstractBrowserTask):
        """One MiniWoB page, started as our MiniWoBEnv starts it; validated as BrowserGym's
        miniwob tasks do (one evaluate of the WOB_* globals)."""

        @classmethod
        def get_task_id(cls) -> str:
            return f"bench.{cfg['task']}"

        def __init__(self, seed: int) -> None:
            super().__init__(seed)
            self.viewport = {"width": width, "height": height}
            self.slow_mo = 0  # timeout stays the AbstractBrowserTask default (5000 ms)

        def setup(self, page: Any) -> tuple[str, dict[str, Any]]:
            page._bgym_scale_factor = cfg["scale"]  # screenshots the same size as ours
            page.goto(url)
            page.evaluate(_START_JS, [cfg["seed"], 10**9])
            page.wait_for_function("() => WOB_TASK_READY === true")
            answer = page.evaluate("() => core.getUtterance()")
            return (answer["utterance"] if isinstance(answer, dict) else str(answer)), {}

        def validate(
            self, page: Any, chat_messages: list[Any]
        ) -> tuple[float, bool, str, dict[str, Any]]:
            reward, raw, reason, done, episode, ready = page.evaluate(_STATE_JS)
            return float(raw > 0), bool(done), "", {"reason": reason, "episode": episode}

    # Every launch (the task's browser and the chat's own browser) gets the system Chromium
    # and our quiet flags; Playwright 1.44 has no browser of its own here and must not fetch one.
    pw = _get_global_playwright()
    launch = pw.chromium.launch

    def system_launch(**kw: Any) -> Any:
        role = "task" if "executable_path" in kw else "chat"
        kw.setdefault("executable_path", cfg["chromium"])
        kw["args"] = [*(kw.get("args") or []), *cfg["flags"], ROLE_ARG + role]
        return launch(**kw)

    pw.chromium.launch = system_launch  # type: ignore[method-assign]

    env = BrowserEnv(
        task_entrypoint=MiniwobPage, headless=True,
        pw_chromium_kwargs={"executable_path": cfg["chromium"]},
        action_mapping=HighLevelActionSet(subsets=["coord"]).to_python_code,
    )
    action = "mouse_click({}, {})".format(*cfg["click"])

    def answer(msg: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()

    answer({"ready": True, "browsergym_core": version("browsergym-core"),
            "playwright": version("playwright"), "url": url, "action": action})
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["cmd"] == "reset":
                t0 = time.perf_counter()
                obs, _ = env.reset(seed=cfg["seed"])
                answer({"s": time.perf_counter() - t0, "goal": obs["goal"],
                        "screenshot_shape": list(obs["screenshot"].shape)})
            elif cmd["cmd"] == "step":
                env.pre_observation_delay = cmd["delay"]
                t0 = time.perf_counter()
                obs, _, terminated, _, info = env.step(action)
                dt = time.perf_counter() - t0
                answer({
                    "s": dt, "ended": bool(terminated), "error": obs["last_action_error"],
                    "axtree_nodes": len(obs["axtree_object"]["nodes"]),
                    "parts": {
                        "action": info["action_exec_stop"] - info["action_exec_start"],
                        "wait": info["wait_for_page_loading_stop"]
                        - info["wait_for_page_loading_start"],
                        "validate": info["validation_stop"] - info["validation_start"],
                        "observe": info["get_observation_stop"] - info["get_observation_start"],
                    },
                })
            elif cmd["cmd"] == "memory":
                answer(tree_memory(os.getpid()))
            else:
                break
    finally:
        env.close()
        server.shutdown()
    answer({"closed": True})


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
