"""``--suite webarena:PATH``: WebArena / WebArena-Verified tasks on the user's hosted sites.

PATH is upstream's ``config_files/test.raw.json``, a folder of ``config_files/<id>.json``, or a
WebArena-Verified dataset JSON. Site URLs, login files and the fuzzy-match judge come from the
config named by ``$CUA_WEBARENA_SITES`` (``envs.webarena.sites``) and WebArena's own env vars
(``SHOPPING``, ``GITLAB``, ...). Tasks that cannot run or be scored exactly here are listed by
``Suite.skipped()`` with the reason, never scored 0. ``rescore_run`` re-scores a finished run
folder offline (``cua eval --rescore RUN_DIR``). WebArena-Verified tasks are told the JSON
answer format their evaluator reads (``verified.RESPONSE_FORMAT``, appended to the intent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cua.core import CuaError, Task, TaskNotFoundError
from cua.suites import Suite
from envs.base import Env
from envs.webarena.evaluators import JUDGE_SYSTEM_MESSAGE, Judge, JudgeError
from envs.webarena.rescore import read_stored_episode, rescore_episode
from envs.webarena.sites import JudgeConfig, SiteConfig, load_site_config
from envs.webarena.verified import RESPONSE_FORMAT
from envs.webarena.task import (
    RawTask,
    VerifiedTask,
    WebArenaTask,
    load_raw_tasks,
    site_key,
    unsupported_reason,
)

SUITE_PREFIX = "webarena:"
MAX_STEPS = 30  # upstream run.py's --max_steps default


def make_judge(config: JudgeConfig) -> Judge:
    """WebArena's judge call (helper_functions.llm_fuzzy_match): system "You are a helpful
    assistant", the prompt as the user message, temperature 0, at most 768 tokens."""
    from grounding.backends.openai_compat import HttpChatModel, ModelServerError

    model = HttpChatModel(config.base_url, config.model, config.api_key_env, timeout_s=config.timeout_s)

    def judge(prompt: str) -> str:
        messages = [{"role": "system", "content": JUDGE_SYSTEM_MESSAGE}, {"role": "user", "content": prompt}]
        try:
            return model.chat(messages, max_new_tokens=768, temperature=0.0)
        except ModelServerError as e:
            raise JudgeError(f"LLM judge {config.model}: {e}") from e

    return judge


@dataclass
class Planned:
    raw: RawTask
    spec: WebArenaTask | VerifiedTask | None = None
    storage_state: Path | None = None
    reason: str | None = None  # why it is skipped


def _domain(sites: list[str]) -> str:
    unique = sorted(set(sites))
    return unique[0] if len(unique) == 1 else ("multi-site" if unique else "unknown")


def plan_tasks(raw_tasks: list[RawTask], sites: SiteConfig, has_judge: bool) -> dict[str, Planned]:
    urls = sites.urls()
    out: dict[str, Planned] = {}
    for raw in raw_tasks:
        item = Planned(raw)
        out[raw.name] = item
        missing = [p for p in raw.placeholders if p not in urls]
        if missing:
            names = ", ".join(f"{p} ({site_key(p).upper()} or sites.{site_key(p)})" for p in missing)
            item.reason = f"site not configured: {names}"
            continue
        spec = raw.resolve(urls)
        item.reason = unsupported_reason(spec, has_judge)
        if item.reason:
            continue
        item.spec = spec
        if isinstance(spec, VerifiedTask):
            # Verified tasks name no login file: use the one upstream's auto_login would write
            # for the task's sites (gitlab_state.json, shopping.shopping_admin_state.json) if present.
            state = sites.storage_state_for(f"{'.'.join(spec.sites)}_state.json")
            item.storage_state = state if state is not None and state.is_file() else None
            continue
        if spec.storage_state:  # the task runs logged in (upstream: storage_state non-null)
            state = sites.storage_state_for(spec.storage_state)
            if state is None or not state.is_file():
                combo = Path(spec.storage_state).name.rsplit("_", 1)[0]
                item.reason = (f"login state {Path(spec.storage_state).name} not found "
                               f"(set storage_states.{combo} or auth_dir in the site config)"
                               + (f"; looked at {state}" if state else ""))
                item.spec = None
                continue
            item.storage_state = state
    return out


