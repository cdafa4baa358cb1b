"""The batch dashboard: what ``cua run`` / ``cua eval`` processes are doing, read from their
run folders alone (no shared memory, no connection to the other process).

    <run>/run.json                          suite, tasks, seeds, stack (written first)
    <run>/episodes/<task>__seed<n>/         steps.jsonl grows step by step;
                                            result.json appears when the episode ends
    <run>/results.json                      the summary, when the whole run has ended

An episode folder without result.json is running, or was killed: one untouched for
``STALE_AFTER_S`` is shown as ``stale``. Unreadable files become warnings, never a crash.
An episode that ended ``needs_user`` (the policy asked for a person where there was none) is
finished but not graded: it is counted apart and left out of the success rate.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from cua.core import EpisodeResult
from cua.core.store import RESULT_FILE, STEPS_FILE
from cua.ui.trajectories import find_runs, is_episode_dir

STALE_AFTER_S = 600.0
FINISHED = ("success", "failure", "error", "stopped", "needs_user")
GRADED = ("success", "failure", "error")
ICONS = {"success": "✅", "failure": "❌", "error": "⚠️", "stopped": "⏹", "needs_user": "🙋", "running": "▶",
         "stale": "💤", "unreadable": "❓"}
RUN_COLUMNS = ["run", "suite", "stack", "done / total", "running", "errors", "needs user", "success rate", "updated"]
EPISODE_COLUMNS = ["episode", "status", "steps", "reward", "updated", "error", "ended"]


@dataclass
class EpisodeState:
    name: str
    folder: Path
    status: str  # a finished EpisodeStatus, "running", "stale" or "unreadable"
    steps: int
    reward: float | None
    updated: float
    error: str | None = None
    ended: str = ""  # how it ended: "done: <answer>", "needs_user: <question>", ...


@dataclass
class RunState:
    folder: Path
    suite: str
    stack: str
    expected: int | None  # tasks × seeds from run.json; None when it does not say
    episodes: list[EpisodeState] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def count(self, *statuses: str) -> int:
        return sum(e.status in statuses for e in self.episodes)

    @property
    def finished(self) -> int:
        return self.count(*FINISHED)

    @property
    def success_rate(self) -> float | None:
        """Over the graded episodes (needs_user and stopped ones were not graded)."""
        graded = self.count(*GRADED)
        return self.count("success") / graded if graded else None

    @property
    def updated(self) -> float:
        return max((e.updated for e in self.episodes), default=_mtime(self.folder))

    @property
    def complete(self) -> bool:
        return (self.folder / "results.json").exists()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


MAX_RESULT_BYTES = 1 << 20  # a result.json is a few KB; anything larger is not one


def _count_lines(path: Path) -> int:
    """Complete lines (steps written), read in fixed chunks: a huge line never sits in memory."""
    try:
        count = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):
                count += chunk.count(b"\n")
        return count
    except OSError:
        return 0


def episode_state(folder: Path, now: float | None = None) -> EpisodeState:
    now = time.time() if now is None else now
    steps_file, result_file = folder / STEPS_FILE, folder / RESULT_FILE
    updated = max(_mtime(folder), _mtime(steps_file), _mtime(result_file))
    steps = _count_lines(steps_file)
    if result_file.exists():
        try:
            if result_file.stat().st_size > MAX_RESULT_BYTES:
                raise ValueError(f"larger than {MAX_RESULT_BYTES} bytes")
            r = EpisodeResult.model_validate_json(result_file.read_text(encoding="utf-8"))
        except (OSError, ValueError, ValidationError) as e:  # ValueError: not UTF-8, too large
            return EpisodeState(folder.name, folder, "unreadable", steps, None, updated,
                                f"{RESULT_FILE}: {type(e).__name__}")
        return EpisodeState(folder.name, folder, r.status, r.steps, r.reward, updated, r.error, _ended(r))
    status = "running" if now - updated < STALE_AFTER_S else "stale"
    return EpisodeState(folder.name, folder, status, steps, None, updated)


def _ended(r: EpisodeResult, limit: int = 120) -> str:
    what = r.termination or ""
    said = r.answer if r.answer is not None else r.reason
    if said:
        said = " ".join(str(said).split())
        what += f": {said[:limit]}{'…' if len(said) > limit else ''}"
    return what


def stack_label(stack: dict) -> str:
    """``planner / grounder / critic`` for the planner policy, else ``policy [model] / critic``."""
    policy = stack.get("policy")
    if policy and str(policy).split(":", 1)[0] != "planner":
        parts = [str(policy)] + [str(stack[k]) for k in ("model",) if k in stack]
        return " / ".join([*parts, str(stack.get("critic", "?"))])
    return " / ".join(str(stack.get(k, "?")) for k in ("planner", "grounder", "critic"))


def run_state(folder: Path | str, now: float | None = None) -> RunState:
    folder = Path(folder)
    warnings: list[str] = []
    meta: object = {}
    try:
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        warnings.append(f"{folder / 'run.json'}: missing")
    except (OSError, ValueError) as e:
        warnings.append(f"{folder / 'run.json'}: unreadable ({e})")
    if not isinstance(meta, dict):
        warnings.append(f"{folder / 'run.json'}: not a JSON object")
        meta = {}
    tasks, seeds = meta.get("tasks"), meta.get("seeds")
    expected = len(tasks) * len(seeds) if isinstance(tasks, list) and isinstance(seeds, list) else None
    # `cua run` writes "stack"; `cua eval` (cua.batch) writes "stack_spec": the same three names
    stack = next((v for v in (meta.get("stack"), meta.get("stack_spec")) if isinstance(v, dict)), {})
    base = folder / "episodes"
    try:
        folders = sorted(p for p in base.iterdir() if is_episode_dir(p)) if base.is_dir() else []
    except OSError as e:
        warnings.append(f"{base}: {e}")
        folders = []
    return RunState(folder=folder, suite=str(meta.get("suite", "?")),
                    stack=stack_label(stack),
                    expected=expected, episodes=[episode_state(p, now) for p in folders], warnings=warnings)


def scan(root: Path | str, now: float | None = None) -> list[RunState]:
    """Every run folder under ``root``, most recently active first."""
    states = [run_state(f, now) for f in find_runs(root)]
    return sorted(states, key=lambda s: s.updated, reverse=True)


def ago(t: float, now: float | None = None) -> str:
    s = max(0.0, (time.time() if now is None else now) - t)
    return f"{s:.0f} s ago" if s < 120 else f"{s / 60:.0f} min ago" if s < 7200 else f"{s / 3600:.0f} h ago"


def runs_rows(states: list[RunState], root: Path | str, now: float | None = None) -> list[list]:
    rows = []
    for s in states:
        try:
            name = str(s.folder.relative_to(root))
        except ValueError:
            name = str(s.folder)
        total = "?" if s.expected is None else str(s.expected)
        rate = "—" if s.success_rate is None else f"{s.success_rate:.0%} of {s.count(*GRADED)}"
        rows.append([name + (" ✔" if s.complete else ""), s.suite, s.stack, f"{s.finished} / {total}",
                     s.count("running"), s.count("error", "stale", "unreadable"), s.count("needs_user"), rate,
                     ago(s.updated, now)])
    return rows


def episode_rows(state: RunState, now: float | None = None) -> list[list]:
    order = {"running": 0, "needs_user": 1, "stale": 2, "error": 3, "unreadable": 3}
    episodes = sorted(state.episodes, key=lambda e: (order.get(e.status, 4), e.name))
    return [[e.name, f"{ICONS.get(e.status, '')} {e.status}", e.steps,
             "" if e.reward is None or e.status == "needs_user" else round(e.reward, 3), ago(e.updated, now),
             e.error or "", e.ended] for e in episodes]


def summary_markdown(state: RunState) -> str:
    from cua.ui.render import code, md

    total = "?" if state.expected is None else state.expected
    pending = "" if state.expected is None else f" · {max(state.expected - len(state.episodes), 0)} not started"
    rate = "—" if state.success_rate is None else f"{state.success_rate:.1%}"
    lines = [f"**{md(state.folder)}** — suite {code(state.suite)}, stack {code(state.stack)}  ",
             f"{state.finished} / {total} finished · {state.count('running')} running · "
             f"{state.count('success')} success · {state.count('failure')} failure · "
             f"{state.count('error')} error · {state.count('needs_user')} needs user (not graded) · "
             f"{state.count('stale')} stale{pending} · success rate **{rate}**"
             + (" · run complete (results.json)" if state.complete else "")]
    lines += [f"⚠️ {md(w)}" for w in state.warnings]
    return "  \n".join(lines)
