"""Batch throughput: episodes per minute of ``cua eval`` on MiniWoB++ with 1 and 2 workers.

    .venv/bin/python bench/throughput.py [--tasks click-test,click-button,...] [--seeds 3]
                                         [--workers 1,2] [--json out.json]

Each worker count runs the same tasks × seeds from scratch into its own run folder (the CPU
default stack: instruction-list planner, a11y grounder, approve-all critic), timed from the
call to the report, worker start-up included. The figures are episodes per minute, the
scaling ratio (2 workers / 1 worker; 2.0 is perfect on a machine with 2 free cores) and the
per-episode agreement between the runs (the runner's results must not depend on N).

The peer, in the same run on the same tasks and seeds: BrowserGym's experiment loop
(``browsergym.experiments.ExpArgs.run``: a fresh env per episode, step pickles and screenshots
saved) fanned out with ``joblib.Parallel(backend="loky")``, which is what AgentLab's
``run_experiments(parallel_backend="joblib")`` does per experiment; a scripted agent clicks the
button or link the goal names (``bench/_bgym_runner_peer.py``, in ``.venv-bench`` because
browsergym pins playwright 1.44). AgentLab itself does not install here (see AGENTLAB_NOTE).
Reported as not available, with the reason, when the peer cannot be set up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]  # the project, and env_step's bench venv helpers

from cua.batch import run_batch
from cua.stack import Stack  # noqa: E402
from cua.batch.report import versions  # noqa: E402
from cua.suites import MINIWOB_CPU_TASKS  # noqa: E402

# Tasks the scripted peer agent can do too (click the button/link the goal names).
DEFAULT_TASKS = ["click-test", "click-button", "click-link"]
AGENTLAB_NOTE = ("AgentLab itself is not installed: `pip install agentlab` did not finish resolving in 10 min "
                 "(it pulls torch>=2.2.2, ray[default], litellm and backtracks over datasets); the peer is "
                 "BrowserGym's ExpArgs.run loop under joblib/loky, which is what AgentLab's joblib backend runs")
console = Console(stderr=True)


def run_ours(tasks: list[str], seeds: list[int], workers: int, root: Path) -> dict[str, Any]:
    t = time.perf_counter()
    report = run_batch("miniwob-cpu/" + ",".join(tasks), Stack(), root / f"w{workers}", seeds,
                       workers=workers, show_progress=True, console=console)
    wall = time.perf_counter() - t
    n = len(report.results)
    overall = report.overall().as_dict()
    return {"workers": workers, "episodes": n, "wall_s": round(wall, 2),
            "episodes_per_min": round(60 * n / wall, 2), "success_rate": overall["success_rate"],
            "infra_errors": overall["infra_errors"],
            "outcomes": {f"{j.task}/{j.seed}": r.status for j, r in report.results.items()}}


PEER_PACKAGES = ["browsergym-experiments==0.14.3", "browsergym-miniwob==0.14.3", "joblib", "tqdm"]


def ensure_peer_venv() -> tuple[Path | None, str]:
    """``.venv-bench`` (browsergym-core, made by bench/env_step.py) plus BrowserGym's experiment
    loop and MiniWoB tasks; (python, "") or (None, why not)."""
    from env_step import NO_DOWNLOAD, ensure_bench_venv

    try:
        py = ensure_bench_venv()
        check = [str(py), "-c", "import browsergym.experiments, browsergym.miniwob, joblib"]
        if subprocess.run(check, capture_output=True).returncode != 0:
            console.print(f"[bold]adding {', '.join(PEER_PACKAGES)} to {py.parent.parent.name}…")
            subprocess.run([str(py), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True,
                           env=NO_DOWNLOAD, capture_output=True)
            subprocess.run(check, check=True, capture_output=True)
        return py, ""
    except (subprocess.CalledProcessError, OSError) as e:
        err = getattr(e, "stderr", b"") or b""
        return None, f"could not set up the BrowserGym peer: {e} {err.decode(errors='replace')[-300:]}"


def run_peer(tasks: list[str], seeds: list[int], workers: list[int]) -> dict[str, Any]:
    """BrowserGym's experiment loop fanned out as AgentLab's joblib backend does; else why not."""
    from envs.browser import LAUNCH_FLAGS, BrowserConfig
    from envs.miniwob import HTML_DIR

    py, why = ensure_peer_venv()
    if py is None:
        return {"available": False, "reason": why}
    cfg = {"tasks": tasks, "seeds": seeds, "workers": workers, "html_dir": str(HTML_DIR),
           "chromium": BrowserConfig().executable, "flags": list(LAUNCH_FLAGS)}
    out = subprocess.run([str(py), str(BENCH / "_bgym_runner_peer.py"), json.dumps(cfg)],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return {"available": False, "reason": f"peer failed: {out.stderr.strip()[-500:]}"}
    return {"available": True, "agentlab": AGENTLAB_NOTE, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                        help="MiniWoB++ tasks of miniwob-cpu, comma separated ('all' for the whole suite)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per task")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, comma separated")
    parser.add_argument("--no-peer", action="store_true", help="skip the BrowserGym/AgentLab-style peer")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    tasks = list(MINIWOB_CPU_TASKS) if args.tasks == "all" else [t for t in args.tasks.split(",") if t]
    seeds = list(range(args.seeds))
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="cua-throughput-") as tmp:
        ours = [run_ours(tasks, seeds, w, Path(tmp)) for w in counts]
    peer = run_peer(tasks, seeds, counts) if not args.no_peer else {"available": False, "reason": "--no-peer"}
    base = ours[0]["episodes_per_min"]
    agree = all(o["outcomes"] == ours[0]["outcomes"] for o in ours)
    table = Table(title=f"cua eval throughput: {len(tasks)} MiniWoB++ tasks × {len(seeds)} seeds "
                        f"on {os.cpu_count()} CPUs (load {os.getloadavg()[0]:.1f} at the end)")
    for col in ("runner", "workers", "episodes", "wall s", "episodes/min", "vs 1 worker", "success"):
        table.add_column(col, justify="left" if col == "runner" else "right")
    for o in ours:
        table.add_row("cua eval", str(o["workers"]), str(o["episodes"]), f"{o['wall_s']:.1f}",
                      f"{o['episodes_per_min']:.1f}", f"{o['episodes_per_min'] / base:.2f}×",
                      f"{(o['success_rate'] or 0):.0%}")
    peer_base = (peer.get("runs") or [{}])[0].get("episodes_per_min")
    for p in peer.get("runs", []):
        table.add_row("BrowserGym loop + joblib", str(p["workers"]), str(p["episodes"]), f"{p['wall_s']:.1f}",
                      f"{p['episodes_per_min']:.1f}", f"{p['episodes_per_min'] / peer_base:.2f}×",
                      f"{p['successes'] / max(p['episodes'], 1):.0%}")
    console.print(table)
    console.print(f"per-episode outcomes identical across worker counts: {agree}")
    if not peer["available"]:
        console.print(f"BrowserGym/AgentLab peer not run: {peer['reason']}")
    else:
        console.print(f"peer: {peer['runner']}. {AGENTLAB_NOTE}.", highlight=False)
        for o, p in zip(ours, peer["runs"]):
            console.print(f"{o['workers']} worker(s): cua eval {o['episodes_per_min'] / p['episodes_per_min']:.2f}× "
                          "the peer's episodes/min", highlight=False)
    figures = {"tasks": tasks, "seeds": seeds, "cpus": os.cpu_count(), "ours": ours,
               "scaling": {f"{o['workers']}/{ours[0]['workers']}": round(o["episodes_per_min"] / base, 3) for o in ours},
               "outcomes_agree": agree, "peer": peer, "versions": versions()}
    for o in figures["ours"]:
        o.pop("outcomes")
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