def webarena_suite(path: str, sites: SiteConfig | None = None) -> Suite:
    if not path:
        raise CuaError("webarena:PATH needs a path: test.raw.json, a config_files folder or a WebArena-Verified JSON")
    source = Path(path).expanduser().resolve()
    raw_tasks = load_raw_tasks(source)
    sites = sites or load_site_config()
    judge = make_judge(sites.judge) if sites.judge else None
    planned = plan_tasks(raw_tasks, sites, judge is not None)

    def names() -> list[str]:
        return [n for n, p in planned.items() if p.spec is not None]

    def skipped() -> list[tuple[str, str]]:
        return [(n, p.reason or "") for n, p in planned.items() if p.spec is None]

    def make_env() -> Env:
        from envs.browser import BrowserConfig
        from envs.webarena.env import WebArenaEnv

        return WebArenaEnv(BrowserConfig(), sites, judge)

    def make_task(name: str, seed: int | None) -> Task:
        item = planned.get(name)
        if item is None:
            raise TaskNotFoundError(f"no task {name!r} in {source}")
        if item.spec is None:
            raise CuaError(f"webarena task {name} cannot run here: {item.reason}")
        spec = item.spec
        config: dict[str, Any] = {"webarena": spec, "storage_state": str(item.storage_state) if item.storage_state else None}
        instruction = f"{spec.intent}\n\n{RESPONSE_FORMAT}" if isinstance(spec, VerifiedTask) else spec.intent
        return Task(id=f"webarena/{name}", instruction=instruction, seed=seed,
                    start_url=spec.start_urls[0], max_steps=MAX_STEPS, config=config)

    def domain(name: str) -> str:
        item = planned.get(name)
        return _domain(item.raw.sites) if item else "unknown"

    return Suite(f"{SUITE_PREFIX}{source}", f"WebArena tasks from {source}", names, make_env,
                 make_task, skipped=skipped, domain=domain)


def _episode_folders(run_dir: Path) -> list[Path]:
    root = run_dir / "episodes" if (run_dir / "episodes").is_dir() else run_dir
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and ((p / "result.json").exists() or (p / "steps.jsonl").exists()))


def _task_name(folder: Path) -> str | None:
    """The WebArena task id an episode folder belongs to (result.json's task_id)."""
    result = folder / "result.json"
    if result.exists():
        task_id = str(json.loads(result.read_text(encoding="utf-8")).get("task_id", ""))
        return task_id.split("/", 1)[-1] or None
    return None


def _suite_path(run_dir: Path) -> str:
    for manifest in ("run.json", "manifest.json"):
        f = run_dir / manifest
        if f.exists():
            suite = str(json.loads(f.read_text(encoding="utf-8")).get("suite", ""))
            if suite.startswith(SUITE_PREFIX):
                return suite[len(SUITE_PREFIX):]
    raise CuaError(f"{run_dir} does not name a webarena:PATH suite in run.json: pass the task file")


def rescore_run(run_dir: Path, tasks_path: str | None = None, sites: SiteConfig | None = None) -> dict[str, Any]:
    """Re-score every finished episode of a run folder offline. Returns ``{"episodes": [...],
    "rescored", "not_rescoreable", "agree", "changed", "mean_score"}``; episodes whose evaluator
    needs the live site (program_html) are listed with the reason instead of a score."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CuaError(f"no run folder at {run_dir}")
    path = tasks_path or _suite_path(run_dir)
    sites = sites or load_site_config()
    judge = make_judge(sites.judge) if sites.judge else None
    raw = {t.name: t for t in load_raw_tasks(path)}
    urls = sites.urls()
    episodes: list[dict[str, Any]] = []
    for folder in _episode_folders(run_dir):
        name = _task_name(folder)
        row: dict[str, Any] = {"episode": folder.name, "task": name}
        if name is None or name not in raw:
            episodes.append({**row, "rescored": False, "reason": f"task {name!r} not in {path}"})
            continue
        spec = raw[name].resolve(urls)
        if isinstance(spec, VerifiedTask) and (reason := unsupported_reason(spec, judge is not None)):
            episodes.append({**row, "rescored": False, "reason": reason})
            continue
        episodes.append({**row, **rescore_episode(spec, read_stored_episode(folder), judge, urls)})
    done = [e for e in episodes if e["rescored"]]
    agree = [e for e in done if e.get("original_reward") is not None and abs(e["score"] - e["original_reward"]) < 1e-9]
    return {
        "run_dir": str(run_dir), "tasks": str(path), "episodes": episodes, "rescored": len(done),
        "not_rescoreable": len(episodes) - len(done), "agree": len(agree), "changed": len(done) - len(agree),
        "mean_score": round(sum(e["score"] for e in done) / len(done), 4) if done else None,
    }


def print_rescore(report: dict[str, Any], console: Any = None) -> None:
    """The human table (the JSON is ``report`` itself)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=f"WebArena rescore — {report['run_dir']}")
    for col in ("episode", "task", "original", "rescored", "parts / reason"):
        table.add_column(col)
    for e in report["episodes"]:
        if e["rescored"]:
            parts = ", ".join(f"{k}={v:g}" for k, v in e["parts"].items())
            table.add_row(e["episode"], str(e["task"]), str(e.get("original_reward")), f"{e['score']:g}", parts)
        else:
            table.add_row(e["episode"], str(e["task"]), str(e.get("original_reward")), "—", str(e.get("reason")))
    console.print(table)
    console.print(f"rescored {report['rescored']}, not rescoreable {report['not_rescoreable']}, "
                    f"agree {report['agree']}, changed {report['changed']}, mean {report['mean_score']}")
