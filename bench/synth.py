"""Throughput of the synthetic task engine on this machine.

    .venv/bin/python bench/synth.py                       # 2 seeds of every template, 2 workers
    .venv/bin/python bench/synth.py --seeds 4 --workers 2 --json runs/bench/synth.json

Generates and verifies every template × level × seed from scratch (each task: a reference run
through the agent loop with screenshots written, the validator checked on the initial state,
``--ablations`` runs with one state-changing step left out), then exports the grounding data.
Prints verified tasks per minute, grounding samples per minute, the share of generated tasks
that verification discards (with reasons), and the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's packages before bench/*.py of the same names

from rich.console import Console
from rich.table import Table

from data_synth.export import export_screenspot
from data_synth.pipeline import run
from data_synth.templates import task_names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=2, help="seeds per template and level")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ablations", type=int, default=2, help="steps left out, one run each (0: all)")
    ap.add_argument("--level", choices=("easy", "medium", "hard"), default=None)
    ap.add_argument("--out", type=Path, default=None, help="run folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--cpu-stack", type=int, default=0, metavar="SEEDS",
                    help="also run the CPU default stack (instruction list + a11y) on SEEDS seeds of every easy task")
    args = ap.parse_args()
    console = Console()
    names = task_names(args.level)
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        out = args.out or Path(tmp) / "run"
        started = time.time()
        report = run(out, names, range(args.seeds), workers=args.workers, ablations=args.ablations, console=console)
        gen_s = time.time() - started
        started = time.time()
        manifest = export_screenspot(out, Path(tmp) / "export")
        export_s = time.time() - started
    summary = report.as_dict()
    generated = summary["generated"]
    figures = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {"templates": len(names), "seeds": args.seeds, "workers": args.workers,
                     "ablations": args.ablations, "level": args.level or "all"},
        "generated": generated, "verified": summary["verified"], "discarded": summary["discarded"],
        "discard_share": round(summary["discarded"] / generated, 4) if generated else 0.0,
        "discard_reasons": summary["discard_reasons"],
        "generation_s": round(gen_s, 1),
        "verified_tasks_per_min": round(summary["verified"] / gen_s * 60, 2),
        "grounding_samples": summary["grounding_samples"],
        "grounding_samples_per_min": round(summary["grounding_samples"] / gen_s * 60, 1),
        "screenspot_export_s": round(export_s, 2),
        "screenspot_samples": sum(manifest.get("samples_per_split", {}).values()),
        "per_level": summary["per_level"],
        "mean_task_s_per_worker": round(sum(o.seconds for o in report.outcomes.values()) / max(generated, 1), 2),
    }
    if args.cpu_stack:
        figures["cpu_stack_easy"] = cpu_stack(args.cpu_stack)
    table = Table(title=f"synthetic engine — {figures['machine']['cpus']} CPUs, {args.workers} workers")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("generated", "verified", "discarded", "discard_share", "generation_s", "verified_tasks_per_min",
                "grounding_samples", "grounding_samples_per_min", "mean_task_s_per_worker", "screenspot_export_s"):
        table.add_row(key, str(figures[key]))
    for reason, n in figures["discard_reasons"].items():
        table.add_row(f"  discarded: {reason}", str(n))
    if args.cpu_stack:
        for name, row in figures["cpu_stack_easy"].items():
            table.add_row(f"CPU stack: {name}", f"{row['success']}/{row['episodes']}")
    console.print(table)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)


def cpu_stack(seeds: int) -> dict[str, dict[str, float]]:
    """Success of the CPU default stack (instruction-list planner, a11y grounder, no critic) on
    the synthetic-easy tasks, seeds 1000.. (unseen by the generation run)."""
    from critic.base import ApproveAll
    from cua.agent import Agent, AgentConfig
    from cua.planners import InstructionListPlanner
    from data_synth.env import SyntheticEnv, make_task
    from grounding.a11y import A11yGrounder

    agent = Agent.from_parts(InstructionListPlanner(), A11yGrounder(), ApproveAll(), AgentConfig(stage_timeout_s=None))
    env = SyntheticEnv()
    out: dict[str, dict[str, float]] = {}
    try:
        for name in task_names("easy"):
            ok = sum(agent.run_episode(env, make_task(name, 1000 + s)).status == "success" for s in range(seeds))
            out[name] = {"episodes": seeds, "success": ok, "rate": round(ok / seeds, 3)}
    finally:
        env.close()
    total = sum(r["success"] for r in out.values())
    out["all"] = {"episodes": seeds * (len(out)), "success": total, "rate": round(total / (seeds * len(out)), 3)}
    return out


if __name__ == "__main__":
    main()
