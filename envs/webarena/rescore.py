"""Re-score a finished WebArena episode offline from what its folder stores.

string_match needs the agent's answer (the ``answer`` of a final ``done`` step) and url_match
the page's URL at the end (``url_after`` of the last step that acted, which WebArenaEnv
records). program_html reads the live site after the episode and cannot be re-run offline:
such episodes are reported as not rescoreable, with the reason. Reads ``steps.jsonl`` as
plain JSON lines (the schema is readable without the project's code).

WebArena-Verified episodes are fully rescoreable: the answer and the network trace (the
``network`` HAR entries of every step's info, in order) are all its evaluators read.
``export_official`` writes them in the official package's layout (``agent_response.json``,
``network.har``) for ``webarena-verified eval-tasks``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.webarena.evaluators import Judge, evaluate_task
from envs.webarena.netlog import as_har
from envs.webarena.task import UnsupportedTaskError, VerifiedTask, WebArenaTask
from envs.webarena.verified import evaluate_verified


@dataclass
class StoredEpisode:
    answer: str
    final_url: str | None
    steps: int
    status: str | None
    reward: float | None
    trace: list[dict[str, Any]] = field(default_factory=list)  # HAR entries (Verified tasks)


def read_stored_episode(folder: Path) -> StoredEpisode:
    answer, final_url, steps = "", None, 0
    lines = (folder / "steps.jsonl").read_text(encoding="utf-8").splitlines() \
        if (folder / "steps.jsonl").exists() else []
    last_action: dict[str, Any] | None = None
    last_info: dict[str, Any] = {}
    trace: list[dict[str, Any]] = []
    for line in lines:
        try:
            step = json.loads(line)
        except ValueError:
            break  # a truncated last line: what came before stands
        steps += 1
        final_url = step.get("url") or final_url  # the page each step saw
        info = step.get("info") or {}
        if info.get("url_after"):
            final_url = info["url_after"]
        trace.extend(info.get("network") or [])
        if step.get("action") is not None:
            last_action, last_info = step["action"], info
    # Upstream scores the last action's answer; a run that did not end with stop gets "". An
    # agent that declared the task infeasible answered "N/A" (what the env recorded in the info).
    if last_action is not None and last_action.get("type") == "done":
        answer = str(last_info.get("answer") or last_action.get("answer") or "")
    elif last_action is not None and last_action.get("type") == "fail":
        answer = str(last_info.get("answer") or "")
    status = reward = None
    if (folder / "result.json").exists():
        result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        status, reward = result.get("status"), result.get("reward")
    return StoredEpisode(answer=answer, final_url=final_url, steps=steps, status=status, reward=reward, trace=trace)


def rescore_episode(spec: WebArenaTask | VerifiedTask, stored: StoredEpisode, judge: Judge | None,
                    urls: dict[str, str] | None = None) -> dict[str, Any]:
    """``{"rescored": bool, "score", "parts", "answer", "url"}`` or a ``reason`` it was not.
    ``urls`` (placeholder → base URL) is what a Verified task's evaluators derender with."""
    out: dict[str, Any] = {"original_reward": stored.reward, "original_status": stored.status}
    if stored.status is None:
        return {**out, "rescored": False, "reason": "episode not finished (no result.json)"}
    if stored.status not in ("success", "failure"):  # error, stopped: the episode was never graded
        return {**out, "rescored": False, "reason": f"episode ended as {stored.status}: nothing to score"}
    if isinstance(spec, VerifiedTask):
        result = evaluate_verified(spec.model_dump(mode="json"), stored.answer, stored.trace, urls or {})
        parts = {f"{i}:{r['evaluator_name']}": r["score"] for i, r in enumerate(result["evaluators_results"])}
        return {**out, "rescored": True, "score": result["score"], "parts": parts, "answer": stored.answer,
                "url": stored.final_url, "verified": result}
    if "program_html" in spec.eval.eval_types:
        return {**out, "rescored": False,
                "reason": "program_html reads the live site after the episode: not rescoreable offline"}
    try:
        evaluation = evaluate_task(spec, stored.answer, None, judge, url=stored.final_url)
    except UnsupportedTaskError as e:
        return {**out, "rescored": False, "reason": str(e)}
    return {**out, "rescored": True, "score": evaluation.score, "parts": evaluation.parts,
            "answer": stored.answer, "url": stored.final_url}


def export_official(folder: Path, out_dir: Path) -> Path:
    """An episode as the official package reads a task's output: ``agent_response.json`` (the
    Done answer, parsed when it is JSON) and ``network.har``. Returns ``out_dir``."""
    stored = read_stored_episode(Path(folder))
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        response: Any = json.loads(stored.answer)
    except ValueError:
        response = stored.answer
    (out_dir / "agent_response.json").write_text(json.dumps(response, indent=2), encoding="utf-8")
    (out_dir / "network.har").write_text(json.dumps(as_har(stored.trace)), encoding="utf-8")
    return out_dir
