"""The results of a batch run: per task, per domain and overall (with 95 % intervals), infra
errors, grader errors and skipped tasks apart, and everything needed to say which stack produced them.

Written as ``results.json`` (machine), ``results.md`` (human, Markdown) and printed as a rich
table. Built from the run folder, so a resumed run reports every episode exactly once.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from rich.table import Table

from cua.batch.jobs import Job
from cua.batch.stats import GroupStats, group, is_grader, is_infra, overall
from cua.core import EpisodeResult
from cua.core.store import atomic_write_bytes, write_json

_VERSIONED = ("cua-runtime", "playwright", "miniwob", "pydantic", "ray", "torch", "transformers")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for package in _VERSIONED:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return out


def _short(text: str | None, limit: int = 200) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + "…"


def _cell(value: object) -> str:
    """Text for a Markdown table cell (a ``|`` would split it)."""
    return str(value).replace("|", "\\|").replace("\n", " ")


@dataclass
class BatchReport:
    run_dir: Path
    suite: str
    spec: dict[str, object]  # the Stack the run was started with
    seeds: list[int]
    workers: int
    backend: str
    results: dict[Job, EpisodeResult]
    domain_of: dict[str, str]  # task name → domain
    skipped: list[tuple[str, str]] = field(default_factory=list)
    attempts: dict[tuple[str, int], int] = field(default_factory=dict)
    wall_s: float | None = None

    @property
    def stack(self) -> dict[str, str]:
        """The stack the episodes report (names as the components give them)."""
        for r in self.results.values():
            if r.stack:
                return r.stack
        return {k: str(v) for k, v in self.spec.items() if k in ("policy", "planner", "grounder", "critic")}

    def _ordered(self) -> list[tuple[Job, EpisodeResult]]:
        return sorted(self.results.items(), key=lambda kv: (kv[0].task, kv[0].seed))

    def per_task(self) -> list[GroupStats]:
        by_job = dict(self._ordered())
        names = {id(r): j.task for j, r in by_job.items()}
        return group(by_job.values(), lambda r: names[id(r)])

    def per_domain(self) -> list[GroupStats]:
        names = {id(r): self.domain_of.get(j.task, "?") for j, r in self._ordered()}
        return sorted(group((r for _, r in self._ordered()), lambda r: names[id(r)]), key=lambda g: g.name)

    def overall(self) -> GroupStats:
        return overall(r for _, r in self._ordered())

    def episode_rows(self) -> list[dict[str, object]]:
        rows = []
        for job, r in self._ordered():
            row = r.model_dump(exclude={"trace"})
            row.update(task=job.task, domain=self.domain_of.get(job.task, "?"),
                       attempts=self.attempts.get((job.task, job.seed), 1), folder=job.folder.name)
            rows.append(row)
        return rows

    def infra_errors(self) -> list[dict[str, object]]:
        return [{"task": j.task, "seed": j.seed, "error": r.error,
                 "attempts": self.attempts.get((j.task, j.seed), 1)}
                for j, r in self._ordered() if is_infra(r)]

    def grader_errors(self) -> list[dict[str, object]]:
        """Episodes the task's grader could not score (never retried, not scored)."""
        return [{"task": j.task, "seed": j.seed, "error": r.error}
                for j, r in self._ordered() if is_grader(r)]

    def as_dict(self) -> dict[str, object]:
        total = self.overall().as_dict()
        # the keys `cua run`'s results.json always had, beside the new ones
        total.update(task="overall",  # type: ignore[operator]
                     errors=total["agent_errors"] + total["infra_errors"] + total["grader_errors"])
        return {
            "suite": self.suite, "stack": self.stack, "stack_spec": self.spec, "run_dir": str(self.run_dir),
            "seeds": self.seeds, "workers": self.workers, "backend": self.backend,
            "versions": versions(), "wall_s": self.wall_s,
            "overall": total,
            "domains": [g.as_dict() for g in self.per_domain()],
            "tasks": [{**g.as_dict(), "task": g.name} for g in self.per_task()],
            "infra_errors": self.infra_errors(),
            "grader_errors": self.grader_errors(),
            "skipped": [{"task": t, "reason": why} for t, why in self.skipped],
            "episodes": self.episode_rows(),
        }

    def write(self) -> None:
        write_json(self.run_dir / "results.json", self.as_dict())
        atomic_write_bytes(self.run_dir / "results.md", self.markdown().encode())

    # ---- human forms -------------------------------------------------------------------

    @staticmethod
    def _cells(d: dict[str, object]) -> list[str]:
        rate, wilson, seed_ci = d["success_rate"], d["wilson_95"], d["seed_ci_95"]
        return [str(d["scored"]), str(d["successes"]),
                "-" if rate is None else f"{rate:.0%}",  # type: ignore[str-format]
                "n/a" if wilson is None else f"{wilson[0]:.0%}-{wilson[1]:.0%}",  # type: ignore[index]
                # one seed has no spread to measure: its interval is undefined, not ±0
                (f"{d['seed_mean']:.0%}±" + ("n/a" if seed_ci is None else f"{seed_ci:.0%}"))  # type: ignore[str-format]
                if d["seeds"] else "-",
                str(d["needs_user"]), str(d["agent_errors"]), str(d["infra_errors"]), str(d["grader_errors"])]

    _HEADER = ["scored", "success", "rate", "95% CI (Wilson)", "mean over seeds ± 95% CI",
               "needs user", "agent errors", "infra errors", "grader errors"]

    def markdown(self) -> str:
        lines = [f"# {self.suite}", "",
                 f"Stack: {json.dumps(self.stack)}  ",
                 f"Spec: {json.dumps(self.spec)}  ",
                 f"Seeds: {self.seeds}; workers: {self.workers} ({self.backend})"
                 + (f"; wall {self.wall_s:.0f} s" if self.wall_s is not None else "") + "  ",
                 "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()), ""]

        def table(title: str, groups: list[GroupStats]) -> None:
            lines.extend([f"## {title}", "", "| name | " + " | ".join(self._HEADER) + " |",
                          "|---|" + "---:|" * len(self._HEADER)])
            for g in groups:
                lines.append(f"| {g.name} | " + " | ".join(self._cells(g.as_dict())) + " |")
            lines.append("")

        table("Overall", [self.overall()])
        table("Per domain", self.per_domain())
        table("Per task", self.per_task())
        ends = [(j, r) for j, r in self._ordered() if r.answer is not None or r.reason is not None]
        if ends:
            lines.extend(["## Answers and reasons (what the policy said when it ended)", "",
                          "| task | seed | status | termination | answer / reason |", "|---|---:|---|---|---|"])
            lines.extend(f"| {j.task} | {j.seed} | {r.status} | {r.termination} | "
                         f"{_cell(_short(r.answer if r.answer is not None else r.reason))} |" for j, r in ends)
            lines.append("")
        if self.infra_errors():
            lines.extend(["## Infrastructure errors (not scored)", "", "| task | seed | attempts | error |",
                          "|---|---:|---:|---|"])
            lines.extend(f"| {e['task']} | {e['seed']} | {e['attempts']} | {e['error']} |" for e in self.infra_errors())
            lines.append("")
        if self.grader_errors():
            lines.extend(["## Grader errors (the task could not be scored; not retried, not scored)", "",
                          "| task | seed | error |", "|---|---:|---|"])
            lines.extend(f"| {e['task']} | {e['seed']} | {_cell(e['error'])} |" for e in self.grader_errors())
            lines.append("")
        if self.skipped:
            lines.extend(["## Skipped tasks (unsupported here)", "", "| task | reason |", "|---|---|"])
            lines.extend(f"| {t} | {why} |" for t, why in self.skipped)
            lines.append("")
        return "\n".join(lines)

    # The terminal table fits 80 columns: errors in one "agent/infra/grader" cell, domains as rows.
    _SHORT_HEADER = ["n", "ok", "rate", "95% CI", "seeds±CI", "usr", "err a/i/g"]

    def _short_cells(self, d: dict[str, object]) -> list[str]:
        cells = self._cells(d)
        return [*cells[:6], "/".join(cells[6:])]

    def table(self) -> Table:
        s = self.stack
        parts = " ".join(f"{k}={v}" for k, v in s.items() if k != "policy" or v != "planner")
        t = Table(title=f"{self.suite} — {parts} · {len(self.seeds)} seeds · {self.workers} {self.backend} workers")
        t.add_column("task", overflow="fold", min_width=12)
        for col in self._SHORT_HEADER:
            t.add_column(col, justify="right", no_wrap=True)
        domain_rows = {g.name: g for g in self.per_domain()}
        for g in self.per_task():
            t.add_row(g.name, *self._short_cells(g.as_dict()))
        t.add_section()
        if len(domain_rows) > 1:
            for name, g in domain_rows.items():
                t.add_row(f"[italic]domain {name}[/]", *self._short_cells(g.as_dict()))
            t.add_section()
        t.add_row("[bold]overall[/]", *self._short_cells(self.overall().as_dict()))
        return t

    def write_results_jsonl(self) -> None:
        """``results.jsonl`` rebuilt from the folders (the run appends to it as episodes end)."""
        text = "".join(json.dumps(row, default=str) + "\n" for row in self.episode_rows())
        atomic_write_bytes(self.run_dir / "results.jsonl", text.encode())
