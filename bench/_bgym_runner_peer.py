"""BrowserGym side of ``bench/throughput.py``, run by ``.venv-bench/bin/python``.

Usage: ``_bgym_runner_peer.py CONFIG_JSON`` with ``tasks``, ``seeds``, ``workers``,
``html_dir``, ``chromium``, ``flags``. For each worker count it runs every (task, seed) as
AgentLab runs a study with ``parallel_backend="joblib"``: one ``browsergym.experiments``
``ExpArgs`` per episode (``ExpArgs.run()``: a fresh env and browser per episode, step pickles and
screenshots to its folder), fanned out with ``joblib.Parallel(n_jobs=N, backend="loky")``.
AgentLab itself is not installed (its dependency resolution did not finish here: it pulls
torch, ray[default], litellm), so this is its joblib runner loop, not its code.

Offline, the loop's tiktoken token counts of each observation are replaced by a regex word
count (tiktoken downloads its BPE file on first use), which makes the peer slightly cheaper.
The agent is scripted, as ours is: it reads the goal's quoted text, finds the button or link of
that name in BrowserGym's AXTree (the first button when nothing is quoted) and clicks it by bid.
Prints one JSON line: per worker count, episodes, wall seconds, episodes/min and successes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from browsergym.core.action.highlevel import HighLevelActionSet
from browsergym.experiments.agent import Agent
from browsergym.experiments.loop import AbstractAgentArgs
from browsergym.utils.obs import flatten_axtree_to_str

_NODE = re.compile(r"\[(?P<bid>[^\]]+)\] (?P<role>\w+) '(?P<name>[^']*)'")
_QUOTED = re.compile(r'"([^"]+)"')


def _use_system_chromium(chromium: str, flags: list[str]) -> None:
    """Every launch in this process gets the system Chromium (Playwright 1.44 has none here)."""
    from browsergym.core import _get_global_playwright

    pw = _get_global_playwright()
    if getattr(pw.chromium, "_cua_patched", False):
        return
    launch = pw.chromium.launch

    def system_launch(**kw: Any) -> Any:
        kw["executable_path"] = chromium
        kw["args"] = [*(kw.get("args") or []), *flags]
        return launch(**kw)

    pw.chromium.launch = system_launch  # type: ignore[method-assign]
    pw.chromium._cua_patched = True  # type: ignore[attr-defined]


class ClickNamedAgent(Agent):
    def __init__(self) -> None:
        self.action_set = HighLevelActionSet(subsets=["bid"])
        self.acted = False

    def obs_preprocessor(self, obs: dict[str, Any]) -> dict[str, Any]:
        return {"goal": obs["goal"], "axtree": flatten_axtree_to_str(obs["axtree_object"])}

    def get_action(self, obs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        if self.acted:
            return None, {}  # one click, as our instruction-list plan for these tasks
        self.acted = True
        quoted = _QUOTED.findall(obs["goal"])
        nodes = [m.groupdict() for m in _NODE.finditer(obs["axtree"])]
        pick = [n for n in nodes if n["role"] in ("button", "link")
                and (not quoted or n["name"].strip() == quoted[0])]
        if not pick:
            return None, {"error": "no target"}
        return f'click("{pick[0]["bid"]}")', {}


@dataclasses.dataclass
class ClickNamedArgs(AbstractAgentArgs):
    chromium: str = ""
    flags: tuple[str, ...] = ()

    def make_agent(self) -> Agent:
        _use_system_chromium(self.chromium, list(self.flags))  # make_agent runs before make_env
        return ClickNamedAgent()


def _offline_token_count(text: Any, model: str = "gpt-4") -> int:
    return len(re.findall(r"\w+|[^\w\s]", str(text)))


def _run_one(exp_args: Any) -> dict[str, Any]:
    # The loop counts the tokens of every observation with tiktoken, whose BPE file is
    # downloaded on first use (no network here): a regex word count stands in for it.
    import browsergym.experiments.loop as loop

    loop.count_tokens = _offline_token_count
    exp_args.run()
    from browsergym.experiments.loop import get_exp_result

    summary = get_exp_result(exp_args.exp_dir).summary_info
    return {"reward": summary.get("cum_reward", 0.0), "err": summary.get("err_msg"),
            "trace": (summary.get("stack_trace") or "")[-600:]}


def main(cfg: dict[str, Any]) -> None:
    from importlib.metadata import version

    import browsergym.miniwob  # noqa: F401 — registers the browsergym/miniwob.* envs
    from browsergym.experiments.loop import EnvArgs, ExpArgs
    from joblib import Parallel, delayed

    os.environ["MINIWOB_URL"] = Path(cfg["html_dir"]).joinpath("miniwob").as_uri() + "/"
    runs = []
    for workers in cfg["workers"]:
        with tempfile.TemporaryDirectory(prefix="bgym-study-") as root:
            exps = []
            for task in cfg["tasks"]:
                for seed in cfg["seeds"]:
                    exp = ExpArgs(agent_args=ClickNamedArgs(chromium=cfg["chromium"], flags=tuple(cfg["flags"])),
                                  env_args=EnvArgs(task_name=f"miniwob.{task}", task_seed=seed, max_steps=5,
                                                   headless=True),
                                  logging_level_stdout=40)
                    exp.prepare(Path(root))
                    exps.append(exp)
            t = time.perf_counter()
            out = Parallel(n_jobs=workers, backend="loky")(delayed(_run_one)(e) for e in exps)
            wall = time.perf_counter() - t
        runs.append({"workers": workers, "episodes": len(out), "wall_s": round(wall, 2),
                     "episodes_per_min": round(60 * len(out) / wall, 2),
                     "successes": sum(o["reward"] > 0 for o in out),
                     "errors": sum(bool(o["err"]) for o in out),
                     "first_error": next((f"{o['err']} {o['trace']}" for o in out if o["err"]), None)})
    print(json.dumps({"runner": "browsergym.experiments ExpArgs.run + joblib (AgentLab's joblib backend)",
                      "browsergym": version("browsergym-experiments"), "playwright": version("playwright"),
                      "runs": runs}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
