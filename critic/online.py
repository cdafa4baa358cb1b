"""Online critic evaluation: the same tasks and seeds run without and with the critic, and
what the critic changed, read from the two runs' trajectories.

* success without / with, per task and overall;
* interventions: verdicts that stopped an action (``info.agent.critic[*].intervened``);
* recoveries: episodes the critic intervened in that succeeded while their twin without the
  critic failed (veto, then success);
* disruptions: vetoes of a correct action — an action the twin without the critic executed
  at the same step of an episode that succeeded; and harmed episodes (success → failure);
* the disruption–recovery trade-off of arXiv 2602.03338: intervening pays when the failure
  rate without the critic, p, exceeds d / (r + d) (r = recoveries per failure, d = harmed
  episodes per success).

The runs themselves are the agent loop's (``cua.runner.run_suite``, twice); this module only
reads their folders, so it stays inside the critic's room. MiniWoB seeds replay the same
page, which is what makes the twins comparable (its nondeterministic tasks less so).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from critic.perturb import episode_folders
from cua.core.store import load_episode

Key = tuple[str, int | None]


@dataclass
class EpisodeOutcome:
    task_id: str
    seed: int | None
    success: bool
    steps: int
    executed: dict[int, dict[str, Any]] = field(default_factory=dict)  # step index → action
    vetoed: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (step, action) stopped
    verdicts: dict[str, int] = field(default_factory=dict)  # outcome → count


def read_run(run_dir: Path) -> dict[Key, EpisodeOutcome]:
    out = {}
    for folder in episode_folders([run_dir]):
        ep = load_episode(folder)
        if ep.result is None:
            continue
        o = EpisodeOutcome(ep.result.task_id, ep.result.seed, ep.result.status == "success", len(ep.steps))
        for step in ep.steps:
            if step.action is not None:
                o.executed[step.index] = step.action.model_dump()
            for note in (step.info.get("agent") or {}).get("critic", []):
                o.verdicts[note["outcome"]] = o.verdicts.get(note["outcome"], 0) + 1
                if note["intervened"]:
                    o.vetoed.append((step.index, note["action_before"]))
        out[(o.task_id, o.seed)] = o
    return out


@dataclass
class OnlineReport:
    baseline: str
    with_critic: str
    pairs: list[tuple[EpisodeOutcome, EpisodeOutcome]]

    def metrics(self) -> dict[str, Any]:
        n = len(self.pairs)
        base_ok = sum(b.success for b, _ in self.pairs)
        crit_ok = sum(c.success for _, c in self.pairs)
        touched = [(b, c) for b, c in self.pairs if c.vetoed]
        recoveries = sum(c.success and not b.success for b, c in touched)
        harmed = sum(b.success and not c.success for b, c in self.pairs)
        disruptions = sum(1 for b, c in self.pairs if b.success
                          for step, action in c.vetoed if b.executed.get(step) == action)
        fails, oks = n - base_ok, base_ok
        r = recoveries / fails if fails else None
        d = harmed / oks if oks else None
        verdicts: dict[str, int] = defaultdict(int)
        for _, c in self.pairs:
            for k, v in c.verdicts.items():
                verdicts[k] += v
        return {
            "baseline": self.baseline, "with_critic": self.with_critic, "episodes": n,
            "success_without": round(base_ok / n, 4) if n else None,
            "success_with": round(crit_ok / n, 4) if n else None,
            "successes_without": base_ok, "successes_with": crit_ok,
            "interventions": sum(len(c.vetoed) for _, c in self.pairs),
            "episodes_with_interventions": len(touched), "recoveries": recoveries,
            "disruptions": disruptions, "harmed_episodes": harmed, "verdicts": dict(verdicts),
            "recovery_rate": None if r is None else round(r, 4),
            "disruption_rate": None if d is None else round(d, 4),
            "break_even_failure_rate": round(d / (r + d), 4) if r is not None and d is not None and r + d > 0 else None,
            "failure_rate_without": round(fails / n, 4) if n else None,
            "per_task": self._per_task(),
        }

    def _per_task(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for b, c in self.pairs:
            row = out.setdefault(b.task_id, {"episodes": 0, "without": 0, "with": 0, "interventions": 0})
            row["episodes"] += 1
            row["without"] += b.success
            row["with"] += c.success
            row["interventions"] += len(c.vetoed)
        return out

    def table(self) -> Table:
        m = self.metrics()
        t = Table(title=f"online critic evaluation — {m['episodes']} paired episodes")
        for col in ("task", "episodes", "success without", "success with", "interventions"):
            t.add_column(col, justify="left" if col == "task" else "right")
        for task, row in m["per_task"].items():
            t.add_row(task.split("/", 1)[-1], str(row["episodes"]), str(row["without"]), str(row["with"]),
                      str(row["interventions"]))
        t.add_section()
        t.add_row("overall", str(m["episodes"]), f"{m['successes_without']} ({m['success_without']:.0%})",
                  f"{m['successes_with']} ({m['success_with']:.0%})", str(m["interventions"]))
        return t

    def as_dict(self) -> dict[str, Any]:
        return self.metrics()


def compare_runs(baseline: Path | str, with_critic: Path | str) -> OnlineReport:
    """Pair the episodes of two runs of the same tasks and seeds (unpaired ones are left out)."""
    a, b = read_run(Path(baseline)), read_run(Path(with_critic))
    pairs = [(a[k], b[k]) for k in sorted(a.keys() & b.keys(), key=lambda k: (k[0], k[1] if k[1] is not None else -1))]
    return OnlineReport(str(baseline), str(with_critic), pairs)
