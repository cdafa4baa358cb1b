"""The CPU critic: offline accuracy on the perturbed set, its latency per step against the
env step, and (``--online``) the same suite with and without it.

    .venv/bin/python bench/critic.py [--seeds 5] [--out runs/bench-critic] [--json runs/bench-critic/report.json]
                                     [--ocr-samples 60] [--online] [--offset 45]

1. Trajectories: the CPU stack (instruction-list planner, a11y grounder, approve-all critic)
   on the ``miniwob-cpu`` suite, ``--seeds`` seeds per task, written as ``cua run`` writes
   them (reused when the run folder exists: a run resumes).
2. Offline: the balanced perturbed set built from them (``critic.perturb``), judged by
   ``cpu`` (rules + elements + OCR evidence, the default), ``rules`` (no OCR), and ``cpu`` on
   the same samples with the accessibility tree withheld (what it has on a desktop without
   one: OCR and the rules that need no elements; ``--ocr-samples`` of them, OCR is slow).
   Goals: accept-correct >= 90 %, reject-wrong >= 85 %.
3. Latency: the same suite run again with the ``cpu`` critic in the loop; per step, the
   critic's time (its review plus the macro-history compression) over the env's step time
   (``StepRecord.timings``). Machine load moves these: the load average is recorded.
   ``--verify``: that many near / far / wrong-element samples are replayed in MiniWoB with the
   wrong point in place of the recorded one; the share of episodes that then fail is how
   often the "wrong" label is true.
4. ``--online``: paired runs without / with the critic, on the clean stack and with the
   grounder's points moved ``--offset`` pixels down (a miscalibrated grounder; the critic
   runs with ``veto-and-accept-suggestion``): success, interventions, recoveries, disruptions.

Exits non-zero on errors only, never for a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, from anywhere

from critic.base import CRITICS
from critic.evaluation import CriticSample, OfflineReport, evaluate_offline
from critic.online import compare_runs
from critic.perturb import build_perturbed_set, episode_folders
from cua.agent import Agent, AgentConfig
from cua.core import Grounding, Observation, Point
from cua.planners import InstructionListPlanner
from cua.batch import run_batch
from cua.stack import Stack
from cua.core.store import load_episode
from cua.suites import MINIWOB_CPU_TASKS, get_suite
from grounding.a11y import A11yGrounder

GOALS = {"accept_correct": 0.90, "reject_wrong": 0.85}


class OffsetGrounder:
    """The a11y grounder with every point moved ``dy`` pixels down (a miscalibrated model)."""

    def __init__(self, dy: float) -> None:
        self.inner, self.dy = A11yGrounder(), dy
        self.name = f"a11y+{dy:g}px"

    def ground(self, image: Image.Image, instruction: str, observation: Observation | None = None) -> Grounding:
        g = self.inner.ground(image, instruction, observation)
        if g.point is None:
            return g
        p = Point(x=g.point.x, y=g.point.y + self.dy)
        return g.model_copy(update={"point": p, "model_point": p, "box": None, "grounder": self.name})


def run(folder: Path, critic: str, seeds: list[int], grounder: Any = None, policy: str = "veto-and-replan") -> Path:
    agent = Agent.from_parts(InstructionListPlanner(), grounder or A11yGrounder(), CRITICS.make(critic),
                  AgentConfig(critic_policy=policy))  # type: ignore[arg-type]
    run_batch(get_suite("miniwob-cpu"), Stack(), folder, seeds, task_names=list(MINIWOB_CPU_TASKS), inline=True, agent=agent, show_progress=False)
    return folder


def without_tree(samples: list[CriticSample]) -> list[CriticSample]:
    def strip(s: CriticSample) -> CriticSample:
        def build():
            ctx = s.build()
            return replace(ctx, observation=replace(ctx.observation, elements=[]))
        return replace(s, build=build)
    return [strip(s) for s in samples]


def verify_labels(samples: list[CriticSample], limit: int) -> dict[str, Any]:
    """Do the wrong points really fail? Each episode is replayed with the perturbed point in
    place of the recorded one and the rest as recorded: a label holds when the episode does
    not reach its full raw reward (1.0; click-checkboxes gives part credit, which MiniWoB's
    success rule, raw reward > 0, counts as a success)."""
    from envs.miniwob import MiniWoBEnv, make_task

    picked = [s for s in samples if s.kind in ("near_miss", "far_miss", "wrong_element")][:limit]
    held: dict[str, list[bool]] = {}
    env = MiniWoBEnv()
    try:
        for s in picked:
            ctx = s.build()
            ep = load_episode(ctx.extra["episode"])
            env.reset(make_task(ep.result.task_id, ep.result.seed))
            raw = 0.0
            for step in ep.steps:
                if step.action is None:
                    continue
                result = env.step(ctx.action if step.index == ctx.extra["step"] else step.action)
                raw = result.info["raw_reward"]
                if result.done:
                    break
            held.setdefault(s.kind, []).append(raw < 1.0)
    finally:
        env.close()
    return {k: {"checked": len(v), "label_holds": round(sum(v) / len(v), 4)} for k, v in held.items()}


def latency(run_dir: Path) -> dict[str, Any]:
    critic, env, ratios = [], [], []
    for folder in episode_folders([run_dir]):
        for step in load_episode(folder).steps:
            if "env" not in step.timings:
                continue
            c = step.timings.get("critic", 0.0) + step.timings.get("history", 0.0)
            critic.append(c)
            env.append(step.timings["env"])
            ratios.append(c / step.timings["env"])
    return {"steps": len(env), "critic_ms_mean": round(1000 * statistics.fmean(critic), 2),
            "critic_ms_median": round(1000 * statistics.median(critic), 2),
            "env_ms_mean": round(1000 * statistics.fmean(env), 2), "env_ms_median": round(1000 * statistics.median(env), 2),
            "ratio_of_means": round(sum(critic) / sum(env), 4), "ratio_median": round(statistics.median(ratios), 4),
            "ratio_p90": round(sorted(ratios)[int(0.9 * (len(ratios) - 1))], 4)}


def offline_row(label: str, report: OfflineReport) -> dict[str, Any]:
    m = report.metrics()
    return {"label": label, **{k: m[k] for k in ("samples", "accuracy", "accept_correct", "reject_wrong",
                                                "reject_precision", "reject_recall", "reject_f1",
                                                "format_error_rate", "suggestion_accuracy", "latency_ms")},
            "per_kind": {k: v["right"] for k, v in m["per_kind"].items()},
            "meets_goals": all((m[k] or 0) >= v for k, v in GOALS.items())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-critic")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--ocr-samples", type=int, default=60, help="samples judged without the a11y tree (0: skip)")
    ap.add_argument("--verify", type=int, default=45, help="wrong points replayed to check their labels (0: skip)")
    ap.add_argument("--online", action="store_true", help="also run the suite with / without the critic, clean and offset")
    ap.add_argument("--offset", type=float, default=45.0, help="pixels the offset grounder moves every point down")
    args = ap.parse_args()
    console = Console(width=140)
    seeds = list(range(args.seeds))
    started = time.time()
    base = run(args.out / "approve-all", "approve-all", seeds)
    samples = build_perturbed_set(episode_folders([base]), seed=0)
    console.print(f"perturbed set: {len(samples)} samples from {len(episode_folders([base]))} episodes")
    rows = []
    reports = {}
    for label, spec, data in (("cpu", "cpu", samples), ("rules", "rules", samples),
                              ("cpu, no a11y tree", "cpu", without_tree(samples)[: args.ocr_samples])):
        if not data:
            continue
        reports[label] = evaluate_offline(CRITICS.make(spec), data)
        rows.append(offline_row(label, reports[label]))
    console.print(reports["cpu"].table())
    table = Table(title="offline critic accuracy on the perturbed MiniWoB set (goal: accept >= 90 %, reject >= 85 %)")
    for col in ("critic", "n", "accuracy", "accept correct", "reject wrong", "reject P / R / F1", "suggestion ok",
                "ms / review", "goals"):
        table.add_column(col, justify="left" if col == "critic" else "right")
    for r in rows:
        table.add_row(r["label"], str(r["samples"]), f"{r['accuracy']:.1%}", f"{r['accept_correct']:.1%}",
                      f"{r['reject_wrong']:.1%}", f"{r['reject_precision']:.2f} / {r['reject_recall']:.2f} / "
                      f"{r['reject_f1']:.2f}", "-" if r["suggestion_accuracy"] is None else f"{r['suggestion_accuracy']:.1%}",
                      f"{r['latency_ms']['mean']:.1f}", "met" if r["meets_goals"] else "missed")
    console.print(table)
    labels = verify_labels(samples, args.verify) if args.verify else {}
    for kind, row in labels.items():
        console.print(f"label check by execution: {kind}: the episode failed in {row['label_holds']:.0%} "
                      f"of {row['checked']} replays")
    live = run(args.out / "cpu", "cpu", seeds)
    lat = latency(live)
    console.print(f"latency in the loop ({lat['steps']} steps): critic {lat['critic_ms_median']} ms median "
                  f"({lat['critic_ms_mean']} mean) vs env step {lat['env_ms_median']} ms median ({lat['env_ms_mean']} mean): "
                  f"ratio {lat['ratio_median']:.3f} median, {lat['ratio_of_means']:.3f} of the means, p90 {lat['ratio_p90']:.3f}")
    result: dict[str, Any] = {"offline": rows, "offline_cpu": reports["cpu"].metrics(), "labels": labels, "latency": lat,
                              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                          "load_average": os.getloadavg()}, "seeds": seeds}
    if args.online:
        online = {"clean": compare_runs(base, live)}
        shifted = run(args.out / f"approve-all+{args.offset:g}px", "approve-all", seeds, OffsetGrounder(args.offset))
        rescued = run(args.out / f"cpu+{args.offset:g}px", "cpu", seeds, OffsetGrounder(args.offset),
                      "veto-and-accept-suggestion")
        online[f"offset {args.offset:g}px"] = compare_runs(shifted, rescued)
        result["online"] = {}
        for label, report in online.items():
            console.print(report.table())
            m = report.metrics()
            result["online"][label] = m
            console.print(f"{label}: success {m['success_without']:.1%} → {m['success_with']:.1%}; "
                          f"{m['interventions']} interventions, {m['recoveries']} recoveries, "
                          f"{m['disruptions']} disruptions, {m['harmed_episodes']} harmed episodes")
    result["duration_s"] = round(time.time() - started, 1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))
        console.print(f"report: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
