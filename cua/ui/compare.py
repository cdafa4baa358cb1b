"""Two episodes side by side: a summary table, the first step where they part ways, and
step *i* of each next to each other (two runs of one task with different stacks, seeds or
code versions)."""

from __future__ import annotations

from cua.core.store import Episode
from cua.ui import render

COMPARE_COLUMNS = ["", "A", "B"]


def _result_fields(episode: Episode) -> dict[str, str]:
    r = episode.result
    if r is None:
        return {"task": episode.folder.name, "status": "unfinished", "ended": "—", "reward": "—",
                "steps": str(len(episode.steps)), "seconds": "—", "policy": "?", "planner": "?", "grounder": "?",
                "critic": "?"}
    ended = r.termination or "—"
    if r.answer is not None:
        ended += f": {r.answer[:80]}"
    elif r.reason:
        ended += f": {r.reason[:80]}"
    return {"task": f"{r.task_id} seed {r.seed}", "status": r.status, "ended": ended, "reward": f"{r.reward:.3f}",
            "steps": str(r.steps), "seconds": f"{r.duration_s:.1f}",
            **{k: r.stack.get(k, "—" if k != "critic" else "?") for k in ("policy", "planner", "grounder", "critic")}}


def first_divergence(a: Episode, b: Episode) -> int | None:
    """Index of the first step whose executed action (or outcome) differs; None when one
    episode's steps are a prefix of the other's and they have equally many."""
    for n, (sa, sb) in enumerate(zip(a.steps, b.steps)):
        if sa.action != sb.action or render.step_outcome(sa) != render.step_outcome(sb):
            return n
    return None if len(a.steps) == len(b.steps) else min(len(a.steps), len(b.steps))


def vetoes(episode: Episode) -> int:
    return sum(render.is_vetoed(s) for s in episode.steps)


def compare_rows(a: Episode, b: Episode) -> list[list[str]]:
    fa, fb = _result_fields(a), _result_fields(b)
    rows = [[k, fa[k], fb[k]] for k in fa]
    rows.append(["vetoed steps", str(vetoes(a)), str(vetoes(b))])
    rows.append(["failed steps", str(sum(render.is_failed(s) for s in a.steps)),
                 str(sum(render.is_failed(s) for s in b.steps))])
    return rows


def compare_note(a: Episode, b: Episode) -> str:
    ta = a.result.task_id if a.result else None
    tb = b.result.task_id if b.result else None
    parts = []
    if ta and tb and ta != tb:
        parts.append(f"⚠️ different tasks: A is {render.code(ta)}, B is {render.code(tb)}")
    div = first_divergence(a, b)
    parts.append("the two episodes executed the same actions" if div is None
                 else f"first difference at **step {div}**")
    parts += [f"⚠️ A: {render.md(w)}" for w in a.warnings] + [f"⚠️ B: {render.md(w)}" for w in b.warnings]
    return "  \n".join(parts)
